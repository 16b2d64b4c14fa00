"""The JavaScript SDK (sdk/js) against the real stack: nats-server, redis-server, arqon-brain
and arqon-shield processes from the harness; the SDK runs in node
(sdk/js/test/integration/subscriber.mjs, with the ws package from sdk/js/node_modules),
other clients are independent Python ones (websockets, JSON envelopes).

- ShieldRestart: the SDK's Shield is SIGKILLed and restarted on the same port while two
  clients on another Shield keep publishing; the SDK ends with every message once, seqs
  1..N consecutive, in each sender's order, without a gap event, after a reconnect.
- BrainFailover: two Brains; the one owning the room's partition is SIGKILLed mid-stream
  (its last batch is published again by the next owner); same end state (JSON encoding).
- TokenRefresh: 3-second tokens, no leeway: the connection lives on through `refresh`
  commands, never closed with 4001.
"""
import asyncio
import json
import os
import time
import unittest

import websockets

from arqon_harness import NatsServer, RedisServer
from brain_support import Brain, partition_of
from shield_support import SECRET, Shield, event_json, cmd_json, make_token, parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "sdk", "js", "test", "integration", "subscriber.mjs")
NODE = os.environ.get("ARQ_NODE", "node")
FAST_SHIELD = ("[shield]\nconn_rate = 100000.0\nconn_burst = 100000\ntenant_rate = 1000000.0\n"
               "tenant_burst = 1000000\nheartbeat_interval_ms = 500\nrequest_timeout_ms = 3000\n")


class Subscriber:
    """The SDK client in node; its stdout is one JSON object per line."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self.ready = asyncio.Event()
        self.task = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, shield, room, **extra):
        env = dict(os.environ, ARQ_URL=shield.url(), ARQ_SECRET=SECRET, ARQ_ROOM=room,
                   ARQ_SUB="sdk", ARQ_DEADLINE_MS="90000")
        env.update({k: str(v) for k, v in extra.items()})
        # Sanitizer settings meant for the project's binaries are no business of node's.
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            env.pop(k, None)
        proc = await asyncio.create_subprocess_exec(NODE, SCRIPT, env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        sub = cls(proc)
        try:
            await asyncio.wait_for(sub.ready.wait(), 30)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError("the SDK client did not get ready:\n" + sub.transcript())
        return sub

    async def _read(self):
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            try:
                obj = json.loads(line)
            except ValueError:
                obj = {"ev": "text", "text": line}
            self.lines.append(obj)
            if obj.get("ev") in ("ready", "fatal"):
                self.ready.set()

    def transcript(self, n=60):
        return "\n".join(json.dumps(o)[:400] for o in self.lines[-n:])

    def first(self, ev):
        return next((o for o in self.lines if o.get("ev") == ev), None)

    async def result(self, timeout=90):
        try:
            rc = await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError("the SDK client did not finish:\n" + self.transcript())
        await self.task
        done = self.first("done")
        if rc != 0 or done is None:
            raise AssertionError(f"the SDK client exited {rc}:\n" + self.transcript())
        return done

    def kill(self):
        if self.proc.returncode is None:
            self.proc.kill()


class Sender:
    """An independent publisher: Python websockets, JSON envelopes, one ack per id."""

    def __init__(self, ws):
        self.ws = ws
        self.replies = {}
        self.got = asyncio.Condition()
        self.task = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, shield, sub, room):
        ws = await websockets.connect(shield.url(make_token({"sub": sub})), max_size=None)
        assert parse(await asyncio.wait_for(ws.recv(), 5)).event.type == "welcome"
        s = cls(ws)
        await ws.send(cmd_json("join", room, id_="join"))
        assert (await s.reply("join")).event.type == "ack"
        return s

    async def _read(self):
        try:
            async for frame in self.ws:
                e = parse(frame)
                if e.id:
                    async with self.got:
                        self.replies[e.id] = e
                        self.got.notify_all()
        except websockets.exceptions.ConnectionClosed:
            pass

    async def reply(self, id_, timeout=20):
        async with self.got:
            await asyncio.wait_for(self.got.wait_for(lambda: id_ in self.replies), timeout)
            return self.replies[id_]

    async def close(self):
        await self.ws.close()
        self.task.cancel()


class SdkCase(unittest.IsolatedAsyncioTestCase):
    def check_delivery(self, done, expected, first_seq=1):
        """Every expected payload exactly once, seqs consecutive, each sender's order kept."""
        got = done["messages"]
        seqs = [m[0] for m in got]
        self.assertEqual(seqs, list(range(first_seq, first_seq + len(expected))),
                         "seqs consecutive, each once")
        payloads = [m[1] for m in got]
        self.assertEqual(sorted(payloads), sorted(expected), "every message once")
        for prefix in {p.split("-")[0] for p in expected}:
            mine = [int(p.split("-")[1]) for p in payloads if p.split("-")[0] == prefix]
            self.assertEqual(mine, sorted(mine), f"{prefix}'s messages in sending order")
        self.assertEqual(done["gaps"], [], "no gap reported")


async def send_all(senders, room, total, pace, at=None):
    """Sender k sends p<k>-<n> for n = k, k + len, ...; at[n]() runs when message n is sent.
    Returns the payloads acknowledged."""
    at = at or {}
    acked = []
    refused = []

    async def run(k, s):
        ids = []
        for n in range(k, total, len(senders)):
            ids.append(n)
            await s.ws.send(event_json(room, "chat.message", b"p%d-%d" % (k, n), id_=f"x{n}"))
            if n in at:
                await at[n]()
            await asyncio.sleep(pace)
        for n in ids:
            r = await s.reply(f"x{n}")
            if r.event.type == "ack":
                acked.append(f"p{k}-{n}")
            else:
                refused.append((n, r.event.type, r.event.data[:200]))

    await asyncio.gather(*(run(k, s) for k, s in enumerate(senders)))
    if refused:
        print(f"\n{len(refused)} refused, first ones: {refused[:5]}")
    return acked


class ShieldRestart(SdkCase):
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.redis = RedisServer().start()
        cls.brain = Brain(cls.nats.url, cls.redis.url).start()
        cls.shield_a = Shield(cls.nats.url, node_id="n1", extra_toml=FAST_SHIELD).start()
        cls.shield_b = Shield(cls.nats.url, node_id="n2", extra_toml=FAST_SHIELD).start()

    @classmethod
    def tearDownClass(cls):
        cls.shield_a.stop()
        cls.shield_b.stop()
        cls.brain.stop()
        cls.redis.stop()
        cls.nats.stop()

    async def test_sigkill_and_restart_of_the_sdks_shield(self):
        room, own, total = "restart", 5, 900
        sub = await Subscriber.start(self.shield_a, room, ARQ_OWN=own, ARQ_EXPECT=own + total,
                                     ARQ_ENCODING="binary")
        self.addCleanup(sub.kill)
        checks = sub.first("checks")
        # The SDK's own publishes, presence and history work against the real servers.
        self.assertEqual(len(checks["own"]), own)
        self.assertEqual([m["user"] for m in checks["members"]], ["sdk"])
        self.assertEqual(checks["history"], [[1, "sdk-0", checks["own"][0]], [2, "sdk-1", checks["own"][1]]])
        self.assertIn(checks["latestSeq"], range(2, own + 1))  # the Brain commits after it publishes
        senders = [await Sender.open(self.shield_b, f"s{k}", room) for k in range(2)]
        timeline = {}

        async def kill():
            self.shield_a.kill()
            timeline["killed"] = time.monotonic()

        async def restart():
            os.makedirs(self.shield_a.dir, exist_ok=True)  # kept by kill(); recreated if /tmp was swept
            await asyncio.to_thread(self.shield_a.start)
            timeline["restarted"] = time.monotonic()

        acked = await send_all(senders, room, total, 0.004, {250: kill, 450: restart})
        self.assertEqual(len(acked), total, "the other Shield acknowledged every message")
        done = await sub.result()
        self.check_delivery(done, [f"sdk-{i}" for i in range(own)] + acked)
        # The SDK's own copies carry the trace ids its publish() returned.
        self.assertEqual([m[3] for m in done["messages"][:own]], checks["own"])
        self.assertGreaterEqual(done["states"].count("connected"), 2, "it reconnected")
        self.assertTrue(any(e["code"] == 1006 for e in done["errors"]), done["errors"])
        # Messages sent while its Shield was down came from history, in order, before newer ones.
        print(f"\nShield down {timeline['restarted'] - timeline['killed']:.2f} s; SDK stats {done['stats']}")
        for s in senders:
            await s.close()


class BrainFailover(SdkCase):
    partitions = 4

    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.redis = RedisServer().start()
        cls.brains = [Brain(cls.nats.url, cls.redis.url, partitions=cls.partitions).start() for _ in range(2)]
        cls.shield = Shield(cls.nats.url, extra_toml=FAST_SHIELD).start()

    @classmethod
    def tearDownClass(cls):
        cls.shield.stop()
        for b in cls.brains:
            b.stop()
        cls.redis.stop()
        cls.nats.stop()

    async def test_sigkill_of_the_rooms_brain(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            owned = [b.metric("brain_partitions_owned") for b in self.brains]
            if all(o and o >= 1 for o in owned) and sum(owned) == self.partitions:
                break
            await asyncio.sleep(0.1)
        else:
            self.fail(f"partitions never shared: {owned}")
        room, total = "failover", 1000
        p = partition_of("T1", room, self.partitions)
        owner = next(b for b in self.brains if b.owns(p))
        survivor = next(b for b in self.brains if b is not owner)
        sub = await Subscriber.start(self.shield, room, ARQ_EXPECT=total, ARQ_ENCODING="json")
        self.addCleanup(sub.kill)
        senders = [await Sender.open(self.shield, f"s{k}", room) for k in range(3)]

        async def kill():
            owner.kill()

        acked = await send_all(senders, room, total, 0.001, {400: kill})
        self.assertEqual(len(acked), total, "the Shield acknowledged every message")
        done = await sub.result()
        self.check_delivery(done, acked)
        self.assertGreater(survivor.metric("brain_messages_sequenced_total"), 0,
                           "the survivor sequenced the rest of the room")
        print(f"\nSDK stats after the failover {done['stats']}")
        for s in senders:
            await s.close()


class TokenRefresh(SdkCase):
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.redis = RedisServer().start()
        cls.brain = Brain(cls.nats.url, cls.redis.url).start()
        cls.shield = Shield(cls.nats.url, extra_toml=FAST_SHIELD).start()

    @classmethod
    def tearDownClass(cls):
        cls.shield.stop()
        cls.brain.stop()
        cls.redis.stop()
        cls.nats.stop()

    async def test_the_connection_outlives_its_tokens(self):
        # [auth] leeway_s is 0: without refresh the Shield closes with 4001 after 3 s.
        sub = await Subscriber.start(self.shield, "refresh", ARQ_TOKEN_TTL_S=3,
                                     ARQ_REFRESH_BEFORE_MS=1500, ARQ_EXPECT=2, ARQ_OWN=1)
        self.addCleanup(sub.kill)
        sender = await Sender.open(self.shield, "s0", "refresh")
        await asyncio.sleep(7)  # two token lifetimes later
        await sender.ws.send(event_json("refresh", "chat.message", b"late-0", id_="late"))
        self.assertEqual((await sender.reply("late")).event.type, "ack")
        done = await sub.result()
        self.assertEqual(done["states"], ["connecting", "connected"], "one connection all along")
        self.assertFalse([e for e in done["errors"] if e["code"] == 4001], done["errors"])
        self.assertGreaterEqual(done["refreshes"], 3)
        # A new token for each refresh (and perhaps one being sent as the script ended).
        self.assertIn(done["tokens"] - done["refreshes"], (1, 2))
        self.assertEqual([m[1] for m in done["messages"]], ["sdk-0", "late-0"])
        await sender.close()


if __name__ == "__main__":
    unittest.main()
