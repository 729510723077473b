/**
 * @module
 * Structured JSON logs (pino) on stderr: the service's stdout stays its own. Synchronous writes,
 * because violations are rare and a line lost in a crash is a violation nobody reviews.
 */
import { type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(
  options: { level?: string; destination?: number | string } = {},
): Logger {
  return pino(
    { name: 'leash', level: options.level ?? 'info', base: { pid: process.pid } },
    pino.destination({ dest: options.destination ?? 2, sync: true }),
  );
}
