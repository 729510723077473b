import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MessageReader,
  message,
  parseMessage,
  queryMessage,
  readBind,
  readParse,
  readStartup,
  startupMessage,
} from './pg-wire.ts';

function bind(params: (Buffer | string | null)[], formats: number[]): Buffer {
  const values = params.flatMap((value) => {
    if (value === null) return [{ int32: -1 }];
    const bytes = Buffer.from(value);
    return [{ int32: bytes.length }, bytes];
  });
  return message(
    'B',
    'portal',
    'stmt',
    { int16: formats.length },
    ...formats.map((f) => ({ int16: f })),
    { int16: params.length },
    ...values,
    { int16: 1 },
    { int16: 1 },
  );
}

test('the reader yields the same messages however the stream is cut', () => {
  const stream = Buffer.concat([
    queryMessage('SELECT 1'),
    parseMessage({ name: 's', sql: 'SELECT $1', paramTypes: [25] }),
    message('S'),
  ]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const reader = new MessageReader(1024);
    reader.push(stream.subarray(0, cut));
    const got: string[] = [];
    const drain = (): void => {
      for (let frame = reader.next(); frame !== undefined; frame = reader.next()) {
        assert.ok(frame.ok);
        got.push(frame.message.type);
      }
    };
    drain();
    for (let i = cut; i < stream.length; i++) {
      reader.push(stream.subarray(i, i + 1));
      drain();
    }
    assert.deepEqual(got, ['Q', 'P', 'S'], `cut at ${cut}`);
    assert.equal(reader.buffered, 0);
  }
});

test('a length below 4 or above the limit is malformed before the body arrives', () => {
  const short = new MessageReader(1024);
  short.push(Buffer.from([0x51, 0, 0, 0, 3]));
  assert.deepEqual(short.next(), { ok: false, reason: 'a message "Q" of length 3' });
  const long = new MessageReader(1024);
  long.push(Buffer.from([0x51, 0, 0, 0x10, 0]));
  assert.equal(long.next()?.ok, false);
  const startup = new MessageReader(1024);
  startup.push(Buffer.from([0, 1, 0, 0]));
  assert.equal(startup.next(false)?.ok, false, 'a start-up packet over 10000 bytes');
});

test('start-up, Parse and Bind read back what was built, and reject what is cut short', () => {
  const startup = startupMessage(new Map([['user', 'u']]));
  assert.deepEqual(readStartup(startup.subarray(4))?.params, new Map([['user', 'u']]));
  const parse = parseMessage({ name: '', sql: 'SELECT $1', paramTypes: [23] });
  assert.deepEqual(readParse(parse.subarray(5)), { name: '', sql: 'SELECT $1', paramTypes: [23] });
  assert.equal(readParse(parse.subarray(5, parse.length - 1)), undefined);

  const mixed = readBind(bind(['42', Buffer.from([1, 2]), null], [0, 1, 0]).subarray(5));
  assert.deepEqual(mixed?.params, ['42', Buffer.from([1, 2]), null]);
  assert.deepEqual(mixed?.resultFormats, [1]);
  const allBinary = readBind(bind(['ab'], [1]).subarray(5));
  assert.deepEqual(allBinary?.params, [Buffer.from('ab')]);
  assert.equal(readBind(bind(['a', 'b'], [0, 0, 0]).subarray(5)), undefined, 'formats ≠ params');
  const full = bind(['abc'], []);
  assert.equal(readBind(full.subarray(5, full.length - 3)), undefined);
});
