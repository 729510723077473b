// Loaded with `--require` into a service by bench/memory.ts: on SIGUSR2 it writes one line to
// stderr, `memory-probe {json}`, with process.memoryUsage() and V8's heap spaces (size and used
// bytes of each), the bytes V8 has allocated since the start (`allocated`: what a request costs the
// young generation, unaffected by how busy the machine is), and with --expose-gc also the heap used after a full collection (`live`).
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
  const allocated = v8.getHeapStatistics().total_allocated_bytes;
  process.stderr.write(`memory-probe ${JSON.stringify({ usage, spaces, live, allocated })}\n`);
});
