"""The policy canary in real Shields with NATS KV: a candidate (`arq policy push --canary T`)
runs beside T's active policy on live traffic, is counted and audited, enforces nothing, and
becomes the active policy with `arq policy promote T` (docs/policies.md)."""
import asyncio
import json
import os
import re
import tempfile
import time
import unittest

import websockets
import websockets.exceptions
import xxhash

from arqon_harness import NatsClient, NatsServer
from brain_support import StrictNats
from shield_support import Shield, error_of, event_json, make_token, parse
from test_policies import POLICIES, PolicyClient, arq

WORD = b"this is forbidden here"


def metric(text, name, **labels):
    """A sample of the Prometheus text, 0 when the series is absent (labels in their order)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"(?m)^{re.escape(name)}\{{{re.escape(want)}\}} (\d+)$", text)
    return int(m.group(1)) if m else 0


def verdicts(text, tenant, hook, active, candidate):
    return metric(text, "shield_policy_canary_verdicts_total", tenant=tenant, hook=hook, active=active,
                  candidate=candidate)


class CanaryClient(PolicyClient):
    """Pushing candidates, asking for reports and promoting, as a user does with `arq policy`."""
    cli = ()  # how `arq` reaches the stack: --nats URL, or --config PATH

    def arq(self, *args):
        return arq("policy", *args, *self.cli)

    def push_canary(self, tenant, module, shields=None):
        r = self.arq("push", "--canary", tenant, os.path.join(POLICIES, module))
        self.assertEqual(r.returncode, 0, r.stderr)
        rev = int(re.search(r"revision (\d+)", r.stdout).group(1))
        for shield in shields or [self.shield]:
            self.wait_log_of(shield, f'msg="candidate policy installed" module={tenant}.canary revision={rev}')
        return rev

    def wait_log_of(self, shield, needle, timeout=10):
        deadline = time.monotonic() + timeout
        while needle not in shield.log():
            if time.monotonic() > deadline:
                self.fail(f"not in the log of {shield.node_id}: {needle}")
            time.sleep(0.05)
        time.sleep(0.1)  # every worker swaps between two messages

    def push_active(self, tenant, module):
        key = ["--global"] if tenant == "_global" else ["--tenant", tenant]
        r = self.arq("push", *key, os.path.join(POLICIES, module))
        self.assertEqual(r.returncode, 0, r.stderr)
        rev = int(re.search(r"revision (\d+)", r.stdout).group(1))
        self.wait_log(f'msg="policy installed" module={tenant} revision={rev}')
        return rev

    def report(self, tenant):
        r = self.arq("canary", tenant, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)


class Canary(CanaryClient, unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.shield = Shield(cls.nats.url, extra_toml=(
            "[platform.overseer]\nfuel_limit = 5000\ncanary_percent = 1.0\n")).start()
        cls.cli = ("--nats", cls.nats.url)

    @classmethod
    def tearDownClass(cls):
        assert cls.shield.stop() == 0
        cls.nats.stop()

    async def test_candidate_counts_and_audits_then_promote_enforces(self):
        active = self.push_active("CW", "allow_reading_mood.wasm")
        cand = self.push_canary("CW", "block_word.wasm")
        spy = NatsClient(self.nats.port)
        spy.subscribe("in.t.CW.>")
        audit = NatsClient(self.nats.port)
        audit.subscribe("sys.audit.CW")
        ws = await self.connect("CW")
        # Denied by the candidate, still delivered and acked: nothing it says is enforced.
        await ws.send(event_json("R1", data=WORD, id_="w1", headers={"x-mood": "calm"}))
        e = parse(await asyncio.wait_for(ws.recv(), 5))
        self.assertEqual((e.id, e.event.type), ("w1", "ack"))
        subject, _, payload = spy.next_msg()
        self.assertEqual(subject, "in.t.CW.r.R1")
        self.assertIn(WORD, payload)
        # The disagreement is on the tenant's audit trail: trace, hook, both verdicts, the
        # header the active policy read; never the payload.
        _, headers, raw = audit.next_msg()
        rec = json.loads(raw)
        self.assertEqual({k: rec[k] for k in ("action", "module", "revision", "hook", "active", "candidate",
                                              "candidate_reason", "subject", "tenant", "trace_id")},
                         {"action": "policy_canary_disagreement", "module": "CW", "revision": str(cand),
                          "hook": "message", "active": "allow", "candidate": "deny",
                          "candidate_reason": "message contains a blocked word", "subject": "in.t.CW.r.R1",
                          "tenant": "CW", "trace_id": e.trace_id})
        self.assertEqual(rec["headers"], {"x-mood": "calm"})
        self.assertNotIn(b"forbidden", raw)
        self.assertNotIn(b"code", raw)  # nothing was refused
        self.assertEqual(headers["x-arqon-trace-id"], e.trace_id)
        # An agreement is counted, not audited.
        self.assertEqual((await self.send(ws, data=b"fine", id_="w2")).event.type, "ack")
        spy.next_msg()
        self.assertIsNone(audit.next_msg(0.5))
        m = self.metrics()
        self.assertEqual(verdicts(m, "CW", "message", "allow", "deny"), 1)
        self.assertEqual(verdicts(m, "CW", "message", "allow", "allow"), 1)
        self.assertEqual(verdicts(m, "CW", "connect", "allow", "allow"), 1)  # block_word has no on_connect
        self.assertRegex(m, r'shield_policy_canary_duration_seconds_count\{tenant="CW",hook="message"\} 2\n')
        # `arq policy canary` asks the Shields; the same figures, for the revision in the bucket.
        rep = self.report("CW")
        self.assertEqual((rep["key"], rep["candidate_revision"], rep["active_revision"]), ("CW", cand, active))
        self.assertEqual((rep["shields_answered"], rep["shields_counted"]), (1, 1))
        self.assertEqual(rep["shields"][0]["node"], "n1")
        self.assertEqual((rep["disagreements"], rep["evaluations"]), (1, 2))
        self.assertEqual(rep["verdicts"]["message"]["allow"], {"allow": 1, "deny": 1, "error": 0})
        self.assertEqual(rep["audit"], {"published": 1, "dropped": 0})
        table = self.arq("canary", "CW")
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertRegex(table.stdout, r"(?m)^message\s+allow\s+deny\s+1  disagreement$")
        self.assertIn("compared: 3, disagreements: 1", table.stdout)
        # Promotion checks the revision the user reviewed.
        r = self.arq("promote", "CW", "--revision", str(cand + 1000))
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"is revision {cand} now, not {cand + 1000}; nothing was changed", r.stderr)
        r = self.arq("promote", "CW", "--revision", str(cand))
        self.assertEqual(r.returncode, 0, r.stderr)
        promoted = int(re.search(r"to CW revision (\d+)", r.stdout).group(1))
        self.assertIn(f"promoted CW.canary revision {cand} to CW revision {promoted} (replacing revision {active})",
                      r.stdout)
        self.assertIn("removed CW.canary", r.stdout)
        self.wait_log(f'msg="policy installed" module=CW revision={promoted}')
        self.wait_log('msg="policy removed" module=CW.canary')
        # The same message is now denied.
        await ws.send(event_json("R1", data=WORD, id_="w3"))
        e = parse(await asyncio.wait_for(ws.recv(), 5))
        self.assertEqual((e.id, error_of(e)), ("w3", {"code": 403, "reason": "message contains a blocked word"}))
        self.assertIsNone(spy.next_msg(0.5))
        await ws.close()
        spy.close()
        audit.close()
        for verb in ("canary", "promote"):
            r = self.arq(verb, "CW")
            self.assertEqual(r.returncode, 1)
            self.assertIn("CW has no candidate policy (CW.canary)", r.stderr)
        r = self.arq("ls")
        self.assertRegex(r.stdout, r"(?m)^CW\t")
        self.assertNotRegex(r.stdout, r"(?m)^CW\.canary\t")

    async def test_failing_candidates_change_nothing_for_clients(self):
        # No active policy: everything is allowed, whatever the candidate does.
        ws = await self.connect("CF")
        self.push_canary("CF", "infinite_loop.wasm")
        audit = NatsClient(self.nats.port)
        audit.subscribe("sys.audit.CF")
        for i in range(3):
            self.assertEqual((await self.send(ws, id_=f"l{i}")).event.type, "ack")
        for _ in range(3):
            rec = json.loads(audit.next_msg()[2])
            self.assertEqual((rec["active"], rec["candidate"], rec["candidate_reason"], rec["active_reason"]),
                             ("allow", "error", "fuel", ""))
        self.push_canary("CF", "out_of_bounds.wasm")
        self.assertEqual((await self.send(ws, id_="t1")).event.type, "ack")
        self.assertEqual(json.loads(audit.next_msg()[2])["candidate_reason"], "trap")
        rep = self.report("CF")
        self.assertEqual(rep["errors"], {"trap": 1, "fuel": 0, "time": 0, "unavailable": 0, "failed": 0})
        self.assertEqual(rep["verdicts"]["message"]["allow"]["error"], 1)  # this revision's only
        self.assertIsNone(rep["active_revision"])
        self.assertIn('msg="candidate policy failed (fuel): counted, not enforced" module=CF.canary', self.shield.log())
        self.assertIn('msg="candidate policy failed (trap): counted, not enforced" module=CF.canary', self.shield.log())
        self.assertEqual(verdicts(self.metrics(), "CF", "message", "allow", "error"), 4)
        # A candidate that bans everyone closes no connection and refuses no handshake.
        self.push_canary("CF", "ban_all.wasm")
        self.assertEqual((await self.send(ws, id_="b1")).event.type, "ack")
        other = await self.connect("CF")
        self.assertEqual((await self.send(other, id_="b2")).event.type, "ack")
        m = self.metrics()
        self.assertEqual(verdicts(m, "CF", "connect", "allow", "deny"), 1)
        self.assertEqual(verdicts(m, "CF", "message", "allow", "deny"), 2)
        self.assertRegex(m, r'shield_policy_denials_total\{reason="trap"\} 0\n')  # the candidate's are not these
        await other.close()
        await ws.close()
        audit.close()
        r = self.arq("rm", "--canary", "CF")
        self.assertEqual((r.returncode, r.stdout), (0, "removed CF.canary\n"))
        self.wait_log('msg="policy removed" module=CF.canary')
        ws = await self.connect("CF")
        self.assertEqual((await self.send(ws, id_="after")).event.type, "ack")
        await ws.close()
        self.assertEqual(verdicts(self.metrics(), "CF", "message", "allow", "deny"), 2)  # no longer evaluated

    async def test_global_candidate_sees_every_tenant_and_refuses_no_handshake(self):
        self.push_canary("_global", "block_header.wasm")
        audit = NatsClient(self.nats.port)
        audit.subscribe("sys.audit.GX")
        try:
            trace = "0af7651916cd43dd8448eb211c80319c"
            ws = await self.connect("GX", headers={"X-Block-Me": "yes",
                                                   "traceparent": f"00-{trace}-b7ad6b7169203331-01"})
            rec = json.loads(audit.next_msg()[2])
            self.assertEqual({k: rec[k] for k in ("module", "hook", "active", "candidate", "tenant", "trace_id",
                                                  "subject", "conn")},
                             {"module": "_global", "hook": "connect", "active": "allow", "candidate": "deny",
                              "tenant": "GX", "trace_id": trace, "subject": "", "conn": ""})
            self.assertEqual(rec["headers"], {"X-Block-Me": "yes"})
            self.assertEqual((await self.send(ws)).event.type, "ack")
            await ws.close()
            self.assertEqual(verdicts(self.metrics(), "_global", "connect", "allow", "deny"), 1)
        finally:
            audit.close()
            r = self.arq("rm", "--canary", "_global")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.wait_log('msg="policy removed" module=_global.canary')

    async def test_credentials_a_policy_reads_are_named_not_audited(self):
        self.push_canary("CA", "deny_bearer.wasm")
        audit = NatsClient(self.nats.port)
        audit.subscribe("sys.audit.CA")
        token = make_token({"tenant_id": "CA"})
        ws = await websockets.connect(self.shield.url(), extra_headers={"Authorization": f"Bearer {token}"})
        self.assertEqual(parse(await ws.recv()).event.type, "welcome")  # the candidate refuses nothing
        await ws.close()
        _, _, raw = audit.next_msg()
        rec = json.loads(raw)
        self.assertEqual((rec["hook"], rec["active"], rec["candidate"]), ("connect", "allow", "deny"))
        self.assertEqual(rec["headers"], {"Authorization": "(redacted)"})
        self.assertNotIn(token.encode(), raw)
        self.assertNotIn(token.split(".")[2].encode(), raw)
        audit.close()

    async def test_audit_records_are_rate_bounded_and_counted_when_dropped(self):
        self.push_canary("CR", "ban_all.wasm")
        audit = NatsClient(self.nats.port)
        audit.subscribe("sys.audit.CR")
        ws = await self.connect("CR")  # a disagreement too
        n = 60  # the default bound is 10 per second: dropped unless sending takes 6 s
        for i in range(n):
            await ws.send(event_json("R1", id_=f"r{i}"))
        for i in range(n):
            self.assertEqual(parse(await asyncio.wait_for(ws.recv(), 5)).event.type, "ack")
        published = 0
        while audit.next_msg(0.5) is not None:
            published += 1
        rep = self.report("CR")
        self.assertEqual(rep["audit"]["published"], published)
        self.assertEqual(rep["audit"]["published"] + rep["audit"]["dropped"], n + 1)
        self.assertGreater(rep["audit"]["dropped"], 0)
        self.assertEqual(metric(self.metrics(), "shield_policy_canary_audit_dropped_total", tenant="CR"),
                         rep["audit"]["dropped"])
        await ws.close()
        audit.close()

    async def test_arguments(self):
        for args in (["push", "--canary", "a.b", os.path.join(POLICIES, "ban_all.wasm")],
                     ["push", "--canary", "T", "--tenant", "T", os.path.join(POLICIES, "ban_all.wasm")],
                     ["canary"], ["canary", "a.b"], ["promote", "--tenant", "T"],
                     ["promote", "T", "--revision", "x"], ["canary", "T", "--revision", "1"]):
            r = self.arq(*args)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))


class CanaryShares(CanaryClient, unittest.IsolatedAsyncioTestCase):
    """canary_percent on two Shields of one bucket: 0 evaluates nothing; 0.5 evaluates the
    trace ids the mirroring rule puts in, the same ones on any node; a report adds both."""
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.none = Shield(cls.nats.url, node_id="n0", extra_toml="[platform.overseer]\ncanary_percent = 0\n").start()
        cls.half = Shield(cls.nats.url, node_id="n5", extra_toml="[platform.overseer]\ncanary_percent = 0.5\n").start()
        cls.shield = cls.half
        cls.cli = ("--nats", cls.nats.url)

    @classmethod
    def tearDownClass(cls):
        assert cls.none.stop() == 0
        assert cls.half.stop() == 0
        cls.nats.stop()

    async def test_share_follows_the_trace_id(self):
        self.push_canary("CS", "ban_all.wasm", shields=[self.none, self.half])
        traces = [os.urandom(16).hex() for _ in range(40)]
        inside = [t for t in traces if xxhash.xxh64(t.encode(), seed=0).intdigest() % 10000 < 5000]
        for shield in (self.none, self.half):
            ws = await websockets.connect(shield.url(make_token({"tenant_id": "CS", "rooms": ["*"]})))
            self.assertEqual(parse(await ws.recv()).event.type, "welcome")
            for i, t in enumerate(traces):
                await ws.send(event_json("R1", id_=f"s{i}", traceId=t))
                e = parse(await asyncio.wait_for(ws.recv(), 5))
                self.assertEqual((e.event.type, e.trace_id), ("ack", t))
            await ws.close()
        self.assertEqual(verdicts(self.none.http("/metrics")[1], "CS", "message", "allow", "deny"), 0)
        self.assertEqual(verdicts(self.half.http("/metrics")[1], "CS", "message", "allow", "deny"), len(inside))
        rep = self.report("CS")
        self.assertEqual((rep["shields_answered"], rep["shields_counted"]), (2, 2))
        self.assertEqual(sorted(s["node"] for s in rep["shields"]), ["n0", "n5"])
        self.assertEqual(rep["verdicts"]["message"]["allow"]["deny"], len(inside))
        self.assertEqual(rep["evaluations"], len(inside) + rep["verdicts"]["connect"]["allow"]["deny"])


class CanaryTimeBudget(CanaryClient, unittest.IsolatedAsyncioTestCase):
    """A candidate with a huge fuel limit is stopped by its time budget (checked between
    fuel slices), and counted as such; the client's answer does not change."""
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.shield = Shield(cls.nats.url, workers=1, extra_toml=(
            "[platform.overseer]\ncanary_fuel_limit = 100000000000\ncanary_time_budget_us = 2000\n")).start()
        cls.cli = ("--nats", cls.nats.url)

    @classmethod
    def tearDownClass(cls):
        assert cls.shield.stop() == 0
        cls.nats.stop()

    async def test_looping_candidate_stops_at_its_time_budget(self):
        self.push_canary("CT", "infinite_loop.wasm")
        ws = await self.connect("CT")
        for i in range(3):
            self.assertEqual((await self.send(ws, id_=f"t{i}")).event.type, "ack")
        await ws.close()
        rep = self.report("CT")
        self.assertEqual(rep["errors"]["time"], 3)
        self.assertEqual(rep["errors"]["fuel"], 0)
        # the budget is checked between slices: never stopped before it, nor long after
        self.assertGreaterEqual(rep["latency_us"]["max"], 2000)
        self.assertIn('msg="candidate policy failed (time): counted, not enforced" module=CT.canary',
                      self.shield.log())


class CanaryStrictSpine(CanaryClient, unittest.IsolatedAsyncioTestCase):
    """With the NATS users of deploy/nats/accounts.conf, as `make run` starts them: the CLI
    with the Shield's user pushes, asks the Shields and promotes."""
    @classmethod
    def setUpClass(cls):
        cls.nats = StrictNats().start()
        cls.shield = Shield(cls.nats.url, nats_user="shield", nats_password=cls.nats.pw["shield"]).start()
        cls.cfgdir = tempfile.mkdtemp(prefix="canary-cli-")
        config = os.path.join(cls.cfgdir, "arq.toml")
        with open(config, "w") as f:
            f.write(f'[nats]\nurl = "{cls.nats.url}"\nuser = "shield"\n')
        cls.cli = ("--config", config)
        os.environ["ARQON_NATS_PASSWORD"] = cls.nats.pw["shield"]

    @classmethod
    def tearDownClass(cls):
        os.environ.pop("ARQON_NATS_PASSWORD", None)
        assert cls.shield.stop() == 0
        cls.nats.stop()
        import shutil
        shutil.rmtree(cls.cfgdir, ignore_errors=True)

    async def test_report_and_promote_with_strict_users(self):
        cand = self.push_canary("CP", "block_word.wasm")
        ws = await self.connect("CP")
        self.assertEqual((await self.send(ws, data=WORD, id_="p1")).event.type, "ack")
        rep = self.report("CP")
        self.assertEqual((rep["shields_counted"], rep["disagreements"]), (1, 1))
        r = self.arq("promote", "CP")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"promoted CP.canary revision {cand} to CP revision", r.stdout)
        self.assertIn("removed CP.canary", r.stdout)
        self.wait_log('msg="policy removed" module=CP.canary')
        self.assertEqual(error_of(await self.send(ws, data=WORD, id_="p2"))["code"], 403)
        await ws.close()


if __name__ == "__main__":
    unittest.main()
