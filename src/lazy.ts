/**
 * @module
 * Loading what only some services need when one first needs it, not when leash loads (issue 14:
 * the service's memory). `lazy` makes a value on first use; `loadNow` loads one of leash's
 * dependencies synchronously, so that synchronous code (a check, a parse) can load it on demand.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { internal } from './attribution/internal.ts';

/** `make()`, made on the first call and the same value on every later one. */
export function lazy<T>(make: () => T): () => T {
  let made: { readonly value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}

const require = createRequire(import.meta.url);

/**
 * The module `specifier` (one of leash's dependencies, or a file in one) as `import` would give
 * it, loaded now: `require` of the file `import` resolves to, which Node runs as that very ES
 * module instance (or the CommonJS one, for a CommonJS file), so code that imports it gets the
 * same module. Its files are read as leash's own I/O, which no module checks, whichever request
 * needs it first.
 */
export function loadNow<T>(specifier: string): T {
  return internal(() => require(fileURLToPath(import.meta.resolve(specifier))) as T);
}
