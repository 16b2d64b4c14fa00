"""The Python SDK (sdk/python, package arqonbus) against the real stack: nats-server,
redis-server, arqon-brain and arqon-shield processes on free 127.0.0.1 ports.

- ShieldRestart: subscribers (one binary, one JSON) on Shield A keep receiving while A is
  SIGKILLed and restarted on the same port and publishers on Shield B go on publishing;
  each ends with every acknowledged message once, seqs consecutive.
- BrainFailover: the same while the Brain owning the room's partition is SIGKILLed (its
  last batch may be republished under the same seqs; the SDK drops the repeats).
- Tokens: a short-lived token refreshed before it expires (no 4001, no reconnect); a client
  that does not refresh is closed with 4001 and comes back at once with a fresh token.
- Errors: the server's codes reach the application.
- Rooms: presence events between SDK clients; a newcomer replaying 1 200 messages from
  seq 0 across history pages, then live ones.
- Examples: sdk/python/examples/publish.py and subscribe.py run as documented.
"""
import asyncio
import os
import subprocess
import sys
import time
import unittest

import arqonbus
from arqon_harness import NatsServer, RedisServer
from brain_support import Brain, partition_of
from shield_support import SECRET, Shield, make_token

FAST_SHIELD = ("[shield]\nconn_rate = 100000.0\nconn_burst = 100000\ntenant_rate = 1000000.0\n"
               "tenant_burst = 1000000\nheartbeat_interval_ms = 500\nrequest_timeout_ms = 3000\n")
BACKOFF = arqonbus.Backoff(initial=0.1, max=1.0, factor=2.0, jitter=0.5)


def ws_url(shield):
    return f"ws://127.0.0.1:{shield.port}/ws"


def sdk_client(shield, sub, encoding="binary", ttl=300, **kw):
    opts = dict(encoding=encoding, backoff=BACKOFF, request_timeout=10.0)
    opts.update(kw)
    return arqonbus.Client(ws_url(shield), token=lambda: make_token({"sub": sub}, ttl=ttl), **opts)


class Stack(unittest.IsolatedAsyncioTestCase):
    brains = 1
    shields = 1
    partitions = 4

    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.redis = RedisServer().start()
        cls.brain_procs = [Brain(cls.nats.url, cls.redis.url, partitions=cls.partitions).start()
                           for _ in range(cls.brains)]
        cls.shield_procs = [Shield(cls.nats.url, node_id=f"n{i + 1}", extra_toml=FAST_SHIELD).start()
                            for i in range(cls.shields)]
        cls.shield = cls.shield_procs[0]

    @classmethod
    def tearDownClass(cls):
        for s in cls.shield_procs:
            s.stop()
        for b in cls.brain_procs:
            b.stop()
        cls.redis.stop()
        cls.nats.stop()


async def collect(room, total, timeout):
    """Messages from `room` until seq `total`; a GapError fails the test (nothing may be
    missing)."""
    got = []
    deadline = time.monotonic() + timeout
    while not got or got[-1].seq < total:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"only {len(got)} messages, last seq "
                                 f"{got[-1].seq if got else None}, within {timeout}s")
        got.append(await room.next(timeout=left))
    return got


async def publish_all(rooms, total, on_count=None, pause=0.002):
    """Publishes messages 0..total-1 round robin from `rooms` (one per publisher), each
    publisher in order, each awaited until its ack; returns the acknowledged payloads."""
    acked = []
    count = [0]

    async def run(k, room):
        for n in range(k, total, len(rooms)):
            await room.publish("chat", b"%d" % n)
            acked.append(n)
            count[0] += 1
            if on_count:
                await on_count(count[0])
            await asyncio.sleep(pause)

    await asyncio.gather(*(run(k, r) for k, r in enumerate(rooms)))
    return acked


class ShieldRestart(Stack):
    shields = 2

    async def test_subscribers_survive_a_shield_sigkill_and_restart(self):
        a, b = self.shield_procs
        room_name = "sdk-restart"
        subs = [sdk_client(a, "sub-bin", "binary"), sdk_client(a, "sub-json", "json")]
        states = {0: [], 1: []}
        for i, c in enumerate(subs):
            c.on("state", states[i].append)
            await c.connect()
        sub_rooms = [await c.join(room_name) for c in subs]
        pubs = [sdk_client(b, f"pub{i}") for i in range(3)]
        for c in pubs:
            await c.connect()
        pub_rooms = [await c.join(room_name) for c in pubs]
        total, kill_at = 600, 150
        restarted = asyncio.get_running_loop().create_future()

        async def crash_and_restart():
            a.kill()
            await asyncio.sleep(0.5)      # publishing goes on meanwhile
            await asyncio.get_running_loop().run_in_executor(None, a.start)
            restarted.set_result(True)

        async def on_count(n):
            if n == kill_at:
                asyncio.get_running_loop().create_task(crash_and_restart())

        acked = await publish_all(pub_rooms, total, on_count)
        self.assertEqual(sorted(acked), list(range(total)), "Shield B acknowledged every message")
        await asyncio.wait_for(restarted, 30)
        for i, room in enumerate(sub_rooms):
            got = await collect(room, total, 60)
            self.assertEqual([m.seq for m in got], list(range(1, total + 1)),
                             "every seq once, in order, no gap")
            payloads = [int(m.data) for m in got]
            self.assertEqual(sorted(payloads), list(range(total)), "every message once")
            for k in range(3):   # each publisher's messages in its sending order
                mine = [n for n in payloads if n % 3 == k]
                self.assertEqual(mine, sorted(mine))
            self.assertEqual(list(room.gaps), [])
            self.assertGreaterEqual(subs[i].reconnects, 1, "the subscriber did reconnect")
            self.assertEqual(states[i][:2], ["connecting", "connected"])
            self.assertIn("disconnected", states[i][2:])
            self.assertEqual(states[i][-1], "connected")
            self.assertGreater(room.filled, 0, "what was missed came from history")
        self.assertEqual([int(m.data) for m in got], payloads)
        members = await sub_rooms[0].presence()
        self.assertIn(subs[0].conn_id, {m.conn_id for m in members})
        for c in subs + pubs:
            await c.close()


class BrainFailover(Stack):
    brains = 2

    async def test_subscriber_sees_each_message_once_across_a_brain_sigkill(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            owned = [b.metric("brain_partitions_owned") for b in self.brain_procs]
            if all(o and o >= 1 for o in owned) and sum(owned) == self.partitions:
                break
            await asyncio.sleep(0.1)
        room_name = "sdk-failover"
        p = partition_of("T1", room_name, self.partitions)
        owner = next(b for b in self.brain_procs if b.owns(p))
        sub = sdk_client(self.shield, "sub", gap_timeout=30.0)
        await sub.connect()
        room = await sub.join(room_name)
        pubs = [sdk_client(self.shield, f"pub{i}") for i in range(3)]
        for c in pubs:
            await c.connect()
        pub_rooms = [await c.join(room_name) for c in pubs]
        total, kill_at = 900, 300

        async def on_count(n):
            if n == kill_at:
                owner.kill()   # mid-stream: the partition moves after the lease TTL

        acked = await publish_all(pub_rooms, total, on_count, pause=0.001)
        self.assertEqual(len(acked), total)
        got = await collect(room, total, 60)
        self.assertEqual([m.seq for m in got], list(range(1, total + 1)))
        self.assertEqual(sorted(int(m.data) for m in got), list(range(total)))
        self.assertEqual(list(room.gaps), [])
        survivor = next(b for b in self.brain_procs if b is not owner)
        self.assertGreater(survivor.metric("brain_messages_sequenced_total"), 0)
        page = await room.history(since_seq=0, limit=1000)
        self.assertEqual([m.seq for m in page.messages], list(range(1, total + 1)))
        self.assertEqual([m.data for m in page.messages], [m.data for m in got])
        for c in [sub] + pubs:
            await c.close()


class Tokens(Stack):
    async def test_a_short_lived_token_is_refreshed_before_it_expires(self):
        ttl = 3
        refreshed = []
        c = sdk_client(self.shield, "short", ttl=ttl)
        c.on("refresh", refreshed.append)
        states = []
        c.on("state", states.append)
        await c.connect()
        first_exp = arqonbus.token.jwt_exp(c.token)
        room = await c.join("sdk-refresh")
        other = sdk_client(self.shield, "other")
        await other.connect()
        other_room = await other.join("sdk-refresh")
        # Past the first token's exp (+ the Shield's rounding up to the next second).
        await asyncio.sleep(max(0.0, first_exp + 1.5 - time.time()))
        await other_room.publish("chat", b"after-exp")
        m = await room.next(timeout=5)
        self.assertEqual(m.data, b"after-exp")
        self.assertGreaterEqual(c.refreshes, 1)
        self.assertGreater(refreshed[0], first_exp)
        self.assertEqual(c.reconnects, 0, "the connection outlived its first token")
        self.assertEqual(states, ["connecting", "connected"])
        _, metrics = self.shield.http("/metrics")
        self.assertIn("shield_tokens_expired_total 0", metrics)
        await c.close()
        await other.close()

    async def test_without_refresh_a_4001_close_reconnects_with_a_fresh_token(self):
        c = sdk_client(self.shield, "norefresh", ttl=2)

        async def no_refresh(*args):
            return None
        c._refresh_loop = no_refresh    # a client that never refreshes
        errors = []
        c.on("error", errors.append)
        await c.connect()
        room = await c.join("sdk-4001")
        first = c.token
        deadline = time.monotonic() + 10
        while not any(e.code == 4001 for e in errors) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.assertTrue(any(e.code == 4001 for e in errors), "closed with 4001 at exp")
        while c.state != "connected" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.assertNotEqual(c.token, first)
        await room.publish("chat", b"back")
        self.assertEqual((await room.next(timeout=5)).data, b"back")
        await c.close()


class Errors(Stack):
    async def test_server_errors_reach_the_application_with_their_codes(self):
        c = arqonbus.Client(ws_url(self.shield), encoding="json", request_timeout=5,
                            token=make_token({"sub": "limited", "rooms": ["ok-*"]}))
        await c.connect()
        with self.assertRaises(arqonbus.Error) as cm:
            await c.join("forbidden")
        self.assertEqual(cm.exception.code, 403)
        room = await c.join("ok-1")
        with self.assertRaises(arqonbus.Error) as cm:
            await room.publish("presence.join", b"x")
        self.assertEqual(cm.exception.code, 400)
        await c.close()
        bad = arqonbus.Client(ws_url(self.shield), token=make_token({"sub": "x"}, ttl=-10))
        with self.assertRaises(arqonbus.Error) as cm:
            await bad.connect()
        self.assertEqual(cm.exception.code, 401)
        await bad.close()


class Rooms(Stack):
    async def test_presence_events_and_a_replay_across_history_pages(self):
        a = sdk_client(self.shield, "ann")
        b = sdk_client(self.shield, "ben", encoding="json")
        await a.connect()
        await b.connect()
        room_a = await a.join("sdk-rooms")
        seen = []
        room_a.on("presence", seen.append)
        room_b = await b.join("sdk-rooms")
        deadline = time.monotonic() + 5
        while not any(p.kind == "join" and p.user == "ben" for p in seen) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        joined = [p for p in seen if p.kind == "join" and p.user == "ben"]
        self.assertEqual([p.conn_id for p in joined], [b.conn_id])
        self.assertEqual({m.user for m in await room_a.presence()}, {"ann", "ben"})
        total = 1200
        await publish_all([room_b] * 4, total, pause=0)
        await room_b.leave()
        while not any(p.kind == "leave" and p.user == "ben" for p in seen) and time.monotonic() < deadline + 10:
            await asyncio.sleep(0.02)
        self.assertTrue(any(p.kind == "leave" and p.conn_id == b.conn_id for p in seen))
        # A newcomer replays the room from the start, 500 per history page, then live ones.
        c = sdk_client(self.shield, "cid", history_page=500)
        await c.connect()
        room_c = await c.join("sdk-rooms", since_seq=0)
        await room_a.publish("chat", b"live")
        got = await collect(room_c, total + 1, 30)
        self.assertEqual([m.seq for m in got], list(range(1, total + 2)))
        self.assertEqual(got[-1].data, b"live")
        self.assertGreaterEqual(room_c.filled, total)
        for cl in (a, b, c):
            await cl.close()


class Examples(Stack):
    def test_publish_and_subscribe_examples(self):
        examples = os.path.join(os.path.dirname(arqonbus.__file__), "..", "examples")
        env = dict(os.environ, ARQON_URL=ws_url(self.shield), ARQON_TENANT="T1",
                   ARQON_JWT_SECRET=SECRET, ARQ=os.path.join(os.environ.get("ARQ_BIN_DIR", "build/bin"), "arq"))
        pub = subprocess.run([sys.executable, os.path.join(examples, "publish.py"), "ex-room",
                              "one", "two"], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(pub.returncode, 0, pub.stderr)
        self.assertEqual(pub.stdout.splitlines(), ["sent 'one' as seq 1", "sent 'two' as seq 2"])
        sub = subprocess.run([sys.executable, os.path.join(examples, "subscribe.py"), "ex-room",
                              "--since", "0", "--count", "2", "--encoding", "json"],
                             env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(sub.returncode, 0, sub.stderr)
        lines = [l for l in sub.stdout.splitlines() if not l.startswith("#")]
        self.assertEqual(lines, ["1 publisher chat one", "2 publisher chat two"])


if __name__ == "__main__":
    unittest.main()
