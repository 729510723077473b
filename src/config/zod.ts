/**
 * @module
 * zod, loaded when a schema is first needed instead of when leash loads: a service with no
 * config file and a valid policy file never needs it, and zod alone is about 6 MB of the
 * service's memory (issue 14). Every schema of leash's is made by a function that `lazy`
 * remembers, on first use.
 *
 * The ES module build is loaded (`require` of the file `import 'zod'` resolves to, which Node
 * runs as the one ES module instance): a schema a config file makes with its own
 * `import { z } from 'zod'` and leash's then come from the same zod. Its files are read as
 * leash's own I/O, checked by no module, whichever request first needs a schema.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { internal } from '../attribution/internal.ts';

let loaded: typeof z | undefined;

/** zod's `z`, loaded on first call. */
export function zod(): typeof z {
  loaded ??= internal(
    () =>
      (
        createRequire(import.meta.url)(fileURLToPath(import.meta.resolve('zod'))) as {
          z: typeof z;
        }
      ).z,
  );
  return loaded;
}

/** `make()`, made on the first call and the same value on every later one. */
export function lazy<T>(make: () => T): () => T {
  let made: { readonly value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}
