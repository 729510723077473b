import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { currentScope } from '../../attribution/scope.ts';
import { installHttpAdapter } from './adapter.ts';

let uninstall: () => void;
before(() => {
  uninstall = installHttpAdapter();
});
after(() => uninstall());

test('a request re-emitted to another server: its events still run in the first request state', async () => {
  // Server B reads the body in listeners that run when the socket delivers it, outside any
  // request; server A hands each request to B under another path.
  const inner = http.createServer((req, res) => {
    const handler = currentScope();
    const chunks: string[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(`${currentScope()}:${chunk}`));
    req.on('end', () => res.end(JSON.stringify({ handler, data: chunks, end: currentScope() })));
  });
  const outer = http.createServer((req, res) => {
    req.url = '/b-path';
    inner.emit('request', req, res);
  });
  outer.listen(0, '127.0.0.1');
  await new Promise((resolve) => outer.once('listening', resolve));
  try {
    const { port } = outer.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/a-path`, {
      method: 'POST',
      body: 'hello',
    });
    assert.deepEqual(await response.json(), {
      handler: 'POST /b-path',
      data: ['POST /a-path:hello'],
      end: 'POST /a-path',
    });
  } finally {
    outer.closeAllConnections();
    await new Promise((resolve) => outer.close(resolve));
  }
});

test('an object made from a bound request emits in the request state', async () => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const derived = Object.create(req) as http.IncomingMessage;
    derived.on('custom', () => seen.push(currentScope()));
    setImmediate(() => {
      derived.emit('custom');
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    await (await fetch(`http://127.0.0.1:${port}/things/12`)).text();
    assert.deepEqual(seen, ['GET /things/:id']);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('listeners of a request whose listenerCount the service replaced still run in its state', async () => {
  // An event no listener hears is emitted without entering the request; whether one hears it is
  // Node's answer, not the emitter's own method, or a route could move its listeners out of its
  // scope into the connection's.
  const server = http.createServer((req, res) => {
    req.listenerCount = () => 0;
    const scopes: string[] = [];
    req.on('data', () => scopes.push(currentScope()));
    req.on('end', () => res.end(JSON.stringify([...scopes, currentScope()])));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/upload`, { method: 'POST', body: 'x' });
    assert.deepEqual(await response.json(), ['POST /upload', 'POST /upload']);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
