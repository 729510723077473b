// A machine without Landlock, simulated: LEASH_KERNEL_ABI_MAX=0 makes the launcher report no
// Landlock. `leash enforce` says so in one line and runs with Node's flags and the in-process
// layer; the control below shows the suite's UDP watch does see an escape when the kernel layer
// is absent (so its "nothing arrived" under the kernel layer means something).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Running } from '../runtime/helpers.ts';
import { attack, enforce, get, learnWorkspace, type Workspace } from './helpers.ts';
import { watchUdp } from './observers.ts';

let space: Workspace;
let service: Running;

before(async () => {
  space = await learnWorkspace();
  service = await enforce(space, { env: { LEASH_KERNEL_ABI_MAX: '0' } });
});
after(async () => {
  await service?.stop();
  if (space !== undefined) rmSync(space.work, { recursive: true, force: true });
});

test('without Landlock: one line says so, and the Node and in-process layers run', async () => {
  const lines = service.stderr().split('\n');
  const notices = lines.filter((line) => line.includes('no kernel layer'));
  assert.equal(notices.length, 1, service.stderr());
  assert.match(
    notices[0]!,
    /^leash: no kernel layer \(this kernel has no Landlock\); enforcing with process \+ node$/,
  );
  assert.ok(lines.includes('leash: enforce layers: process, node'), service.stderr());
  assert.deepEqual(await get(service.base, '/public'), { ok: true, value: 'public words' });
});

test('without the kernel layer a UDP datagram gets out (the control of the UDP test)', async () => {
  const watch = await watchUdp();
  try {
    await attack(
      service.base,
      `const socket = require('node:dgram').createSocket('udp4');
       return new Promise((resolve) => socket.send('exfiltrated', ${watch.port}, '127.0.0.1', (e) => { socket.close(); resolve(e ? e.code : 'sent'); }));`,
    );
    const received = await watch.received();
    assert.deepEqual(received.map(String), ['exfiltrated']);
  } finally {
    watch.close();
  }
});

test('asking for the kernel layer where there is none stops the start', async () => {
  await assert.rejects(
    enforce(space, { layer: 'all', env: { LEASH_KERNEL_ABI_MAX: '0' } }),
    /ERR_LEASH_KERNEL|kernel layer was asked for/,
  );
});
