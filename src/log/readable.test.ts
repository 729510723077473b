import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readableLine } from './readable.ts';

const json = (object: object) =>
  `${JSON.stringify({ level: 40, pid: 1, name: 'leash', ...object })}\n`;

test('a violation is one line: what was refused, where, and the nearest rule', () => {
  assert.equal(
    readableLine(
      json({
        module: 'runtime',
        event: 'violation',
        mode: 'enforce',
        facts: ['GET /files/:name', 'app', 'fs.read', '/etc/passwd'],
        nearest: ['GET /files/:name', 'app', 'fs.read', '/srv/files/*'],
        msg: 'refused: …',
      }),
    ),
    'leash: refused runtime: GET /files/:name › app › fs.read › /etc/passwd (nearest rule: GET /files/:name › app › fs.read › /srv/files/*)\n',
  );
  assert.equal(
    readableLine(
      json({
        module: 'sql',
        event: 'violation',
        mode: 'report',
        facts: ['GET /', 'x'],
        nearest: null,
      }),
    ),
    'leash: would refuse sql: GET / › x\n',
  );
});

test('a coded warning names its code; errors their level; anything else passes through', () => {
  assert.equal(
    readableLine(json({ module: 'sql', event: 'sql-unparsable', code: 'LEASHWRN002', msg: 'bad' })),
    'leash: warning LEASHWRN002: sql: bad\n',
  );
  assert.equal(readableLine(json({ level: 50, msg: 'boom' })), 'leash: error: boom\n');
  assert.equal(readableLine('not json'), 'not json\n');
});
