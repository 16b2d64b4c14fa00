"""A fake of the transport for unit tests: an in-process stand-in for the Shield and the Brain
that the SDK reaches through `Client(transport=server.open)`.

It keeps each room's log (the history), assigns seqs, acknowledges commands, answers
`history` and `presence` like the Brain does (docs/brain.md: messages with seq > since_seq
up to latest_seq, `next_seq`, `latest_seq`), and speaks the encoding the URL asks for. Tests
steer it: drop a connection with a close code, refuse upgrades, hold back or repeat live
deliveries, cut the history (retention) or make it lag, withhold replies."""
import asyncio
import base64
import json
from urllib.parse import parse_qs, urlsplit

from google.protobuf import json_format

from arqonbus import _envelope_pb2 as pb
from arqonbus.transport import HandshakeRefused, TransportClosed

_CLOSE = object()


class FakeConn:
    def __init__(self, server, url, headers):
        self.server = server
        self.url = url
        self.headers = dict(headers)
        self.encoding = parse_qs(urlsplit(url).query).get("encoding", ["json"])[0]
        self.token = self.headers.get("Authorization", "")[len("Bearer "):]
        self.inbox = asyncio.Queue()
        self.rooms = set()
        self.sent = []          # envelopes the client sent, decoded
        self.closed = None
        self.conn_id = f"c{server.opens}"

    # -- the client's side --
    async def recv(self):
        item = await self.inbox.get()
        if item is _CLOSE:
            self.inbox.put_nowait(_CLOSE)
            raise TransportClosed(*self.closed)
        return item

    async def send(self, frame):
        if self.closed:
            raise TransportClosed(*self.closed)
        env = pb.Envelope()
        if isinstance(frame, bytes):
            assert self.encoding == "binary", "binary frame on a json connection"
            env.ParseFromString(frame)
        else:
            assert self.encoding == "json", "text frame on a binary connection"
            json_format.Parse(frame, env)
        self.sent.append(env)
        self.server._handle(self, env)

    async def close(self, code=1000, reason=""):
        self.drop(code, reason)

    # -- the server's side --
    def drop(self, code=1006, reason=""):
        if self.closed is None:
            self.closed = (code, reason)
            for r in self.rooms:
                self.server.members.get(r, {}).pop(self, None)
            self.inbox.put_nowait(_CLOSE)

    def push(self, env):
        if self.closed is None:
            self.inbox.put_nowait(env.SerializeToString() if self.encoding == "binary"
                                  else json_format.MessageToJson(env))


class FakeServer:
    def __init__(self):
        self.conns = []
        self.opens = 0
        self.refuse = None         # an HTTP status, or an exception instance, for upgrades
        self.logs = {}             # room -> [Envelope with seq]
        self.members = {}          # room -> {conn: user}
        self.history_floor = {}    # room -> oldest seq kept (retention)
        self.latest_lag = 0        # latest_seq reported this much below the real one
        self.silent = set()        # command/event types never answered
        self.errors = {}           # command/event type -> (code, reason) answered instead
        self.live = True           # deliver publishes live to members
        self.history_calls = []    # (room, since, limit)
        self.refreshes = []        # tokens received with `refresh`

    # -- the transport the client opens --
    async def open(self, url, headers, timeout, max_size, ping_interval):
        self.opens += 1
        if self.refuse is not None:
            if isinstance(self.refuse, Exception):
                raise self.refuse
            raise HandshakeRefused(self.refuse)
        conn = FakeConn(self, url, headers)
        self.conns.append(conn)
        w = {"conn_id": conn.conn_id, "node": "n1", "tenant_id": "T1", "user": "u",
             "version": "test", "limits": {}}
        conn.push(pb.Envelope(event=pb.Event(type="welcome", data=json.dumps(w).encode())))
        return conn

    @property
    def conn(self):
        return self.conns[-1]

    # -- what tests do --
    def publish(self, room, data, type="chat", live=None, to=None, sender="bob"):
        """Appends to the room's log with the next seq; delivers it to the members (or to
        `to`) unless live is False."""
        log = self.logs.setdefault(room, [])
        env = pb.Envelope(room_id=room, seq=len(log) + 1, sender=sender, timestamp=1000 + len(log),
                          trace_id="%032x" % (len(log) + 1), event=pb.Event(type=type, data=data))
        log.append(env)
        if live if live is not None else self.live:
            self.deliver(env, to)
        return env.seq

    def deliver(self, env, to=None):
        for c in (to if to is not None else list(self.members.get(env.room_id, {}))):
            c.push(env)

    def redeliver(self, room, seq, to=None):
        self.deliver(self.logs[room][seq - 1], to)

    def presence_event(self, room, kind, user, conn="cx"):
        env = pb.Envelope(room_id=room, sender=user, conn_id=conn, event=pb.Event(
            type="presence." + kind, data=json.dumps({"user": user, "conn": conn, "node": "n1",
                                                      "joined_at": 5}).encode()))
        self.deliver(env)

    # -- answering --
    def _reply(self, conn, env, etype, data=b"", room=""):
        conn.push(pb.Envelope(id=env.id, room_id=room, event=pb.Event(type=etype, data=data)))

    def _handle(self, conn, env):
        kind = env.WhichOneof("payload")
        typ = env.cmd.type if kind == "cmd" else env.event.type
        if typ in self.silent:
            return
        if typ in self.errors:
            code, reason = self.errors[typ]
            self._reply(conn, env, "error", json.dumps({"code": code, "reason": reason}).encode(),
                        env.room_id)
            return
        room = env.room_id
        if kind == "event":
            log = self.logs.setdefault(room, [])
            out = pb.Envelope()
            out.CopyFrom(env)
            out.id = ""
            out.seq = len(log) + 1
            out.sender = "u"
            out.conn_id = conn.conn_id
            log.append(out)
            self._reply(conn, env, "ack", room=room)
            if self.live:
                self.deliver(out)
            return
        if typ == "join":
            conn.rooms.add(room)
            self.members.setdefault(room, {})[conn] = "u"
            self._reply(conn, env, "ack", room=room)
        elif typ == "leave":
            conn.rooms.discard(room)
            self.members.get(room, {}).pop(conn, None)
            self._reply(conn, env, "ack", room=room)
        elif typ == "refresh":
            self.refreshes.append(json.loads(env.cmd.data)["token"])
            self._reply(conn, env, "ack")
        elif typ == "presence":
            members = [{"user": u, "conn": c.conn_id, "node": "n1", "joined_at": 1}
                       for c, u in self.members.get(room, {}).items()]
            self._reply(conn, env, "presence.state", json.dumps(members).encode(), room)
        elif typ == "history":
            args = json.loads(env.cmd.data or b"{}")
            since, limit = args.get("since_seq", 0), args.get("limit", 1000)
            self.history_calls.append((room, since, limit))
            log = self.logs.get(room, [])
            latest = max(0, len(log) - self.latest_lag)
            floor = self.history_floor.get(room, 1)
            page = [m for m in log if m.seq > since and m.seq >= floor and m.seq <= latest][:limit]
            body = {"messages": [json_format.MessageToDict(m) for m in page],
                    "next_seq": page[-1].seq if page else since, "latest_seq": latest}
            self._reply(conn, env, "history", json.dumps(body).encode(), room)
        elif typ == "ping":
            self._reply(conn, env, "ack")
        else:
            self._reply(conn, env, "error", b'{"code":400,"reason":"unknown command type"}', room)


def b64(data):
    return base64.b64encode(data).decode()
