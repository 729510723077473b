import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addOwnEphemeralPort, isOwnEphemeralEndpoint } from './own-ports.ts';

test('a server of this process on a port listen(0) picked is reached at its own address, until it closes', () => {
  assert.equal(isOwnEphemeralEndpoint('127.0.0.1:40123'), false);
  const close = addOwnEphemeralPort('127.0.0.1', 40123);
  assert.equal(isOwnEphemeralEndpoint('127.0.0.1:40123'), true);
  // Another loopback address on the same port number is another server.
  for (const key of ['127.0.0.9:40123', '[::1]:40123', '10.0.0.1:40123', '127.0.0.1:40124'])
    assert.equal(isOwnEphemeralEndpoint(key), false, key);
  close();
  assert.equal(isOwnEphemeralEndpoint('127.0.0.1:40123'), false);
});

test('a server listening on every address is its own at every loopback address, and only there', () => {
  const close = addOwnEphemeralPort('::', 40125);
  for (const key of ['127.0.0.1:40125', '127.0.0.9:40125', '[::1]:40125', 'localhost:40125'])
    assert.equal(isOwnEphemeralEndpoint(key), true, key);
  for (const key of ['10.0.0.1:40125', 'example.com:40125'])
    assert.equal(isOwnEphemeralEndpoint(key), false, key);
  close();
  const six = addOwnEphemeralPort('::1', 40126);
  assert.equal(isOwnEphemeralEndpoint('[::1]:40126'), true);
  assert.equal(isOwnEphemeralEndpoint('127.0.0.1:40126'), false);
  six();
});
