"""A joined room: exactly-once, in-seq-order delivery on top of an at-most-once stream.

DESIGN

The Brain numbers a room's messages 1, 2, 3, ... (docs/brain.md). Live delivery from the
Shield is at most once (a reconnect, a Shield restart, a slow consumer lose messages) and,
after a Brain crash, at least once (a batch republished under the same seqs). The room
keeps `last`, the seq of the last message it handed on, and:

- drops a message whose seq is <= `last` (a duplicate);
- hands on a message whose seq is `last + 1` at once;
- holds a message beyond `last + 1` in `pending` and starts the filler, which asks
  `history` for `since_seq = last` (page after page, `next_seq`/`latest_seq`) and hands on
  what it returns in order, then whatever `pending` holds that follows on. Messages are
  handed on only when their predecessor has been;
- after every (re)join the filler asks `history` once more even when nothing looks missing
  (messages published while the connection was down have no live copy), and once again
  `settle_delay` seconds later (a message the Brain had published but not yet committed
  when the first answer was read);
- a seq history does not hold any more (retention; the page starts later) or does not
  produce within `gap_timeout` becomes a `Gap` record, handed on in its place: reported,
  never skipped silently.

Bounds. `queue` (handed on, not yet taken by the application) holds at most `max_queue`
items, `pending` at most `max_queue` messages (seqs up to `last + max_queue`). A message
that fits in neither is discarded and `max_seen` remembers it exists: once the application
has taken messages, the filler fetches it from history. A slow reader thus costs bounded
memory and loses nothing the history still holds; other rooms are not held up.

A room whose application registered "message" listeners hands messages to them instead of
the queue (push mode); the same order and gap rules apply.
"""
import asyncio
import collections
import json
import logging
import secrets

from . import codec
from ._listeners import call
from .errors import ClosedError, ConnectionLost, Error, GapError
from .errors import TimeoutError as RequestTimeout
from .types import Gap, HistoryPage, Message, member_of

log = logging.getLogger("arqonbus")

# since_seq for "tell me only latest_seq": above any seq, exact in a JSON double.
_PROBE_SEQ = 1 << 53


class Room:
    def __init__(self, client, name, since_seq, gaps):
        self._client = client
        self.name = name
        self.last_seq = since_seq    # None until the first join has set the starting point
        self._gaps = gaps
        self._max_seen = 0
        self._pending = {}
        self._queue = collections.deque()
        self._wakeup = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._joined = asyncio.Event()
        self._was_joined = False
        self._resync = False
        self._settle_at = None
        self._filler = None
        self._error = None
        self._listeners = {"message": [], "presence": [], "gap": [], "error": []}
        # counters (tests and metrics)
        self.duplicates = 0
        self.discarded = 0
        self.filled = 0
        self.gaps = collections.deque(maxlen=1000)   # the latest gaps reported

    def __repr__(self):
        return f"<arqonbus.Room {self.name!r} last_seq={self.last_seq}>"

    # ---- public API ----

    def on(self, event, callback):
        """"message" (each `Message`, in seq order; the room then does not queue),
        "presence" (`Presence`), "gap" (`Gap`), "error" (`Error` about this room)."""
        if event not in self._listeners:
            raise ValueError(f"unknown event {event!r}; one of {sorted(self._listeners)}")
        self._listeners[event].append(callback)
        if event == "message":
            self._flush_queue_to_listeners()
        return callback

    def off(self, event, callback):
        self._listeners[event].remove(callback)

    async def publish(self, type, data=b"", *, headers=None, trace_id=None, timeout=None):
        """Publishes an event of `type` (any type but the server's own: ack, error, welcome,
        pong, history, presence.*) with `data` (bytes, or str sent as UTF-8). Returns after
        the Shield's ack with the message's trace id (`trace_id` if given: 32 lowercase hex
        digits, else a fresh one), which its delivery carries too."""
        if isinstance(data, str):
            data = data.encode()
        trace_id = trace_id or secrets.token_hex(16)
        env = codec.event(type, self.name, bytes(data), trace_id=trace_id, headers=headers)
        await self._client._request(env, f"publish to {self.name}", timeout=timeout,
                                    wait=self._wait_joined)
        return trace_id

    async def next(self, timeout=None):
        """The next message in seq order; waits at most `timeout` seconds (None: forever),
        then raises `arqonbus.TimeoutError`. Where messages are missing, raises `GapError`
        (or returns the `Gap`, if joined with gaps="yield"). Raises `ClosedError` (or the
        error that ended the room) once the room is left or the client closed and the
        queue is empty."""
        if self._listeners["message"]:
            raise RuntimeError("this room hands its messages to its 'message' listeners")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._queue:
            if self._error is not None:
                raise self._error
            self._wakeup.clear()
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise RequestTimeout(f"no message in room {self.name!r} within {timeout:g}s")
            try:
                await asyncio.wait_for(self._wakeup.wait(), left)
            except asyncio.TimeoutError:
                pass
        item = self._queue.popleft()
        self._took()
        if isinstance(item, Gap) and self._gaps == "raise":
            raise GapError(item)
        return item

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.next()
        except ClosedError:
            raise StopAsyncIteration from None

    async def presence(self, timeout=None):
        """The room's members: a list of `Member`."""
        reply = await self._client._request(codec.command("presence", room=self.name),
                                            f"presence of {self.name}", timeout=timeout,
                                            wait=self._wait_joined)
        try:
            members = json.loads(bytes(reply.event.data))
        except ValueError:
            raise Error(502, "presence.state is not JSON") from None
        return [m for m in map(member_of, members if isinstance(members, list) else []) if m]

    async def history(self, since_seq=0, limit=100, timeout=None):
        """One page of the room's messages with seq > `since_seq` (at most `limit`, 1..1000):
        a `HistoryPage`. Does not change what the room delivers."""
        return await self._history(since_seq, limit, timeout)

    async def leave(self, timeout=None):
        """Leaves the room: no more messages are queued; those already queued can still be
        taken, then iteration ends."""
        if self._client._rooms.get(self.name) is self:
            del self._client._rooms[self.name]
        self._close(ClosedError(f"left room {self.name!r}"))
        await self._client._request(codec.command("leave", room=self.name),
                                    f"leave {self.name}", timeout=timeout)

    @property
    def queued(self):
        return len(self._queue)

    # ---- requests ----

    async def _wait_joined(self, timeout):
        if self._error is not None:
            raise self._error
        if self._joined.is_set():
            return
        try:
            await asyncio.wait_for(self._joined.wait(), timeout)
        except asyncio.TimeoutError:
            raise RequestTimeout(f"room {self.name!r} not joined within {timeout:g}s") from None
        if self._error is not None:
            raise self._error

    async def _history(self, since_seq, limit, timeout=None):
        data = json.dumps({"since_seq": int(since_seq), "limit": int(limit)}).encode()
        reply = await self._client._request(codec.command("history", room=self.name, data=data),
                                            f"history of {self.name}", timeout=timeout,
                                            wait=self._wait_joined)
        try:
            obj = json.loads(bytes(reply.event.data))
            messages = [codec.message_of(codec.from_dict(m), self.name)
                        for m in obj.get("messages", [])]
            return HistoryPage(messages, int(obj.get("next_seq", since_seq)),
                               int(obj.get("latest_seq", 0)), int(obj.get("omitted", 0)))
        except (ValueError, TypeError, AttributeError) as exc:
            raise Error(502, f"history reply not understood: {exc}") from None

    # ---- joins and connections (called by the client) ----

    async def _joined_first(self):
        """After the first join's ack: the starting point, when the application gave none,
        is the room's latest seq now; later messages are delivered."""
        if self.last_seq is None:
            page = await self._client._request(
                codec.command("history", room=self.name,
                              data=json.dumps({"since_seq": _PROBE_SEQ, "limit": 1}).encode()),
                f"join {self.name}")
            latest = int(json.loads(bytes(page.event.data)).get("latest_seq", 0))
            self.last_seq = latest
            for s in [s for s in self._pending if s <= latest]:
                del self._pending[s]
        self._was_joined = True
        self._joined.set()
        self._resync = True
        self._settle_at = asyncio.get_running_loop().time() + self._client.settle_delay
        self._drain_pending()
        self._ensure_filler()

    def _rejoined(self):
        if self._error is not None:
            return
        self._joined.set()
        self._resync = True
        self._settle_at = asyncio.get_running_loop().time() + self._client.settle_delay
        self._ensure_filler()

    def _disconnected(self):
        self._joined.clear()

    def _close(self, error):
        if self._error is None:
            self._error = error
        self._joined.set()   # wakes requests waiting for the join; they see the error
        self._pending.clear()
        if self._filler is not None:
            self._filler.cancel()
            self._filler = None
        self._wakeup.set()
        self._space.set()
        if not isinstance(error, ClosedError):
            self._emit("error", error)

    # ---- delivery ----

    def _on_live(self, msg):
        if self._error is not None:
            return
        seq = msg.seq
        if seq == 0:                 # not sequenced (a backend's message): as it comes
            self._hand_on(msg)
            return
        if self.last_seq is None:    # the first join's starting point is not known yet
            if len(self._pending) < self._client.max_queue:
                self._pending[seq] = msg
            return
        if seq <= self.last_seq:
            self.duplicates += 1
            return
        if seq > self._max_seen:
            self._max_seen = seq
        if seq == self.last_seq + 1 and self._has_room():
            self._hand_on(msg)
            self.last_seq = seq
            self._drain_pending()
        elif seq - self.last_seq <= self._client.max_queue:
            self._pending[seq] = msg
        else:
            self.discarded += 1
        if self._behind():
            self._ensure_filler()

    def _on_presence(self, p):
        if self._error is None:
            self._emit("presence", p)

    def _behind(self):
        return self.last_seq is not None and (self._pending or self._max_seen > self.last_seq)

    def _has_room(self):
        return bool(self._listeners["message"]) or len(self._queue) < self._client.max_queue

    def _hand_on(self, item):
        if isinstance(item, Gap):
            self.gaps.append(item)
            if not self._listeners["gap"] and self._listeners["message"]:
                log.warning("arqonbus: room %s: seqs %d..%d are missing", self.name,
                            item.from_seq, item.to_seq)
            self._emit("gap", item)
        if self._listeners["message"]:
            if isinstance(item, Message):
                self._emit("message", item)
            return
        self._queue.append(item)
        if len(self._queue) >= self._client.max_queue:
            self._space.clear()
        self._wakeup.set()

    def _drain_pending(self):
        while self._pending and self._has_room():
            msg = self._pending.pop(self.last_seq + 1, None)
            if msg is None:
                break
            self._hand_on(msg)
            self.last_seq = msg.seq
        for s in [s for s in self._pending if s <= self.last_seq]:
            del self._pending[s]

    def _took(self):
        self._drain_pending()
        if len(self._queue) < self._client.max_queue:
            self._space.set()

    def _flush_queue_to_listeners(self):
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, Message):
                self._emit("message", item)
        self._space.set()
        self._drain_pending()

    def _gap(self, from_seq, to_seq):
        self._hand_on(Gap(self.name, from_seq, to_seq))
        self.last_seq = to_seq

    def _ensure_filler(self):
        if self._filler is None and self._error is None:
            self._filler = asyncio.get_running_loop().create_task(self._fill())
            self._filler.add_done_callback(self._filler_done)

    def _filler_done(self, task):
        if self._filler is task:
            self._filler = None
        if not task.cancelled() and task.exception() is not None:
            log.error("arqonbus: room %s: filler failed", self.name, exc_info=task.exception())
            self._close(Error(500, f"room {self.name}: delivery failed: {task.exception()!r}"))
        elif self._error is None and (self._behind() or self._resync):
            self._ensure_filler()

    async def _fill(self):
        loop = asyncio.get_running_loop()
        client = self._client
        stuck_since = None
        retry = 0.05
        while self._error is None:
            self._drain_pending()
            if not self._behind() and not self._resync:
                if self._settle_at is None:
                    return
                left = self._settle_at - loop.time()
                if left > 0:
                    await asyncio.sleep(left)
                self._settle_at = None
                self._resync = True
                continue
            if not self._has_room():
                await self._space.wait()
                continue
            if not self._joined.is_set():
                await self._joined.wait()
                stuck_since = None
                continue
            limit = client.history_page
            if not self._listeners["message"]:
                limit = max(1, min(limit, client.max_queue - len(self._queue)))
            since = self.last_seq
            try:
                page = await self._history(since, limit)
            except (ConnectionLost, ClosedError):
                # The next connection re-joins and asks again; until the client has seen
                # the connection go, do not spin on it.
                await asyncio.sleep(0.05)
                continue
            except Error as exc:
                # The history is there but cannot be read now (no Brain answering, a Brain
                # failing over): reported, retried, never taken for a gap.
                self._emit("error", exc)
                await asyncio.sleep(retry)
                retry = min(retry * 2, 2.0)
                continue
            if self._error is not None:
                return
            self._resync = False
            progress = False
            self._max_seen = max(self._max_seen, page.latest_seq)
            for m in page.messages:
                if m.seq <= self.last_seq:
                    continue
                if m.seq > self.last_seq + 1:
                    self._gap(self.last_seq + 1, m.seq - 1)
                self._hand_on(m)
                self.last_seq = m.seq
                self.filled += 1
                progress = True
            if page.omitted and page.next_seq > self.last_seq:
                self._gap(self.last_seq + 1, page.next_seq)
                progress = True
            self._drain_pending()
            if progress or self.last_seq != since:
                stuck_since = None
                retry = 0.05
                continue
            if not self._behind():
                continue
            now = loop.time()
            if stuck_since is None:
                stuck_since = now
            if now - stuck_since >= client.gap_timeout:
                to = (min(self._pending) - 1) if self._pending else self._max_seen
                log.warning("arqonbus: room %s: seqs %d..%d not in history after %gs",
                            self.name, self.last_seq + 1, to, client.gap_timeout)
                self._gap(self.last_seq + 1, to)
                self._drain_pending()
                stuck_since = None
                continue
            await asyncio.sleep(retry)
            retry = min(retry * 2, 1.0)

    def _emit(self, event, value):
        for cb in list(self._listeners[event]):
            call(cb, value)
