"""Attacks on the Shield, each reproduced against a real arqon-shield and nats-server.

Memory is measured where memory is the point (VmRSS of the Shield from /proc); the bounds
asserted are far above what the fixed code uses and far below what the attacks cost before.
"""
import asyncio
import base64
import json
import os
import re
import resource
import socket
import threading
import time
import unittest

import websockets
import websockets.exceptions

from arqon_harness import NatsClient, NatsServer, free_port
from shield_support import (BIN, Shield, cmd_json, envelope_pb2, error_of, event_json, make_token, parse,
                            recv_until)

POLICIES = os.path.join(os.path.dirname(BIN), "policies")
MiB = 1 << 20


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(shield, name, port=None):
    """Sum of a metric's samples whose line starts with `name` (labels included in name)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port or shield.port, timeout=5)
    conn.request("GET", "/metrics")
    body = conn.getresponse().read().decode()
    conn.close()
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.startswith(name))


def read_all(s, timeout=10):
    """Everything the server sends until it closes (or `timeout` of silence)."""
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def send_in_background(s, data):
    """sendall() on a thread: the server may stop reading, which is the point."""
    def run():
        try:
            s.sendall(data)
        except OSError:
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


class StackCase(unittest.IsolatedAsyncioTestCase):
    """A nats-server and a Shield shared by a class's tests: `workers` and `extra_toml` say how."""
    workers = 2
    extra_toml = ""

    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.shield = Shield(cls.nats.url, workers=cls.workers, extra_toml=cls.extra_toml).start()
        cls.shield.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.shield.stop()
        cls.nats.stop()


def pipeline(shield, path, count):
    """A client that sends `count` requests for `path` at once and does not read."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", shield.port))
    send_in_background(s, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * count)
    return s


class PreUpgradeBudgets(StackCase):
    """Finding 1: pipelined HTTP requests from a client that does not read."""
    workers = 1

    def test_pipelined_requests_cost_bounded_memory(self):
        pid = self.shield.proc.pid
        before = rss(pid)
        sockets = [pipeline(self.shield, "/healthz", 50000), pipeline(self.shield, "/metrics", 50000)]
        time.sleep(2)  # the attack as reported: the client never reads
        grown = rss(pid) - before
        self.assertLess(grown, 32 * MiB, f"RSS grew by {grown >> 20} MiB")
        # Read now: exactly http_max_requests answers (default 100), the last one closing.
        for s in sockets:
            answers = read_all(s)
            self.assertEqual(answers.count(b"HTTP/1.1 200 "), 100)
            self.assertIn(b"Connection: close", answers.rsplit(b"HTTP/1.1 200 ", 1)[1])
            s.close()
        self.assertGreaterEqual(metric(self.shield, 'shield_preauth_refusals_total{reason="requests"}'), 2)
        self.assertEqual(self.shield.http("/healthz")[0], 200)


class PreUpgradeTimeout(StackCase):
    """Finding 1, the clock: a client that pipelines requests and never reads is cut by the
    handshake timeout. The request cap is out of reach here: with the default 100, a kernel
    that grows the Shield's send buffer enough takes all 100 answers, and the Shield then
    closes for the cap (reason "requests") before the timeout could."""
    workers = 1
    extra_toml = "[shield]\nhttp_max_requests = 1000000\n"

    def test_non_reading_client_is_cut_by_the_handshake_timeout(self):
        s = pipeline(self.shield, "/metrics", 1000)
        time.sleep(7)  # past handshake_timeout_ms (5 s) with answers queued and unread
        self.assertLess(len(read_all(s, 5)), 1000 * 1000)  # cut, not all the answers then EOF
        s.close()
        self.assertGreaterEqual(metric(self.shield, 'shield_preauth_refusals_total{reason="timeout"}'), 1)


class ByteAndConnectionCaps(StackCase):
    """Findings 1 and 2: bytes before the upgrade, and connections that never upgrade."""
    workers = 1
    admin_port = free_port()
    extra_toml = ("[shield]\nhandshake_max_bytes = 4096\nhttp_max_requests = 1000\n"
                  "max_pending_handshakes = 8\nmax_connections = 12\nhandshake_timeout_ms = 3000\n"
                  f'admin_listen = "127.0.0.1:{admin_port}"\n')

    def test_handshake_bytes_budget(self):
        s = socket.create_connection(("127.0.0.1", self.shield.port))
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        send_in_background(s, request * 500)  # 17 KB, over the 4 KiB budget
        answers = read_all(s)
        self.assertLess(answers.count(b"HTTP/1.1 200 "), 4096 // len(request) + 1)
        self.assertIn(b"HTTP/1.1 429 ", answers)
        self.assertIn(b"handshake_max_bytes", answers)
        s.close()
        self.assertGreaterEqual(metric(self.shield, 'shield_preauth_refusals_total{reason="bytes"}',
                                       self.admin_port), 1)

    def test_idle_connections_are_capped(self):
        idle = [socket.create_connection(("127.0.0.1", self.shield.port)) for _ in range(8)]
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", self.shield.port))
        self.assertEqual(read_all(extra, 3), b"")  # closed at once, nothing spent on it
        extra.close()
        self.assertGreaterEqual(metric(self.shield, 'shield_preauth_refusals_total{reason="pending_cap"}',
                                       self.admin_port), 1)
        self.assertEqual(metric(self.shield, "shield_pending_handshakes", self.admin_port), 8)
        # the operator's port still answers while the public one is full
        self.assertEqual(metric(self.shield, "shield_connections", self.admin_port), 0)
        for s in idle:
            s.close()
        time.sleep(0.3)
        self.assertEqual(metric(self.shield, "shield_pending_handshakes", self.admin_port), 0)

    async def test_unupgraded_connections_count_toward_max_connections(self):
        clients = [await websockets.connect(self.shield.url(make_token(sub=f"u{i}"))) for i in range(6)]
        idle = [socket.create_connection(("127.0.0.1", self.shield.port)) for _ in range(6)]
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", self.shield.port))
        self.assertEqual(read_all(extra, 3), b"")
        extra.close()
        self.assertGreaterEqual(metric(self.shield, 'shield_preauth_refusals_total{reason="connection_cap"}',
                                       self.admin_port), 1)
        for s in idle:
            s.close()
        for ws in clients:
            await ws.close()

    def test_admin_bodies_are_not_accepted_on_the_public_port(self):
        s = socket.create_connection(("127.0.0.1", self.shield.port))
        s.sendall(b"PUT /admin/policies/x HTTP/1.1\r\nHost: x\r\nContent-Length: 8000000\r\n\r\n")
        send_in_background(s, b"\0" * (1 << 20))
        answer = read_all(s)
        self.assertRegex(answer.split(b"\r\n", 1)[0], rb"^HTTP/1.1 (413|404) ")
        s.close()


class AdminBodiesBeforeAuth(unittest.IsolatedAsyncioTestCase):
    """Finding 2: 8 MB admin bodies without a token are refused from their head."""

    async def test_unauthenticated_bodies_are_not_buffered(self):
        with NatsServer() as nats, Shield(nats.url, workers=1) as shield:
            shield.wait_ready()
            pid = shield.proc.pid
            before = rss(pid)
            sockets = []
            for _ in range(20):
                s = socket.create_connection(("127.0.0.1", shield.port))
                s.sendall(b"PUT /admin/policies/x HTTP/1.1\r\nHost: x\r\nContent-Length: 8000000\r\n\r\n")
                send_in_background(s, b"\0" * (8000000))
                sockets.append(s)
            time.sleep(2)
            grown = rss(pid) - before
            self.assertLess(grown, 24 * MiB, f"RSS grew by {grown >> 20} MiB")
            for s in sockets:
                self.assertTrue(read_all(s).startswith(b"HTTP/1.1 401 "))
                s.close()
            # and a body larger than admin_max_body_bytes is refused from its head too
            token = make_token({"role": "admin", "tenant_id": "x"})
            s = socket.create_connection(("127.0.0.1", shield.port))
            s.sendall(f"PUT /admin/policies/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                      "Content-Length: 9000000\r\n\r\n".encode())
            self.assertTrue(read_all(s).startswith(b"HTTP/1.1 413 "))
            s.close()


class ForgedHeaders(StackCase):
    """Finding 3 (stamped headers), and 17 (policies see the room)."""
    extra_toml = '[platform.mirroring]\nenabled = true\nrules = [{ prefix = "in.>", percent = 1.0 }]\n'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        import subprocess
        r = subprocess.run([os.path.join(BIN, "arq"), "policy", "push", "--tenant", "FH",
                            os.path.join(POLICIES, "deny_mallory_vault.wasm"), "--nats", cls.nats.url],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + 10
        while 'msg="policy installed" module=FH' not in cls.shield.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)

    async def connect(self, sub):
        ws = await websockets.connect(self.shield.url(make_token({"tenant_id": "FH", "sub": sub, "rooms": ["*"]})))
        await ws.recv()
        return ws

    async def test_client_headers_cannot_pose_as_stamped_ones(self):
        spy = NatsClient(self.nats.port)
        spy.subscribe("in.t.FH.r.R1")
        spy.subscribe("shadow.in.t.FH.r.R1")
        mallory = await self.connect("mallory")
        forged = {"X-Arqon-Sender": "alice", "x-arqon-tenant": "T1", "x-arqon-conn": "n1-0-1",
                  "x-arqon-trace-id": "0af7651916cd43dd8448eb211c80319c", "x-arqon-room": "R1",
                  "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                  "Nats-Msg-Id": "dup", "keep-me": "yes"}
        await mallory.send(event_json("R1", id_="m1", headers=forged))
        e = await recv_until(mallory, lambda e: e.id == "m1")
        self.assertEqual(error_of(e)["code"], 403)  # the policy saw the stamped sender
        self.assertIsNone(spy.next_msg(0.3))
        bob = await self.connect("bob")
        await bob.send(event_json("R1", id_="b1", headers=forged))
        e = await recv_until(bob, lambda e: e.id == "b1")
        self.assertEqual(e.event.type, "ack")
        for _ in range(2):  # the primary and its mirror carry the same
            subject, headers, payload = spy.next_msg()
            env = envelope_pb2.Envelope()
            env.ParseFromString(payload)
            self.assertEqual(dict(env.headers), {"keep-me": "yes"})
            self.assertEqual((headers["x-arqon-sender"], headers["x-arqon-tenant"]), ("bob", "FH"))
            self.assertNotIn("Nats-Msg-Id", headers)
            self.assertNotEqual(headers["x-arqon-trace-id"], "0af7651916cd43dd8448eb211c80319c")
        self.assertGreaterEqual(metric(self.shield, "shield_reserved_headers_stripped_total"), 14)
        spy.close()
        await mallory.close()
        await bob.close()

    async def test_policies_see_the_room_of_commands(self):
        ws = await self.connect("bob")
        await ws.send(cmd_json("join", "vault", "j1"))
        e = await recv_until(ws, lambda e: e.id == "j1")
        self.assertEqual(error_of(e)["code"], 403)
        await ws.send(cmd_json("join", "open", "j2"))
        e = await recv_until(ws, lambda e: e.id == "j2")
        self.assertEqual(e.event.type, "ack")
        await ws.close()


class Rooms(StackCase):
    """Findings 4 (empty rooms claim), 9 (rooms per connection), 17 (reserved types), 18."""
    extra_toml = "[shield]\nmax_rooms_per_connection = 3\n"

    async def connect(self, **claims):
        ws = await websockets.connect(self.shield.url(make_token(claims)), max_size=None)
        await ws.recv()
        return ws

    async def test_empty_rooms_claim_grants_nothing(self):
        ws = await self.connect(rooms=[])
        await ws.send(cmd_json("join", "R1", "j"))
        self.assertEqual(error_of(await recv_until(ws, lambda e: e.id == "j"))["code"], 403)
        await ws.send(event_json("R1", id_="e"))
        self.assertEqual(error_of(await recv_until(ws, lambda e: e.id == "e"))["code"], 403)
        await ws.close()

    async def test_rooms_per_connection(self):
        ws = await self.connect()
        for i in range(3):
            await ws.send(cmd_json("join", f"R{i}", f"j{i}"))
            self.assertEqual((await recv_until(ws, lambda e: e.id == f"j{i}")).event.type, "ack")
        await ws.send(cmd_json("join", "R0", "again"))  # already a member: not a new room
        self.assertEqual((await recv_until(ws, lambda e: e.id == "again")).event.type, "ack")
        await ws.send(cmd_json("join", "R9", "j9"))
        err = error_of(await recv_until(ws, lambda e: e.id == "j9"))
        self.assertEqual(err["code"], 429)
        self.assertIn("max_rooms_per_connection", err["reason"])
        await ws.send(cmd_json("leave", "R1", "l1"))
        await recv_until(ws, lambda e: e.id == "l1")
        await ws.send(cmd_json("join", "R9", "j9b"))  # a slot was freed
        self.assertEqual((await recv_until(ws, lambda e: e.id == "j9b")).event.type, "ack")
        await ws.close()

    async def test_reserved_event_types(self):
        ws = await self.connect(rooms=["*"])
        for i, etype in enumerate(["ack", "error", "welcome", "pong", "presence.join", "presence.state", "history"]):
            await ws.send(event_json("R1", etype=etype, id_=f"r{i}"))
            err = error_of(await recv_until(ws, lambda e: e.id == f"r{i}"))
            self.assertEqual(err["code"], 400, etype)
        await ws.send(event_json("R1", etype="acknowledged", id_="ok"))
        self.assertEqual((await recv_until(ws, lambda e: e.id == "ok")).event.type, "ack")
        await ws.close()

    async def test_header_maps_and_field_floods_are_refused(self):
        ws = await self.connect(rooms=["*"])
        many = envelope_pb2.Envelope(id="h", room_id="R1", event=envelope_pb2.Event(type="x"))
        for i in range(65):
            many.headers[f"h{i}"] = "v"
        await ws.send(many.SerializeToString())
        # refused while decoding: the error carries no id (the envelope was never read whole)
        err = error_of(await recv_until(ws, lambda e: e.event.type == "error"))
        self.assertEqual(err["code"], 400)
        self.assertIn("headers", err["reason"])
        # 100 000 empty map entries: 200 KB on the wire, refused within its decode budget
        flood = b"\x32\x00" * 100000 + envelope_pb2.Envelope(id="f").SerializeToString()
        await ws.send(flood)
        err = error_of(await recv_until(ws, lambda e: e.event.type == "error"))
        self.assertEqual(err["code"], 400)
        self.assertIn("too many fields", err["reason"])
        await ws.send(event_json("R1", id_="after"))  # the connection goes on
        self.assertEqual((await recv_until(ws, lambda e: e.id == "after")).event.type, "ack")
        await ws.close()

    async def test_error_reasons_are_json_whatever_the_input(self):
        ws = await self.connect(rooms=["*"])
        # an ill-formed room id is quoted nowhere raw; every error payload parses as JSON
        for i, room in enumerate(["\ud800", "a\"b\\c", "x" * 2000, "\u0001"]):
            raw = json.dumps({"roomId": room, "id": f"q{i}", "cmd": {"type": "presence"}})
            await ws.send(raw)
            frame = await asyncio.wait_for(ws.recv(), 5)
            env = json.loads(frame)
            self.assertEqual(env["event"]["type"], "error")
            json.loads(base64.b64decode(env["event"]["data"]))
        await ws.close()


class BigMessages(unittest.IsolatedAsyncioTestCase):
    """Finding 5: an 800 kB binary event delivered to a JSON member with the defaults."""

    async def test_big_binary_event_reaches_json_members(self):
        with NatsServer("max_payload: 2097152") as nats, Shield(nats.url) as shield:
            shield.wait_ready()
            text = await websockets.connect(shield.url(make_token(sub="t", rooms=["*"])), max_size=None)
            await text.recv()
            await text.send(cmd_json("join", "BIG", "j"))
            await recv_until(text, lambda e: e.id == "j")
            backend = NatsClient(nats.port)
            big = envelope_pb2.Envelope(room_id="BIG", event=envelope_pb2.Event(type="blob", data=os.urandom(800_000)))
            for seq in (1, 2, 3):
                big.seq = seq
                backend.publish("out.t.T1.r.BIG", big.SerializeToString())
            backend.flush()
            for seq in (1, 2, 3):
                e = parse(await asyncio.wait_for(text.recv(), 20))
                self.assertEqual((e.seq, len(e.event.data)), (seq, 800_000))
            self.assertEqual(metric(shield, "shield_slow_consumer_disconnects_total"), 0)
            backend.close()
            await text.close()


class BigAnswers(unittest.IsolatedAsyncioTestCase):
    """Finding 5, the history half: a page the member's queue could never take is a 413."""

    async def test_history_page_over_the_queue_is_413(self):
        with NatsServer() as nats, Shield(nats.url, extra_toml=(
                "[shield]\nsend_queue_bytes = 4096\nmax_message_bytes = 4096\n")) as shield:
            shield.wait_ready()
            responder = NatsClient(nats.port)
            responder.subscribe("sys.brain.T1.history")
            ws = await websockets.connect(shield.url(make_token(rooms=["*"])), max_size=None)
            await ws.recv()
            loop = asyncio.get_running_loop()
            for i, size in enumerate((2000, 30000)):
                await ws.send(cmd_json("history", "R1", f"h{i}", data=b'{"since_seq":0,"limit":10}'))
                request = await loop.run_in_executor(None, responder.next_msg)
                page = envelope_pb2.Envelope(room_id="R1", event=envelope_pb2.Event(type="history", data=b"x" * size))
                responder.publish(request.reply, page.SerializeToString())
                responder.flush()
                e = await recv_until(ws, lambda e: e.id == f"h{i}")
                if size == 2000:
                    self.assertEqual(e.event.type, "history")
                else:
                    self.assertEqual(error_of(e)["code"], 413)
            await ws.send(cmd_json("ping", id_="alive"))  # the member was not closed
            self.assertEqual((await recv_until(ws, lambda e: e.id == "alive")).event.type, "ack")
            self.assertEqual(metric(shield, "shield_slow_consumer_disconnects_total"), 0)
            responder.close()
            await ws.close()


class AcceptUnderEmfile(unittest.IsolatedAsyncioTestCase):
    """Finding 6: out of descriptors, the listener pauses instead of spinning."""

    async def test_out_of_descriptors_does_not_spin(self):
        with NatsServer() as nats, Shield(nats.url, workers=1) as shield:
            shield.wait_ready()
            pid = shield.proc.pid
            used = len(os.listdir(f"/proc/{pid}/fd"))
            soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE, (used + 8, resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]))
            clients = [socket.create_connection(("127.0.0.1", shield.port)) for _ in range(40)]
            time.sleep(0.5)
            cpu0, log0 = cpu_seconds(pid), len(shield.log())
            time.sleep(2)
            cpu, logged = cpu_seconds(pid) - cpu0, len(shield.log()) - log0
            self.assertLess(cpu, 1.0, f"{cpu:.2f} s of CPU in 2 s while out of descriptors")
            self.assertLess(logged, 20000, f"{logged} bytes of log in 2 s")
            self.assertIn("accept paused", shield.log())
            for s in clients:
                s.close()
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
            time.sleep(0.5)
            self.assertEqual(shield.http("/healthz")[0], 200)
            self.assertGreaterEqual(metric(shield, "shield_accept_pauses_total"), 1)


class TokenLifetime(StackCase):
    """Finding 7: a connection closes with 4001 when its token expires, unless refreshed."""

    async def test_expired_token_closes_4001(self):
        ws = await websockets.connect(self.shield.url(make_token(ttl=2)))
        await ws.recv()
        with self.assertRaises(websockets.exceptions.ConnectionClosed) as cm:
            while True:
                await asyncio.wait_for(ws.recv(), 6)
        self.assertEqual((cm.exception.rcvd.code, cm.exception.rcvd.reason), (4001, "token expired"))
        self.assertGreaterEqual(metric(self.shield, "shield_tokens_expired_total"), 1)

    async def test_refresh_extends_the_connection(self):
        ws = await websockets.connect(self.shield.url(make_token(ttl=2, rooms=["*"])))
        await ws.recv()
        refresh = json.dumps({"token": make_token(ttl=60, rooms=["*"])}).encode()
        await ws.send(cmd_json("refresh", id_="r", data=refresh))
        self.assertEqual((await recv_until(ws, lambda e: e.id == "r")).event.type, "ack")
        await asyncio.sleep(3.5)  # past the first token's exp
        await ws.send(cmd_json("ping", id_="p"))
        self.assertEqual((await recv_until(ws, lambda e: e.id == "p")).event.type, "ack")
        await ws.close()

    async def test_refresh_refusals(self):
        ws = await websockets.connect(self.shield.url(make_token(ttl=60)))
        await ws.recv()
        cases = [
            (json.dumps({"token": make_token(sub="mallory")}).encode(), 403),
            (json.dumps({"token": make_token(tenant_id="T2")}).encode(), 403),
            (json.dumps({"token": make_token(secret="wrong")}).encode(), 401),
            (json.dumps({"token": make_token(ttl=-10)}).encode(), 401),
            (b'{"tok":1}', 400),
            (b"not json", 400),
        ]
        for i, (data, code) in enumerate(cases):
            await ws.send(cmd_json("refresh", id_=f"x{i}", data=data))
            self.assertEqual(error_of(await recv_until(ws, lambda e: e.id == f"x{i}"))["code"], code, data)
        await ws.send(cmd_json("ping", id_="alive"))  # refusals do not close the connection
        self.assertEqual((await recv_until(ws, lambda e: e.id == "alive")).event.type, "ack")
        await ws.close()

    async def test_narrower_refresh_leaves_uncovered_rooms(self):
        ws = await websockets.connect(self.shield.url(make_token(rooms=["*"])))
        await ws.recv()
        for room in ("keep", "drop"):
            await ws.send(cmd_json("join", room, room))
            await recv_until(ws, lambda e: e.id == room)
        await ws.send(cmd_json("refresh", id_="r", data=json.dumps({"token": make_token(rooms=["keep"])}).encode()))
        self.assertEqual((await recv_until(ws, lambda e: e.id == "r")).event.type, "ack")
        backend = NatsClient(self.nats.port)
        for room in ("drop", "keep"):
            backend.publish(f"out.t.T1.r.{room}", envelope_pb2.Envelope(room_id=room, seq=1, event=envelope_pb2.Event(
                type="x", data=b"y")).SerializeToString())
        backend.flush()
        e = await recv_until(ws, lambda e: e.event.type == "x")
        self.assertEqual(e.room_id, "keep")
        backend.close()
        await ws.close()


class AdminListener(unittest.TestCase):
    """Finding 12: the admin listener is held to the TLS rule."""

    def test_public_admin_listen_without_tls_refuses_to_start(self):
        shield = Shield("nats://127.0.0.1:1", extra_toml='[shield]\nadmin_listen = "0.0.0.0:4999"\n')
        with self.assertRaises(RuntimeError) as cm:
            shield.start(timeout=5)
        self.assertIn("admin_listen", str(cm.exception))

    def test_admin_listener_serves_tls_when_configured(self):
        import http.client
        import tempfile
        from shield_support import self_signed_cert
        with tempfile.TemporaryDirectory() as d, NatsServer() as nats:
            cert, key, ctx = self_signed_cert(d)
            admin_port = free_port()
            with Shield(nats.url, tls_context=ctx, extra_toml=(
                    f'[shield]\ntls_cert = "{cert}"\ntls_key = "{key}"\nadmin_listen = "127.0.0.1:{admin_port}"\n')):
                deadline = time.monotonic() + 10
                while True:
                    try:
                        conn = http.client.HTTPSConnection("127.0.0.1", admin_port, timeout=5, context=ctx)
                        conn.request("GET", "/metrics")
                        r = conn.getresponse()
                        break
                    except ConnectionRefusedError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)
                self.assertEqual(r.status, 200)
                self.assertIn(b"shield_connections", r.read())
                conn.close()


if __name__ == "__main__":
    unittest.main()
