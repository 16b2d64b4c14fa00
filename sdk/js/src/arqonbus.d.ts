// Type declarations of arqonbus.js (the ArqonBus JavaScript SDK).

export declare const VERSION: string;

/** The SDK's own error codes; the others are the server's (400-599) or WebSocket close codes (1000-4999). */
export declare const ErrorCode: Readonly<{
  /** An application listener threw. */
  LISTENER: 0;
  /** No answer in time (request, connect, ping). */
  TIMEOUT: 408;
  /** The application closed the client, or left the room. */
  CLOSED: 1000;
  /** The server sent a frame that is not an Envelope. */
  PROTOCOL: 1002;
  /** The connection dropped or could not be opened. */
  CONNECTION_LOST: 1006;
  /** The server disconnected this client (it does not reconnect). */
  SERVER_DISCONNECT: 4000;
  /** The Shield closed the connection at the token's exp. */
  TOKEN_EXPIRED: 4001;
}>;

/** Every failure the SDK reports. */
export declare class ArqonError extends Error {
  constructor(code: number, reason: string, extra?: { room?: string; cause?: unknown });
  /** 400-599 server error, 1000-4999 WebSocket close code, 408 timeout, 0 listener exception. */
  readonly code: number;
  readonly reason: string;
  /** The room the failure concerns, when there is one. */
  readonly room?: string;
  readonly cause?: unknown;
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export interface ReconnectOptions {
  /** Delay before the first retry (ms). Default 500. */
  initialDelayMs?: number;
  /** Upper bound of any delay (ms). Default 30000. */
  maxDelayMs?: number;
  /** Growth per consecutive failure. Default 2. */
  factor?: number;
  /** 0: none; 1: anywhere between 0 and the delay. Default 0.5. */
  jitter?: number;
  /** Consecutive failed attempts before giving up. Default Infinity. */
  maxAttempts?: number;
}

/** A WebSocket constructor: the browser's, Node's global one, or the `ws` package. */
export interface WebSocketConstructor {
  new (url: string): any;
}

export type TokenSource = string | (() => string | Promise<string>);

export interface ClientOptions {
  /** A JWT, or a function returning one (called for every connection and every refresh). */
  token: TokenSource;
  /** 'binary' (protobuf frames, default) or 'json' (text frames, proto3 JSON mapping). */
  encoding?: 'binary' | 'json';
  /** Defaults to globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** Backoff between reconnects; false: never reconnect. */
  reconnect?: ReconnectOptions | false;
  /** Every request settles within this (ms). Default 10000. */
  requestTimeoutMs?: number;
  /** Opening handshake + welcome within this (ms), or the attempt fails. Default 10000. */
  connectTimeoutMs?: number;
  /** Refresh this long before the token's exp (half its lifetime when shorter). Default 30000. */
  refreshBeforeExpiryMs?: number;
  /** A ping request this often; no answer within requestTimeoutMs replaces the connection. 0: none. Default 25000. */
  pingIntervalMs?: number;
  /** How long missing seqs are waited for (from history or live) before a 'gap' event. Default 10000. */
  gapTimeoutMs?: number;
  /** Messages a room holds back while it fills a hole; past it the hole is reported as a gap. Default 10000. */
  maxBufferedMessages?: number;
  /** History page size when filling holes (1..1000). Default 1000. */
  historyPageSize?: number;
}

export interface Message {
  type: string;
  data: Uint8Array;
  /** The room's order: 1, 2, 3, ... (0 for deliveries not sequenced by the Brain). */
  seq: number;
  /** JWT sub of the publisher. */
  sender: string;
  /** Room name ('' for a delivery to the user or the connection). */
  room: string;
  /** Milliseconds since the epoch, stamped by the Shield. */
  timestamp: number;
  /** W3C trace id; the one publish() resolved with, for the sender's own copy. */
  traceId: string;
  headers: Record<string, string>;
  connId: string;
}

export interface Presence {
  kind: 'join' | 'leave';
  room: string;
  user: string;
  connId: string;
  /** The Brain's member record {user, conn, node, joined_at}. */
  member: Record<string, unknown>;
  timestamp: number;
  traceId: string;
}

export interface Member {
  user: string;
  connId: string;
  node: string;
  joinedAt: number;
}

export interface Gap {
  room: string;
  /** First missing seq. */
  fromSeq: number;
  /** Last missing seq (inclusive); delivery goes on with toSeq + 1. */
  toSeq: number;
}

export interface HistoryPage {
  messages: Message[];
  /** The sinceSeq that continues after this page. */
  nextSeq: number;
  /** The room's last assigned seq. */
  latestSeq: number;
  /** Messages passed over as too large for any page. */
  omitted: number;
}

export interface Welcome {
  connId: string;
  node: string;
  tenantId: string;
  user: string;
  version: string;
  limits: Record<string, number>;
}

export interface RoomStats {
  delivered: number;
  duplicates: number;
  gaps: number;
  buffered: number;
}

export interface PublishOptions {
  headers?: Record<string, string>;
  /** 32 lowercase hex digits; generated when left out. */
  traceId?: string;
  timeoutMs?: number;
}

export interface RoomEvents {
  message: Message;
  presence: Presence;
  gap: Gap;
}

export declare class Room {
  readonly name: string;
  /** Seq of the last message handed on (null until the room's position is known). */
  readonly lastSeq: number | null;
  readonly state: 'joining' | 'joined' | 'left';
  readonly stats: RoomStats;
  on<K extends keyof RoomEvents>(event: K, listener: (arg: RoomEvents[K]) => void): this;
  off<K extends keyof RoomEvents>(event: K, listener?: (arg: RoomEvents[K]) => void): this;
  /** Resolves on the Shield's ack; rejects with ArqonError. */
  publish(type: string, data?: Uint8Array | ArrayBuffer | ArrayBufferView | string, options?: PublishOptions): Promise<{ traceId: string }>;
  presence(options?: { timeoutMs?: number }): Promise<Member[]>;
  history(options?: { sinceSeq?: number; limit?: number; timeoutMs?: number }): Promise<HistoryPage>;
  leave(options?: { timeoutMs?: number }): Promise<void>;
}

export interface ClientEvents {
  state: ConnectionState;
  error: ArqonError;
  welcome: Welcome;
  /** A delivery to this user or connection (not a room). */
  message: Message;
  /** A refresh was acknowledged; exp of the new token. */
  refresh: { exp: number | null };
}

export interface JoinOptions {
  /** Deliver the room's messages after this seq first (from history). Default: from the join on. */
  sinceSeq?: number;
  timeoutMs?: number;
}

export declare class Client {
  constructor(url: string, options: ClientOptions);
  readonly url: string;
  readonly state: ConnectionState;
  readonly welcome: Welcome | null;
  readonly rooms: Map<string, Room>;
  on<K extends keyof ClientEvents>(event: K, listener: (arg: ClientEvents[K]) => void): this;
  off<K extends keyof ClientEvents>(event: K, listener?: (arg: ClientEvents[K]) => void): this;
  connect(): Promise<void>;
  join(room: string, options?: JoinOptions): Promise<Room>;
  close(): void;
}

/** An arqon.v1.Envelope as the codecs below see it. */
export interface Envelope {
  traceId: string;
  tenantId: string;
  roomId: string;
  timestamp: number;
  twistId: string;
  headers: Record<string, string>;
  id: string;
  seq: number;
  sender: string;
  signature: Uint8Array;
  connId: string;
  cmd: { type: string; data: Uint8Array } | null;
  event: { type: string; data: Uint8Array } | null;
  signal: { type: number; reason: string } | null;
}

export declare function newEnvelope(): Envelope;
export declare function encodeEnvelope(e: Envelope): Uint8Array;
/** Throws TypeError on malformed input. */
export declare function decodeEnvelope(bytes: Uint8Array | ArrayBuffer): Envelope;
export declare function envelopeToJson(e: Envelope): Record<string, unknown>;
/** Throws TypeError on malformed input. */
export declare function envelopeFromJson(o: unknown): Envelope;
export declare function decodeJsonEnvelope(text: string): Envelope;
export declare function base64Encode(u8: Uint8Array): string;
export declare function base64Decode(s: string): Uint8Array;
export declare function jwtExp(token: string): number | null;
export declare function refreshDelay(expMs: number, nowMs: number, obtainedMs: number, beforeMs: number): number | null;
export declare function backoffDelay(attempt: number, reconnect: Required<Omit<ReconnectOptions, 'maxAttempts'>>, random?: () => number): number;
