// ArqonBus JavaScript SDK: one self-contained ES module (no imports), served by the Shield
// at /sdk/arqonbus.js for browsers and published as the npm package `arqonbus`.
//
// DESIGN
// - One Client holds at most one WebSocket to the Shield. Its states are 'connecting',
//   'connected' (the Shield's `welcome` arrived) and 'disconnected'. A connection that drops
//   is opened again after an exponential, jittered, bounded backoff (`reconnect`); each new
//   connection gets a token from `options.token` (a string, or a function returning one or a
//   promise of one) and re-joins every room the application joined.
// - Requests (join, leave, publish, presence, history, refresh, ping) carry an `id`; the
//   Shield answers each id exactly once (`ack`, `error`, or the Brain's reply). A request
//   made while disconnected waits for the connection (and, for a room's requests, for the
//   room to be joined again); whatever happens, it settles within `requestTimeoutMs`. A
//   request in flight when the connection drops is rejected with the close code: a publish
//   rejected that way may or may not have reached the bus.
// - Delivery per room (Room#_onSequenced, Room#_fill): `lastSeq` is the last seq handed to
//   the application. A message with seq <= lastSeq is a duplicate and dropped; seq
//   lastSeq + 1 is delivered; anything newer is buffered while `history` pages (from
//   lastSeq, following next_seq / latest_seq) fill the hole, and buffered messages follow
//   in seq order. Seqs the history no longer holds (retention, a message too large for a
//   page) or does not produce within `gapTimeoutMs` are reported as one 'gap' event
//   { room, fromSeq, toSeq }, never skipped silently. After every re-join the room asks
//   history from lastSeq once, so messages sent while it was away are delivered first.
// - Tokens: the payload's `exp` is read (never verified; the Shield does that) and the
//   `refresh` command sends a new token from the callback `refreshBeforeExpiryMs` ahead
//   (half the lifetime for short-lived tokens). A close 4001 (token expired) reconnects at
//   once with a new token.
// - Encodings: binary frames carry the protobuf encoding of arqon.v1.Envelope (the default;
//   encoder and bounded decoder below), text frames its proto3 JSON mapping.
// - Errors: every failure is an ArqonError { code, reason }: 400-599 from the server's
//   `error` events, 1000-4999 WebSocket close codes (1006 lost or not opened, 4001 token
//   expired, 4000 disconnected by the server), 408 for the SDK's own timeouts, 0 for an
//   exception thrown by an application listener. Requests reject with them;
//   what happens in the background is emitted as the client's 'error' event.

export const VERSION = '0.1.0';

/** The SDK's own codes; the others are the server's (400-599) or WebSocket close codes. */
export const ErrorCode = Object.freeze({
  LISTENER: 0, // an application listener threw
  TIMEOUT: 408, // no answer in time (request, connect, ping)
  CLOSED: 1000, // the application closed the client
  PROTOCOL: 1002, // the server sent a frame that is not an Envelope
  CONNECTION_LOST: 1006, // the connection dropped or could not be opened
  SERVER_DISCONNECT: 4000, // the server disconnected this client (no reconnect)
  TOKEN_EXPIRED: 4001, // the Shield closed the connection at the token's exp
});

export class ArqonError extends Error {
  /**
   * @param {number} code
   * @param {string} reason
   * @param {{room?: string, cause?: unknown}} [extra]
   */
  constructor(code, reason, extra) {
    super(`${code} ${reason}`);
    this.name = 'ArqonError';
    this.code = code;
    this.reason = reason;
    if (extra && extra.room !== undefined) this.room = extra.room;
    if (extra && extra.cause !== undefined) this.cause = extra.cause;
  }
}

/* ------------------------------------------------------------------------------------ */
/* UTF-8 and base64                                                                      */
/* ------------------------------------------------------------------------------------ */

const utf8enc = new TextEncoder();
const utf8dec = new TextDecoder('utf-8', { fatal: true });

function utf8(s) {
  return utf8enc.encode(s);
}

function fromUtf8(u8) {
  return utf8dec.decode(u8);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64.charCodeAt(i)] = i;
  t['-'.charCodeAt(0)] = 62; // URL-safe alphabet
  t['_'.charCodeAt(0)] = 63;
  return t;
})();

/** Standard base64 with padding. */
export function base64Encode(u8) {
  let out = '';
  let i = 0;
  for (; i + 3 <= u8.length; i += 3) {
    const v = (u8[i] << 16) | (u8[i + 1] << 8) | u8[i + 2];
    out += B64[v >> 18] + B64[(v >> 12) & 63] + B64[(v >> 6) & 63] + B64[v & 63];
  }
  if (i + 1 === u8.length) {
    const v = u8[i] << 16;
    out += B64[v >> 18] + B64[(v >> 12) & 63] + '==';
  } else if (i + 2 === u8.length) {
    const v = (u8[i] << 16) | (u8[i + 1] << 8);
    out += B64[v >> 18] + B64[(v >> 12) & 63] + B64[(v >> 6) & 63] + '=';
  }
  return out;
}

/** Standard or URL-safe base64, padding optional; throws on anything else. */
export function base64Decode(s) {
  if (typeof s !== 'string') throw new TypeError('base64 value is not a string');
  let n = s.length;
  while (n > 0 && s.charCodeAt(n - 1) === 61 /* = */ && s.length - n < 2) n--;
  if (n < s.length && s.length % 4 !== 0) throw new TypeError('bad base64 padding');
  if (n % 4 === 1) throw new TypeError('bad base64 length');
  const out = new Uint8Array(Math.floor((n * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const d = c < 128 ? B64_VALUE[c] : -1;
    if (d < 0) throw new TypeError('bad base64 digit');
    acc = ((acc << 6) | d) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return o === out.length ? out : out.subarray(0, o);
}

function base64UrlDecodeToString(s) {
  return fromUtf8(base64Decode(s));
}

/* ------------------------------------------------------------------------------------ */
/* arqon.v1.Envelope: protobuf encoding                                                  */
/* ------------------------------------------------------------------------------------ */

const EMPTY = new Uint8Array(0);
const TWO32 = 4294967296;

/** A new Envelope with every field at its default (the shape decode* returns). */
export function newEnvelope() {
  return {
    traceId: '',
    tenantId: '',
    roomId: '',
    timestamp: 0,
    twistId: '',
    headers: Object.create(null),
    id: '',
    seq: 0,
    sender: '',
    signature: EMPTY,
    connId: '',
    cmd: null, // { type, data } — at most one of cmd, event, signal is set
    event: null, // { type, data }
    signal: null, // { type: number, reason }
  };
}

class Writer {
  constructor() {
    this.buf = new Uint8Array(128);
    this.len = 0;
  }
  ensure(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  byte(b) {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  // A non-negative integer below 2^53, or a negative one (10-byte two's complement).
  varint(n) {
    if (n >= 0 && n < 0x80000000) {
      this.ensure(5);
      while (n >= 0x80) {
        this.buf[this.len++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      this.buf[this.len++] = n;
      return;
    }
    let v = BigInt.asUintN(64, BigInt(Math.trunc(n)));
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
  }
  tag(field, wire) {
    this.varint(field * 8 + wire);
  }
  bytes(field, u8) {
    this.tag(field, 2);
    this.varint(u8.length);
    this.ensure(u8.length);
    this.buf.set(u8, this.len);
    this.len += u8.length;
  }
  string(field, s) {
    if (s) this.bytes(field, utf8(s));
  }
  finish() {
    return this.buf.slice(0, this.len);
  }
}

function encodeTypeData(msg) {
  const w = new Writer();
  w.string(1, msg.type || '');
  if (msg.data && msg.data.length) w.bytes(2, msg.data);
  return w.finish();
}

/** The protobuf encoding of an Envelope (fields at their defaults are left out). */
export function encodeEnvelope(e) {
  const w = new Writer();
  w.string(1, e.traceId);
  w.string(2, e.tenantId);
  w.string(3, e.roomId);
  if (e.timestamp) {
    w.tag(4, 0);
    w.varint(e.timestamp);
  }
  w.string(5, e.twistId);
  if (e.headers) {
    for (const k of Object.keys(e.headers)) {
      const entry = new Writer();
      entry.string(1, k);
      entry.string(2, String(e.headers[k]));
      w.bytes(6, entry.finish());
    }
  }
  w.string(7, e.id);
  if (e.seq) {
    w.tag(8, 0);
    w.varint(e.seq);
  }
  w.string(9, e.sender);
  if (e.signature && e.signature.length) w.bytes(10, e.signature);
  w.string(11, e.connId);
  if (e.cmd) w.bytes(20, encodeTypeData(e.cmd));
  else if (e.event) w.bytes(21, encodeTypeData(e.event));
  else if (e.signal) {
    const s = new Writer();
    if (e.signal.type) {
      s.tag(1, 0);
      s.varint(e.signal.type);
    }
    s.string(2, e.signal.reason);
    w.bytes(22, s.finish());
  }
  return w.finish();
}

class Reader {
  constructor(buf, pos, end) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }
  // [low 32 bits, high 32 bits] of a varint of at most 10 bytes.
  varint() {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new TypeError('truncated varint');
      const b = this.buf[this.pos++];
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >>> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if (b < 0x80) return [lo >>> 0, hi >>> 0];
    }
    throw new TypeError('varint longer than 10 bytes');
  }
  uint64() {
    const [lo, hi] = this.varint();
    return hi * TWO32 + lo;
  }
  int64() {
    const [lo, hi] = this.varint();
    if (hi & 0x80000000) return -((~hi >>> 0) * TWO32 + (~lo >>> 0) + 1);
    return hi * TWO32 + lo;
  }
  uint32() {
    return this.varint()[0];
  }
  length() {
    const [lo, hi] = this.varint();
    if (hi !== 0 || lo > this.end - this.pos) throw new TypeError('length beyond the end of the message');
    return lo;
  }
  bytes() {
    const n = this.length();
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  string() {
    const n = this.length();
    const s = fromUtf8(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  sub() {
    const n = this.length();
    const r = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
  tag() {
    const [lo, hi] = this.varint();
    const field = lo >>> 3;
    if (hi !== 0 || field === 0) throw new TypeError('invalid field number');
    return [field, lo & 7];
  }
  skip(wire, field, depth = 0) {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        if (this.end - this.pos < 8) throw new TypeError('truncated fixed64');
        this.pos += 8;
        return;
      case 2: {
        const n = this.length(); // before reading pos: length() moves it
        this.pos += n;
        return;
      }
      case 5:
        if (this.end - this.pos < 4) throw new TypeError('truncated fixed32');
        this.pos += 4;
        return;
      case 3: {
        if (depth >= 32) throw new TypeError('groups nested too deeply');
        for (;;) {
          if (this.pos >= this.end) throw new TypeError('unterminated group');
          const [f, w] = this.tag();
          if (w === 4) {
            if (f !== field) throw new TypeError('mismatched end of group');
            return;
          }
          this.skip(w, f, depth + 1);
        }
      }
      default:
        throw new TypeError(`invalid wire type ${wire}`);
    }
  }
}

function decodeTypeData(r, into) {
  const out = into || { type: '', data: EMPTY };
  while (r.pos < r.end) {
    const [f, w] = r.tag();
    if (f === 1 && w === 2) out.type = r.string();
    else if (f === 2 && w === 2) out.data = r.bytes();
    else r.skip(w, f);
  }
  return out;
}

/**
 * Decodes the protobuf encoding of an Envelope. Every length is checked against what is
 * left, unknown fields (and known fields with another wire type) are skipped, invalid
 * UTF-8 in a string is refused; anything malformed throws a TypeError.
 */
export function decodeEnvelope(bytes) {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const r = new Reader(buf, 0, buf.length);
  const e = newEnvelope();
  while (r.pos < r.end) {
    const [f, w] = r.tag();
    if (w === 2) {
      switch (f) {
        case 1: e.traceId = r.string(); continue;
        case 2: e.tenantId = r.string(); continue;
        case 3: e.roomId = r.string(); continue;
        case 5: e.twistId = r.string(); continue;
        case 6: {
          const s = r.sub();
          let k = '';
          let v = '';
          while (s.pos < s.end) {
            const [ef, ew] = s.tag();
            if (ef === 1 && ew === 2) k = s.string();
            else if (ef === 2 && ew === 2) v = s.string();
            else s.skip(ew, ef);
          }
          e.headers[k] = v;
          continue;
        }
        case 7: e.id = r.string(); continue;
        case 9: e.sender = r.string(); continue;
        case 10: e.signature = r.bytes(); continue;
        case 11: e.connId = r.string(); continue;
        case 20:
          e.cmd = decodeTypeData(r.sub(), e.cmd);
          e.event = e.signal = null;
          continue;
        case 21:
          e.event = decodeTypeData(r.sub(), e.event);
          e.cmd = e.signal = null;
          continue;
        case 22: {
          const s = r.sub();
          const sig = e.signal || { type: 0, reason: '' };
          while (s.pos < s.end) {
            const [sf, sw] = s.tag();
            if (sf === 1 && sw === 0) sig.type = s.uint32() | 0;
            else if (sf === 2 && sw === 2) sig.reason = s.string();
            else s.skip(sw, sf);
          }
          e.signal = sig;
          e.cmd = e.event = null;
          continue;
        }
        default:
          break;
      }
    } else if (w === 0 && f === 4) {
      e.timestamp = r.int64();
      continue;
    } else if (w === 0 && f === 8) {
      e.seq = r.uint64();
      continue;
    }
    r.skip(w, f);
  }
  return e;
}

/* ------------------------------------------------------------------------------------ */
/* arqon.v1.Envelope: proto3 JSON mapping                                                */
/* ------------------------------------------------------------------------------------ */

const SIGNAL_NAMES = ['UNKNOWN', 'DISCONNECT', 'BAN'];

/** The proto3 JSON mapping of an Envelope, as a plain object (defaults left out). */
export function envelopeToJson(e) {
  const o = {};
  if (e.traceId) o.traceId = e.traceId;
  if (e.tenantId) o.tenantId = e.tenantId;
  if (e.roomId) o.roomId = e.roomId;
  if (e.timestamp) o.timestamp = String(e.timestamp);
  if (e.twistId) o.twistId = e.twistId;
  if (e.headers && Object.keys(e.headers).length) o.headers = { ...e.headers };
  if (e.id) o.id = e.id;
  if (e.seq) o.seq = String(e.seq);
  if (e.sender) o.sender = e.sender;
  if (e.signature && e.signature.length) o.signature = base64Encode(e.signature);
  if (e.connId) o.connId = e.connId;
  const td = (m) => {
    const x = {};
    if (m.type) x.type = m.type;
    if (m.data && m.data.length) x.data = base64Encode(m.data);
    return x;
  };
  if (e.cmd) o.cmd = td(e.cmd);
  else if (e.event) o.event = td(e.event);
  else if (e.signal) {
    o.signal = {};
    if (e.signal.type) o.signal.type = SIGNAL_NAMES[e.signal.type] || e.signal.type;
    if (e.signal.reason) o.signal.reason = e.signal.reason;
  }
  return o;
}

function jsonField(o, camel, snake) {
  if (Object.prototype.hasOwnProperty.call(o, camel)) return o[camel];
  if (snake && Object.prototype.hasOwnProperty.call(o, snake)) return o[snake];
  return undefined;
}

function jsonString(v, name) {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new TypeError(`${name} is not a string`);
  return v;
}

function jsonInt(v, name, signed) {
  if (v === undefined || v === null) return 0;
  let n;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && (signed ? /^-?\d{1,20}$/ : /^\d{1,20}$/).test(v)) n = Number(v);
  else throw new TypeError(`${name} is not an integer`);
  if (!Number.isInteger(n) || (!signed && n < 0)) throw new TypeError(`${name} is not an integer`);
  return n;
}

function jsonBytes(v, name) {
  if (v === undefined || v === null) return EMPTY;
  try {
    return base64Decode(v);
  } catch (err) {
    throw new TypeError(`${name} is not base64`);
  }
}

function jsonTypeData(v, name) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${name} is not an object`);
  return { type: jsonString(v.type, `${name}.type`), data: jsonBytes(v.data, `${name}.data`) };
}

/**
 * An Envelope from its proto3 JSON mapping (a parsed object). Both lowerCamelCase and the
 * .proto names are accepted, 64-bit integers as numbers or strings, bytes as standard or
 * URL-safe base64; fields it does not know are ignored; a wrong type throws a TypeError.
 */
export function envelopeFromJson(o) {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new TypeError('envelope is not a JSON object');
  const e = newEnvelope();
  e.traceId = jsonString(jsonField(o, 'traceId', 'trace_id'), 'traceId');
  e.tenantId = jsonString(jsonField(o, 'tenantId', 'tenant_id'), 'tenantId');
  e.roomId = jsonString(jsonField(o, 'roomId', 'room_id'), 'roomId');
  e.timestamp = jsonInt(jsonField(o, 'timestamp'), 'timestamp', true);
  e.twistId = jsonString(jsonField(o, 'twistId', 'twist_id'), 'twistId');
  const h = jsonField(o, 'headers');
  if (h !== undefined && h !== null) {
    if (typeof h !== 'object' || Array.isArray(h)) throw new TypeError('headers is not an object');
    for (const k of Object.keys(h)) e.headers[k] = jsonString(h[k], 'header value');
  }
  e.id = jsonString(jsonField(o, 'id'), 'id');
  e.seq = jsonInt(jsonField(o, 'seq'), 'seq', false);
  e.sender = jsonString(jsonField(o, 'sender'), 'sender');
  e.signature = jsonBytes(jsonField(o, 'signature'), 'signature');
  e.connId = jsonString(jsonField(o, 'connId', 'conn_id'), 'connId');
  const cmd = jsonField(o, 'cmd');
  const event = jsonField(o, 'event');
  const signal = jsonField(o, 'signal');
  if (cmd !== undefined && cmd !== null) e.cmd = jsonTypeData(cmd, 'cmd');
  if (event !== undefined && event !== null) e.event = jsonTypeData(event, 'event');
  if (signal !== undefined && signal !== null) {
    if (typeof signal !== 'object' || Array.isArray(signal)) throw new TypeError('signal is not an object');
    let t = signal.type === undefined || signal.type === null ? 0 : signal.type;
    if (typeof t === 'string') t = SIGNAL_NAMES.indexOf(t) >= 0 ? SIGNAL_NAMES.indexOf(t) : 0;
    if (!Number.isInteger(t)) throw new TypeError('signal.type is not an enum value');
    e.signal = { type: t, reason: jsonString(signal.reason, 'signal.reason') };
  }
  if ((e.cmd ? 1 : 0) + (e.event ? 1 : 0) + (e.signal ? 1 : 0) > 1) throw new TypeError('more than one payload');
  return e;
}

/** A text frame's Envelope. */
export function decodeJsonEnvelope(text) {
  let o;
  try {
    o = JSON.parse(text);
  } catch (err) {
    throw new TypeError(`not JSON: ${err.message}`);
  }
  return envelopeFromJson(o);
}

/* ------------------------------------------------------------------------------------ */
/* Tokens and backoff (pure, exported for tests)                                         */
/* ------------------------------------------------------------------------------------ */

/** The `exp` claim (seconds since the epoch) of a JWT, or null; the token is not verified. */
export function jwtExp(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length < 2) return null;
  try {
    const claims = JSON.parse(base64UrlDecodeToString(parts[1]));
    const exp = claims && typeof claims === 'object' ? claims.exp : undefined;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : null;
  } catch {
    return null;
  }
}

/**
 * Milliseconds from `nowMs` until a token expiring at `expMs` (obtained at `obtainedMs`)
 * should be refreshed: `beforeMs` ahead of its expiry, or at half its lifetime when that
 * is shorter than twice `beforeMs`. null when it has expired already.
 */
export function refreshDelay(expMs, nowMs, obtainedMs, beforeMs) {
  if (expMs <= nowMs) return null;
  const lifetime = Math.max(0, expMs - obtainedMs);
  const margin = Math.min(beforeMs, lifetime / 2);
  return Math.max(0, expMs - margin - nowMs);
}

/** The delay before retry number `attempt` (0 = the first): min(max, initial·factor^n), scaled by [1 - jitter, 1]. */
export function backoffDelay(attempt, r, random = Math.random) {
  const base = Math.min(r.maxDelayMs, r.initialDelayMs * Math.pow(r.factor, Math.min(attempt, 64)));
  return base * (1 - r.jitter * random());
}

const DEFAULT_RECONNECT = Object.freeze({
  initialDelayMs: 500,
  maxDelayMs: 30000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Infinity,
});

const DEFAULTS = Object.freeze({
  encoding: 'binary',
  requestTimeoutMs: 10000,
  connectTimeoutMs: 10000,
  refreshBeforeExpiryMs: 30000,
  pingIntervalMs: 25000,
  gapTimeoutMs: 10000,
  historyPageSize: 1000,
  maxBufferedMessages: 10000,
});

function normalizeOptions(options) {
  const o = { ...DEFAULTS, ...(options || {}) };
  if (typeof o.token !== 'string' && typeof o.token !== 'function')
    throw new TypeError('options.token must be a string or a function returning one');
  if (o.encoding !== 'binary' && o.encoding !== 'json') throw new TypeError("options.encoding must be 'binary' or 'json'");
  if (o.reconnect === false) o.reconnect = { ...DEFAULT_RECONNECT, maxAttempts: 0 };
  else o.reconnect = { ...DEFAULT_RECONNECT, ...(o.reconnect || {}) };
  const r = o.reconnect;
  if (!(r.initialDelayMs >= 0) || !(r.maxDelayMs >= 0)) throw new TypeError('reconnect delays must not be negative');
  if (!(r.factor >= 1)) throw new TypeError('reconnect.factor must be at least 1');
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw new TypeError('reconnect.jitter must be within 0..1');
  if (!(r.maxAttempts >= 0)) throw new TypeError('reconnect.maxAttempts must be >= 0 (Infinity: never give up)');
  for (const k of ['requestTimeoutMs', 'connectTimeoutMs', 'gapTimeoutMs'])
    if (!(o[k] > 0)) throw new TypeError(`options.${k} must be positive`);
  if (!(o.refreshBeforeExpiryMs >= 0)) throw new TypeError('options.refreshBeforeExpiryMs must not be negative');
  if (!(o.pingIntervalMs >= 0)) throw new TypeError('options.pingIntervalMs must not be negative (0: no pings)');
  if (!(o.historyPageSize >= 1 && o.historyPageSize <= 1000)) throw new TypeError('options.historyPageSize must be within 1..1000');
  if (!(Number.isInteger(o.maxBufferedMessages) && o.maxBufferedMessages >= 1))
    throw new TypeError('options.maxBufferedMessages must be a positive integer');
  o.WebSocket = o.WebSocket || globalThis.WebSocket;
  if (typeof o.WebSocket !== 'function')
    throw new TypeError('no WebSocket implementation: pass options.WebSocket (e.g. the ws package) or use Node >= 22');
  return o;
}

/* ------------------------------------------------------------------------------------ */
/* Events                                                                                */
/* ------------------------------------------------------------------------------------ */

class Emitter {
  constructor() {
    this._listeners = new Map();
  }
  /** Adds a listener; returns this. */
  on(event, fn) {
    if (typeof fn !== 'function') throw new TypeError('listener must be a function');
    let set = this._listeners.get(event);
    if (!set) this._listeners.set(event, (set = []));
    set.push(fn);
    return this;
  }
  /** Removes a listener (or every listener of the event when fn is left out); returns this. */
  off(event, fn) {
    const set = this._listeners.get(event);
    if (!set) return this;
    if (fn === undefined) this._listeners.delete(event);
    else {
      const i = set.indexOf(fn);
      if (i >= 0) set.splice(i, 1);
    }
    return this;
  }
  _has(event) {
    const set = this._listeners.get(event);
    return !!(set && set.length);
  }
  _emit(event, arg) {
    const set = this._listeners.get(event);
    if (!set) return;
    for (const fn of set.slice()) {
      try {
        fn(arg);
      } catch (err) {
        this._listenerThrew(event, err);
      }
    }
  }
  _listenerThrew(event, err) {
    // eslint-disable-next-line no-console
    console.error(`arqonbus: a '${event}' listener threw`, err);
  }
}

/* ------------------------------------------------------------------------------------ */
/* Shapes handed to the application                                                      */
/* ------------------------------------------------------------------------------------ */

function toMessage(e) {
  return {
    type: e.event ? e.event.type : '',
    data: e.event ? e.event.data : EMPTY,
    seq: e.seq,
    sender: e.sender,
    room: e.roomId,
    timestamp: e.timestamp,
    traceId: e.traceId,
    headers: e.headers,
    connId: e.connId,
  };
}

function parseJsonData(data) {
  return JSON.parse(fromUtf8(data));
}

function toMember(o) {
  if (!o || typeof o !== 'object') return null;
  return {
    user: String(o.user ?? ''),
    connId: String(o.conn ?? ''),
    node: String(o.node ?? ''),
    joinedAt: Number(o.joined_at ?? 0) || 0,
  };
}

function errorOf(e) {
  let code = 0;
  let reason = '';
  try {
    const o = parseJsonData(e.event.data);
    code = Number.isInteger(o.code) ? o.code : 0;
    reason = typeof o.reason === 'string' ? o.reason : '';
  } catch {
    reason = 'unreadable error payload';
  }
  return new ArqonError(code, reason || 'error', e.roomId ? { room: e.roomId } : undefined);
}

function randomHex(bytes) {
  const u8 = new Uint8Array(bytes);
  const c = globalThis.crypto;
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(u8);
  else for (let i = 0; i < bytes; i++) u8[i] = Math.floor(Math.random() * 256);
  let s = '';
  for (const b of u8) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return utf8(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data === undefined || data === null) return EMPTY;
  throw new TypeError('data must be a Uint8Array, an ArrayBuffer, a typed array or a string');
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/* ------------------------------------------------------------------------------------ */
/* Room                                                                                  */
/* ------------------------------------------------------------------------------------ */

export class Room extends Emitter {
  constructor(client, name, sinceSeq) {
    super();
    this._client = client;
    /** The room's name (room_id). */
    this.name = name;
    this._state = 'joining'; // 'joining' | 'joined' | 'left'
    this._joinedEpoch = 0; // the connection on which the last join was acknowledged
    this._everJoined = false;
    this._joinWaiters = [];
    this._lastSeq = sinceSeq === undefined || sinceSeq === null ? null : sinceSeq;
    this._buffer = new Map(); // seq -> message, all > lastSeq
    this._filling = false;
    this._fillGen = 0;
    this._needCatchUp = this._lastSeq !== null;
    this._knownLatest = 0;
    this._startOpen = false; // the start came from latest_seq and nothing was handed on yet
    this._sleep = null;
    this._stats = { delivered: 0, duplicates: 0, gaps: 0, buffered: 0 };
  }

  /** The seq of the last message handed to the application (null before the first is known). */
  get lastSeq() {
    return this._lastSeq;
  }

  /** 'joining' | 'joined' | 'left'. 'joined' stays while the client reconnects. */
  get state() {
    return this._state;
  }

  /** Counters: messages delivered, duplicates dropped, gaps reported, messages buffered now. */
  get stats() {
    return { ...this._stats, buffered: this._buffer.size };
  }

  _listenerThrew(event, err) {
    this._client._listenerThrew(event, err, this.name);
  }

  /**
   * Publishes an event of `type` to the room. Resolves with { traceId } when the Shield
   * acknowledges it (handed to the bus); the room's copy carries the same traceId.
   */
  publish(type, data, options = {}) {
    if (typeof type !== 'string' || !type) return Promise.reject(new TypeError('type must be a non-empty string'));
    let bytes;
    try {
      bytes = toBytes(data);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this._state === 'left') return Promise.reject(new ArqonError(ErrorCode.CLOSED, `room ${this.name} was left`, { room: this.name }));
    const traceId = options.traceId || randomHex(16);
    const env = newEnvelope();
    env.roomId = this.name;
    env.traceId = traceId;
    if (options.headers) for (const k of Object.keys(options.headers)) env.headers[k] = String(options.headers[k]);
    env.event = { type, data: bytes };
    return this._client
      ._request(env, { room: this, label: `publish to ${this.name}`, timeoutMs: options.timeoutMs })
      .then(() => ({ traceId }));
  }

  /** The room's members: [{ user, connId, node, joinedAt }]. */
  async presence(options = {}) {
    const env = newEnvelope();
    env.roomId = this.name;
    env.cmd = { type: 'presence', data: EMPTY };
    const reply = await this._client._request(env, { room: this, label: `presence of ${this.name}`, timeoutMs: options.timeoutMs });
    let list;
    try {
      list = parseJsonData(reply.event.data);
    } catch (err) {
      throw new ArqonError(ErrorCode.PROTOCOL, `unreadable presence.state: ${err.message}`, { room: this.name });
    }
    if (!Array.isArray(list)) throw new ArqonError(ErrorCode.PROTOCOL, 'presence.state is not a list', { room: this.name });
    return list.map(toMember).filter(Boolean);
  }

  /**
   * One page of the room's history: messages with seq > sinceSeq, in seq order.
   * Resolves with { messages, nextSeq, latestSeq, omitted }. Not deduplicated against
   * what the room delivered: this is a plain query.
   */
  async history({ sinceSeq = 0, limit, timeoutMs } = {}) {
    const args = { since_seq: sinceSeq };
    if (limit !== undefined) args.limit = limit;
    const env = newEnvelope();
    env.roomId = this.name;
    env.cmd = { type: 'history', data: utf8(JSON.stringify(args)) };
    const reply = await this._client._request(env, { room: this, label: `history of ${this.name}`, timeoutMs });
    let o;
    try {
      o = parseJsonData(reply.event.data);
      if (!o || !Array.isArray(o.messages)) throw new TypeError('no messages list');
      return {
        messages: o.messages.map((m) => toMessage(envelopeFromJson(m))),
        nextSeq: jsonInt(o.next_seq, 'next_seq', false),
        latestSeq: jsonInt(o.latest_seq, 'latest_seq', false),
        omitted: jsonInt(o.omitted, 'omitted', false),
      };
    } catch (err) {
      throw new ArqonError(ErrorCode.PROTOCOL, `unreadable history reply: ${err.message}`, { room: this.name });
    }
  }

  /** Leaves the room: no more deliveries, no re-join on reconnect. */
  async leave(options = {}) {
    if (this._state === 'left') return;
    const client = this._client;
    const joinedHere = this._joinedEpoch === client._epoch && client._state === 'connected';
    this._close(new ArqonError(ErrorCode.CLOSED, `room ${this.name} was left`, { room: this.name }));
    if (!joinedHere) return;
    const env = newEnvelope();
    env.roomId = this.name;
    env.cmd = { type: 'leave', data: EMPTY };
    await client._request(env, { label: `leave ${this.name}`, timeoutMs: options.timeoutMs, epoch: client._epoch });
  }

  // The room is gone for good (left, refused, or the client closed).
  _close(err) {
    this._state = 'left';
    this._abortFill();
    this._buffer.clear();
    if (this._client._rooms.get(this.name) === this) this._client._rooms.delete(this.name);
    const waiters = this._joinWaiters;
    this._joinWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  _whenJoined(timeoutMs) {
    if (this._everJoined && this._state !== 'left') return Promise.resolve(this);
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (v) => {
          clearTimeout(w.timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(w.timer);
          reject(e);
        },
      };
      w.timer = setTimeout(() => {
        const i = this._joinWaiters.indexOf(w);
        if (i >= 0) this._joinWaiters.splice(i, 1);
        const err = new ArqonError(ErrorCode.TIMEOUT, `join ${this.name} timed out after ${timeoutMs} ms`, { room: this.name });
        if (!this._everJoined) this._close(err);
        reject(err);
      }, timeoutMs);
      this._joinWaiters.push(w);
    });
  }

  _onJoined(epoch) {
    this._joinedEpoch = epoch;
    this._state = 'joined';
    this._everJoined = true;
    const waiters = this._joinWaiters;
    this._joinWaiters = [];
    for (const w of waiters) w.resolve(this);
    // What was sent while the room was away (or, at the first join, where it starts). In a
    // later task: nothing is handed on before the code awaiting join() has run (and added
    // its listeners).
    this._needCatchUp = true;
    setTimeout(() => {
      if (this._joinedEpoch === epoch && this._state === 'joined') this._fill();
    }, 0);
  }

  _onDisconnect() {
    // Buffered messages stay (they are real seqs); the fill starts again after the re-join.
    this._abortFill();
  }

  _onEnvelope(e) {
    const t = e.event ? e.event.type : '';
    if (!t) return;
    if (t === 'presence.join' || t === 'presence.leave') {
      let member = {};
      try {
        member = parseJsonData(e.event.data);
      } catch {
        member = {};
      }
      this._emit('presence', {
        kind: t === 'presence.join' ? 'join' : 'leave',
        room: this.name,
        user: e.sender || String(member.user ?? ''),
        connId: e.connId || String(member.conn ?? ''),
        member,
        timestamp: e.timestamp,
        traceId: e.traceId,
      });
      return;
    }
    if (t.startsWith('presence.') || t === 'history' || t === 'ack') return;
    const m = toMessage(e);
    if (!m.seq) {
      // Not sequenced by the Brain (published straight to the room's egress subject):
      // nothing to order it by, so it is handed on as it comes.
      this._stats.delivered++;
      this._emit('message', m);
      return;
    }
    this._onSequenced(m);
  }

  _onSequenced(m) {
    if (this._state === 'left') return;
    if (this._startOpen && this._lastSeq !== null && m.seq <= this._lastSeq && m.seq > 0) {
      // Nothing handed on yet since a first join started the room at its latest seq: a
      // message received now was sequenced around the join (perhaps published by this very
      // client once join() resolved) and is delivered; the room starts just before it, and
      // history fills up to where the start was.
      this._lastSeq = m.seq - 1;
    }
    if (this._lastSeq !== null && m.seq <= this._lastSeq) {
      this._stats.duplicates++;
      return;
    }
    const max = this._client._options.maxBufferedMessages;
    if (this._joinedEpoch !== this._client._epoch) {
      // Before the join's ack: kept for the fill that follows it. Past the bound a message is
      // not kept: the fill reads it from history (it lies after the start the fill takes).
      if (!this._buffer.has(m.seq) && this._buffer.size < max) this._buffer.set(m.seq, m);
      return;
    }
    if (!this._filling && this._lastSeq !== null && m.seq === this._lastSeq + 1 && this._buffer.size === 0) {
      this._deliver(m);
      if (this._lastSeq < this._knownLatest) this._fill(); // the rest up to a lowered start
      return;
    }
    if (this._buffer.has(m.seq)) this._stats.duplicates++;
    else this._buffer.set(m.seq, m);
    // Held messages are bounded (maxBufferedMessages): past the bound the holes before them
    // are given up and reported as gaps, rather than memory growing while history is slow.
    while (this._buffer.size > max && this._lastSeq !== null) this._giveUp();
    this._drain();
    if ((this._buffer.size || this._lastSeq < this._knownLatest) && !this._filling) this._fill();
  }

  _deliver(m) {
    this._startOpen = false;
    this._lastSeq = m.seq;
    this._buffer.delete(m.seq);
    this._stats.delivered++;
    this._emit('message', m);
  }

  _drain() {
    if (this._lastSeq === null) return;
    while (this._state !== 'left' && this._buffer.has(this._lastSeq + 1)) this._deliver(this._buffer.get(this._lastSeq + 1));
  }

  _gap(fromSeq, toSeq) {
    this._stats.gaps++;
    this._emit('gap', { room: this.name, fromSeq, toSeq });
  }

  // Everything up to `seq` is known: deliver what is buffered, report the rest as gaps.
  _coverTo(seq) {
    while (this._state !== 'left' && this._lastSeq < seq) {
      const next = this._lastSeq + 1;
      const m = this._buffer.get(next);
      if (m) {
        this._deliver(m);
        continue;
      }
      let k = Infinity;
      for (const s of this._buffer.keys()) if (s > this._lastSeq && s < k) k = s;
      const to = Math.min(k - 1, seq);
      this._lastSeq = to;
      this._gap(next, to);
    }
  }

  _minBuffered() {
    let k = Infinity;
    for (const s of this._buffer.keys()) if (s < k) k = s;
    return k;
  }

  // History did not produce the missing seqs in time: report them and go on.
  _giveUp() {
    if (!this._buffer.size) return;
    const k = this._minBuffered();
    if (this._lastSeq === null) this._lastSeq = k - 1; // never learned where the room was
    else if (k - 1 > this._lastSeq) {
      const from = this._lastSeq + 1;
      this._lastSeq = k - 1;
      this._gap(from, k - 1);
    }
    this._drain();
  }

  _abortFill() {
    this._fillGen++;
    this._filling = false;
    if (this._sleep) {
      clearTimeout(this._sleep.timer);
      this._sleep.resolve();
      this._sleep = null;
    }
  }

  _wait(ms) {
    return new Promise((resolve) => {
      this._sleep = { resolve, timer: setTimeout(() => ((this._sleep = null), resolve()), ms) };
    });
  }

  /*
   * Fills holes from history. Runs while a message is buffered, lastSeq is behind the
   * room's latest seq, or a catch-up is due (after each join). One instance per room; a
   * dropped connection or leave() stops it (_fillGen), the next join starts it again.
   */
  async _fill() {
    if (this._filling || this._state === 'left') return;
    this._filling = true;
    const gen = ++this._fillGen;
    const opts = this._client._options;
    let lastProgress = Date.now();
    let pause = 50;
    const live = () => gen === this._fillGen && this._state !== 'left';
    try {
      while (live()) {
        this._drain();
        if (!this._needCatchUp && this._lastSeq !== null && !this._buffer.size && this._lastSeq >= this._knownLatest) break;
        if (Date.now() - lastProgress > opts.gapTimeoutMs && this._buffer.size) {
          this._giveUp();
          lastProgress = Date.now();
          continue;
        }
        let page;
        const since = this._lastSeq === null ? MAX_SAFE : this._lastSeq;
        try {
          page = await this.history({ sinceSeq: since, limit: this._lastSeq === null ? 1 : opts.historyPageSize });
        } catch (err) {
          if (!live()) return;
          if (err.code >= 1000 && this._client._state !== 'connected') return; // the re-join starts again
          this._client._emitError(err.room === undefined ? new ArqonError(err.code, err.reason, { room: this.name, cause: err }) : err);
          if (Date.now() - lastProgress > opts.gapTimeoutMs) {
            if (!this._buffer.size) break; // nothing waits on it; a later jump fills again
            this._giveUp();
            lastProgress = Date.now();
            continue;
          }
          await this._wait(pause);
          pause = Math.min(pause * 2, 1000);
          continue;
        }
        if (!live()) return;
        this._needCatchUp = false;
        if (page.latestSeq > this._knownLatest) this._knownLatest = page.latestSeq;
        if (this._lastSeq === null) {
          // The first join: the room starts after its latest seq, as the Brain saw it after
          // the join; messages received since the join (buffered) are newer whatever that
          // says, so it starts before the first of them at the latest.
          this._lastSeq = Math.min(page.latestSeq, this._minBuffered() - 1);
          this._startOpen = true;
          for (const s of [...this._buffer.keys()]) if (s <= this._lastSeq) this._buffer.delete(s);
          lastProgress = Date.now();
          continue;
        }
        const before = this._lastSeq;
        for (const m of page.messages) {
          if (m.seq > this._lastSeq && !this._buffer.has(m.seq)) this._buffer.set(m.seq, m);
        }
        if (page.nextSeq > this._lastSeq) this._coverTo(page.nextSeq);
        else if (page.latestSeq > this._lastSeq) this._coverTo(page.latestSeq); // history has none of them any more
        this._drain();
        if (this._lastSeq > before) {
          lastProgress = Date.now();
          pause = 50;
          continue;
        }
        if (!this._buffer.size) break;
        // A newer message is here but the history does not have the ones before it yet
        // (sequenced, not yet committed, or on their way): ask again shortly.
        await this._wait(pause);
        pause = Math.min(pause * 2, 1000);
      }
    } finally {
      if (gen === this._fillGen) this._filling = false;
    }
  }
}

/* ------------------------------------------------------------------------------------ */
/* Client                                                                                */
/* ------------------------------------------------------------------------------------ */

function withQuery(url, params) {
  const q = Object.keys(params)
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(params[k])}`)
    .join('&');
  const hash = url.indexOf('#');
  const base = hash >= 0 ? url.slice(0, hash) : url;
  return base + (base.indexOf('?') >= 0 ? '&' : '?') + q;
}

const CLOSE_REASONS = {
  1000: 'closed',
  1001: 'the server is going away',
  1002: 'protocol error',
  1006: 'connection lost',
  1007: 'invalid data',
  1008: 'policy violation',
  1009: 'message too big',
  1011: 'server error',
  4000: 'disconnected by the server',
  4001: 'token expired',
};

export class Client extends Emitter {
  /**
   * @param {string} url ws:// or wss:// URL of the Shield's /ws endpoint
   * @param {object} options see arqonbus.d.ts (ClientOptions)
   */
  constructor(url, options) {
    super();
    if (typeof url !== 'string' || !/^wss?:\/\//i.test(url)) throw new TypeError('url must be a ws:// or wss:// URL');
    this.url = url;
    this._options = normalizeOptions(options);
    this._state = 'disconnected';
    this._ws = null;
    this._epoch = 0;
    this._closed = false;
    this._running = false;
    this._failures = 0;
    this._timers = { reconnect: null, connect: null, refresh: null, ping: null };
    this._pending = new Map(); // id -> request
    this._waiting = new Set(); // requests waiting for the connection or the room
    this._rooms = new Map();
    this._nextId = 0;
    this._welcome = null;
    this._token = null;
    this._tokenAt = 0;
    this._connectWaiters = [];
    this._lastError = null;
    this._warned = false;
  }

  /** 'connecting' | 'connected' | 'disconnected' */
  get state() {
    return this._state;
  }

  /** The last `welcome` of the Shield ({ connId, node, tenantId, user, version, limits }), or null. */
  get welcome() {
    return this._welcome;
  }

  /** Rooms joined and not left, by name. */
  get rooms() {
    return new Map(this._rooms);
  }

  /**
   * Opens the connection (and keeps it open: reconnects until close()). Resolves when the
   * Shield's welcome arrives; rejects when the client gives up (reconnect.maxAttempts),
   * the server disconnects it (4000), or close() is called first.
   */
  connect() {
    if (this._closed) return Promise.reject(new ArqonError(ErrorCode.CLOSED, 'client closed'));
    if (this._state === 'connected') return Promise.resolve();
    const p = new Promise((resolve, reject) => this._connectWaiters.push({ resolve, reject }));
    if (!this._running) {
      this._running = true;
      this._failures = 0;
      this._open();
    }
    return p;
  }

  /**
   * Joins a room (again on every reconnect until leave()). Resolves with the Room once the
   * Shield acknowledged the join; joining a room twice gives the same Room. `sinceSeq`:
   * deliver the room's messages after that seq first (from history); by default the room
   * starts after its latest seq at the time of the join.
   */
  join(name, options = {}) {
    if (typeof name !== 'string' || !name) return Promise.reject(new TypeError('room name must be a non-empty string'));
    if (this._closed) return Promise.reject(new ArqonError(ErrorCode.CLOSED, 'client closed'));
    let room = this._rooms.get(name);
    if (!room) {
      const since = options.sinceSeq;
      if (since !== undefined && since !== null && !(Number.isInteger(since) && since >= 0))
        return Promise.reject(new TypeError('sinceSeq must be a non-negative integer'));
      room = new Room(this, name, since);
      this._rooms.set(name, room);
      if (this._state === 'connected') this._joinRoom(room);
    }
    return room._whenJoined(options.timeoutMs || this._options.requestTimeoutMs);
  }

  /** Closes the connection for good: pending requests reject with code 1000. */
  close() {
    if (this._closed) return;
    this._closed = true;
    this._running = false;
    const err = new ArqonError(ErrorCode.CLOSED, 'client closed');
    for (const k of Object.keys(this._timers)) this._clearTimer(k);
    this._dropSocket(1000, 'client closed');
    this._failAll(err);
    for (const room of [...this._rooms.values()]) room._close(err);
    this._rejectConnect(err);
    this._setState('disconnected');
  }

  /* ---- internals ---- */

  _listenerThrew(event, err, room) {
    if (event === 'error') {
      super._listenerThrew(event, err);
      return;
    }
    const reason = `a '${event}' listener threw: ${err && err.message ? err.message : String(err)}`;
    this._emitError(new ArqonError(ErrorCode.LISTENER, reason, { room, cause: err }));
  }

  _emitError(err) {
    this._lastError = err;
    if (this._has('error')) this._emit('error', err);
    else if (!this._warned) {
      this._warned = true;
      // eslint-disable-next-line no-console
      console.warn('arqonbus: no error listener; first error:', err.message);
    }
  }

  _setState(s) {
    if (this._state === s) return;
    this._state = s;
    this._emit('state', s);
  }

  _clearTimer(k) {
    if (this._timers[k] !== null) {
      clearTimeout(this._timers[k]);
      this._timers[k] = null;
    }
  }

  _rejectConnect(err) {
    const w = this._connectWaiters;
    this._connectWaiters = [];
    for (const x of w) x.reject(err);
  }

  async _getToken() {
    const t = this._options.token;
    const v = typeof t === 'function' ? await t() : t;
    if (typeof v !== 'string' || !v) throw new TypeError('the token callback must return a non-empty string');
    return v;
  }

  async _open() {
    this._clearTimer('reconnect');
    if (this._closed || !this._running) return;
    this._setState('connecting');
    const epoch = ++this._epoch;
    let token;
    try {
      token = await this._getToken();
    } catch (err) {
      if (epoch !== this._epoch || this._closed) return;
      this._connectionFailed(new ArqonError(401, `no token: ${err && err.message ? err.message : err}`, { cause: err }));
      return;
    }
    if (epoch !== this._epoch || this._closed) return;
    this._token = token;
    this._tokenAt = Date.now();
    const url = withQuery(this.url, { token, encoding: this._options.encoding });
    let ws;
    try {
      ws = new this._options.WebSocket(url);
    } catch (err) {
      this._connectionFailed(new ArqonError(ErrorCode.CONNECTION_LOST, `cannot open ${this.url}: ${err.message}`, { cause: err }));
      return;
    }
    this._ws = ws;
    try {
      ws.binaryType = 'arraybuffer';
    } catch {
      /* not settable: frames are converted below */
    }
    ws.onopen = null;
    ws.onerror = () => {}; // the close event follows and says more
    ws.onmessage = (ev) => {
      if (ws === this._ws) this._onFrame(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws === this._ws) this._onClose(ev && ev.code ? ev.code : 1006, (ev && ev.reason) || '');
    };
    this._timers.connect = setTimeout(() => {
      this._timers.connect = null;
      if (ws !== this._ws || this._state === 'connected') return;
      this._dropSocket(1000, 'connect timed out');
      this._onClose(ErrorCode.TIMEOUT, `no welcome within ${this._options.connectTimeoutMs} ms`);
    }, this._options.connectTimeoutMs);
  }

  // Detaches the current socket (its later events are ignored) and closes it.
  _dropSocket(code, reason) {
    const ws = this._ws;
    if (!ws) return;
    this._ws = null;
    ws.onmessage = ws.onclose = ws.onopen = null;
    ws.onerror = () => {};
    try {
      ws.close(code, reason);
    } catch {
      /* already closing */
    }
  }

  _send(env) {
    const ws = this._ws;
    if (this._options.encoding === 'json') ws.send(JSON.stringify(envelopeToJson(env)));
    else ws.send(encodeEnvelope(env));
  }

  _encodedSize(env) {
    return this._options.encoding === 'json' ? utf8(JSON.stringify(envelopeToJson(env))).length : encodeEnvelope(env).length;
  }

  _onFrame(data) {
    let env;
    try {
      if (typeof data === 'string') env = decodeJsonEnvelope(data);
      else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) env = decodeEnvelope(toBytes(data));
      else throw new TypeError('a frame of an unexpected kind (set binaryType to arraybuffer)');
    } catch (err) {
      this._emitError(new ArqonError(ErrorCode.PROTOCOL, `invalid frame from the server: ${err.message}`, { cause: err }));
      return;
    }
    if (env.signal) {
      const name = SIGNAL_NAMES[env.signal.type] || String(env.signal.type);
      this._emitError(new ArqonError(ErrorCode.SERVER_DISCONNECT, `server signal ${name}${env.signal.reason ? ': ' + env.signal.reason : ''}`));
      return;
    }
    if (!env.event) return;
    const t = env.event.type;
    if (env.id) {
      const req = this._pending.get(env.id);
      if (req) {
        this._settle(req, env);
        return;
      }
    }
    if (t === 'welcome' && !env.id) {
      this._onWelcome(env);
      return;
    }
    if (t === 'error') {
      this._emitError(errorOf(env));
      return;
    }
    if (t === 'pong' || t === 'ack') return;
    if (env.roomId) {
      const room = this._rooms.get(env.roomId);
      if (room) room._onEnvelope(env);
      return;
    }
    // A delivery to this user or this connection (not a room).
    this._emit('message', toMessage(env));
  }

  _onWelcome(env) {
    let w = {};
    try {
      w = parseJsonData(env.event.data);
    } catch {
      w = {};
    }
    this._clearTimer('connect');
    this._welcome = {
      connId: String(w.conn_id ?? ''),
      node: String(w.node ?? ''),
      tenantId: String(w.tenant_id ?? ''),
      user: String(w.user ?? ''),
      version: String(w.version ?? ''),
      limits: w.limits && typeof w.limits === 'object' ? w.limits : {},
    };
    this._failures = 0;
    // Connected before anyone hears of it: the rooms' joins go first, so that a room joined
    // by a listener below is joined once.
    this._state = 'connected';
    this._scheduleRefresh();
    this._schedulePing();
    for (const room of this._rooms.values()) this._joinRoom(room);
    this._pump();
    this._emit('state', 'connected');
    if (this._state !== 'connected') return; // a listener closed the client
    this._emit('welcome', this._welcome);
    const cw = this._connectWaiters;
    this._connectWaiters = [];
    for (const x of cw) x.resolve();
  }

  _onClose(code, reason) {
    const err = new ArqonError(code, reason || CLOSE_REASONS[code] || 'connection closed');
    this._ws = null;
    for (const k of ['connect', 'refresh', 'ping']) this._clearTimer(k);
    const lost = new ArqonError(code, `connection closed before the reply (${err.reason})`);
    for (const req of [...this._pending.values()]) this._fail(req, lost);
    for (const room of this._rooms.values()) room._onDisconnect();
    this._setState('disconnected');
    if (this._closed) return;
    this._emitError(err);
    if (code === ErrorCode.SERVER_DISCONNECT) {
      this._giveUp(err);
      return;
    }
    if (code === ErrorCode.TOKEN_EXPIRED && typeof this._options.token !== 'function') {
      this._giveUp(new ArqonError(code, 'token expired and options.token is a fixed string: pass a function to get new ones'));
      return;
    }
    this._scheduleReconnect(code === ErrorCode.TOKEN_EXPIRED ? 0 : null, err);
  }

  _connectionFailed(err) {
    this._clearTimer('connect');
    this._dropSocket(1000, '');
    this._setState('disconnected');
    this._emitError(err);
    this._scheduleReconnect(null, err);
  }

  _scheduleReconnect(delay, err) {
    const r = this._options.reconnect;
    if (this._failures >= r.maxAttempts) {
      this._giveUp(new ArqonError(err.code, `gave up after ${this._failures} reconnect attempts: ${err.reason}`));
      return;
    }
    const ms = delay === null ? backoffDelay(this._failures, r) : delay;
    this._failures++;
    this._timers.reconnect = setTimeout(() => {
      this._timers.reconnect = null;
      this._open();
    }, ms);
  }

  // Stays disconnected: connect() may be called again.
  _giveUp(err) {
    this._running = false;
    this._rejectConnect(err);
    this._failAll(err);
  }

  _failAll(err) {
    for (const req of [...this._pending.values()]) this._fail(req, err);
    for (const req of [...this._waiting]) this._fail(req, err);
  }

  /*
   * A request: sent when the client is connected (and, with `room`, the room joined on this
   * connection; with `epoch`, only on that connection), answered by the envelope with its
   * id, settled within timeoutMs whatever happens.
   */
  _request(env, { room = null, label = 'request', timeoutMs, epoch = 0 } = {}) {
    if (this._closed) return Promise.reject(new ArqonError(ErrorCode.CLOSED, 'client closed'));
    const ms = timeoutMs || this._options.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const req = { env, room, label, epoch, resolve, reject, timer: null, id: '' };
      req.timer = setTimeout(() => {
        this._fail(req, new ArqonError(ErrorCode.TIMEOUT, `${label} timed out after ${ms} ms`, room ? { room: room.name } : undefined));
      }, ms);
      if (!this._trySend(req)) {
        if (epoch) this._fail(req, new ArqonError(ErrorCode.CONNECTION_LOST, `${label}: the connection it was meant for is gone`));
        else if (!this._running && this._state !== 'connected')
          this._fail(req, new ArqonError(ErrorCode.CONNECTION_LOST, `${label}: not connected (call connect())`));
        else this._waiting.add(req);
      }
    });
  }

  _trySend(req) {
    if (this._state !== 'connected' || !this._ws) return false;
    if (req.epoch && req.epoch !== this._epoch) return false;
    if (req.room) {
      if (req.room._state === 'left') {
        this._fail(req, new ArqonError(ErrorCode.CLOSED, `room ${req.room.name} was left`, { room: req.room.name }));
        return true;
      }
      if (req.room._joinedEpoch !== this._epoch) return false;
    }
    const max = this._welcome && this._welcome.limits && this._welcome.limits.max_message_bytes;
    req.id = 'q' + ++this._nextId;
    req.env.id = req.id;
    if (max && req.env.event && this._encodedSize(req.env) > max) {
      this._fail(req, new ArqonError(413, `${req.label}: message larger than the Shield's max_message_bytes (${max})`));
      return true;
    }
    this._pending.set(req.id, req);
    try {
      this._send(req.env);
    } catch (err) {
      this._fail(req, new ArqonError(ErrorCode.CONNECTION_LOST, `${req.label}: send failed: ${err.message}`, { cause: err }));
    }
    return true;
  }

  // Sends what waits for a connection or a room, once they are there.
  _pump() {
    for (const req of [...this._waiting]) {
      if (this._trySend(req)) this._waiting.delete(req);
    }
  }

  _settle(req, env) {
    this._pending.delete(req.id);
    this._waiting.delete(req);
    clearTimeout(req.timer);
    if (env.event.type === 'error') {
      const err = errorOf(env);
      if (req.room && err.room === undefined) err.room = req.room.name;
      req.reject(err);
    } else req.resolve(env);
  }

  _fail(req, err) {
    if (req.id) this._pending.delete(req.id);
    this._waiting.delete(req);
    clearTimeout(req.timer);
    req.reject(err);
  }

  _joinRoom(room) {
    const epoch = this._epoch;
    const env = newEnvelope();
    env.roomId = room.name;
    env.cmd = { type: 'join', data: EMPTY };
    this._request(env, { label: `join ${room.name}`, epoch }).then(
      () => {
        if (room._state === 'left' || epoch !== this._epoch || this._rooms.get(room.name) !== room) return;
        room._onJoined(epoch);
        this._pump();
      },
      (err) => {
        if (room._state === 'left' || epoch !== this._epoch || this._closed) return;
        // The connection went: the next welcome joins again.
        if (err.code >= 1000 || this._state !== 'connected') return;
        const e = err.room === undefined ? new ArqonError(err.code, err.reason, { room: room.name, cause: err }) : err;
        if (e.code === ErrorCode.TIMEOUT || e.code === 503 || (e.code === 429 && room._everJoined)) {
          // Transient (NATS down at the Shield, the connection stuck): try again on this connection.
          this._emitError(e);
          setTimeout(() => {
            if (epoch === this._epoch && this._state === 'connected' && room._state !== 'left') this._joinRoom(room);
          }, 1000);
          return;
        }
        // Refused for good (403: the token does not cover the room; 429: too many rooms).
        if (room._everJoined) this._emitError(e);
        room._close(e);
        for (const req of [...this._waiting]) if (req.room === room) this._fail(req, e);
      },
    );
  }

  _scheduleRefresh() {
    this._clearTimer('refresh');
    if (typeof this._options.token !== 'function') return;
    const exp = jwtExp(this._token);
    if (exp === null) return;
    const delay = refreshDelay(exp * 1000, Date.now(), this._tokenAt, this._options.refreshBeforeExpiryMs);
    if (delay === null) return;
    const epoch = this._epoch;
    this._timers.refresh = setTimeout(() => {
      this._timers.refresh = null;
      this._refresh(epoch);
    }, delay);
  }

  async _refresh(epoch) {
    if (epoch !== this._epoch || this._state !== 'connected') return;
    let token;
    try {
      token = await this._getToken();
      if (epoch !== this._epoch || this._state !== 'connected') return;
      const env = newEnvelope();
      env.cmd = { type: 'refresh', data: utf8(JSON.stringify({ token })) };
      await this._request(env, { label: 'refresh', epoch });
    } catch (err) {
      if (epoch !== this._epoch || this._closed || this._state !== 'connected') return;
      this._emitError(err instanceof ArqonError ? err : new ArqonError(401, `refresh: no token: ${err && err.message ? err.message : err}`, { cause: err }));
      // Try again at half of what is left; at expiry the Shield closes with 4001 and the
      // client reconnects with a new token.
      const exp = jwtExp(this._token);
      const left = exp === null ? 0 : exp * 1000 - Date.now();
      if (left > 1000) {
        this._timers.refresh = setTimeout(() => {
          this._timers.refresh = null;
          this._refresh(epoch);
        }, left / 2);
      }
      return;
    }
    if (epoch !== this._epoch) return;
    this._token = token;
    this._tokenAt = Date.now();
    this._emit('refresh', { exp: jwtExp(token) });
    this._scheduleRefresh();
  }

  // A ping with an id every pingIntervalMs: no answer within requestTimeoutMs means the
  // connection is dead even if the socket has not noticed.
  _schedulePing() {
    this._clearTimer('ping');
    if (!this._options.pingIntervalMs) return;
    const epoch = this._epoch;
    this._timers.ping = setTimeout(() => {
      this._timers.ping = null;
      if (epoch !== this._epoch || this._state !== 'connected') return;
      const env = newEnvelope();
      env.cmd = { type: 'ping', data: EMPTY };
      this._request(env, { label: 'ping', epoch }).then(
        () => {
          if (epoch === this._epoch) this._schedulePing();
        },
        (err) => {
          if (epoch !== this._epoch || this._closed || this._state !== 'connected') return;
          if (err.code === ErrorCode.TIMEOUT) {
            this._dropSocket(1000, 'ping timed out');
            this._onClose(ErrorCode.TIMEOUT, `no answer to a ping within ${this._options.requestTimeoutMs} ms`);
          } else this._schedulePing();
        },
      );
    }, this._options.pingIntervalMs);
  }
}
