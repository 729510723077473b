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

export function isWrapped(value: unknown): boolean {
  return typeof value === 'function' && ORIGINAL in value;
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
  const inner = wrapper(original as AnyFunction);
  const wrapped = function (this: unknown, ...args: unknown[]) {
    if (!(wrapped as Wrapper)[ACTIVE]) return (original as AnyFunction).apply(this, args);
    return inner.apply(this, args);
  } as Wrapper;
  Object.defineProperty(wrapped, ORIGINAL, { value: original });
  Object.defineProperty(wrapped, ACTIVE, { value: true, writable: true });
  Object.defineProperty(wrapped, 'name', { value: (original as AnyFunction).name });
  Object.defineProperty(wrapped, 'length', { value: (original as AnyFunction).length });
  // A constructor-like original keeps its prototype visible through the wrapper.
  if ('prototype' in original) wrapped.prototype = (original as { prototype: unknown }).prototype;
  target[name] = wrapped;
  return () => unwrap(target, name, wrapped, hadOwn);
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
