/**
 * @module
 * zod, loaded when a schema is first needed instead of when leash loads: a service with no
 * config file and a valid policy file never needs it, and zod alone is about 6 MB of the
 * service's memory (issue 14). Every schema of leash's is made by a function that `lazy`
 * remembers, on first use.
 *
 * The ES module build is loaded (src/lazy.ts), the one `import 'zod'` gives: a schema a config
 * file makes with its own `import { z } from 'zod'` and leash's come from the same zod.
 */
import type { z } from 'zod';
import { lazy, loadNow } from '../lazy.ts';

export { lazy };

/** zod's `z`, loaded on first call. */
export const zod = lazy(() => loadNow<{ z: typeof z }>('zod').z);
