"""Tenant policies in a real Shield: modules pushed with `arq policy` into NATS KV."""
import asyncio
import json
import os
import re
import subprocess
import time
import unittest

import websockets
import websockets.exceptions

from arqon_harness import NatsClient, NatsServer
from shield_support import BIN, Shield, cmd_json, envelope_pb2, error_of, event_json, make_token, parse

POLICIES = os.path.join(os.path.dirname(BIN), "policies")
FUEL = 5000


def arq(*args):
    return subprocess.run([os.path.join(BIN, "arq"), *args], capture_output=True, text=True, timeout=60)


def module_bytes(name):
    with open(os.path.join(POLICIES, name), "rb") as f:
        return f.read()


def leb128(buf, pos):
    """An unsigned LEB128 at buf[pos]: (value, position after it)."""
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


def sections(module):
    """A module's sections as {id: payload}, custom sections (id 0) as {name: payload}."""
    out, pos = {}, 8
    while pos < len(module):
        size, start = leb128(module, pos + 1)
        body = module[start:start + size]
        if module[pos] == 0:
            n, p = leb128(body, 0)
            out[body[p:p + n].decode()] = body[p + n:]
        else:
            out[module[pos]] = body
        pos = start + size
    return out


# call_indirect (0x11), its type index (one byte, or five as wasm-ld writes relocatable
# indices), then table index 0 padded to five bytes.
CALL_INDIRECT_PADDED_TABLE = re.compile(rb"\x11(?:[\x80-\xff]{4}[\x00-\x0f]|[\x00-\x7f])\x80\x80\x80\x80\x00")


class PolicyClient:
    """Pushing modules and talking to self.shield; the test classes start NATS and the Shield."""
    @classmethod
    def tearDownClass(cls):
        cls.shield.stop()
        cls.nats.stop()

    def push(self, tenant, module, expect_ok=True):
        key = ["--global"] if tenant == "_global" else ["--tenant", tenant]
        r = arq("policy", "push", *key, os.path.join(POLICIES, module), "--nats", self.nats.url)
        if expect_ok:
            self.assertEqual(r.returncode, 0, r.stderr)
            rev = re.search(r"revision (\d+)", r.stdout).group(1)
            self.wait_log(f'msg="policy installed" module={tenant} revision={rev}')
        return r

    def remove(self, tenant):
        r = arq("policy", "rm", "--tenant", tenant, "--nats", self.nats.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_log(f'msg="policy removed" module={tenant}')

    def wait_log(self, needle, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.shield.log():
                time.sleep(0.1)  # every worker swaps between two messages
                return
            time.sleep(0.05)
        self.fail(f"not in the log: {needle}")

    async def connect(self, tenant, headers=None, **claims):
        ws = await websockets.connect(self.shield.url(make_token({"tenant_id": tenant, "rooms": ["*"], **claims})),
                                      extra_headers=headers or {})
        self.assertEqual(parse(await ws.recv()).event.type, "welcome")
        return ws

    async def send(self, ws, room="R1", data=b"hello", id_="m"):
        await ws.send(event_json(room, id_=id_, data=data))
        return parse(await asyncio.wait_for(ws.recv(), 5))

    def metrics(self):
        return self.shield.http("/metrics")[1]

    def log_dropped(self):
        return int(re.search(r"(?m)^shield_policy_log_dropped_total (\d+)$", self.metrics()).group(1))


class Policies(PolicyClient, unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.shield = Shield(cls.nats.url, extra_toml=(
            f"[platform.overseer]\nfuel_limit = {FUEL}\nmemory_limit_mb = 4\n"
            '[platform.mirroring]\nenabled = true\nrules = [{ prefix = "in.>", percent = 1.0 }]\n')).start()

    async def test_block_header_on_connect(self):
        self.push("PH", "block_header.wasm")
        audit = NatsClient(self.nats.port)
        audit.subscribe("sys.audit.PH")
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
            await self.connect("PH", headers={"X-Block-Me": "1"})
        self.assertEqual(cm.exception.status_code, 403)
        rec = json.loads(audit.next_msg()[2])  # on the tenant's audit trail
        self.assertEqual((rec["action"], rec["code"], rec["tenant"], rec["peer"]),
                         ("policy_denied_connect", 403, "PH", "127.0.0.1"))
        audit.close()
        ws = await self.connect("PH")  # 101 without the header
        await ws.close()
        ws = await self.connect("OTHER", headers={"X-Block-Me": "1"})  # other tenants unaffected
        await ws.close()

    async def test_client_address_cannot_be_spoofed(self):
        self.push("PP", "deny_localhost.wasm")
        # The test connects from 127.0.0.1 and no proxy is trusted: refused, whatever it claims.
        for headers in ({}, {"x-arqon-peer": "203.0.113.9"}, {"X-Forwarded-For": "203.0.113.9"}):
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
                await self.connect("PP", headers=headers)
            self.assertEqual(cm.exception.status_code, 403)

    async def test_ban_all_closes_live_connections(self):
        clients = [await self.connect("BAN") for _ in range(20)]
        audit = NatsClient(self.nats.port)
        audit.subscribe("sys.audit.BAN")
        self.push("BAN", "ban_all.wasm")
        for ws in clients:
            with self.assertRaises(websockets.exceptions.ConnectionClosed) as cm:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            self.assertEqual(cm.exception.rcvd.code, 1008)
        actions = [json.loads(audit.next_msg()[2])["action"] for _ in range(20)]
        self.assertEqual(actions, ["closed_by_policy"] * 20)
        audit.close()
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
            await self.connect("BAN")
        self.assertEqual(cm.exception.status_code, 403)

    async def test_word_policy_blocks_routing_and_mirroring(self):
        self.push("PW", "block_word.wasm")
        spy = NatsClient(self.nats.port)
        spy.subscribe("in.t.PW.>")
        spy.subscribe("shadow.>")
        audit = NatsClient(self.nats.port)
        audit.subscribe("sys.audit.PW")
        ws = await self.connect("PW")
        e = await self.send(ws, data=b"this is forbidden here", id_="w1")
        self.assertEqual((e.id, error_of(e)), ("w1", {"code": 403, "reason": "message contains a blocked word"}))
        self.assertIsNone(spy.next_msg(0.5))  # not published, not mirrored
        rec = json.loads(audit.next_msg()[2])
        self.assertEqual((rec["action"], rec["code"], rec["reason"], rec["subject"], rec["trace_id"]),
                         ("policy_denied", 403, "message contains a blocked word", "in.t.PW.r.R1", e.trace_id))
        audit.close()
        e = await self.send(ws, data=b"fine", id_="w2")
        self.assertEqual(e.event.type, "ack")
        subjects = sorted(spy.next_msg()[0] for _ in range(2))
        self.assertEqual(subjects, ["in.t.PW.r.R1", "shadow.in.t.PW.r.R1"])
        spy.close()
        await ws.close()

    async def test_claims_policy(self):
        self.push("PC", "require_writer.wasm")
        reader = await self.connect("PC", role="reader")
        writer = await self.connect("PC", role="writer")
        self.assertEqual(error_of(await self.send(reader))["code"], 403)
        self.assertEqual((await self.send(writer)).event.type, "ack")
        await reader.close()
        await writer.close()

    async def test_add_header(self):
        self.push("PA", "add_header.wasm")
        spy = NatsClient(self.nats.port)
        spy.subscribe("in.t.PA.>")
        ws = await self.connect("PA")
        self.assertEqual((await self.send(ws)).event.type, "ack")
        _, headers, _ = spy.next_msg()
        self.assertEqual(headers["x-policy"], "checked")
        self.assertEqual(headers["x-arqon-tenant"], "PA")
        spy.close()
        await ws.close()

    async def test_infinite_loop_denied_at_fuel_limit_deterministically(self):
        self.push("PL", "infinite_loop.wasm")
        ws = await self.connect("PL")
        other = await self.connect("PL2")
        before = self.fuel_used()
        for i in range(3):
            e = await self.send(ws, id_=f"l{i}")
            self.assertEqual(error_of(e), {"code": 403, "reason": "policy ran out of fuel"})
            self.assertEqual(self.fuel_used() - before, (i + 1) * FUEL)  # the same stop point every time
        self.assertEqual((await self.send(other, id_="o")).event.type, "ack")  # others are served
        self.assertIn('msg="policy ran out of fuel: denied" module=PL', self.shield.log())
        self.assertEqual(self.shield.log().count('msg="policy ran out of fuel: denied" module=PL'), 1)
        self.assertRegex(self.metrics(), r'shield_policy_denials_total\{reason="fuel"\} [1-9]')
        await ws.close()
        await other.close()

    async def test_memory_grow_beyond_limit_and_host_log(self):
        self.push("PG", "grow.wasm")
        ws = await self.connect("PG")
        self.assertEqual((await self.send(ws)).event.type, "ack")
        self.wait_log('level=info component=overseer msg="grow refused" module=PG tenant=PG')
        self.push("PG", "logger.wasm")  # replaces the module atomically, connection kept
        self.assertEqual((await self.send(ws)).event.type, "ack")
        self.wait_log('level=info component=overseer msg="hello from the policy fixture" module=PG tenant=PG')
        await ws.close()

    async def test_out_of_bounds_pointer_traps(self):
        self.push("PO", "out_of_bounds.wasm")
        ws = await self.connect("PO")
        self.assertEqual(error_of(await self.send(ws)), {"code": 403, "reason": "policy trapped"})
        self.push("PO", "long_out_of_bounds.wasm")  # a long name past the end of memory
        self.assertEqual(error_of(await self.send(ws, id_="m2")), {"code": 403, "reason": "policy trapped"})
        await ws.close()

    async def test_long_names_in_bounds_are_absent_or_refused(self):
        self.push("PN", "long_args.wasm")
        ws = await self.connect("PN")
        self.assertEqual((await self.send(ws)).event.type, "ack")
        await ws.close()

    async def test_each_evaluation_starts_fresh(self):
        self.push("PS", "state.wasm")
        ws = await self.connect("PS")
        for i in range(5):
            self.assertEqual((await self.send(ws, id_=f"s{i}")).event.type, "ack")
        await ws.close()

    async def test_invalid_upload_refused_old_policy_stays(self):
        self.push("PI", "ban_all.wasm")
        bad = os.path.join(self.shield.dir, "bad.wasm")
        with open(bad, "wb") as f:
            f.write(b"\x00asm\x01\x00\x00\x00\x01\xff")
        r = arq("policy", "push", "--tenant", "PI", bad, "--nats", self.nats.url)
        self.assertEqual(r.returncode, 1)
        self.assertIn("refused", r.stderr)
        # Bypassing the CLI: garbage straight into the bucket is refused by the Shield.
        raw = NatsClient(self.nats.port)
        raw.publish("$KV.ARQON_POLICIES.PI", b"not wasm at all")
        raw.flush()
        raw.close()
        self.wait_log('msg="invalid policy module refused; the previous one stays" module=PI')
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
            await self.connect("PI")  # ban_all still in force
        self.assertEqual(cm.exception.status_code, 403)
        self.remove("PI")
        ws = await self.connect("PI")
        await ws.close()

    async def test_global_runs_first(self):
        self.push("_global", "block_header.wasm")
        try:
            with self.assertRaises(websockets.exceptions.InvalidStatusCode):
                await self.connect("ANY", headers={"X-Block-Me": "yes"})
        finally:
            r = arq("policy", "rm", "--global", "--nats", self.nats.url)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.wait_log('msg="policy removed" module=_global')

    async def test_list_and_metrics(self):
        self.push("PM", "add_header.wasm")
        r = arq("policy", "ls", "--nats", self.nats.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^PM\t\d+ bytes\trevision \d+$")
        ws = await self.connect("PM")
        await self.send(ws)
        await ws.close()
        self.assertRegex(self.metrics(), r"shield_wasm_execution_duration_seconds_count [1-9]")
        r = arq("policy", "push", "--tenant", "a.b", os.path.join(POLICIES, "ban_all.wasm"))
        self.assertEqual(r.returncode, 2)

    async def test_host_log_budget(self):
        # log_flood logs 100 lines of 64 bytes per evaluation; the defaults allow 1024 bytes
        # per evaluation (16 of these lines) and 20 lines per second per module and worker.
        self.push("PF", "log_flood.wasm")
        ws = await self.connect("PF")
        line = 'msg="flood line from the policy fixture'
        log_before = self.shield.log()
        dropped_before = self.log_dropped()
        start = time.monotonic()
        n = 10
        for i in range(n):
            if i % 2:  # the limit never changes the policy's decision
                e = await self.send(ws, data=b"deny this", id_=f"f{i}")
                self.assertEqual(error_of(e), {"code": 403, "reason": "denied by policy PF"})
            else:
                self.assertEqual((await self.send(ws, data=b"fine", id_=f"f{i}")).event.type, "ack")
        elapsed = time.monotonic() - start
        log = self.shield.log()
        written = log.count(line) - log_before.count(line)
        self.assertGreaterEqual(written, 16)  # the first evaluation fills its byte budget
        self.assertLessEqual(written, 20 + 20 * elapsed + 1)  # the bucket: burst plus refill
        self.assertLess(len(log) - len(log_before), 16384)  # unlimited, this was ~150 KB
        self.assertEqual(self.log_dropped() - dropped_before, n * 100 - written)
        # one summary line, not one per dropped line (at most one per 10 s and worker)
        new = log[len(log_before):]
        self.assertEqual(new.count('msg="policy log lines dropped"'), 1)
        self.assertRegex(new, r'msg="policy log lines dropped" dropped=\d+ module=PF tenant=PF')
        await ws.close()

    async def test_empty_rooms_claim_allows_no_room(self):
        ws = await self.connect("RC", rooms=[])
        for i, room in enumerate(("R1", "lobby")):
            await ws.send(cmd_json("join", room, id_=f"j{i}"))
            e = parse(await asyncio.wait_for(ws.recv(), 5))
            self.assertEqual((e.id, (error_of(e) or {}).get("code")), (f"j{i}", 403))
        self.assertEqual((error_of(await self.send(ws, id_="e1")) or {}).get("code"), 403)
        await ws.close()
        # Without the claim, any room may be joined.
        ws = await websockets.connect(self.shield.url(make_token({"tenant_id": "RC"})))
        self.assertEqual(parse(await ws.recv()).event.type, "welcome")
        await ws.send(cmd_json("join", "R1", id_="j"))
        e = parse(await asyncio.wait_for(ws.recv(), 5))
        self.assertEqual((e.id, e.event.type), ("j", "ack"))
        await ws.close()

    async def test_rule_table_built_with_reference_types(self):
        # rule_table.c through clang -mreference-types: its call through a table of function
        # pointers is a call_indirect with a padded 5-byte table index, the shape current
        # toolchains emit; if clang stopped writing it, this test would no longer cover it.
        module = sections(module_bytes("rule_table.wasm"))
        self.assertRegex(module[10], CALL_INDIRECT_PADDED_TABLE)
        self.assertIn(b"+\x0freference-types", module["target_features"])
        self.push("RT", "rule_table.wasm")
        spy = NatsClient(self.nats.port)
        spy.subscribe("in.t.RT.>")
        ws = await self.connect("RT")
        cases = [("lobby", b"anything goes!", None),
                 ("announcements", b"hi", {"code": 403, "reason": "room is read-only"}),
                 ("library", b"a quiet remark", None),
                 ("library", b"hello!", {"code": 422, "reason": "no exclamation marks in this room"}),
                 ("sms", b"short", None),
                 ("sms", b"more than sixteen bytes", {"code": 413, "reason": "at most 16 bytes in this room"}),
                 ("elsewhere", b"no rule here!", None)]
        for i, (room, data, error) in enumerate(cases):
            e = await self.send(ws, room=room, data=data, id_=f"r{i}")
            self.assertEqual((e.id, error_of(e)), (f"r{i}", error), room)
            if error is None:
                self.assertEqual(e.event.type, "ack")
        # exactly the allowed messages were published, in order
        routed = [spy.next_msg()[0] for _ in range(4)]
        self.assertEqual(routed, [f"in.t.RT.r.{room}" for room, _, error in cases if error is None])
        self.assertIsNone(spy.next_msg(0.3))
        spy.close()
        await ws.close()

    async def test_two_tables_call_indirect_on_the_second(self):
        module = sections(module_bytes("two_tables.wasm"))
        self.assertEqual(leb128(module[4], 0)[0], 2)  # the table section declares two tables
        self.assertIn(b"\x11\x00\x01", module[10])  # call_indirect type 0, table 1
        self.push("TT", "two_tables.wasm")
        ws = await self.connect("TT")
        self.assertEqual((await self.send(ws, data=b"0 allowed", id_="t0")).event.type, "ack")
        self.assertEqual(error_of(await self.send(ws, data=b"1 denied", id_="t1")),
                         {"code": 451, "reason": "rule 1 of the second table"})
        self.assertEqual(error_of(await self.send(ws, data=b"2 no such rule", id_="t2")),
                         {"code": 400, "reason": "denied by policy TT"})
        self.assertEqual((await self.send(ws, data=b"0 again", id_="t3")).event.type, "ack")
        await ws.close()

    async def test_externref_parameters(self):
        types = sections(module_bytes("externref_params.wasm"))[1]
        self.assertIn(b"\x60\x02\x6f\x7f\x01\x7f", types)  # (externref, i32) -> i32
        self.push("XR", "externref_params.wasm")
        ws = await self.connect("XR")
        self.assertEqual((await self.send(ws, data=b"ham and eggs", id_="x0")).event.type, "ack")
        self.assertEqual(error_of(await self.send(ws, data=b"spam and eggs", id_="x1")),
                         {"code": 403, "reason": "no spam here"})
        self.assertEqual((await self.send(ws, data=b"spa", id_="x2")).event.type, "ack")
        await ws.close()

    async def test_ref_func_in_global_initialisers(self):
        globals_ = sections(module_bytes("ref_func_global.wasm"))[6]
        self.assertIn(b"\x70\x01\xd2", globals_)  # a mutable funcref global set by ref.func
        self.push("RF", "ref_func_global.wasm")
        ws = await self.connect("RF")
        # every evaluation starts from the initial global and table: the module overwrites
        # both each time, and would answer 500 if it found them changed
        for i in range(3):
            self.assertEqual((await self.send(ws, data=b"sixteen bytes ok", id_=f"f{i}")).event.type, "ack")
            self.assertEqual(error_of(await self.send(ws, data=b"seventeen bytes!!", id_=f"g{i}")),
                             {"code": 413, "reason": "more than 16 bytes"})
        await ws.close()

    def fuel_used(self):
        return int(re.search(r"shield_wasm_fuel_consumed_total (\d+)", self.metrics()).group(1))


class PolicyLogOff(PolicyClient, unittest.IsolatedAsyncioTestCase):
    """log_max_bytes_per_eval = 0: host_log writes nothing, and the policies still decide."""
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.shield = Shield(cls.nats.url, workers=1,
                            extra_toml="[platform.overseer]\nlog_max_bytes_per_eval = 0\n").start()

    async def test_host_log_off(self):
        self.push("PQ", "logger.wasm")
        ws = await self.connect("PQ")
        for i in range(3):
            self.assertEqual((await self.send(ws, id_=f"q{i}")).event.type, "ack")
        log = self.shield.log()
        self.assertNotIn("hello from the policy fixture", log)
        self.assertEqual(self.log_dropped(), 3)
        self.assertEqual(log.count('msg="policy log lines dropped" dropped=1 module=PQ tenant=PQ'), 1)
        await ws.close()


if __name__ == "__main__":
    unittest.main()


class PlatformAdminShield(Shield):
    """A Shield whose [auth] names the platform admin role."""
    def write_config(self):
        super().write_config()
        with open(self.config) as f:
            text = f.read()
        with open(self.config, "w") as f:
            f.write(text.replace("[auth]\n", '[auth]\nplatform_admin_role = "platform_admin"\n', 1))


def bearer(**claims):
    return {"Authorization": "Bearer " + make_token(claims)}


class AdminApi(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.shield = PlatformAdminShield(cls.nats.url, extra_toml="[platform.registry]\nenabled = true\n").start()
        # The same bucket behind a Shield that names no platform admin role.
        cls.bare = Shield(cls.nats.url, node_id="n2").start()
        cls.admin = bearer(role="platform_admin")
        cls.tenant_admin = bearer(role="admin", tenant_id="TA")

    @classmethod
    def tearDownClass(cls):
        cls.bare.stop()
        cls.shield.stop()
        cls.nats.stop()

    def request(self, method, path, body=None, headers=None, shield=None):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", (shield or self.shield).port, timeout=10)
        conn.request(method, path, body=body, headers=headers if headers is not None else self.admin)
        r = conn.getresponse()
        out = (r.status, r.getheader("Content-Type"), r.read())
        conn.close()
        return out

    async def test_policies_over_http(self):
        module = module_bytes("ban_all.wasm")
        status, _, body = self.request("PUT", "/admin/policies/HT", module)
        self.assertEqual(status, 200, body)
        self.assertRegex(body.decode(), r'^\{"key":"HT","revision":\d+\}$')
        status, ctype, body = self.request("GET", "/admin/policies/HT")
        self.assertEqual((status, ctype, body), (200, "application/wasm", module))
        status, _, body = self.request("GET", "/admin/policies")
        self.assertIn(b'"key":"HT"', body)
        status, _, body = self.request("PUT", "/admin/policies/HT", b"\0asm garbage")
        self.assertEqual(status, 400)
        self.assertEqual(json_of(body)["error"], "Bad Request")
        # the policy in force is still ban_all
        deadline = time.monotonic() + 10
        while 'msg="policy installed" module=HT' not in self.shield.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
        with self.assertRaises(websockets.exceptions.InvalidStatusCode):
            await websockets.connect(self.shield.url(make_token({"tenant_id": "HT"})))
        self.assertEqual(self.request("DELETE", "/admin/policies/HT")[0], 200)
        self.assertEqual(self.request("GET", "/admin/policies/HT")[0], 404)
        self.assertEqual(self.request("PUT", "/admin/policies/a.b", module)[0], 400)

    async def test_authority(self):
        self.assertEqual(self.request("GET", "/admin/policies", headers={})[0], 401)
        user = {"Authorization": "Bearer " + make_token({"role": "writer"})}
        self.assertEqual(self.request("GET", "/admin/policies", headers=user)[0], 403)
        self.assertEqual(self.request("GET", "/admin/nothing")[0], 404)
        self.assertEqual(self.request("POST", "/admin/policies/X", b"x")[0], 405)
        # bodies are only for the admin API
        self.assertEqual(self.request("POST", "/healthz", b"x")[0], 413)

    def refused(self, method, path, details, body=None, headers=None, shield=None):
        status, _, reply = self.request(method, path, body, headers or self.tenant_admin, shield)
        self.assertEqual((status, json_of(reply)), (403, {"error": "Forbidden", "details": details}),
                         f"{method} {path}")

    async def test_tenant_admin_administers_its_own_tenant_only(self):
        module = module_bytes("add_header.wasm")
        other = module_bytes("logger_quiet.wasm")
        self.assertEqual(self.request("PUT", "/admin/policies/TB", other)[0], 200)  # platform admin
        status, _, body = self.request("PUT", "/admin/policies/TA", module, self.tenant_admin)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.request("GET", "/admin/policies/TA", headers=self.tenant_admin)[:3:2],
                         (200, module))
        status, _, body = self.request("GET", "/admin/policies", headers=self.tenant_admin)
        self.assertEqual((status, [p["key"] for p in json_of(body)]), (200, ["TA"]))
        status, _, body = self.request("GET", "/admin/policies")  # the platform admin sees all
        self.assertTrue({"TA", "TB"} <= {p["key"] for p in json_of(body)}, body)
        mine = "an admin of tenant TA may only administer TA"
        for method in ("GET", "PUT", "DELETE"):
            self.refused(method, "/admin/policies/TB", mine, module if method == "PUT" else None)
            self.refused(method, "/admin/policies/_global", "only a platform admin may administer _global",
                         module if method == "PUT" else None)
        self.refused("PUT", "/admin/schemas/x", "only a platform admin may write schemas", b"set")
        self.refused("DELETE", "/admin/schemas/x", "only a platform admin may write schemas")
        self.assertEqual(self.request("GET", "/admin/schemas", headers=self.tenant_admin)[0], 200)
        self.assertEqual(self.request("GET", "/admin/policies/TB")[2], other)  # untouched
        self.assertEqual(self.request("DELETE", "/admin/policies/TA", headers=self.tenant_admin)[0], 200)
        self.assertEqual(self.request("GET", "/admin/policies/TA", headers=self.tenant_admin)[0], 404)
        status, _, body = self.request("GET", "/admin/policies", headers=self.tenant_admin)
        self.assertEqual((status, json_of(body)), (200, []))
        self.assertEqual(self.request("DELETE", "/admin/policies/TB")[0], 200)

    def wait_logs(self, needle):
        for shield in (self.shield, self.bare):
            deadline = time.monotonic() + 10
            while needle not in shield.log():
                self.assertLess(time.monotonic(), deadline, f"not in the log: {needle}")
                time.sleep(0.05)
        time.sleep(0.1)  # every worker swaps between two messages

    async def test_canary_over_http(self):
        active, cand = module_bytes("allow_reading_mood.wasm"), module_bytes("block_word.wasm")
        ta = self.tenant_admin
        status, _, body = self.request("PUT", "/admin/policies/TA", active, ta)
        self.assertEqual(status, 200, body)
        active_rev = json_of(body)["revision"]
        status, _, body = self.request("PUT", "/admin/policies/TA/canary", cand, ta)
        self.assertEqual(status, 200, body)
        self.assertEqual(json_of(body)["key"], "TA.canary")
        rev = json_of(body)["revision"]
        self.assertEqual(self.request("PUT", "/admin/policies/TA/canary", b"\0asm garbage", ta)[0], 400)
        status, _, body = self.request("GET", "/admin/policies", headers=ta)
        self.assertEqual(sorted(p["key"] for p in json_of(body)), ["TA", "TA.canary"])
        self.wait_logs(f'msg="candidate policy installed" module=TA.canary revision={rev}')
        ws = await websockets.connect(self.shield.url(make_token({"tenant_id": "TA", "rooms": ["*"]})))
        self.assertEqual(parse(await ws.recv()).event.type, "welcome")
        await ws.send(event_json("R1", data=b"forbidden", id_="c1"))
        self.assertEqual(parse(await asyncio.wait_for(ws.recv(), 5)).event.type, "ack")
        # What both Shields say, added up: one disagreement, on the Shield the client used.
        status, ctype, body = self.request("GET", "/admin/policies/TA/canary", headers=ta)
        self.assertEqual((status, ctype), (200, "application/json"), body)
        rep = json_of(body)
        self.assertEqual((rep["candidate_revision"], rep["active_revision"]), (rev, active_rev))
        self.assertEqual((rep["shields_answered"], rep["shields_counted"], rep["disagreements"]), (2, 2, 1))
        self.assertEqual(sorted(s["node"] for s in rep["shields"]), ["n1", "n2"])
        # Another tenant's candidate, and _global's, are not a tenant admin's.
        mine = "an admin of tenant TA may only administer TA"
        for method, path in (("PUT", "/admin/policies/TB/canary"), ("GET", "/admin/policies/TB/canary"),
                             ("DELETE", "/admin/policies/TB/canary"), ("POST", "/admin/policies/TB/promote")):
            self.refused(method, path, mine, cand if method == "PUT" else None)
        for method, path in (("PUT", "/admin/policies/_global/canary"), ("POST", "/admin/policies/_global/promote")):
            self.refused(method, path, "only a platform admin may administer _global",
                         cand if method == "PUT" else None)
        status, _, body = self.request("GET", "/admin/policies/TA/promote", headers=ta)
        self.assertEqual(status, 405, body)
        self.assertEqual(self.request("GET", "/admin/policies/TA/other", headers=ta)[0], 404)
        self.assertEqual(self.request("POST", "/admin/policies/TA/promote?revision=x", headers=ta)[0], 400)
        # Promotion: only the revision reviewed; then the candidate is the policy.
        status, _, body = self.request("POST", f"/admin/policies/TA/promote?revision={rev + 1000}", headers=ta)
        self.assertEqual(status, 409, body)
        self.assertIn(f"is revision {rev} now, not {rev + 1000}", json_of(body)["details"])
        status, _, body = self.request("POST", f"/admin/policies/TA/promote?revision={rev}", headers=ta)
        self.assertEqual(status, 200, body)
        done = json_of(body)
        self.assertEqual({k: done[k] for k in ("key", "candidate_revision", "previous_revision", "candidate_removed")},
                         {"key": "TA", "candidate_revision": rev, "previous_revision": active_rev,
                          "candidate_removed": True})
        self.assertEqual(self.request("GET", "/admin/policies/TA", headers=ta)[:3:2], (200, cand))
        self.wait_logs(f'msg="policy installed" module=TA revision={done["revision"]}')
        await ws.send(event_json("R1", data=b"forbidden", id_="c2"))
        self.assertEqual(error_of(parse(await asyncio.wait_for(ws.recv(), 5)))["code"], 403)
        await ws.close()
        for method in ("GET", "DELETE", "POST"):
            path = "/admin/policies/TA/" + ("promote" if method == "POST" else "canary")
            status, _, body = self.request(method, path, headers=ta)
            self.assertEqual(status, 404, (method, body))
        # A candidate removed without promotion; _global's by the platform admin.
        self.assertEqual(self.request("PUT", "/admin/policies/TA/canary", cand, ta)[0], 200)
        self.assertEqual(self.request("DELETE", "/admin/policies/TA/canary", headers=ta)[0], 200)
        self.assertEqual(self.request("GET", "/admin/policies/TA/canary", headers=ta)[0], 404)
        self.assertEqual(self.request("PUT", "/admin/policies/_global/canary", cand)[0], 200)
        self.assertEqual(self.request("DELETE", "/admin/policies/_global/canary")[0], 200)
        self.assertEqual(self.request("DELETE", "/admin/policies/TA", headers=ta)[0], 200)

    async def test_platform_admin_writes_global(self):
        module = module_bytes("logger_quiet.wasm")
        status, _, body = self.request("PUT", "/admin/policies/_global", module)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.request("GET", "/admin/policies/_global")[:3:2], (200, module))
        self.assertEqual(self.request("DELETE", "/admin/policies/_global")[0], 200)

    async def test_no_platform_admin_unless_configured(self):
        platform = bearer(role="platform_admin")
        self.refused("GET", "/admin/policies", "an admin token (role admin) is required",
                     headers=platform, shield=self.bare)
        self.refused("PUT", "/admin/policies/_global", "an admin token (role admin) is required",
                     b"\0asm", headers=platform, shield=self.bare)
        self.refused("PUT", "/admin/policies/_global", "only a platform admin may administer _global",
                     b"\0asm", headers=bearer(role="admin", tenant_id="T1"), shield=self.bare)
        self.refused("PUT", "/admin/schemas/x", "only a platform admin may write schemas", b"set",
                     headers=bearer(role="admin", tenant_id="T1"), shield=self.bare)

    async def test_schemas_over_http(self):
        import gzip
        import tempfile
        here = os.path.dirname(os.path.abspath(__file__))
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["protoc", "--include_imports", f"--descriptor_set_out={d}/s.desc",
                            f"-I{here}/schemas", "orders_v1.proto"], check=True)
            with open(f"{d}/s.desc", "rb") as f:
                desc = f.read()
        status, _, body = self.request("PUT", "/admin/schemas/v1.http?message=shop.v1.OrderCreated", desc)
        self.assertEqual(status, 200, body)
        status, ctype, body = self.request("GET", "/admin/schemas/v1.http")
        self.assertEqual((status, ctype), (200, "application/gzip"))
        self.assertEqual(gzip.decompress(body), desc)
        status, _, body = self.request("PUT", "/admin/schemas/v1.http?message=shop.v1.Nope", desc)
        self.assertEqual(status, 400)
        self.assertEqual(self.request("DELETE", "/admin/schemas/v1.http")[0], 200)


def json_of(body):
    import json
    return json.loads(body)
