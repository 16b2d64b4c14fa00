// The Client's state machine against a fake Shield (test/unit/fake_server.js): connecting,
// requests and errors, reconnect with backoff, re-joins, dedup, gap fill, token refresh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArqonError, Client } from '../../src/arqonbus.js';
import { FakeBus, makeJwt, text, tick, until } from './fake_server.js';

const FAST = { initialDelayMs: 5, maxDelayMs: 20, factor: 2, jitter: 0 };

function setup(opts = {}) {
  const bus = new FakeBus();
  const client = new Client('ws://127.0.0.1:1/ws', {
    token: 'tok',
    WebSocket: bus.WebSocket,
    reconnect: FAST,
    requestTimeoutMs: 500,
    pingIntervalMs: 0,
    ...opts,
  });
  const states = [];
  const errors = [];
  client.on('state', (s) => states.push(s));
  client.on('error', (e) => errors.push(e));
  return { bus, client, states, errors };
}

function collect(room) {
  const got = [];
  const gaps = [];
  room.on('message', (m) => got.push(m));
  room.on('gap', (g) => gaps.push(g));
  return { got, gaps, seqs: () => got.map((m) => m.seq) };
}

test('connect: states, welcome, URL carries the token and the encoding', async () => {
  const { bus, client, states } = setup();
  let welcome = null;
  client.on('welcome', (w) => (welcome = w));
  await client.connect();
  assert.deepEqual(states, ['connecting', 'connected']);
  assert.equal(client.state, 'connected');
  assert.equal(welcome.connId, 'c0');
  assert.equal(welcome.tenantId, 'T1');
  assert.equal(welcome.limits.max_message_bytes, 1 << 20);
  assert.equal(bus.last.token, 'tok');
  assert.equal(bus.last.encoding, 'binary');
  assert.equal(bus.last.binaryType, 'arraybuffer');
  client.close();
  assert.equal(client.state, 'disconnected');
  assert.equal(bus.last.closedBy, 'client');
});

test('binary encoding sends binary frames, json encoding text frames', async () => {
  for (const encoding of ['binary', 'json']) {
    const { bus, client } = setup({ encoding });
    await client.connect();
    const room = await client.join('lobby');
    await room.publish('chat', 'hi');
    const frames = bus.last.sentFrames;
    assert.ok(frames.length >= 2);
    for (const f of frames) assert.equal(typeof f === 'string', encoding === 'json', encoding);
    const [, pub] = bus.sent('event')[0];
    assert.equal(pub.event.type, 'chat');
    assert.equal(new TextDecoder().decode(pub.event.data), 'hi');
    assert.equal(pub.roomId, 'lobby');
    assert.match(pub.traceId, /^[0-9a-f]{32}$/);
    client.close();
  }
});

test('publish resolves on ack with its traceId; errors reject with code and reason', async () => {
  const { bus, client } = setup();
  await client.connect();
  const room = await client.join('lobby');
  const { traceId } = await room.publish('chat', new Uint8Array([1, 2]));
  assert.equal(bus.sent('event')[0][1].traceId, traceId);
  bus.errors.set('event', { code: 403, reason: 'permission_denied' });
  await assert.rejects(room.publish('chat', 'x'), (e) => e instanceof ArqonError && e.code === 403 && e.reason === 'permission_denied' && e.room === 'lobby');
  bus.errors.set('presence', { code: 503, reason: 'no brain' });
  await assert.rejects(room.presence(), (e) => e.code === 503);
  bus.errors.clear();
  assert.deepEqual(await room.presence(), [{ user: 'alice', connId: 'c0', node: 'n1', joinedAt: 17 }]);
  // A message over the Shield's max_message_bytes is refused before it is sent (the Shield would close 1009).
  bus.limits.max_message_bytes = 64;
  client.close();
});

test('a message over max_message_bytes is refused locally with 413', async () => {
  const { bus, client } = setup();
  bus.limits = { max_message_bytes: 64 };
  await client.connect();
  const room = await client.join('lobby');
  await assert.rejects(room.publish('chat', new Uint8Array(100)), (e) => e.code === 413);
  assert.equal(bus.sent('event').length, 0);
  client.close();
});

test('requests time out with 408 and a clear reason', async () => {
  const { bus, client } = setup({ requestTimeoutMs: 80 });
  await client.connect();
  const room = await client.join('lobby');
  bus.silent.add('presence');
  const t0 = Date.now();
  await assert.rejects(room.presence(), (e) => e.code === 408 && /presence of lobby timed out after 80 ms/.test(e.reason));
  assert.ok(Date.now() - t0 < 400);
  bus.silent.add('join');
  await assert.rejects(client.join('other'), (e) => e.code === 408 && /join other/.test(e.reason));
  assert.equal(client.rooms.has('other'), false);
  client.close();
});

test('join refused (403) rejects and forgets the room; join twice gives the same Room', async () => {
  const { bus, client } = setup();
  await client.connect();
  const a = await client.join('a');
  assert.equal(await client.join('a'), a);
  assert.equal(bus.sent('join').length, 1);
  bus.errors.set('join', { code: 403, reason: 'room not allowed' });
  await assert.rejects(client.join('b'), (e) => e.code === 403 && e.room === 'b');
  assert.equal(client.rooms.has('b'), false);
  client.close();
});

test('first join starts after the latest seq; duplicates dropped; order kept', async () => {
  const { bus, client } = setup();
  for (let i = 0; i < 3; i++) bus.sequence('r'); // seqs 1..3 happened before the join
  await client.connect();
  const room = await client.join('r');
  const c = collect(room);
  await until(() => room.lastSeq === 3, 1000, 'baseline');
  const m4 = bus.publish('r');
  const m5 = bus.publish('r');
  bus.broadcast(m4);
  bus.broadcast(m5);
  bus.broadcast(m4);
  const m6 = bus.publish('r');
  await until(() => c.got.length === 3);
  assert.deepEqual(c.seqs(), [4, 5, 6]);
  assert.equal(text(c.got[2]), 'm6');
  assert.equal(c.got[0].room, 'r');
  assert.equal(c.got[0].sender, 'bob');
  assert.equal(c.got[0].traceId, m4.traceId);
  assert.equal(room.stats.duplicates, 3);
  assert.equal(c.gaps.length, 0);
  void m6;
  client.close();
});

test('first join: a message received while the start is being asked is delivered, even if the latest seq counts it', async () => {
  const { bus, client } = setup();
  bus.sequence('r'); // 1, before the join
  await client.connect();
  bus.historyDelayMs = 50;
  const room = await client.join('r');
  const c = collect(room);
  bus.publish('r'); // 2: live, and counted in latest_seq by the time history answers
  await until(() => room.lastSeq !== null && bus.historyCalls.length === 1);
  await until(() => c.got.length === 1);
  bus.historyDelayMs = 0;
  bus.publish('r');
  await until(() => c.got.length === 2);
  assert.deepEqual(c.seqs(), [2, 3]);
  client.close();
});

test('first join: own publish counted by the start but delivered after it is handed on, then what follows', async () => {
  const { bus, client } = setup();
  for (let i = 0; i < 3; i++) bus.sequence('r'); // 1..3 before the join
  await client.connect();
  bus.historyDelayMs = 40;
  const room = await client.join('r');
  const c = collect(room);
  // 4 and 5 are sequenced (and counted by the start) before their live copies arrive.
  const m4 = bus.sequence('r');
  const m5 = bus.sequence('r');
  await until(() => room.lastSeq === 5, 1000, 'the start');
  bus.historyDelayMs = 0;
  bus.broadcast(m4);
  await until(() => c.got.length === 2, 1000, '4 and 5 (5 from history)');
  bus.broadcast(m5); // the live copy of 5: a duplicate now
  bus.publish('r');
  await until(() => c.got.length === 3);
  await tick(20);
  assert.deepEqual(c.seqs(), [4, 5, 6]);
  assert.equal(c.gaps.length, 0);
  client.close();
});

test('join with sinceSeq delivers the history after it first, then live messages', async () => {
  const { bus, client } = setup();
  for (let i = 0; i < 5; i++) bus.sequence('r');
  await client.connect();
  const room = await client.join('r', { sinceSeq: 2 });
  const c = collect(room);
  await until(() => c.got.length === 3);
  bus.publish('r');
  await until(() => c.got.length === 4);
  assert.deepEqual(c.seqs(), [3, 4, 5, 6]);
  client.close();
});

test('nothing is handed on before join() resolves: a delivery ahead of the ack waits for the listeners', async () => {
  const { bus, client } = setup();
  await client.connect();
  bus.beforeJoinAck = (ws) => bus.send(ws, bus.sequence('r')); // 1 arrives before the ack
  const room = await client.join('r', { sinceSeq: 0 });
  const c = collect(room);
  bus.publish('r'); // 2
  await until(() => c.got.length === 2);
  assert.deepEqual(c.seqs(), [1, 2]);
  client.close();
});

test('a jump in seq is filled from history before newer messages are handed on', async () => {
  const { bus, client } = setup();
  await client.connect();
  const room = await client.join('r', { sinceSeq: 0 });
  const c = collect(room);
  await until(() => bus.historyCalls.length === 1);
  bus.publish('r'); // 1
  bus.sequence('r'); // 2, 3 not delivered live
  bus.sequence('r');
  bus.publish('r'); // 4 -> fill from history
  bus.publish('r'); // 5 (buffered or live)
  await until(() => c.got.length === 5);
  assert.deepEqual(c.seqs(), [1, 2, 3, 4, 5]);
  assert.deepEqual(c.got.map(text), ['m1', 'm2', 'm3', 'm4', 'm5']);
  assert.equal(bus.historyCalls.at(-1).since_seq, 1);
  assert.equal(c.gaps.length, 0);
  client.close();
});

test('what history no longer holds is a gap event, never hidden', async () => {
  const { bus, client } = setup();
  await client.connect();
  const room = await client.join('r', { sinceSeq: 0 });
  const c = collect(room);
  bus.publish('r'); // 1
  await until(() => c.got.length === 1);
  for (let i = 0; i < 4; i++) bus.sequence('r'); // 2..5
  bus.room('r').messages = bus.room('r').messages.filter((m) => m.seq >= 4); // retention dropped 2, 3
  bus.publish('r'); // 6
  await until(() => c.got.length === 4);
  assert.deepEqual(c.seqs(), [1, 4, 5, 6]);
  assert.deepEqual(c.gaps, [{ room: 'r', fromSeq: 2, toSeq: 3 }]);
  assert.equal(room.stats.gaps, 1);
  client.close();
});

test('history pages are followed until caught up (next_seq / latest_seq)', async () => {
  const { bus, client } = setup({ historyPageSize: 100 });
  await client.connect();
  const room = await client.join('r', { sinceSeq: 0 });
  const c = collect(room);
  await until(() => bus.historyCalls.length === 1);
  for (let i = 0; i < 250; i++) bus.sequence('r');
  bus.publish('r'); // 251 arrives live
  await until(() => c.got.length === 251);
  assert.deepEqual(c.seqs(), Array.from({ length: 251 }, (_, i) => i + 1));
  assert.deepEqual(bus.historyCalls.slice(1).map((h) => [h.since_seq, h.limit]), [[0, 100], [100, 100], [200, 100]]);
  client.close();
});

test('seqs not yet in history are waited for (they may still arrive live), within gapTimeoutMs', async () => {
  const { bus, client } = setup({ gapTimeoutMs: 5000 });
  await client.connect();
  const room = await client.join('r', { sinceSeq: 0 });
  const c = collect(room);
  bus.publish('r'); // 1
  await until(() => c.got.length === 1);
  // 2 and 3 sequenced but not yet committed: history (and latest_seq) does not know them.
  const r = bus.room('r');
  const m2 = bus.sequence('r');
  const m3 = bus.sequence('r');
  const m4 = bus.sequence('r');
  r.messages = r.messages.filter((m) => m.seq < 2);
  r.latest = 1;
  const calls = bus.historyCalls.length;
  bus.broadcast(m4);
  await tick(200);
  assert.deepEqual(c.seqs(), [1], 'nothing newer is handed on before the hole is filled');
  assert.ok(bus.historyCalls.length - calls >= 2, 'history asked again while waiting');
  bus.broadcast(m3);
  bus.broadcast(m2);
  await until(() => c.got.length === 4);
  assert.deepEqual(c.seqs(), [1, 2, 3, 4]);
  assert.equal(c.gaps.length, 0);
  client.close();
});

test('seqs that never come are reported as a gap after gapTimeoutMs', async () => {
  const { bus, client } = setup({ gapTimeoutMs: 200 });
  await client.connect();
  const room = await client.join('r', { sinceSeq: 0 });
  const c = collect(room);
  bus.publish('r');
  await until(() => c.got.length === 1);
  const r = bus.room('r');
  bus.sequence('r');
  const m3 = bus.sequence('r');
  r.messages = r.messages.filter((m) => m.seq < 2); // neither committed yet
  r.latest = 1;
  const t0 = Date.now();
  bus.broadcast(m3);
  await until(() => c.got.length === 2, 2000);
  assert.ok(Date.now() - t0 >= 180);
  assert.deepEqual(c.seqs(), [1, 3]);
  assert.deepEqual(c.gaps, [{ room: 'r', fromSeq: 2, toSeq: 2 }]);
  client.close();
});

test('held messages are bounded: past maxBufferedMessages the hole is a gap at once', async () => {
  const { bus, client } = setup({ gapTimeoutMs: 60000, maxBufferedMessages: 2 });
  await client.connect();
  const room = await client.join('r', { sinceSeq: 0 });
  const c = collect(room);
  bus.publish('r'); // 1
  await until(() => c.got.length === 1);
  const r = bus.room('r');
  bus.sequence('r'); // 2: never delivered, not in history
  const later = [bus.sequence('r'), bus.sequence('r'), bus.sequence('r')]; // 3, 4, 5
  r.messages = r.messages.filter((m) => m.seq < 2);
  r.latest = 1;
  bus.broadcast(later[0]);
  bus.broadcast(later[1]);
  await tick(150);
  assert.deepEqual(c.seqs(), [1], 'within the bound: 3 and 4 wait for 2');
  // One more than the bound gives the hole up at once, long before gapTimeoutMs (60 s).
  bus.broadcast(later[2]);
  await until(() => c.got.length === 4, 2000);
  assert.deepEqual(c.seqs(), [1, 3, 4, 5]);
  assert.deepEqual(c.gaps, [{ room: 'r', fromSeq: 2, toSeq: 2 }]);
  client.close();
});

test('reconnect: backoff, re-join, catch-up from history, exactly once in order', async () => {
  const { bus, client, states } = setup();
  await client.connect();
  const room = await client.join('r', { sinceSeq: 0 });
  const c = collect(room);
  bus.publish('r');
  bus.publish('r');
  await until(() => c.got.length === 2);
  bus.drop(bus.last, 1006);
  bus.sequence('r'); // 3, 4 sent while disconnected
  bus.sequence('r');
  await until(() => client.state === 'connected' && bus.sockets.length === 2 && room.stats.delivered === 4, 2000, 'reconnect + catch-up');
  assert.ok(bus.last.joined.has('r'), 're-joined on the new connection');
  const m5 = bus.publish('r');
  bus.broadcast(m5); // duplicate
  await until(() => c.got.length === 5);
  await tick(20);
  assert.deepEqual(c.seqs(), [1, 2, 3, 4, 5]);
  assert.deepEqual(states, ['connecting', 'connected', 'disconnected', 'connecting', 'connected']);
  client.close();
});

test('bounded attempts: gives up, connect() rejects with the close code, delays grow', async () => {
  const { bus, client, states } = setup({ reconnect: { initialDelayMs: 20, maxDelayMs: 1000, factor: 2, jitter: 0, maxAttempts: 3 } });
  bus.refuseConnections = 100;
  const t0 = Date.now();
  await assert.rejects(client.connect(), (e) => e.code === 1006 && /gave up after 3/.test(e.reason));
  const took = Date.now() - t0;
  assert.equal(bus.sockets.length, 4, 'the first attempt and 3 retries');
  assert.ok(took >= 20 + 40 + 80, `backoff 20+40+80 ms (took ${took})`);
  assert.equal(client.state, 'disconnected');
  assert.equal(states.filter((s) => s === 'connecting').length, 4);
  // connect() again starts over.
  bus.refuseConnections = 0;
  await client.connect();
  assert.equal(client.state, 'connected');
  client.close();
});

test('reconnect: false means one attempt', async () => {
  const { bus, client } = setup({ reconnect: false });
  bus.refuseConnections = 1;
  await assert.rejects(client.connect(), (e) => e.code === 1006);
  assert.equal(bus.sockets.length, 1);
  client.close();
});

test('a request in flight when the connection drops rejects with the close code; one made while away waits', async () => {
  const { bus, client } = setup({ requestTimeoutMs: 2000 });
  await client.connect();
  const room = await client.join('r');
  bus.silent.add('event');
  const inflight = room.publish('chat', 'lost?');
  await until(() => bus.sent('event').length === 1);
  bus.drop(bus.last, 1001, 'going away');
  await assert.rejects(inflight, (e) => e.code === 1001);
  bus.silent.clear();
  const later = room.publish('chat', 'after');
  await later;
  const [ws, env] = bus.sent('event').at(-1);
  assert.equal(ws, bus.last);
  assert.equal(new TextDecoder().decode(env.event.data), 'after');
  // Sent only after the re-join on the new connection.
  const order = bus.received.filter(([w]) => w === bus.last).map(([, e]) => (e.cmd ? e.cmd.type : 'event'));
  assert.ok(order.indexOf('join') < order.indexOf('event'), order.join(','));
  client.close();
});

test('close 4001 reconnects at once with a new token from the callback', async () => {
  let n = 0;
  const { bus, client, errors } = setup({
    token: async () => `t${++n}`,
    reconnect: { initialDelayMs: 5000, maxDelayMs: 5000, factor: 2, jitter: 0 },
  });
  await client.connect();
  assert.equal(bus.last.token, 't1');
  const t0 = Date.now();
  bus.drop(bus.last, 4001, 'token expired');
  await until(() => client.state === 'connected' && bus.sockets.length === 2, 1000);
  assert.ok(Date.now() - t0 < 1000, 'no backoff delay after 4001');
  assert.equal(bus.last.token, 't2');
  assert.ok(errors.some((e) => e.code === 4001));
  client.close();
});

test('close 4001 with a fixed token string, and 4000: no reconnect', async () => {
  for (const code of [4001, 4000]) {
    const { bus, client, errors } = setup();
    await client.connect();
    bus.drop(bus.last, code, 'bye');
    await tick(60);
    assert.equal(bus.sockets.length, 1, `no reconnect after ${code}`);
    assert.equal(client.state, 'disconnected');
    assert.ok(errors.some((e) => e.code === code));
    client.close();
  }
});

test('refresh: a new token is sent before exp, again and again', async () => {
  let n = 0;
  const tokens = [];
  const { bus, client } = setup({
    token: () => {
      const t = makeJwt({ sub: 'alice', n: ++n, exp: Date.now() / 1000 + 0.6 });
      tokens.push(t);
      return t;
    },
    refreshBeforeExpiryMs: 30000,
  });
  const refreshed = [];
  client.on('refresh', (r) => refreshed.push(r));
  await client.connect();
  await until(() => refreshed.length >= 2, 2000, 'two refreshes');
  const sent = bus.sent('refresh').map(([, e]) => JSON.parse(new TextDecoder().decode(e.cmd.data)).token);
  assert.deepEqual(sent, tokens.slice(1, 1 + sent.length));
  assert.equal(bus.sockets.length, 1);
  assert.ok(refreshed.length >= 2);
  client.close();
});

test('refresh refused: the error is surfaced with its code', async () => {
  const { bus, client, errors } = setup({
    token: () => makeJwt({ exp: Date.now() / 1000 + 0.3 }),
  });
  bus.errors.set('refresh', { code: 403, reason: 'a refresh token must name the same tenant_id and sub' });
  await client.connect();
  await until(() => errors.some((e) => e.code === 403), 2000);
  client.close();
});

test('leave: sends leave, stops deliveries, no re-join after reconnect', async () => {
  const { bus, client } = setup();
  await client.connect();
  const room = await client.join('r', { sinceSeq: 0 });
  const c = collect(room);
  await room.leave();
  assert.equal(room.state, 'left');
  assert.equal(bus.sent('leave').length, 1);
  assert.equal(client.rooms.has('r'), false);
  bus.drop(bus.last);
  await until(() => client.state === 'connected' && bus.sockets.length === 2);
  await tick(20);
  assert.equal(bus.sent('join').length, 1);
  await assert.rejects(room.publish('x', ''), (e) => e.code === 1000);
  assert.equal(c.got.length, 0);
  client.close();
});

test('close(): pending requests reject with 1000, no reconnect', async () => {
  const { bus, client } = setup({ requestTimeoutMs: 5000 });
  await client.connect();
  const room = await client.join('r');
  bus.silent.add('presence');
  const p = room.presence();
  await until(() => bus.sent('presence').length === 1);
  client.close();
  await assert.rejects(p, (e) => e.code === 1000);
  await tick(40);
  assert.equal(bus.sockets.length, 1);
  await assert.rejects(client.connect(), (e) => e.code === 1000);
});

test('an invalid frame is an error event (1002); the client goes on', async () => {
  const { bus, client, errors } = setup();
  await client.connect();
  const room = await client.join('r', { sinceSeq: 0 });
  const c = collect(room);
  bus.sendRaw(bus.last, new Uint8Array([0x1a, 0x09, 0x41]).buffer);
  bus.sendRaw(bus.last, '{"seq":');
  bus.publish('r');
  await until(() => c.got.length === 1);
  assert.equal(errors.filter((e) => e.code === 1002).length, 2);
  client.close();
});

test('a listener that throws is reported (code 0) and delivery goes on', async () => {
  const { bus, client, errors } = setup();
  await client.connect();
  const room = await client.join('r', { sinceSeq: 0 });
  const got = [];
  room.on('message', () => {
    throw new Error('app bug');
  });
  room.on('message', (m) => got.push(m.seq));
  bus.publish('r');
  bus.publish('r');
  await until(() => got.length === 2);
  assert.equal(errors.filter((e) => e.code === 0 && /app bug/.test(e.reason)).length, 2);
  client.close();
});

test('presence events', async () => {
  const { bus, client } = setup();
  await client.connect();
  const room = await client.join('r');
  const seen = [];
  room.on('presence', (p) => seen.push(p));
  bus.sendEvent(bus.last, 'presence.join', { user: 'bob', conn: 'x-0-1', node: 'n1', joined_at: 5 }, { roomId: 'r' });
  bus.sendEvent(bus.last, 'presence.leave', { user: 'bob', conn: 'x-0-1', node: 'n1', joined_at: 5 }, { roomId: 'r' });
  await until(() => seen.length === 2);
  assert.deepEqual(seen.map((p) => [p.kind, p.user, p.connId, p.room]), [['join', 'bob', 'x-0-1', 'r'], ['leave', 'bob', 'x-0-1', 'r']]);
  assert.equal(seen[0].member.joined_at, 5);
  client.close();
});

test('a silent connection is detected by pings and replaced', async () => {
  const { bus, client } = setup({ pingIntervalMs: 30, requestTimeoutMs: 60 });
  await client.connect();
  bus.silent.add('ping');
  await until(() => bus.sockets.length === 2, 2000, 'a new connection');
  assert.equal(bus.sockets[0].closedBy, 'client');
  client.close();
});

test('the token callback failing is an error (401) and is retried', async () => {
  let n = 0;
  const { client, errors } = setup({
    token: async () => {
      if (++n < 3) throw new Error('auth service down');
      return 'ok';
    },
  });
  await client.connect();
  assert.equal(n, 3);
  assert.equal(errors.filter((e) => e.code === 401 && /auth service down/.test(e.reason)).length, 2);
  client.close();
});

test('options are checked', () => {
  const bus = new FakeBus();
  assert.throws(() => new Client('http://x', { token: 't', WebSocket: bus.WebSocket }), TypeError);
  assert.throws(() => new Client('ws://x', { WebSocket: bus.WebSocket }), TypeError);
  assert.throws(() => new Client('ws://x', { token: 't', encoding: 'xml', WebSocket: bus.WebSocket }), TypeError);
  assert.throws(() => new Client('ws://x', { token: 't', reconnect: { jitter: 2 }, WebSocket: bus.WebSocket }), TypeError);
  assert.throws(() => new Client('ws://x', { token: 't', WebSocket: 5 }), TypeError);
});
