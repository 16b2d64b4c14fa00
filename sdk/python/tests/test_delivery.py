"""Rooms: duplicates dropped, gaps filled from history before newer messages, gaps history
cannot fill reported, the queue bound, presence and listeners. Against the fake Shield."""
import asyncio
import unittest

import arqonbus
from fake_shield import FakeServer

FAST = arqonbus.Backoff(initial=0.01, max=0.05, jitter=0.0)


def client(server, **kw):
    opts = dict(backoff=FAST, request_timeout=2.0, settle_delay=0.05, gap_timeout=0.5)
    opts.update(kw)
    return arqonbus.Client("ws://fake/ws", token="t", transport=server.open, **opts)


async def take(room, n, timeout=3.0):
    return [await room.next(timeout=timeout) for _ in range(n)]


class Delivery(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.server = FakeServer()
        self.client = client(self.server)
        await self.client.connect()

    async def asyncTearDown(self):
        await self.client.close()

    async def test_starts_after_the_latest_seq_at_join(self):
        for i in range(3):
            self.server.publish("r", b"old%d" % i)
        room = await self.client.join("r")
        self.assertEqual(room.last_seq, 3)
        self.server.publish("r", b"new")
        m = await room.next(timeout=2)
        self.assertEqual((m.seq, m.data, m.room, m.sender), (4, b"new", "r", "bob"))

    async def test_since_seq_replays_history_first(self):
        for i in range(5):
            self.server.publish("r", b"%d" % i)
        room = await self.client.join("r", since_seq=2)
        self.server.publish("r", b"5")
        got = await take(room, 4)
        self.assertEqual([m.seq for m in got], [3, 4, 5, 6])
        self.assertEqual([m.data for m in got], [b"2", b"3", b"4", b"5"])

    async def test_duplicates_are_dropped(self):
        room = await self.client.join("r")
        self.server.publish("r", b"a")
        self.server.publish("r", b"b")
        self.server.redeliver("r", 1)   # a Brain's republish after a takeover
        self.server.redeliver("r", 2)
        self.server.publish("r", b"c")
        got = await take(room, 3)
        self.assertEqual([m.seq for m in got], [1, 2, 3])
        with self.assertRaises(arqonbus.TimeoutError):
            await room.next(timeout=0.2)
        self.assertEqual(room.duplicates, 2)

    async def test_a_gap_is_filled_from_history_before_newer_messages(self):
        room = await self.client.join("r")
        self.server.publish("r", b"1")
        self.server.publish("r", b"2", live=False)   # lost on the way
        self.server.publish("r", b"3", live=False)
        self.server.publish("r", b"4")
        got = await take(room, 4)
        self.assertEqual([m.seq for m in got], [1, 2, 3, 4])
        self.assertEqual([m.data for m in got], [b"1", b"2", b"3", b"4"])
        self.assertGreaterEqual(room.filled, 2, "2 and 3 came from history")

    async def test_history_is_paged(self):
        self.client.history_page = 3
        room = await self.client.join("r")
        self.server.publish("r", b"x")
        for i in range(10):
            self.server.publish("r", b"%d" % i, live=False)
        self.server.publish("r", b"y")
        got = await take(room, 12)
        self.assertEqual([m.seq for m in got], list(range(1, 13)))
        sinces = [c[1] for c in self.server.history_calls if c[1] < 100]
        steps = [b - a for a, b in zip(sinces, sinces[1:]) if b != a]
        self.assertEqual(steps[:3], [3, 3, 3], f"pages of 3 from {sinces}")
        self.assertTrue(all(c[2] <= 3 for c in self.server.history_calls))

    async def test_a_gap_history_no_longer_holds_is_reported(self):
        room = await self.client.join("r")
        self.server.publish("r", b"1")
        for i in range(2, 6):
            self.server.publish("r", b"%d" % i, live=False)
        self.server.history_floor["r"] = 4           # 2 and 3 are past retention
        self.server.publish("r", b"6")
        gaps = []
        room.on("gap", gaps.append)
        self.assertEqual((await room.next(timeout=2)).seq, 1)
        with self.assertRaises(arqonbus.GapError) as cm:
            await room.next(timeout=2)
        self.assertEqual(cm.exception.gap, arqonbus.Gap("r", 2, 3))
        self.assertEqual(cm.exception.code, 410)
        self.assertEqual(gaps, [arqonbus.Gap("r", 2, 3)])
        self.assertEqual([m.seq for m in await take(room, 3)], [4, 5, 6])

    async def test_gaps_yield_mode_returns_the_record(self):
        room = await self.client.join("r", gaps="yield")
        self.server.publish("r", b"1", live=False)
        self.server.history_floor["r"] = 2
        self.server.publish("r", b"2")
        self.assertEqual(await room.next(timeout=2), arqonbus.Gap("r", 1, 1))
        self.assertEqual((await room.next(timeout=2)).seq, 2)

    async def test_a_gap_history_never_produces_is_reported_after_gap_timeout(self):
        room = await self.client.join("r")
        self.server.publish("r", b"1")
        self.server.publish("r", b"2", live=False)
        self.server.latest_lag = 2   # history answers nothing beyond seq 1
        loop = asyncio.get_running_loop()
        self.server.publish("r", b"3")
        t0 = loop.time()
        self.assertEqual((await room.next(timeout=2)).seq, 1)
        with self.assertRaises(arqonbus.GapError) as cm:
            await room.next(timeout=3)
        self.assertGreaterEqual(loop.time() - t0, self.client.gap_timeout * 0.9)
        self.assertEqual(cm.exception.gap, arqonbus.Gap("r", 2, 2))
        self.assertEqual((await room.next(timeout=2)).seq, 3)

    async def test_a_lagging_history_fills_once_it_catches_up(self):
        self.client.gap_timeout = 5.0
        room = await self.client.join("r")
        self.server.publish("r", b"1", live=False)
        self.server.latest_lag = 2
        self.server.publish("r", b"2")
        await asyncio.sleep(0.3)
        self.assertEqual(room.queued, 0, "nothing handed on before seq 1")
        self.server.latest_lag = 0
        self.assertEqual([m.seq for m in await take(room, 2)], [1, 2])

    async def test_history_errors_are_reported_and_retried_not_taken_for_gaps(self):
        room = await self.client.join("r")
        errors = []
        room.on("error", errors.append)
        self.server.errors["history"] = (503, "no Brain")
        self.server.publish("r", b"1", live=False)
        self.server.publish("r", b"2")
        await asyncio.sleep(self.client.gap_timeout + 0.3)
        self.assertEqual(room.queued, 0)
        self.assertTrue(errors and all(e.code == 503 for e in errors))
        del self.server.errors["history"]
        self.assertEqual([m.seq for m in await take(room, 2, timeout=5)], [1, 2])
        self.assertEqual(list(room.gaps), [])

    async def test_the_queue_is_bounded_and_a_slow_reader_loses_nothing(self):
        self.client.max_queue = 5
        room = await self.client.join("r")
        for i in range(40):
            self.server.publish("r", b"%d" % i)
        await asyncio.sleep(0.1)
        self.assertEqual(room.queued, 5)
        self.assertLessEqual(len(room._pending), 5)
        self.assertGreater(room.discarded, 0)
        got = await take(room, 40)
        self.assertEqual([m.seq for m in got], list(range(1, 41)))
        self.assertEqual([m.data for m in got], [b"%d" % i for i in range(40)])
        self.assertGreater(room.filled, 0, "what did not fit came from history")

    async def test_listeners_receive_in_order_instead_of_the_queue(self):
        room = await self.client.join("r")
        got = []
        room.on("message", got.append)
        self.server.publish("r", b"1")
        self.server.publish("r", b"2", live=False)
        self.server.publish("r", b"3")
        for _ in range(100):
            if len(got) == 3:
                break
            await asyncio.sleep(0.01)
        self.assertEqual([m.seq for m in got], [1, 2, 3])
        with self.assertRaises(RuntimeError):
            await room.next(timeout=0.1)

    async def test_presence_events_and_members(self):
        room = await self.client.join("r")
        events = []
        room.on("presence", events.append)
        self.server.presence_event("r", "join", "carol", "c9")
        self.server.presence_event("r", "leave", "carol", "c9")
        for _ in range(100):
            if len(events) == 2:
                break
            await asyncio.sleep(0.01)
        self.assertEqual([(p.kind, p.user, p.conn_id, p.room) for p in events],
                         [("join", "carol", "c9", "r"), ("leave", "carol", "c9", "r")])
        members = await room.presence()
        self.assertEqual([(m.user, m.conn_id) for m in members], [("u", self.server.conn.conn_id)])
        with self.assertRaises(arqonbus.TimeoutError):
            await room.next(timeout=0.1)   # presence events are not room messages

    async def test_publish_returns_the_trace_id_its_delivery_carries(self):
        room = await self.client.join("r")
        trace = await room.publish("chat", "héllo", headers={"k": "v"})
        m = await room.next(timeout=2)
        self.assertEqual((m.trace_id, m.data, m.type, m.headers), (trace, "héllo".encode(), "chat", {"k": "v"}))
        self.assertRegex(trace, "^[0-9a-f]{32}$")

    async def test_leave_ends_iteration_after_the_queue(self):
        room = await self.client.join("r")
        self.server.publish("r", b"1")
        await asyncio.sleep(0.05)
        await room.leave()
        self.assertNotIn(room, self.server.members["r"])
        got = [m.seq async for m in room]
        self.assertEqual(got, [1])
        self.server.publish("r", b"2", to=[self.server.conn])
        with self.assertRaises(arqonbus.ClosedError):
            await room.next(timeout=0.1)


class Encodings(unittest.IsolatedAsyncioTestCase):
    async def test_json_and_binary(self):
        for enc in ("json", "binary"):
            server = FakeServer()
            async with client(server, encoding=enc) as c:
                self.assertIn(f"encoding={enc}", server.conn.url)
                room = await c.join("r")
                await room.publish("chat", b"\x00\xff")
                m = await room.next(timeout=2)
                self.assertEqual((m.data, m.seq), (b"\x00\xff", 1))
                sent = [e for e in server.conn.sent if e.WhichOneof("payload") == "event"]
                self.assertEqual([e.event.data for e in sent], [b"\x00\xff"])


if __name__ == "__main__":
    unittest.main()
