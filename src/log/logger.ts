/**
 * @module
 * Structured JSON logs (pino) on stderr: the service's stdout stays its own. Synchronous writes,
 * because violations are rare and a line lost in a crash is a violation nobody reviews. On a
 * terminal, one readable line each instead.
 */
import { type Logger, pino } from 'pino';
import { warningCode } from '../warnings.ts';
import { readableLine } from './readable.ts';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  destination?: number | string;
  /**
   * `json` (one JSON object per line) or `pretty` (one readable line each, see readable.ts).
   * Default: `LEASH_LOG_FORMAT` if set, else pretty when writing to a terminal's stderr.
   */
  format?: 'json' | 'pretty';
}

function formatOf(options: LoggerOptions): 'json' | 'pretty' {
  if (options.format !== undefined) return options.format;
  const fromEnv = process.env.LEASH_LOG_FORMAT;
  if (fromEnv === 'json' || fromEnv === 'pretty') return fromEnv;
  return (options.destination ?? 2) === 2 && process.stderr.isTTY === true ? 'pretty' : 'json';
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = pino.destination({ dest: options.destination ?? 2, sync: true });
  const stream =
    formatOf(options) === 'pretty'
      ? { write: (line: string) => destination.write(readableLine(line)) }
      : destination;
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
    stream,
  );
}
