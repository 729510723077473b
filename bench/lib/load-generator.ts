/**
 * @module
 * The load generator of the service benchmarks: one `node bench/load.ts --serve` process for the
 * whole run, pinned to the load core, fed one spec a line over stdin.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadResult, LoadSpec } from '../load.ts';

const LOAD_SCRIPT = join(dirname(dirname(fileURLToPath(import.meta.url))), 'load.ts');

export interface LoadGeneratorOptions {
  /** Pin the generator to `loadCpu`. */
  readonly pin: boolean;
  readonly loadCpu: string;
}

/** The load generator: one process for the whole run, pinned to the load core, fed over stdin. */
export class LoadGenerator {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: Array<{ resolve: (r: LoadResult) => void; reject: (e: Error) => void }> = [];
  #buffer = '';
  #stderr = '';

  constructor(options: LoadGeneratorOptions) {
    const node = [process.execPath, LOAD_SCRIPT, '--serve'];
    const command = options.pin ? ['taskset', '-c', options.loadCpu, ...node] : node;
    this.#child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.#buffer += chunk;
      for (let nl = this.#buffer.indexOf('\n'); nl >= 0; nl = this.#buffer.indexOf('\n')) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        const next = this.#waiting.shift();
        const parsed = JSON.parse(line) as LoadResult | { error: string };
        if ('error' in parsed) next?.reject(new Error(`load generator: ${parsed.error}`));
        else next?.resolve(parsed);
      }
    });
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
    this.#child.on('exit', (code) => {
      for (const w of this.#waiting.splice(0)) {
        w.reject(new Error(`load generator exited ${code}: ${this.#stderr}`));
      }
    });
  }

  run(spec: LoadSpec): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#child.stdin.write(`${JSON.stringify(spec)}\n`);
    });
  }

  close(): void {
    this.#child.stdin.end();
  }
}
