// The Envelope codecs (protobuf and proto3 JSON), base64, tokens and backoff arithmetic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backoffDelay,
  base64Decode,
  base64Encode,
  decodeEnvelope,
  decodeJsonEnvelope,
  encodeEnvelope,
  envelopeFromJson,
  envelopeToJson,
  jwtExp,
  newEnvelope,
  refreshDelay,
} from '../../src/arqonbus.js';
import { makeJwt } from './fake_server.js';

const bytes = (...b) => new Uint8Array(b);

function full() {
  const e = newEnvelope();
  e.traceId = '0af7651916cd43dd8448eb211c80319c';
  e.tenantId = 'T1';
  e.roomId = 'lobby ✓';
  e.timestamp = 1795306953123;
  e.twistId = 'tw';
  e.headers['x-a'] = '1';
  e.headers['content-type'] = 'text/plain; é';
  e.id = 'q42';
  e.seq = 2 ** 40 + 7;
  e.sender = 'alice';
  e.signature = bytes(0, 255, 128);
  e.connId = 'abc-0-1';
  e.event = { type: 'chat.message', data: bytes(1, 2, 3, 0, 250) };
  return e;
}

test('protobuf: a known encoding, byte for byte', () => {
  const e = newEnvelope();
  e.roomId = 'r';
  e.seq = 300;
  e.event = { type: 't', data: bytes(1, 2) };
  // room_id (3, len 1 "r"); seq (8, varint 300 = ac 02); event (21: tag aa 01, len 7)
  const want = bytes(0x1a, 0x01, 0x72, 0x40, 0xac, 0x02, 0xaa, 0x01, 0x07, 0x0a, 0x01, 0x74, 0x12, 0x02, 0x01, 0x02);
  assert.deepEqual(encodeEnvelope(e), want);
  const d = decodeEnvelope(want);
  assert.equal(d.roomId, 'r');
  assert.equal(d.seq, 300);
  assert.equal(d.event.type, 't');
  assert.deepEqual(d.event.data, bytes(1, 2));
  assert.equal(d.cmd, null);
});

test('protobuf: every field round-trips, also cmd and signal payloads', () => {
  const e = full();
  assert.deepEqual(decodeEnvelope(encodeEnvelope(e)), e);
  const c = newEnvelope();
  c.cmd = { type: 'history', data: new TextEncoder().encode('{"since_seq":5}') };
  c.id = 'x';
  assert.deepEqual(decodeEnvelope(encodeEnvelope(c)), c);
  const s = newEnvelope();
  s.signal = { type: 2, reason: 'banned' };
  assert.deepEqual(decodeEnvelope(encodeEnvelope(s)), s);
  assert.deepEqual(decodeEnvelope(new Uint8Array(0)), newEnvelope());
});

test('protobuf: 64-bit integers (negative int64, uint64 beyond 32 bits, 10-byte varints)', () => {
  const e = newEnvelope();
  e.timestamp = -5;
  e.seq = 2 ** 53 - 1;
  const d = decodeEnvelope(encodeEnvelope(e));
  assert.equal(d.timestamp, -5);
  assert.equal(d.seq, 2 ** 53 - 1);
  // timestamp = -1 as 10 bytes ff..ff 01
  assert.equal(decodeEnvelope(bytes(0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)).timestamp, -1);
  // seq = 2^32 exactly: 80 80 80 80 10
  assert.equal(decodeEnvelope(bytes(0x40, 0x80, 0x80, 0x80, 0x80, 0x10)).seq, 2 ** 32);
});

test('protobuf: unknown fields of every wire type are skipped', () => {
  const known = encodeEnvelope(full());
  const unknown = bytes(
    0x98, 0x06, 0x96, 0x01, // field 99, varint 150
    0xa1, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, // field 100, fixed64
    0xaa, 0x06, 0x03, 9, 9, 9, // field 101, length-delimited
    0xb5, 0x06, 1, 2, 3, 4, // field 102, fixed32
    0xbb, 0x06, 0x08, 0x01, 0xbc, 0x06, // field 103, a group { field 1 varint } and its end
    0x2a, 0x01, 0x41, // twist_id "A" after them
  );
  const d = decodeEnvelope(new Uint8Array([...unknown, ...known]));
  const want = full();
  assert.deepEqual(d, want);
  assert.equal(decodeEnvelope(new Uint8Array([...known, ...unknown])).twistId, 'A');
  // A known field with another wire type is skipped like an unknown one: room_id as a varint.
  assert.equal(decodeEnvelope(bytes(0x18, 0x05, 0x1a, 0x01, 0x78)).roomId, 'x');
  // Unknown fields inside the event and inside a header entry are skipped too.
  const ev = decodeEnvelope(bytes(0xaa, 0x01, 0x05, 0x18, 0x01, 0x0a, 0x01, 0x74)).event;
  assert.equal(ev.type, 't');
  assert.equal(decodeEnvelope(bytes(0x32, 0x08, 0x0a, 0x01, 0x6b, 0x18, 0x07, 0x12, 0x01, 0x76)).headers.k, 'v');
});

test('protobuf: hostile bytes are refused with a TypeError, never anything else', () => {
  const bad = {
    'truncated varint': bytes(0x40, 0x80),
    'varint of 11 bytes': bytes(0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
    'length beyond the end': bytes(0x1a, 0x05, 0x61),
    'huge length': bytes(0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61),
    'length over 2^32': bytes(0x1a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
    'field number 0': bytes(0x02, 0x00),
    'wire type 6': bytes(0x0e),
    'wire type 7': bytes(0x0f),
    'truncated fixed64': bytes(0xa1, 0x06, 1, 2, 3),
    'truncated fixed32': bytes(0xb5, 0x06, 1),
    'unterminated group': bytes(0xbb, 0x06, 0x08, 0x01),
    'mismatched end group': bytes(0xbb, 0x06, 0xc4, 0x06),
    'stray end group': bytes(0xbc, 0x06),
    'invalid UTF-8 in a string': bytes(0x1a, 0x02, 0xc3, 0x28),
    'overlong UTF-8': bytes(0x0a, 0x02, 0xc0, 0xaf),
    'a payload overrunning its parent': bytes(0xaa, 0x01, 0x02, 0x0a, 0x05, 0x61),
    'tag beyond 32 bits': bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
  };
  for (const [name, b] of Object.entries(bad)) {
    assert.throws(() => decodeEnvelope(b), TypeError, name);
  }
  // Deeply nested groups are bounded.
  const deep = [];
  for (let i = 0; i < 100; i++) deep.push(0xbb, 0x06);
  assert.throws(() => decodeEnvelope(new Uint8Array(deep)), TypeError);
});

test('protobuf: random and mutated input decodes or throws TypeError', () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const valid = encodeEnvelope(full());
  let decoded = 0;
  for (let i = 0; i < 20000; i++) {
    let b;
    if (i % 2) {
      b = new Uint8Array(Math.floor(rnd() * 64));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
    } else {
      b = valid.slice(0, Math.floor(rnd() * (valid.length + 1)));
      for (let k = 0; k < 3; k++) if (b.length) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    }
    try {
      const e = decodeEnvelope(b);
      decoded++;
      assert.equal(typeof e.roomId, 'string');
      assert.ok(Number.isFinite(e.seq));
      // Whatever decoded encodes again and decodes to the same (idempotent after one pass).
      assert.deepEqual(decodeEnvelope(encodeEnvelope(e)), e);
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
    }
  }
  assert.ok(decoded > 100, `some inputs decode (${decoded})`);
});

test('JSON mapping: the Shield\'s output, both name forms, 64-bit strings and numbers', () => {
  const text =
    '{"traceId":"0af7651916cd43dd8448eb211c80319c","tenantId":"T1","roomId":"lobby","timestamp":"1795306953123",' +
    '"headers":{"x-a":"1"},"seq":"17","sender":"bob","connId":"i-0-1","event":{"type":"chat","data":"aGk="}}';
  const e = decodeJsonEnvelope(text);
  assert.equal(e.seq, 17);
  assert.equal(e.timestamp, 1795306953123);
  assert.equal(e.roomId, 'lobby');
  assert.equal(e.headers['x-a'], '1');
  assert.equal(new TextDecoder().decode(e.event.data), 'hi');
  const snake = envelopeFromJson({ room_id: 'r', trace_id: 't', conn_id: 'c', seq: 5, timestamp: -3, cmd: { type: 'join' } });
  assert.equal(snake.roomId, 'r');
  assert.equal(snake.connId, 'c');
  assert.equal(snake.seq, 5);
  assert.equal(snake.timestamp, -3);
  assert.equal(snake.cmd.type, 'join');
  assert.deepEqual(snake.cmd.data, new Uint8Array(0));
  // URL-safe base64 without padding is accepted.
  assert.deepEqual(envelopeFromJson({ event: { type: 'x', data: '-_8' } }).event.data, bytes(0xfb, 0xff));
  assert.equal(envelopeFromJson({ signal: { type: 'BAN', reason: 'r' } }).signal.type, 2);
  // Round trip through the mapping.
  const f = full();
  assert.deepEqual(decodeJsonEnvelope(JSON.stringify(envelopeToJson(f))), f);
  assert.deepEqual(envelopeToJson(f).seq, String(2 ** 40 + 7));
});

test('JSON mapping: wrong types are refused with a TypeError', () => {
  for (const bad of [
    'not json',
    '[]',
    'null',
    '{"roomId":5}',
    '{"seq":"-1"}',
    '{"seq":1.5}',
    '{"seq":"12a"}',
    '{"headers":[]}',
    '{"headers":{"a":1}}',
    '{"event":"x"}',
    '{"event":{"data":"!!"}}',
    '{"event":{"type":"a"},"cmd":{"type":"b"}}',
    '{"signature":"abcde"}',
  ]) {
    assert.throws(() => decodeJsonEnvelope(bad), TypeError, bad);
  }
  // A "__proto__" header is an ordinary key, not a prototype.
  const e = decodeJsonEnvelope('{"headers":{"__proto__":"x","constructor":"y"}}');
  assert.equal(e.headers['__proto__'], 'x');
  assert.equal(Object.getPrototypeOf(e.headers), null);
});

test('base64 matches Buffer for every length, both alphabets', () => {
  let seed = 7;
  for (let n = 0; n < 200; n++) {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (seed = (seed * 31 + 17) & 0xff);
    const s = Buffer.from(b).toString('base64');
    assert.equal(base64Encode(b), s);
    assert.deepEqual(base64Decode(s), b);
    assert.deepEqual(base64Decode(Buffer.from(b).toString('base64url')), b);
  }
  for (const bad of ['a', 'ab=c', 'abc==', '====', 'ab cd', 'é']) assert.throws(() => base64Decode(bad), TypeError, bad);
});

test('jwtExp reads exp without verifying; anything else is null', () => {
  assert.equal(jwtExp(makeJwt({ sub: 'a', exp: 1700000000 })), 1700000000);
  assert.equal(jwtExp(makeJwt({ sub: 'a' })), null);
  assert.equal(jwtExp(makeJwt({ exp: '1700000000' })), null);
  assert.equal(jwtExp('nodots'), null);
  assert.equal(jwtExp('a.!!!.c'), null);
  assert.equal(jwtExp(null), null);
});

test('refreshDelay: ahead of expiry, half the lifetime for short tokens, null once expired', () => {
  // one hour token, refresh 30 s ahead
  assert.equal(refreshDelay(3600000, 0, 0, 30000), 3570000);
  // 10 s token: refreshed at 5 s, not in a loop
  assert.equal(refreshDelay(10000, 0, 0, 30000), 5000);
  // already past the point: at once
  assert.equal(refreshDelay(10000, 9000, 0, 30000), 0);
  assert.equal(refreshDelay(10000, 10000, 0, 30000), null);
});

test('backoffDelay: exponential, capped, jittered downwards only', () => {
  const r = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 };
  assert.deepEqual([0, 1, 2, 3, 4, 10, 5000].map((n) => backoffDelay(n, r, () => 0)), [100, 200, 400, 800, 1000, 1000, 1000]);
  assert.equal(backoffDelay(2, r, () => 1), 200);
  assert.equal(backoffDelay(2, r, () => 0.5), 300);
  assert.equal(backoffDelay(0, { ...r, jitter: 0 }, () => 0.99), 100);
});
