// A room member through the SDK, driven by tests/integration/test_sdk_js.py against the
// real stack. It joins ARQ_ROOM, publishes ARQ_OWN messages of its own, checks presence and
// history once, prints "ready", then keeps receiving (across whatever the test does to the
// servers) until seq ARQ_EXPECT arrives or ARQ_RUN_MS passes, and prints one JSON report.
// Every line on stdout is a JSON object {"ev": ...}. Exit status 0 unless the deadline hit.
//
// Tokens are minted here with HMAC-SHA256 (node:crypto), a new one on every call of the
// token callback, each ARQ_TOKEN_TTL_S seconds long, so refresh and reconnects are real.
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';
import { Client } from '../../src/arqonbus.js';

const env = process.env;
const URL_ = env.ARQ_URL;
const SECRET = env.ARQ_SECRET;
const ROOM = env.ARQ_ROOM || 'sdk';
const EXPECT = Number(env.ARQ_EXPECT || 0);
const RUN_MS = Number(env.ARQ_RUN_MS || 0);
const DEADLINE_MS = Number(env.ARQ_DEADLINE_MS || 60000);
const TTL_S = Number(env.ARQ_TOKEN_TTL_S || 300);
const OWN = Number(env.ARQ_OWN || 0);

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const b64u = (s) => Buffer.from(s).toString('base64url');

let tokens = 0;
function mint() {
  tokens++;
  const now = Math.floor(Date.now() / 1000);
  const head = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64u(JSON.stringify({ sub: env.ARQ_SUB || 'sdk', tenant_id: env.ARQ_TENANT || 'T1', iat: now, exp: now + TTL_S }));
  const sig = createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

const client = new Client(URL_, {
  token: async () => mint(),
  WebSocket,
  encoding: env.ARQ_ENCODING || 'binary',
  reconnect: { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 },
  requestTimeoutMs: 5000,
  refreshBeforeExpiryMs: Number(env.ARQ_REFRESH_BEFORE_MS || 30000),
  gapTimeoutMs: Number(env.ARQ_GAP_TIMEOUT_MS || 15000),
});

const states = [];
const errors = [];
const gaps = [];
const messages = [];
let refreshes = 0;
client.on('state', (s) => {
  states.push(s);
  out({ ev: 'state', state: s, t: Date.now() });
});
client.on('error', (e) => {
  errors.push({ code: e.code, reason: e.reason });
  out({ ev: 'error', code: e.code, reason: e.reason });
});
client.on('refresh', () => {
  refreshes++;
  out({ ev: 'refresh' });
});

let finish;
const finished = new Promise((r) => (finish = r));
const deadline = setTimeout(() => finish(false), DEADLINE_MS);
if (RUN_MS) setTimeout(() => finish(true), RUN_MS);

const dec = new TextDecoder();
let room;
try {
  await client.connect();
  room = await client.join(ROOM);
  room.on('message', (m) => {
    messages.push([m.seq, dec.decode(m.data), m.sender, m.traceId]);
    if (EXPECT && m.seq >= EXPECT) finish(true);
  });
  room.on('gap', (g) => {
    gaps.push(g);
    out({ ev: 'gap', ...g });
  });
  const own = [];
  for (let i = 0; i < OWN; i++) own.push((await room.publish('chat.message', `sdk-${i}`)).traceId);
  const members = await room.presence();
  const page = await room.history({ sinceSeq: 0, limit: 2 });
  out({ ev: 'checks', own, members, history: page.messages.map((m) => [m.seq, dec.decode(m.data), m.traceId]), latestSeq: page.latestSeq, nextSeq: page.nextSeq });
  out({ ev: 'ready' });
} catch (e) {
  out({ ev: 'fatal', code: e.code, reason: e.reason || String(e) });
  process.exit(2);
}

const ok = await finished;
clearTimeout(deadline);
out({
  ev: 'done',
  ok,
  messages,
  gaps,
  errors,
  states,
  refreshes,
  tokens,
  stats: room.stats,
  lastSeq: room.lastSeq,
});
client.close();
process.exit(ok ? 0 : 1);
