// Loaded with `--require` into a service by bench/memory.ts: on SIGUSR2 it writes one line to
// stderr, `memory-probe {json}`, with process.memoryUsage() and V8's heap spaces (size and used
// bytes of each), and with --expose-gc also the heap used after a full collection (`live`).
// Nothing else: no file, no socket, so leash has nothing of it to check.
'use strict';
const v8 = require('node:v8');

process.on('SIGUSR2', () => {
  const usage = process.memoryUsage();
  const spaces = {};
  for (const s of v8.getHeapSpaceStatistics()) {
    spaces[s.space_name] = { size: s.space_size, used: s.space_used_size };
  }
  let live;
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    live = process.memoryUsage().heapUsed;
  }
  process.stderr.write(`memory-probe ${JSON.stringify({ usage, spaces, live })}\n`);
});
