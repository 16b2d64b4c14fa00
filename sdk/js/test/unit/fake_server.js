// A fake Shield + Brain for the unit tests: a WebSocket class (what the Client is given as
// options.WebSocket) whose sockets talk to an in-memory bus. Tests steer it: which frames
// reach a socket, when a socket drops, what history still holds, what answers are late.
import {
  decodeEnvelope,
  decodeJsonEnvelope,
  encodeEnvelope,
  envelopeToJson,
  newEnvelope,
} from '../../src/arqonbus.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** Waits until cond() is true (checked every 2 ms), failing after `ms`. */
export async function until(cond, ms = 2000, what = 'condition') {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

export function makeJwt(claims) {
  const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u(claims)}.c2ln`;
}

export class FakeBus {
  constructor() {
    this.sockets = []; // every socket ever opened
    this.rooms = new Map(); // name -> { messages: [env], latest, oldest }
    this.received = []; // [socket, env] of everything clients sent
    this.refuseConnections = 0; // the next N sockets close 1006 without a welcome
    this.welcome = true; // send a welcome on open
    this.silent = new Set(); // command/event types left unanswered
    this.errors = new Map(); // command type -> {code, reason} to answer with
    this.historyCalls = [];
    this.historyDelayMs = 0;
    this.beforeJoinAck = null; // (socket, join envelope) => void, run before the ack goes
    this.limits = { max_message_bytes: 1 << 20 };
    const bus = this;
    this.WebSocket = class FakeWebSocket {
      constructor(url) {
        this.url = url;
        const q = new URL(url).searchParams;
        this.token = q.get('token');
        this.encoding = q.get('encoding') || 'json';
        this.readyState = 0;
        this.binaryType = 'blob';
        this.joined = new Set();
        this.sentFrames = [];
        this.onopen = this.onmessage = this.onclose = this.onerror = null;
        bus.sockets.push(this);
        setTimeout(() => bus._accept(this), 1);
      }
      send(data) {
        if (this.readyState !== 1) return;
        this.sentFrames.push(data);
        const env = typeof data === 'string' ? decodeJsonEnvelope(data) : decodeEnvelope(data);
        bus.received.push([this, env]);
        setTimeout(() => this.readyState === 1 && bus._handle(this, env), 0);
      }
      close(code, reason) {
        if (this.readyState === 3) return;
        this.readyState = 3;
        this.closedBy = 'client';
        setTimeout(() => this.onclose && this.onclose({ code: code || 1005, reason: reason || '' }), 1);
      }
    };
  }

  get last() {
    return this.sockets[this.sockets.length - 1];
  }

  room(name) {
    let r = this.rooms.get(name);
    if (!r) this.rooms.set(name, (r = { messages: [], latest: 0 }));
    return r;
  }

  _accept(ws) {
    if (ws.readyState === 3) return;
    if (this.refuseConnections > 0) {
      this.refuseConnections--;
      this.drop(ws, 1006);
      return;
    }
    ws.readyState = 1;
    if (ws.onopen) ws.onopen({});
    if (this.welcome) {
      this.sendEvent(ws, 'welcome', { conn_id: `c${this.sockets.indexOf(ws)}`, node: 'n1', tenant_id: 'T1', user: 'alice', version: 'test', limits: this.limits });
    }
  }

  /** The server closes the socket with `code`. */
  drop(ws = this.last, code = 1006, reason = '') {
    if (ws.readyState === 3) return;
    ws.readyState = 3;
    ws.closedBy = 'server';
    if (ws.onclose) ws.onclose({ code, reason });
  }

  send(ws, env) {
    if (ws.readyState !== 1 || !ws.onmessage) return;
    const data = ws.encoding === 'binary' ? encodeEnvelope(env).buffer : JSON.stringify(envelopeToJson(env));
    ws.onmessage({ data });
  }

  sendRaw(ws, data) {
    ws.onmessage({ data });
  }

  sendEvent(ws, type, json, { id = '', roomId = '' } = {}) {
    const e = newEnvelope();
    e.id = id;
    e.roomId = roomId;
    e.event = { type, data: enc.encode(typeof json === 'string' ? json : JSON.stringify(json)) };
    this.send(ws, e);
  }

  /** A room message with the next seq, kept in the room's history (not delivered). */
  sequence(roomName, text = undefined, sender = 'bob') {
    const r = this.room(roomName);
    const e = newEnvelope();
    e.roomId = roomName;
    e.seq = ++r.latest;
    e.sender = sender;
    e.timestamp = 1700000000000 + e.seq;
    e.traceId = e.seq.toString(16).padStart(32, '0');
    e.event = { type: 'chat', data: enc.encode(text === undefined ? `m${e.seq}` : text) };
    r.messages.push(e);
    return e;
  }

  /** Delivers `env` to every open socket that joined its room. */
  broadcast(env) {
    for (const ws of this.sockets) if (ws.readyState === 1 && ws.joined.has(env.roomId)) this.send(ws, env);
  }

  /** sequence() + broadcast(). */
  publish(roomName, text) {
    const e = this.sequence(roomName, text);
    this.broadcast(e);
    return e;
  }

  _reply(ws, req, type, json) {
    this.sendEvent(ws, type, json, { id: req.id, roomId: req.roomId });
  }

  _handle(ws, env) {
    const type = env.cmd ? env.cmd.type : env.event ? 'event' : '';
    if (this.silent.has(type)) return;
    const err = this.errors.get(type);
    if (err) {
      this._reply(ws, env, 'error', err);
      return;
    }
    switch (type) {
      case 'join':
        ws.joined.add(env.roomId);
        if (this.beforeJoinAck) this.beforeJoinAck(ws, env);
        this._reply(ws, env, 'ack', '');
        return;
      case 'leave':
        ws.joined.delete(env.roomId);
        this._reply(ws, env, 'ack', '');
        return;
      case 'ping':
      case 'refresh':
        this._reply(ws, env, 'ack', '');
        return;
      case 'presence':
        this._reply(ws, env, 'presence.state', [{ user: 'alice', conn: 'c0', node: 'n1', joined_at: 17 }]);
        return;
      case 'history': {
        const args = JSON.parse(dec.decode(env.cmd.data));
        this.historyCalls.push(args);
        const r = this.room(env.roomId);
        const since = args.since_seq || 0;
        const limit = args.limit || 1000;
        const page = r.messages.filter((m) => m.seq > since).slice(0, limit);
        const answer = () =>
          this._reply(ws, env, 'history', {
            messages: page.map((m) => envelopeToJson(m)),
            next_seq: page.length ? page[page.length - 1].seq : since,
            latest_seq: r.latest,
          });
        if (this.historyDelayMs) setTimeout(answer, this.historyDelayMs);
        else answer();
        return;
      }
      case 'event':
        this._reply(ws, env, 'ack', '');
        return;
      default:
        this._reply(ws, env, 'error', { code: 400, reason: 'unknown command type' });
    }
  }

  /** What clients sent, as [socket, envelope], filtered by command or event type. */
  sent(type) {
    return this.received.filter(([, e]) => (e.cmd ? e.cmd.type : e.event ? 'event' : '') === type);
  }
}

export const text = (m) => dec.decode(m.data);
