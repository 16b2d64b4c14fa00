"""The client: one WebSocket connection to a Shield, kept open across failures.

DESIGN

One task (`_run`) owns the connection. It opens it (token from the application, welcome
event), re-joins every room, and reads frames until the connection ends; then it fails the
requests that were waiting on that connection, waits a backoff delay and opens a new one.
Everything that changes state — dispatching a frame, resolving a request, a room taking a
message — runs synchronously in the event loop between two awaits, so a room sees its
frames in the order the Shield sent them.

Requests carry an id (`r1`, `r2`, ...) and wait for the one reply with that id (`ack`,
`error`, `presence.state`, `history`), bounded by `request_timeout`. A request made while
the client is reconnecting waits for the connection within the same bound; a request whose
connection drops before the reply fails with `ConnectionLost` (a publish is not sent again:
it may have reached the bus).

The token is fetched from the application at every connection and before it expires (`exp`
of the JWT minus `refresh_before_expiry`), then sent with the `refresh` command; when the
Shield closes with 4001 (token expired) the client reconnects at once with a fresh token.
"""
import asyncio
import itertools
import json
import logging
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from . import codec
from ._listeners import call
from .backoff import Backoff
from .errors import (CONNECTION_LOST, SERVER_DISCONNECT, TOKEN_EXPIRED, ClosedError,
                     ConnectionLost, Error)
from .errors import TimeoutError as RequestTimeout
from .room import Room
from .token import fetch_token, jwt_exp, refresh_delay
from .transport import HandshakeRefused, TransportClosed, websocket_open
from .types import Welcome

log = logging.getLogger("arqonbus")

STATES = ("connecting", "connected", "disconnected")
# Upgrade refusals that another attempt with the same inputs cannot fix.
_PERMANENT_STATUS = (400, 403, 404, 405, 426)
# Answers to a re-join that another try may change: timeout, rate limited, spine unavailable.
_TRANSIENT_CODES = (408, 429, 503)
# A refresh is not attempted more often than this, whatever the token's lifetime.
MIN_REFRESH_INTERVAL = 1.0


class Client:
    """A connection to ArqonBus. See docs/sdk-python.md for every option."""

    def __init__(self, url, token=None, *, encoding="binary", reconnect=True, backoff=None,
                 request_timeout=10.0, connect_timeout=10.0, refresh_before_expiry=30.0,
                 max_queue=10000, history_page=1000, gap_timeout=10.0, settle_delay=2.0,
                 ping_interval=20.0, max_frame_bytes=16 << 20, transport=None):
        if encoding not in codec.ENCODINGS:
            raise ValueError(f"encoding must be one of {codec.ENCODINGS}")
        if token is None:
            raise ValueError("a token (str, or a callable returning one) is required")
        if request_timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if max_queue < 1 or not 1 <= history_page <= 1000:
            raise ValueError("max_queue must be >= 1 and history_page within 1..1000")
        self.url = url
        self.encoding = encoding
        self.reconnect = reconnect
        self.backoff = backoff if backoff is not None else Backoff()
        self.request_timeout = float(request_timeout)
        self.connect_timeout = float(connect_timeout)
        self.refresh_before_expiry = float(refresh_before_expiry)
        self.max_queue = int(max_queue)
        self.history_page = int(history_page)
        self.gap_timeout = float(gap_timeout)
        self.settle_delay = float(settle_delay)
        self.ping_interval = ping_interval
        self.max_frame_bytes = max_frame_bytes
        self._token_source = token
        self._open_transport = transport or websocket_open
        self.state = "disconnected"
        self.welcome = None          # Welcome of the current (or last) connection
        self.token = None            # the token the connection currently runs with
        self.reconnects = 0          # connections opened after the first one
        self.refreshes = 0           # successful `refresh` commands
        self._listeners = {"state": [], "error": [], "message": [], "refresh": [], "welcome": []}
        self._rooms = {}
        self._pending = {}
        self._ids = itertools.count(1)
        self._conn = None
        self._connected = asyncio.Event()
        self._runner = None
        self._closed = False
        self._fatal = None

    # ---- public API ----

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, *exc):
        await self.close()

    def on(self, event, callback):
        """Calls `callback` on `event`: "state" (the new state), "error" (an `Error` not tied
        to a request: a refused reconnection, a lost connection, an `error` event without
        id), "message" (a `Message` delivered to the user or the connection, not a room),
        "refresh" (the new token's `exp`), "welcome" (`Welcome`, on every connection).
        Returns `callback`."""
        if event not in self._listeners:
            raise ValueError(f"unknown event {event!r}; one of {sorted(self._listeners)}")
        self._listeners[event].append(callback)
        return callback

    def off(self, event, callback):
        self._listeners[event].remove(callback)

    @property
    def conn_id(self):
        return self.welcome.conn_id if self.welcome else None

    @property
    def rooms(self):
        return dict(self._rooms)

    async def connect(self):
        """Opens the connection and keeps it open until `close()`. Returns at the first
        `welcome`; failed attempts are retried with the backoff. Raises `Error` when the
        client gives up: a refusal that cannot change (see _permanent), `max_attempts`
        failed attempts in a row, or a disconnect by the server (4000). After that,
        `connect()` again starts over."""
        if self._closed:
            raise ClosedError()
        if self._runner is None or self._runner.done():
            self._fatal = None
            self._connected.clear()
            self._runner = asyncio.get_running_loop().create_task(self._run(None))
        await self._connected.wait()
        if self._closed:
            raise ClosedError()
        if self._fatal is not None:
            raise self._fatal

    async def join(self, name, *, since_seq=None, gaps="raise"):
        """Joins room `name` and returns its `Room`.

        `since_seq` None delivers the messages sequenced after the join; an int delivers
        every message with a greater seq that the history still holds, then the live ones.
        `gaps` "raise" makes `Room.next()` raise `GapError` where messages are missing,
        "yield" makes it return the `Gap` record instead."""
        if self._closed:
            raise ClosedError()
        if gaps not in ("raise", "yield"):
            raise ValueError('gaps must be "raise" or "yield"')
        if not isinstance(name, str) or not name:
            raise ValueError("a room name is a non-empty str")
        if name in self._rooms:
            return self._rooms[name]
        room = Room(self, name, since_seq, gaps)
        self._rooms[name] = room
        acked = False
        try:
            await self._request(codec.command("join", room=name), "join " + name)
            acked = True
            await room._joined_first()
        except BaseException:
            if self._rooms.get(name) is room:
                del self._rooms[name]
            room._close(ClosedError("join failed"))
            if acked and self._conn is not None:
                # Joined at the Shield but not usable here: do not stay a member.
                asyncio.ensure_future(self._leave_quietly(name))
            raise
        return room

    async def _leave_quietly(self, name):
        try:
            await self._request(codec.command("leave", room=name), "leave " + name)
        except Error as exc:
            self._emit("error", exc)

    async def close(self):
        """Closes the connection for good: waiting requests fail with `ClosedError`, rooms
        end their iteration once their queue is consumed."""
        if self._closed:
            return
        self._closed = True
        conn, self._conn = self._conn, None
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            try:
                await runner
            except (asyncio.CancelledError, Exception):
                pass
        if conn is not None:
            await conn.close(1000, "client closed")
        self._fail_pending(ClosedError())
        for room in list(self._rooms.values()):
            room._close(ClosedError())
        self._rooms.clear()
        self._connected.clear()
        self._set_state("disconnected")

    # ---- requests ----

    def _next_id(self):
        return f"r{next(self._ids)}"

    async def _wait_connected(self, timeout):
        if self._connected.is_set():
            return
        if self._closed:
            raise ClosedError()
        if self._fatal is not None:
            raise self._fatal
        waiter = asyncio.ensure_future(self._connected.wait())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            raise RequestTimeout(f"not connected within {timeout:g}s") from None
        finally:
            waiter.cancel()
        if self._closed:
            raise ClosedError()
        if self._fatal is not None:
            raise self._fatal

    async def _request(self, env, what, *, timeout=None, wait=None, conn=None):
        """Sends `env` with a fresh id and returns the reply envelope; raises `Error` for an
        `error` reply, `TimeoutError`, `ConnectionLost` or `ClosedError`. `wait` is an
        awaitable(timeout) that must complete before sending (default: connected); `conn`
        pins the connection (the re-joins of a connection being set up)."""
        loop = asyncio.get_running_loop()
        timeout = self.request_timeout if timeout is None else timeout
        deadline = loop.time() + timeout
        if conn is None:
            await (wait or self._wait_connected)(timeout)
            conn = self._conn
            if self._closed:
                raise ClosedError()
            if conn is None:
                raise ConnectionLost(CONNECTION_LOST, "not connected")
        env.id = self._next_id()
        frame = codec.encode(env, self.encoding)
        limit = (self.welcome.limits.get("max_message_bytes") if self.welcome else None)
        if isinstance(limit, int) and limit > 0 and len(frame) > limit:
            # The Shield would close the connection (1009); refused here instead.
            raise Error(413, f"{what}: {len(frame)} bytes, over the Shield's max_message_bytes ({limit})")
        fut = loop.create_future()
        self._pending[env.id] = (fut, conn)
        try:
            try:
                await conn.send(frame)
            except TransportClosed as exc:
                raise ConnectionLost(exc.code, f"{what}: connection closed ({exc.reason or exc.code})") from None
            left = deadline - loop.time()
            try:
                reply = await asyncio.wait_for(fut, max(left, 0))
            except asyncio.TimeoutError:
                raise RequestTimeout(f"{what}: no answer within {timeout:g}s") from None
        finally:
            self._pending.pop(env.id, None)
        if reply.WhichOneof("payload") == "event" and reply.event.type == "error":
            raise Error(*codec.error_payload(reply.event.data))
        return reply

    def _fail_pending(self, error, conn=None):
        for rid, (fut, c) in list(self._pending.items()):
            if conn is None or c is conn:
                if not fut.done():
                    fut.set_exception(error)
                self._pending.pop(rid, None)

    # ---- the connection ----

    def _url(self):
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("encoding", "token")]
        query.append(("encoding", self.encoding))
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/ws", urlencode(query), ""))

    async def _open(self):
        """One attempt: (connection, welcome, token, time the token was obtained)."""
        try:
            token = await fetch_token(self._token_source)
        except Exception as exc:
            raise Error(401, f"no token: {exc}") from None
        obtained = time.time()
        try:
            conn = await self._open_transport(self._url(), {"Authorization": f"Bearer {token}"},
                                              self.connect_timeout, self.max_frame_bytes,
                                              self.ping_interval)
        except HandshakeRefused as exc:
            raise Error(exc.status, f"WebSocket upgrade refused with HTTP {exc.status}") from None
        except asyncio.TimeoutError:
            raise ConnectionLost(CONNECTION_LOST, f"connecting to {self.url} timed out") from None
        except OSError as exc:
            raise ConnectionLost(CONNECTION_LOST, f"cannot connect to {self.url}: {exc}") from None
        try:
            frame = await asyncio.wait_for(conn.recv(), self.connect_timeout)
            env = codec.decode(frame)
        except asyncio.TimeoutError:
            await conn.close(1002, "no welcome")
            raise ConnectionLost(CONNECTION_LOST, "no welcome event in time") from None
        except TransportClosed as exc:
            raise ConnectionLost(exc.code, f"closed before the welcome: {exc.reason}") from None
        except ValueError as exc:
            await conn.close(1002, "bad welcome")
            raise ConnectionLost(1002, str(exc)) from None
        if env.event.type != "welcome":
            await conn.close(1002, "no welcome")
            if env.event.type == "error":
                raise Error(*codec.error_payload(env.event.data))
            raise ConnectionLost(1002, f"expected welcome, got {env.event.type!r}")
        try:
            w = json.loads(bytes(env.event.data))
        except ValueError:
            w = {}
        welcome = Welcome(str(w.get("conn_id", "")), str(w.get("node", "")),
                          str(w.get("tenant_id", "")), str(w.get("user", "")),
                          str(w.get("version", "")), dict(w.get("limits") or {}))
        return conn, welcome, token, obtained

    def _permanent(self, error):
        if self.reconnect is False:
            return True
        if error.code in _PERMANENT_STATUS:
            return True
        # The same string will be refused again; a callable may give a better one.
        return error.code == 401 and isinstance(self._token_source, str)

    async def _run(self, opened):
        failed = 0            # consecutive failed attempts
        delay_first = False
        while not self._closed:
            if opened is None:
                if delay_first:
                    await asyncio.sleep(self.backoff.delay(failed))
                self._set_state("connecting")
                try:
                    opened = await self._open()
                except Error as exc:
                    failed += 1
                    self._emit("error", exc)
                    if self._permanent(exc) or self.backoff.gives_up(failed):
                        self._give_up(exc)
                        return
                    delay_first = True
                    continue
                if self.welcome is not None:
                    self.reconnects += 1
            failed = 0
            code, reason = await self._session(*opened)
            opened = None
            if self._closed:
                return
            self._emit("error", ConnectionLost(code, f"connection closed: {reason or code}"))
            if not self.reconnect or code == SERVER_DISCONNECT:
                self._give_up(ConnectionLost(code, f"connection closed: {reason or code}"))
                return
            # 4001: the token expired; a fresh one is fetched at once, no reason to wait.
            # Otherwise the first attempt waits too, so that the clients of a restarting
            # Shield do not all come back in the same millisecond.
            delay_first = code != TOKEN_EXPIRED

    def _give_up(self, error):
        self._fatal = error
        self._fail_pending(error)
        for room in list(self._rooms.values()):
            room._close(error)
        self._set_state("disconnected")
        self._connected.set()   # wakes waiters, who then see _fatal

    async def _session(self, conn, welcome, token, obtained):
        """Runs one connection until it ends; returns its close (code, reason)."""
        self._conn = conn
        self.welcome = welcome
        self.token = token
        self._emit("welcome", welcome)
        loop = asyncio.get_running_loop()
        reader = loop.create_task(self._read(conn))
        refresher = loop.create_task(self._refresh_loop(conn, token, obtained))
        setup = loop.create_task(self._rejoin(conn))
        code, reason = CONNECTION_LOST, "client stopped"
        try:
            code, reason = await asyncio.shield(reader)
        except asyncio.CancelledError:
            reader.cancel()
            raise
        finally:
            refresher.cancel()
            setup.cancel()
            self._lost(conn)
            if not self._closed:
                self._fail_pending(ConnectionLost(code, f"connection closed: {reason or code}"), conn)
                self._set_state("disconnected")
        return code, reason

    async def _rejoin(self, conn):
        rooms = [r for r in self._rooms.values() if r._was_joined]

        async def one(room):
            pause = 0.1
            while self._conn is conn:
                try:
                    await self._request(codec.command("join", room=room.name),
                                        "re-join " + room.name, conn=conn)
                except ConnectionLost:
                    return
                except Error as exc:
                    self._emit("error", exc)
                    if exc.code in _TRANSIENT_CODES:   # the spine or the Shield is busy: again
                        room._emit("error", exc)
                        await asyncio.sleep(pause)
                        pause = min(pause * 2, 2.0)
                        continue
                    # Refused for good (e.g. a narrower rooms claim): the room ends.
                    self._rooms.pop(room.name, None)
                    room._close(exc)
                    return
                room._rejoined()
                return

        await asyncio.gather(*(one(r) for r in rooms))
        if self._conn is conn:
            self._connected.set()
            self._set_state("connected")

    def _lost(self, conn):
        """The connection is gone: from now on nothing is sent on it (synchronous, so that
        no task sees a dead connection as current)."""
        if self._conn is conn:
            self._conn = None
        self._connected.clear()
        for room in self._rooms.values():
            room._disconnected()

    async def _read(self, conn):
        while True:
            try:
                frame = await conn.recv()
            except TransportClosed as exc:
                self._lost(conn)
                return exc.code, exc.reason
            except Exception as exc:   # a transport bug must not kill the client silently
                log.exception("arqonbus: transport receive failed")
                self._lost(conn)
                await conn.close(1011, "receive failed")
                return CONNECTION_LOST, str(exc)
            try:
                env = codec.decode(frame)
            except ValueError as exc:
                self._emit("error", Error(1007, str(exc)))
                continue
            self._dispatch(env)

    def _dispatch(self, env):
        if env.id:
            entry = self._pending.get(env.id)
            if entry is not None and not entry[0].done():
                entry[0].set_result(env)
            else:
                log.debug("arqonbus: reply %s came after its request ended", env.id)
            return
        kind = env.WhichOneof("payload")
        if kind == "signal":
            self._emit("error", Error(1008, f"system signal {env.signal.type}: {env.signal.reason}"))
            return
        if kind != "event":
            log.warning("arqonbus: frame without an event ignored: %s", kind)
            return
        etype = env.event.type
        if etype == "error":
            err = Error(*codec.error_payload(env.event.data))
            room = self._rooms.get(env.room_id)
            if room is not None:
                room._emit("error", err)
            self._emit("error", err)
            return
        if etype in ("pong", "welcome", "ack"):
            return
        room = self._rooms.get(env.room_id) if env.room_id else None
        if etype in ("presence.join", "presence.leave"):
            if room is not None:
                room._on_presence(codec.presence_of(env))
            return
        if room is not None:
            room._on_live(codec.message_of(env))
        elif not env.room_id:
            self._emit("message", codec.message_of(env))
        else:
            log.debug("arqonbus: message for room %s, not joined", env.room_id)

    # ---- token refresh ----

    async def _refresh_loop(self, conn, token, obtained):
        if isinstance(self._token_source, str):
            return   # nothing to fetch a new token from; the Shield closes with 4001 at exp
        last_attempt = 0.0
        while self._conn is conn or self._conn is None:
            exp = jwt_exp(token)
            if exp is None:
                return
            delay = refresh_delay(exp, time.time(), obtained, self.refresh_before_expiry)
            delay = max(delay, last_attempt + MIN_REFRESH_INTERVAL - time.monotonic())
            await asyncio.sleep(delay)
            await self._wait_connected(max(exp - time.time(), 1.0))
            last_attempt = time.monotonic()
            try:
                new = await fetch_token(self._token_source)
                got = time.time()
                data = json.dumps({"token": new}).encode()
                await self._request(codec.command("refresh", data=data), "refresh", conn=conn)
            except ConnectionLost:
                return
            except Error as exc:
                self._emit("error", exc)
                continue
            except Exception as exc:   # the application's token callable failed
                self._emit("error", Error(401, f"token refresh: {exc}"))
                continue
            token, obtained = new, got
            self.token = new
            self.refreshes += 1
            self._emit("refresh", jwt_exp(new))

    # ---- events ----

    def _set_state(self, state):
        if state == self.state:
            return
        self.state = state
        self._emit("state", state)

    def _emit(self, event, value):
        if event == "error" and not self._listeners["error"]:
            log.warning("arqonbus: %s", value)
        for cb in list(self._listeners[event]):
            call(cb, value)


__all__ = ["Client", "STATES"]
