/**
 * @module
 * leash's JSON log lines as a person reads them on a terminal: one line each, what happened first.
 * Used when stderr is a TTY (or `LEASH_LOG_FORMAT=pretty`); anywhere else the lines stay JSON for
 * log collectors.
 */

interface LogLine {
  level?: number;
  msg?: string;
  event?: string;
  code?: string;
  module?: string;
  mode?: string;
  facts?: string[];
  nearest?: string[] | null;
  count?: number;
}

const LEVELS: Record<number, string> = { 50: 'error', 60: 'fatal' };

/** One readable line (with its newline) for one JSON log line; other text passes through. */
export function readableLine(json: string): string {
  let line: LogLine;
  try {
    line = JSON.parse(json) as LogLine;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const module = line.module === undefined ? '' : `${line.module}: `;
  let text: string;
  if (line.event === 'violation' && Array.isArray(line.facts)) {
    const verb = line.mode === 'enforce' ? 'refused' : 'would refuse';
    const nearest =
      Array.isArray(line.nearest) && line.nearest.length > 0
        ? ` (nearest rule: ${line.nearest.join(' › ')})`
        : '';
    text = `${verb} ${module}${line.facts.join(' › ')}${nearest}`;
  } else if (line.code !== undefined) {
    text = `warning ${line.code}: ${module}${line.msg ?? ''}`;
  } else {
    const level = LEVELS[line.level ?? 0];
    text = `${level === undefined ? '' : `${level}: `}${module}${line.msg ?? ''}`;
  }
  return `leash: ${text}\n`;
}
