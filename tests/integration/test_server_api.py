"""The server API (/api/, docs/server-api.md) against real nats-server (with the strict users
of deploy/nats/accounts.conf), redis-server, two arqon-shield and one arqon-brain, with
independent WebSocket clients (websockets) and plain HTTP (http.client)."""
import asyncio
import base64
import http.client
import json
import os
import shutil
import signal
import tempfile
import threading
import time
import unittest

from arqon_harness import NatsClient, NatsServer, RedisServer
from brain_support import Brain, StrictNats, js_request
from shield_support import Shield, cmd_json, event_json, make_token
from test_brain import FAST_SHIELD, Client, presence

KEY_ALL = "k-all-" + os.urandom(12).hex()
KEY_T1 = "k-t1-" + os.urandom(12).hex()
KEY_T2 = "k-t2-" + os.urandom(12).hex()


def post(shield, endpoint, body, key=KEY_T1, raw=None, method="POST", headers=None):
    """(status, parsed JSON body) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", shield.port, timeout=10)
    h = {"Content-Type": "application/json"}
    if key is not None:
        h["Authorization"] = f"apikey {key}"
    h.update(headers or {})
    data = raw if raw is not None else json.dumps(body).encode()
    conn.request(method, f"/api/{endpoint}", body=data if method == "POST" else None, headers=h)
    resp = conn.getresponse()
    text = resp.read()
    conn.close()
    return resp.status, json.loads(text) if text else None


def b64(data):
    return base64.b64encode(data).decode()


class ServerApi(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.nats = StrictNats().start()
        cls.pw = cls.nats.pw
        cls.redis = RedisServer().start()
        cls.brain = Brain(cls.nats.url, cls.redis.url, extra_toml='user = "brain"',
                          env={"ARQON_NATS_PASSWORD": cls.pw["brain"]}).start()
        cls.keys_dir = tempfile.mkdtemp(prefix="server-api-")
        cls.keys_file = os.path.join(cls.keys_dir, "keys")
        with open(cls.keys_file, "w") as f:
            f.write(f"# backends\n{KEY_ALL} *\n{KEY_T1} T1   # the T1 backend\n\n{KEY_T2} T2\n")
        api = f'[api]\nkeys_file = "{cls.keys_file}"\ncollect_ms = 300\n'
        cls.shields = [Shield(cls.nats.url, node_id=f"n{i}", nats_user="shield",
                              nats_password=cls.pw["shield"], extra_toml=FAST_SHIELD + api).start()
                       for i in (1, 2)]
        for s in cls.shields:
            s.wait_ready()
        cls.shield = cls.shields[0]

    @classmethod
    def tearDownClass(cls):
        for s in cls.shields:
            s.stop()
        rc = cls.brain.stop()
        cls.redis.stop()
        cls.nats.stop()
        shutil.rmtree(cls.keys_dir, ignore_errors=True)
        assert rc == 0, f"arqon-brain exited {rc}"

    async def test_publish_is_sequenced_delivered_and_in_history(self):
        a = await Client.open(self.shield, sub="alice")
        await a.join("Pub")
        await a.wait_for(lambda e: presence(e, "join", "alice"), what="own join")
        first = await a.request(event_json("Pub", data=b"from a client", id_="c1"), "c1")
        self.assertEqual(first.event.type, "ack")
        await a.wait_for(lambda e: e.event.type == "chat.message" and e.seq == 1, what="seq 1")

        status, body = await asyncio.to_thread(
            post, self.shield, "publish",
            {"tenant": "T1", "room": "Pub", "type": "news", "data": b64(b"from the backend"),
             "headers": {"x-app": "7"}})
        self.assertEqual((status, body), (200, {"ok": True}))
        got = await a.wait_for(lambda e: e.event.type == "news", what="the API's message")
        self.assertEqual((got.seq, got.sender, got.tenant_id, got.room_id, got.event.data),
                         (2, "api", "T1", "Pub", b"from the backend"))
        self.assertEqual(dict(got.headers), {"x-app": "7"})
        self.assertRegex(got.trace_id, "^[0-9a-f]{32}$")

        status, body = await asyncio.to_thread(post, self.shield, "history",
                                               {"tenant": "T1", "room": "Pub", "since_seq": 1})
        self.assertEqual(status, 200)
        self.assertEqual([(int(m["seq"]), m["sender"]) for m in body["messages"]], [(2, "api")])
        self.assertEqual(body["latest_seq"], 2)

        status, body = await asyncio.to_thread(post, self.shield, "presence", {"tenant": "T1", "room": "Pub"})
        self.assertEqual(status, 200)
        self.assertEqual([m["user"] for m in body["members"]], ["alice"])
        await a.close()

    async def test_broadcast_and_send_user(self):
        a = await Client.open(self.shield, sub="bella")
        b = await Client.open(self.shields[1], sub="bella")  # the same user on the other Shield
        await a.join("B1")
        await b.join("B2")
        status, body = await asyncio.to_thread(
            post, self.shield, "broadcast",
            {"tenant": "T1", "rooms": ["B1", "B2"], "type": "note", "data": b64(b"all")}, KEY_ALL)
        self.assertEqual(status, 200)
        self.assertEqual(body, {"results": [{"room": "B1", "ok": True}, {"room": "B2", "ok": True}],
                                "ok": True})
        for c, room in ((a, "B1"), (b, "B2")):
            got = await c.wait_for(lambda e: e.event.type == "note", what="broadcast")
            self.assertEqual((got.room_id, got.seq, got.event.data), (room, 1, b"all"))

        status, body = await asyncio.to_thread(
            post, self.shield, "send_user", {"tenant": "T1", "user": "bella", "type": "dm", "data": b64(b"hi")})
        self.assertEqual((status, body), (200, {"ok": True}))
        for c in (a, b):
            got = await c.wait_for(lambda e: e.event.type == "dm", what="send_user on both Shields")
            self.assertEqual((got.sender, got.event.data, got.seq), ("api", b"hi", 0))
        await a.close()
        await b.close()

    async def test_disconnect_closes_the_user_on_every_shield(self):
        victims = [await Client.open(s, sub="carl") for s in self.shields]
        victims.append(await Client.open(self.shield, sub="carl"))
        bystander = await Client.open(self.shield, sub="dora")
        other_tenant = await Client.open(self.shields[1], tenant="T2", sub="carl")
        status, body = await asyncio.to_thread(
            post, self.shield, "disconnect", {"tenant": "T1", "user": "carl", "reason": "account closed"})
        self.assertEqual(status, 200)
        self.assertEqual((body["closed"], body["shields"]), (3, 2))
        for v in victims:
            await asyncio.wait_for(v.task, 5)
            self.assertEqual((v.ws.close_code, v.ws.close_reason), (4000, "account closed"))
        # Nobody else: the other user, and the same user name in another tenant.
        for c in (bystander, other_tenant):
            reply = await c.request(cmd_json("ping", id_="p"), "p")
            self.assertEqual(reply.event.type, "ack")
            await c.close()

    async def test_rooms_and_info(self):
        a = await Client.open(self.shield, sub="fay")
        b = await Client.open(self.shields[1], sub="gus")
        other = await Client.open(self.shield, tenant="T2", sub="hal")
        await a.join("RoomsA")
        await b.join("RoomsA")
        await b.join("RoomsB")
        await other.join("RoomsT2")
        await a.wait_for(lambda e: presence(e, "join", "gus"), what="gus in RoomsA")

        def rooms(tenant, key):
            status, body = post(self.shield, "rooms", {"tenant": tenant}, key=key)
            self.assertEqual(status, 200, body)
            self.assertFalse(body["truncated"])
            return {r["room"]: r["members"] for r in body["rooms"] if r["room"].startswith("Rooms")}

        # The joins are notices through a stream: the Brain applies them a moment later.
        deadline = time.monotonic() + 5
        while rooms("T1", KEY_T1) != {"RoomsA": 2, "RoomsB": 1} and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.assertEqual(await asyncio.to_thread(rooms, "T1", KEY_T1), {"RoomsA": 2, "RoomsB": 1})
        self.assertEqual(await asyncio.to_thread(rooms, "T2", KEY_T2), {"RoomsT2": 1})

        # Connections as the Shields' last heartbeats (every 500 ms here) counted them.
        deadline = time.monotonic() + 5
        while True:
            status, body = await asyncio.to_thread(post, self.shield, "info", {}, KEY_ALL)
            self.assertEqual(status, 200, body)
            counts = {s["node"]: s["connections"] for s in body["shields"]}
            if counts.get("n1", 0) >= 2 and counts.get("n2", 0) >= 1 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        self.assertEqual(body["node"], "n1")
        self.assertEqual(len(body["brains"]), 1)
        self.assertEqual(sorted(body["brains"][0]["partitions"]), list(range(body["brains"][0]["partitions_total"])))
        nodes = {s["node"]: s["connections"] for s in body["shields"]}
        self.assertEqual(set(nodes), {"n1", "n2"})
        self.assertGreaterEqual(nodes["n1"], 2)
        status, body = await asyncio.to_thread(post, self.shield, "info", {}, KEY_T1)
        self.assertEqual(status, 403)
        for c in (a, b, other):
            await c.close()

    async def test_arq_api_is_a_client_of_the_same_api(self):
        a = await Client.open(self.shield, sub="erin")
        await a.join("Cli")
        arq = os.path.join(os.environ["ARQ_BIN_DIR"], "arq")
        env = dict(os.environ, ARQON_API_KEY=KEY_T1)
        url = f"http://127.0.0.1:{self.shield.port}"

        async def run(*args, stdin=None):
            p = await asyncio.create_subprocess_exec(arq, "api", *args, "--url", url, env=env,
                                                     stdin=asyncio.subprocess.PIPE,
                                                     stdout=asyncio.subprocess.PIPE,
                                                     stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(p.communicate(stdin), 20)
            return p.returncode, out.decode(), err.decode()

        rc, out, err = await run("publish", "--tenant", "T1", "--room", "Cli", "--type", "cli",
                                 "--header", "k=v", "-", stdin=b"from arq")
        self.assertEqual((rc, json.loads(out)), (0, {"ok": True}), err)
        got = await a.wait_for(lambda e: e.event.type == "cli", what="arq api publish")
        self.assertEqual((got.event.data, got.sender, dict(got.headers)), (b"from arq", "api", {"k": "v"}))
        rc, out, err = await run("history", "--tenant", "T1", "--room", "Cli", "--limit", "5")
        self.assertEqual(rc, 0, err)
        self.assertEqual([m["event"]["type"] for m in json.loads(out)["messages"]], ["cli"])
        rc, out, err = await run("presence", "--tenant", "T2", "--room", "Cli")
        self.assertEqual(rc, 1)
        self.assertIn("403", err)
        rc, out, err = await run("publish", "--tenant", "T1", "--room", "Cli")
        self.assertEqual(rc, 2)
        self.assertIn("--type are required", err)
        await a.close()

    def test_keys_and_tenants(self):
        ok = {"tenant": "T1", "room": "K", "type": "t", "data": ""}
        self.assertEqual(post(self.shield, "publish", ok, key=None)[0], 401)
        self.assertEqual(post(self.shield, "publish", ok, key="k-wrong-" + os.urandom(12).hex())[0], 401)
        self.assertEqual(post(self.shield, "publish", ok, key=KEY_T1[:-1])[0], 401)
        status, body = post(self.shield, "publish", ok, key=KEY_T2)
        self.assertEqual((status, body["error"]), (403, "Forbidden"))
        self.assertEqual(post(self.shield, "publish", ok, key=KEY_ALL)[0], 200)
        self.assertEqual(post(self.shield, "publish", ok, headers={"Authorization": f"Bearer {KEY_T1}"},
                              key=None)[0], 401)
        # Unknown endpoints and methods, once authenticated.
        self.assertEqual(post(self.shield, "nope", ok)[0], 404)
        self.assertEqual(post(self.shield, "publish", ok, method="GET")[0], 405)

    def test_malformed_bodies_are_refused_whole(self):
        cases = [
            (b"not json", "not JSON"),
            (b"[]", "JSON object"),
            (json.dumps({"tenant": "T1", "room": "bad room", "type": "t"}).encode(), "room"),
            (json.dumps({"tenant": "T1", "room": "R", "type": "ack"}).encode(), "reserved"),
            (json.dumps({"tenant": "T1", "room": "R", "type": "t", "data": "!!"}).encode(), "base64"),
            (json.dumps({"tenant": "T1", "room": "R", "type": "t", "headers": {"x-arqon-sender": "x"}}).encode(),
             "server's"),
            (json.dumps({"tenant": "T1", "room": "R", "type": "t", "romo": 1}).encode(), "unknown field"),
            (json.dumps({"room": "R", "type": "t"}).encode(), "tenant"),
            (json.dumps({"tenant": "T1", "room": "R"}).encode(), "type"),
        ]
        for raw, words in cases:
            status, body = post(self.shield, "publish", None, raw=raw)
            self.assertEqual(status, 400, raw)
            self.assertIn(words, body["details"], raw)
        status, body = post(self.shield, "broadcast", None, KEY_ALL, raw=json.dumps(
            {"tenant": "T1", "rooms": ["ok1", "bad room"], "type": "t"}).encode())
        self.assertEqual(status, 400)
        # Nothing of a refused broadcast went out: ok1 has no message.
        status, body = post(self.shield, "history", {"tenant": "T1", "room": "ok1"})
        self.assertEqual((status, body["messages"]), (200, []))
        status, body = post(self.shield, "history", {"tenant": "T1", "room": "R", "limit": 0})
        self.assertEqual(status, 400)

    def test_metrics_and_audit(self):
        status, _ = post(self.shield, "publish", {"tenant": "T1", "room": "M", "type": "t", "data": ""})
        self.assertEqual(status, 200)
        # The audit trail is the ARQON_AUDIT stream: its last record of T1 is this publish.
        brain = NatsClient(self.nats.port, user="brain", password=self.pw["brain"])
        got = js_request(brain, "$JS.API.STREAM.MSG.GET.ARQON_AUDIT",
                         json.dumps({"last_by_subj": "sys.audit.T1"}).encode())
        brain.close()
        record = json.loads(base64.b64decode(got["message"]["data"]))
        self.assertEqual((record["component"], record["action"], record["sender"], record["target"]),
                         ("api", "publish", "api", "in.t.T1.r.M"))
        conn = http.client.HTTPConnection("127.0.0.1", self.shield.port, timeout=5)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        self.assertRegex(text, r'shield_api_requests_total\{endpoint="publish",status="200"\} [1-9]')


class KeysFile(unittest.TestCase):
    """Without keys every request is 401; a bad keys file stops the start; SIGHUP re-reads."""

    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.dir = tempfile.mkdtemp(prefix="server-api-keys-")

    @classmethod
    def tearDownClass(cls):
        cls.nats.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_no_keys_file_means_401(self):
        shield = Shield(self.nats.url).start()
        try:
            shield.wait_ready()
            status, body = post(shield, "publish", {"tenant": "T1"}, key=KEY_ALL)
            self.assertEqual(status, 401)
            self.assertIn("keys_file", body["details"])
        finally:
            shield.stop()

    def test_bad_file_refuses_to_start_with_file_and_line(self):
        path = os.path.join(self.dir, "bad")
        with open(path, "w") as f:
            f.write(f"{KEY_ALL} *\nshort T1\n")
        shield = Shield(self.nats.url, extra_toml=f'[api]\nkeys_file = "{path}"\n')
        with self.assertRaisesRegex(RuntimeError, f"(?s)exited 1: .*{path}:2: key shorter than 16 characters"):
            shield.start()

    def test_requests_beyond_max_queued_are_refused_at_once(self):
        path = os.path.join(self.dir, "queue-keys")
        with open(path, "w") as f:
            f.write(f"{KEY_ALL} *\n")
        # Each disconnect holds the API thread for collect_ms: two fill the bound.
        shield = Shield(self.nats.url, extra_toml=f'[api]\nkeys_file = "{path}"\nmax_queued = 2\n'
                                                  'collect_ms = 1500\n').start()
        try:
            shield.wait_ready()
            results = [None] * 6

            def one(i):
                t0 = time.monotonic()
                status, body = post(shield, "disconnect", {"tenant": "T1", "user": "u"}, key=KEY_ALL)
                results[i] = (status, time.monotonic() - t0)

            first = [threading.Thread(target=one, args=(i,)) for i in range(2)]
            for t in first:
                t.start()
            time.sleep(0.3)  # both accepted: one running, one waiting
            rest = [threading.Thread(target=one, args=(i,)) for i in range(2, 6)]
            for t in rest:
                t.start()
            for t in first + rest:
                t.join(15)
            self.assertEqual(sorted(r[0] for r in results[:2]), [200, 200], results)
            for status, took in results[2:]:
                self.assertEqual(status, 503, results)
                self.assertLess(took, 1.0, "refused at once, not after waiting")
            # Once answered, the bound is free again.
            self.assertEqual(post(shield, "disconnect", {"tenant": "T1", "user": "u"}, key=KEY_ALL)[0], 200)
        finally:
            self.assertEqual(shield.stop(), 0)

    def test_sighup_reloads_and_a_bad_reload_keeps_the_keys(self):
        path = os.path.join(self.dir, "keys")
        with open(path, "w") as f:
            f.write(f"{KEY_T1} T1\n")
        shield = Shield(self.nats.url, extra_toml=f'[api]\nkeys_file = "{path}"\n').start()
        try:
            shield.wait_ready()
            body = {"tenant": "T1", "room": "R"}
            # Authenticated (no Brain here: the request itself gets 503, not 401).
            self.assertEqual(post(shield, "presence", body, key=KEY_T1)[0], 503)
            self.assertEqual(post(shield, "presence", body, key=KEY_T2)[0], 401)
            with open(path, "w") as f:
                f.write(f"{KEY_T2} T1\n")
            shield.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while post(shield, "presence", body, key=KEY_T2)[0] == 401 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(post(shield, "presence", body, key=KEY_T2)[0], 503)
            self.assertEqual(post(shield, "presence", body, key=KEY_T1)[0], 401)
            with open(path, "w") as f:
                f.write("not a key line at all with too many fields\n")
            shield.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while "keys file not reloaded" not in shield.log() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn("keys file not reloaded", shield.log())
            self.assertEqual(post(shield, "presence", body, key=KEY_T2)[0], 503)
        finally:
            self.assertEqual(shield.stop(), 0)


if __name__ == "__main__":
    unittest.main()
