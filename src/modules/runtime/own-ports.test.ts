import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addOwnEphemeralPort, isOwnEphemeralEndpoint } from './own-ports.ts';

test('a loopback endpoint on a port this process picked by listen(0) is its own, until it closes', () => {
  assert.equal(isOwnEphemeralEndpoint('127.0.0.1:40123'), false);
  const close = addOwnEphemeralPort(40123);
  for (const key of ['127.0.0.1:40123', '127.0.0.9:40123', '[::1]:40123', 'localhost:40123'])
    assert.equal(isOwnEphemeralEndpoint(key), true, key);
  for (const key of ['10.0.0.1:40123', 'example.com:40123', '127.0.0.1:40124'])
    assert.equal(isOwnEphemeralEndpoint(key), false, key);
  close();
  assert.equal(isOwnEphemeralEndpoint('127.0.0.1:40123'), false);
});
