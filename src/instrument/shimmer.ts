/**
 * @module
 * Wrapping a method so that it can be undone without undoing anyone else's work (OpenTelemetry's
 * vendored shimmer, `_wrap`/`_unwrap`): `wrap` replaces the method with a wrapper that knows its
 * original; `unwrap` puts the original back only while the wrapper is still what the object
 * holds. When another library wrapped it since, its wrapper stays and leash's turns into a pass-
 * through, so neither loses the other's behaviour.
 */
type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const ORIGINAL = Symbol('leash.original');
const ACTIVE = Symbol('leash.active');

interface Wrapper extends AnyFunction {
  [ORIGINAL]: AnyFunction;
  [ACTIVE]: boolean;
}

/** Whether `value` is a wrapper of leash's that is still in effect. */
export function isWrapped(value: unknown): boolean {
  return typeof value === 'function' && ORIGINAL in value && (value as Wrapper)[ACTIVE];
}

/** The function under leash's wrapper (the value itself when not wrapped). */
export function originalOf<T>(value: T): T {
  return (isWrapped(value) ? (value as unknown as Wrapper)[ORIGINAL] : value) as T;
}

/**
 * Replaces `object[name]` with `wrapper(original)`. Wrapping a method leash already wrapped does
 * nothing (no double patching). Returns how to undo it.
 */
export function wrap<T extends object>(
  object: T,
  name: string,
  wrapper: (original: AnyFunction) => AnyFunction,
): () => void {
  const target = object as Record<string, unknown>;
  const original = target[name];
  if (typeof original !== 'function') throw new TypeError(`cannot wrap ${name}: not a function`);
  if (isWrapped(original)) return () => {};
  const hadOwn = Object.hasOwn(target, name);
  const wrapped = wrapperOf(original as AnyFunction, wrapper);
  // An inherited method is shadowed by an own property, as an assignment would make it, but
  // defined: an assignment throws when the inherited one is read-only (a native prototype's).
  if (hadOwn) target[name] = wrapped;
  else
    Object.defineProperty(target, name, {
      value: wrapped,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  return () => unwrap(target, name, wrapped, hadOwn);
}

function wrapperOf(
  original: AnyFunction,
  wrapper: (original: AnyFunction) => AnyFunction,
): Wrapper {
  const inner = wrapper(original);
  const wrapped = function (this: unknown, ...args: unknown[]) {
    if (!(wrapped as Wrapper)[ACTIVE]) return original.apply(this, args);
    return inner.apply(this, args);
  } as Wrapper;
  Object.defineProperty(wrapped, ORIGINAL, { value: original });
  Object.defineProperty(wrapped, ACTIVE, { value: true, writable: true });
  Object.defineProperty(wrapped, 'name', { value: original.name });
  Object.defineProperty(wrapped, 'length', { value: original.length });
  // A constructor-like original keeps its prototype visible through the wrapper.
  if ('prototype' in original) wrapped.prototype = (original as { prototype: unknown }).prototype;
  // Properties hung on a function export (`compose.default`) stay reachable.
  for (const key of Object.keys(original))
    (wrapped as unknown as Record<string, unknown>)[key] = (
      original as unknown as Record<string, unknown>
    )[key];
  return wrapped;
}

/**
 * For a module whose export is a function: the wrapper to export instead, and how to turn it
 * into a pass-through (references already handed out cannot be taken back).
 */
export function wrapExport(
  original: AnyFunction,
  wrapper: (original: AnyFunction) => AnyFunction,
): { exports: AnyFunction; restore: () => void } {
  if (isWrapped(original)) return { exports: original, restore: () => {} };
  const wrapped = wrapperOf(original, wrapper);
  return {
    exports: wrapped,
    restore: () => {
      wrapped[ACTIVE] = false;
    },
  };
}

function unwrap(
  target: Record<string, unknown>,
  name: string,
  wrapped: Wrapper,
  hadOwn: boolean,
): void {
  wrapped[ACTIVE] = false;
  if (target[name] !== wrapped) return;
  if (hadOwn) target[name] = wrapped[ORIGINAL];
  else delete target[name];
}
