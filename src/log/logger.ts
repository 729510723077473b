/**
 * @module
 * Structured JSON logs (pino) on stderr: the service's stdout stays its own. Synchronous writes,
 * because violations are rare and a line lost in a crash is a violation nobody reviews.
 */
import { type Logger, pino } from 'pino';
import { warningCode } from '../warnings.ts';

export type { Logger };

export function createLogger(
  options: { level?: string; destination?: number | string } = {},
): Logger {
  return pino(
    {
      name: 'leash',
      level: options.level ?? 'info',
      base: { pid: process.pid },
      // Each warning event carries its LEASHWRN code (src/warnings.ts, docs/warnings.md).
      mixin: (object: { event?: unknown }) => {
        const code = warningCode(object.event);
        return code === undefined ? {} : { code };
      },
    },
    pino.destination({ dest: options.destination ?? 2, sync: true }),
  );
}
