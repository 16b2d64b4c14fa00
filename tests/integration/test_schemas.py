"""Schema governance through a real Shield: sets pushed with `arq schema push` into NATS KV."""
import asyncio
import base64
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

import websockets
import websockets.exceptions

from arqon_harness import NatsClient, NatsServer
from shield_support import BIN, Shield, error_of, make_token, parse

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_ID = "v1.shop.order_created"
MAPPING = f"""[platform.registry]
enabled = true
[[platform.registry.mappings]]
subject = "in.t.*.r.orders"
schema_id = "{SCHEMA_ID}"
message = "shop.v1.OrderCreated"
[[platform.registry.mappings]]
subject = "in.t.*.r.bombed"
schema_id = "v1.bomb"
message = "shop.v1.OrderCreated"
"""


def arq(*args):
    return subprocess.run([os.path.join(BIN, "arq"), *args], capture_output=True, text=True, timeout=60)


class Schemas(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="arq-schemas-")
        for v in ("v1", "v2"):
            subprocess.run(["protoc", "--include_imports", f"--descriptor_set_out={cls.tmp}/orders_{v}.desc",
                            f"-I{HERE}/schemas", f"orders_{v}.proto"], check=True)
        subprocess.run(["protoc", f"--python_out={cls.tmp}", f"-I{HERE}/schemas", "orders_v1.proto"], check=True)
        sys.path.insert(0, cls.tmp)
        import orders_v1_pb2
        cls.pb = orders_v1_pb2
        cls.nats = NatsServer().start()
        cls.shield = Shield(cls.nats.url, extra_toml=MAPPING).start()

    @classmethod
    def tearDownClass(cls):
        cls.shield.stop()
        cls.nats.stop()

    def push(self, version):
        r = arq("schema", "push", SCHEMA_ID, f"{self.tmp}/orders_{version}.desc", "--message",
                "shop.v1.OrderCreated", "--nats", self.nats.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        rev = re.search(r"revision (\d+)", r.stdout).group(1)
        self.wait_log(f'msg="schema installed" schema_id={SCHEMA_ID} revision={rev}')

    def wait_log(self, needle, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.shield.log():
                time.sleep(0.1)
                return
            time.sleep(0.05)
        self.fail(f"not in the log: {needle}")

    async def send(self, ws, data, room="orders", id_="o"):
        await ws.send(json.dumps({"id": id_, "roomId": room,
                                  "event": {"type": "order", "data": base64.b64encode(data).decode()}}))
        return parse(await asyncio.wait_for(ws.recv(), 5))

    def order(self, **kw):
        m = self.pb.OrderCreated(order_id="o-1", amount=1250, items=[1, 2, 3])
        m.address.street = "Main St"
        for k, v in kw.items():
            setattr(m, k, v)
        return m.SerializeToString()

    async def test_lifecycle(self):
        audit = NatsClient(self.nats.port)
        audit.subscribe("sys.audit.T1")
        ws = await websockets.connect(self.shield.url(make_token({"rooms": ["*"]})))
        await ws.recv()
        r = arq("schema", "rm", SCHEMA_ID, "--nats", self.nats.url)
        # no schema yet: the mapped subject fails closed, others pass
        e = await self.send(ws, self.order())
        self.assertEqual(error_of(e), {"code": 400, "reason": f"schema {SCHEMA_ID} is not available"})
        rec = json.loads(audit.next_msg()[2])  # on the tenant's audit trail
        self.assertEqual((rec["action"], rec["code"], rec["reason"], rec["trace_id"]),
                         ("schema_violation", 400, f"schema {SCHEMA_ID} is not available", e.trace_id))
        audit.close()
        self.assertEqual((await self.send(ws, b"anything", room="chat")).event.type, "ack")

        self.push("v1")
        self.assertEqual((await self.send(ws, self.order(), id_="ok")).event.type, "ack")
        cases = {
            "json": json.dumps({"order_id": "o-1"}).encode(),
            "truncated": self.order()[:-3],
            "wire type": b"\x10\x05" .replace(b"\x10\x05", b"\x12\x01x"),  # field 2 as bytes
            "utf8": b"\x0a\x02\xc3\x28",  # field 1 (order_id) with invalid UTF-8
            "packed": b"\x22\x05\x01\x02",  # field 4 packed, length past the end
        }
        for name, data in cases.items():
            e = await self.send(ws, data, id_=name)
            err = error_of(e)
            self.assertEqual(err["code"], 400, name)
            self.assertTrue(err["reason"], name)
        self.assertIn("field 2 (amount)", error_of(await self.send(ws, cases["wire type"]))["reason"])
        self.assertIn("UTF-8", error_of(await self.send(ws, cases["utf8"]))["reason"])
        self.assertRegex(self.shield.http("/metrics")[1], r"shield_schema_violation_total [1-9]")
        self.assertRegex(self.shield.log(), r'level=warn component=registry msg="schema violation" error="[^"]+" tenant_id=T1')

        # a new version judges the next message
        self.push("v2")
        self.assertEqual(error_of(await self.send(ws, self.order()))["code"], 400)
        ok_v2 = b"\x0a\x03o-2\x12\x0212"
        self.assertEqual((await self.send(ws, ok_v2)).event.type, "ack")

        # deleted: fail closed again
        r = arq("schema", "rm", SCHEMA_ID, "--nats", self.nats.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_log(f'msg="schema removed: mapped subjects now reject" schema_id={SCHEMA_ID}')
        self.assertEqual(error_of(await self.send(ws, ok_v2))["reason"], f"schema {SCHEMA_ID} is not available")
        await ws.close()

    async def test_gzip_bomb_and_bad_uploads_refused(self):
        bomb = gzip.compress(b"\0" * (64 << 20), 9)
        raw = NatsClient(self.nats.port)
        raw.publish("$KV.ARQON_SCHEMAS.v1.bomb", bomb)
        raw.flush()
        raw.close()
        self.wait_log('msg="schema refused; the previous one stays" schema_id=v1.bomb')
        ws = await websockets.connect(self.shield.url(make_token({"rooms": ["*"]})))
        await ws.recv()
        self.assertEqual(error_of(await self.send(ws, self.order(), room="bombed"))["reason"],
                         "schema v1.bomb is not available")
        await ws.close()
        r = arq("schema", "push", "v1.x", f"{self.tmp}/orders_v1.desc", "--message", "shop.v1.Nope",
                "--nats", self.nats.url)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no message type shop.v1.Nope", r.stderr)
        r = arq("schema", "push", "bad id", f"{self.tmp}/orders_v1.desc", "--message", "x")
        self.assertEqual(r.returncode, 2)
        r = arq("schema", "ls", "--nats", self.nats.url)
        self.assertEqual(r.returncode, 0, r.stderr)


class Refresh(unittest.TestCase):
    def test_bucket_read_again_every_ttl(self):
        with tempfile.TemporaryDirectory() as d, NatsServer() as nats, \
             Shield(nats.url, extra_toml=MAPPING.replace("enabled = true", "enabled = true\ncache_ttl_seconds = 1")) as shield:
            subprocess.run(["protoc", "--include_imports", f"--descriptor_set_out={d}/o.desc",
                            f"-I{HERE}/schemas", "orders_v1.proto"], check=True)
            r = arq("schema", "push", SCHEMA_ID, f"{d}/o.desc", "--message", "shop.v1.OrderCreated",
                    "--nats", nats.url)
            self.assertEqual(r.returncode, 0, r.stderr)
            rev = re.search(r"revision (\d+)", r.stdout).group(1)
            line = f'msg="schema installed" schema_id={SCHEMA_ID} revision={rev}'
            deadline = time.monotonic() + 10
            while shield.log().count(line) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertGreaterEqual(shield.log().count(line), 2)


if __name__ == "__main__":
    unittest.main()
