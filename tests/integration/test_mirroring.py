"""Deterministic mirroring through real Shields and NATS, checked against Python's xxhash."""
import asyncio
import hashlib
import json
import os
import unittest

import websockets
import websockets.exceptions
import xxhash

from arqon_harness import NatsClient, NatsServer
from brain_support import js_request
from shield_support import Shield, cmd_json, envelope_pb2, event_json, make_token, parse

RULES = """[platform.mirroring]
enabled = true
rules = [{ prefix = "in.t.ZERO.>", percent = 0.0 },
         { prefix = "in.t.ALL.>", percent = 1.0 },
         { prefix = "in.t.T1.>", percent = 0.3 },
         { prefix = "sys.brain.NOTE.*", percent = 1.0 }]
"""
TRACE_IDS = [hashlib.sha256(str(i).encode()).hexdigest()[:32] for i in range(100)]


def expected(percent):
    threshold = round(percent * 10000)
    return {t for t in TRACE_IDS if xxhash.xxh64(t.encode(), seed=0).intdigest() % 10000 < threshold}


async def send_all(shield, tenant):
    ws = await websockets.connect(shield.url(make_token({"tenant_id": tenant, "rooms": ["*"]})))
    await ws.recv()
    for i, trace in enumerate(TRACE_IDS):
        await ws.send(event_json("R1", id_=f"m{i}", traceId=trace))
        e = parse(await ws.recv())
        assert (e.id, e.event.type) == (f"m{i}", "ack"), e
    await ws.close()


def drain(spy, timeout=0.5):
    got = []
    while True:
        m = spy.next_msg(timeout)
        if m is None:
            return got
        got.append(m)


class Mirroring(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.nats.stop()

    async def mirrored_ids(self, shield, tenant):
        spy = NatsClient(self.nats.port)
        spy.subscribe("shadow.>")
        primary = NatsClient(self.nats.port)
        primary.subscribe(f"in.t.{tenant}.r.>")
        await send_all(shield, tenant)
        shadows = drain(spy)
        primaries = drain(primary)
        spy.close()
        primary.close()
        self.assertEqual(len(primaries), len(TRACE_IDS))  # mirroring never costs a primary
        ids = set()
        for subject, headers, payload in shadows:
            self.assertEqual(subject, f"shadow.in.t.{tenant}.r.R1")
            self.assertEqual(headers["x-arqon-shadow"], "true")
            e = envelope_pb2.Envelope.FromString(payload)
            self.assertEqual(headers["x-arqon-trace-id"], e.trace_id)
            self.assertEqual(headers["x-arqon-tenant"], tenant)
            self.assertRegex(headers["traceparent"], "^00-%s-" % e.trace_id)
            ids.add(e.trace_id)
        self.assertEqual(len(ids), len(shadows))  # one copy per message
        return ids

    async def test_same_decisions_everywhere(self):
        want = expected(0.3)
        self.assertTrue(0 < len(want) < len(TRACE_IDS))
        a = Shield(self.nats.url, node_id="a1", extra_toml=RULES).start()
        try:
            self.assertEqual(await self.mirrored_ids(a, "T1"), want)
            self.assertEqual(await self.mirrored_ids(a, "ZERO"), set())
            self.assertEqual(await self.mirrored_ids(a, "ALL"), set(TRACE_IDS))
            self.assertEqual(await self.mirrored_ids(a, "OTHER"), set())  # no rule matches
            status, body = a.http("/metrics")
            self.assertIn(f"shield_mirror_traffic_total {len(want) + len(TRACE_IDS)}\n", body)
            # A second Shield decides the same way.
            with Shield(self.nats.url, node_id="b1", extra_toml=RULES) as b:
                self.assertEqual(await self.mirrored_ids(b, "T1"), want)
        finally:
            a.stop()
        # And so does the first one after a restart.
        with Shield(self.nats.url, node_id="a1", extra_toml=RULES) as again:
            self.assertEqual(await self.mirrored_ids(again, "T1"), want)


class MirroredNotices(unittest.IsolatedAsyncioTestCase):
    async def test_join_and_leave_notices_follow_the_rules(self):
        with NatsServer() as nats, Shield(nats.url, extra_toml=RULES) as shield:
            spy = NatsClient(nats.port)
            spy.subscribe("shadow.>")
            for tenant in ("NOTE", "OTHER"):
                ws = await websockets.connect(shield.url(make_token({"tenant_id": tenant, "rooms": ["*"]})))
                await ws.recv()
                for ctype in ("join", "leave"):
                    await ws.send(cmd_json(ctype, "R1", ctype))
                    self.assertEqual(parse(await ws.recv()).event.type, "ack")
                await ws.close()
            shadows = drain(spy)
            self.assertEqual([m[0] for m in shadows],
                             ["shadow.sys.brain.NOTE.join", "shadow.sys.brain.NOTE.leave"])
            for _, headers, payload in shadows:
                self.assertEqual(headers["x-arqon-shadow"], "true")
                self.assertEqual(envelope_pb2.Envelope.FromString(payload).room_id, "R1")
            spy.close()


class RefusedMirror(unittest.IsolatedAsyncioTestCase):
    async def test_refused_mirror_still_acks_primary(self):
        users = """authorization {
  users = [
    { user: shield, password: "shield-pw", permissions: {
        publish: { allow: ["in.t.>", "sys.>"] },
        subscribe: { allow: ["out.t.>", "_INBOX.>"] } } },
    { user: spy, password: "spy-pw" }
  ]
}
"""
        with NatsServer(extra_conf=users) as nats, \
             Shield(nats.url, nats_user="shield", nats_password="shield-pw",
                    extra_toml=RULES + "[platform.overseer]\nenabled = false\n") as shield:
            shield.wait_ready()
            # The stream whose acknowledgement confirms the event: this Shield user may not
            # create it, a Brain would.
            admin = NatsClient(nats.port, user="spy", password="spy-pw")
            js_request(admin, "$JS.API.STREAM.CREATE.ARQON_INGRESS",
                       json.dumps({"name": "ARQON_INGRESS", "subjects": ["in.t.*.r.*"]}).encode())
            admin.close()
            spy = NatsClient(nats.port, user="spy", password="spy-pw")
            spy.subscribe(">")
            ws = await websockets.connect(shield.url(make_token({"tenant_id": "ALL", "rooms": ["*"]})))
            await ws.recv()
            await ws.send(event_json("R1", id_="p1", traceId=TRACE_IDS[0]))
            e = parse(await ws.recv())
            self.assertEqual((e.id, e.event.type), ("p1", "ack"))
            subjects = [m[0] for m in drain(spy, 1.0)]
            self.assertIn("in.t.ALL.r.R1", subjects)
            self.assertNotIn("shadow.in.t.ALL.r.R1", subjects)
            await ws.close()
            spy.close()
            await asyncio.sleep(0.2)
            self.assertIn("Permissions Violation", shield.log())


if __name__ == "__main__":
    unittest.main()
