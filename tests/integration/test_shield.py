"""The Shield end to end: real nats-server, real arqon-shield, independent clients."""
import asyncio
import base64
import json
import re
import socket
import struct
import time
import unittest

import websockets
import websockets.exceptions

from arqon_harness import NatsClient, NatsServer
from brain_support import js_request
from shield_support import (Shield, cmd_json, self_signed_cert, envelope_pb2, error_of, event_json, make_token,
                            parse, recv_until)


class ShieldTestCase(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.shield = Shield(cls.nats.url).start()
        cls.shield.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.shield.stop()
        cls.nats.stop()

    def spy(self, subject):
        c = NatsClient(self.nats.port)
        c.subscribe(subject)
        return c

    async def connect(self, encoding=None, **claims):
        # Unless a test says otherwise, the token covers every room (rooms=None: no claim).
        claims.setdefault("rooms", ["*"])
        if claims["rooms"] is None:
            del claims["rooms"]
        ws = await websockets.connect(self.shield.url(make_token(claims), encoding), max_size=None)
        welcome = parse(await asyncio.wait_for(ws.recv(), 5))
        self.assertEqual(welcome.event.type, "welcome")
        return ws, json.loads(welcome.event.data)


class HttpEndpoints(ShieldTestCase):
    async def test_health_ready_metrics(self):
        self.assertEqual(self.shield.http("/healthz"), (200, '{"status":"ok"}'))
        self.assertEqual(self.shield.http("/readyz")[0], 200)
        status, body = self.shield.http("/metrics")
        self.assertEqual(status, 200)
        for name in ["shield_connections", "shield_messages_in_total", "shield_messages_out_total",
                     "shield_route_duration_seconds_bucket", "shield_auth_failures_total",
                     "shield_wasm_execution_duration_seconds_bucket", "shield_wasm_fuel_consumed_total",
                     "shield_policy_denials_total", "shield_mirror_traffic_total",
                     "shield_schema_violation_total", "shield_slow_consumer_disconnects_total"]:
            self.assertIn(name, body)
        import subprocess
        lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
        self.assertEqual(lint.returncode, 0, lint.stdout + lint.stderr)
        self.assertEqual(self.shield.http("/nope")[0], 404)
        status, page = self.shield.http("/")
        self.assertEqual(status, 200)
        self.assertIn("<title>ArqonBus demo</title>", page)
        self.assertIn('<script type="module" src="demo/app.js">', page)
        self.assertEqual(self.shield.http("/healthz", method="POST")[0], 405)

    async def test_malformed_request_says_why(self):
        s = socket.create_connection(("127.0.0.1", self.shield.port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n")
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
        s.close()
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 400 "), head)
        self.assertEqual(json.loads(body)["details"], "malformed request: whitespace before colon")

    async def test_not_an_upgrade(self):
        status, body = self.shield.http("/ws")
        self.assertEqual(status, 400)
        status, body = self.shield.http("/ws", headers={
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "8",
            "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode()})
        self.assertEqual(status, 426)


class Auth(ShieldTestCase):
    async def assert_refused(self, url, details, headers=None):
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
            await websockets.connect(url, extra_headers=headers or {})
        self.assertEqual(cm.exception.status_code, 401)
        # The JSON body is checked through plain HTTP (websockets hides it).
        status, body = self.shield.http(url.replace("ws://127.0.0.1:%d" % self.shield.port, ""),
                                        headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                                 "Sec-WebSocket-Version": "13",
                                                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                 **(headers or {})})
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body), {"error": "Unauthorized", "details": details})

    async def test_refusals(self):
        s = self.shield
        await self.assert_refused(s.url(), "missing token")
        await self.assert_refused(s.url(make_token(secret="wrong")), "invalid token")
        await self.assert_refused(s.url(make_token(ttl=-10)), "token expired")
        await self.assert_refused(s.url(make_token(header={"alg": "none", "typ": "JWT"})), "invalid token")
        await self.assert_refused(s.url(make_token(header={"alg": "HS512", "typ": "JWT"})), "invalid token")
        await self.assert_refused(s.url(make_token({"nbf": int(time.time()) + 600})), "token not yet valid")
        for bad in ["a.b", "*", ">", "", "x" * 65]:
            await self.assert_refused(s.url(make_token({"tenant_id": bad})),
                                      "tenant_id missing or not a valid id")
        await self.assert_refused(s.url(make_token({"sub": "u.v"})), "sub missing or not a valid id")
        status, body = s.http("/metrics")
        self.assertRegex(body, r"shield_auth_failures_total [1-9]")

    async def test_bearer_header(self):
        ws = await websockets.connect(self.shield.url(),
                                      extra_headers={"Authorization": "Bearer " + make_token()})
        self.assertEqual(parse(await ws.recv()).event.type, "welcome")
        await ws.close()


class Routing(ShieldTestCase):
    async def test_event_is_stamped_and_published(self):
        spy = self.spy("in.t.T1.r.>")
        ws, welcome = await self.connect(sub="alice")
        self.assertEqual(welcome["tenant_id"], "T1")
        self.assertEqual(welcome["user"], "alice")
        self.assertEqual(welcome["node"], "n1")
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        await ws.send(event_json("R1", id_="m1", tenantId="EVIL", sender="mallory",
                                 traceId=trace, data=b"hi"))
        reply = parse(await ws.recv())
        self.assertEqual((reply.id, reply.event.type), ("m1", "ack"))
        subject, headers, payload = spy.next_msg()
        self.assertEqual(subject, "in.t.T1.r.R1")  # the spoofed tenant routes nowhere else
        e = envelope_pb2.Envelope.FromString(payload)
        self.assertEqual(e.tenant_id, "T1")
        self.assertEqual(e.sender, "alice")
        self.assertEqual(e.conn_id, welcome["conn_id"])
        self.assertEqual(e.trace_id, trace)
        self.assertAlmostEqual(e.timestamp / 1000, time.time(), delta=30)
        self.assertEqual((e.event.type, e.event.data), ("chat.message", b"hi"))
        self.assertEqual(headers["x-arqon-tenant"], "T1")
        self.assertEqual(headers["x-arqon-sender"], "alice")
        self.assertEqual(headers["x-arqon-conn"], welcome["conn_id"])
        self.assertEqual(headers["x-arqon-trace-id"], trace)
        self.assertEqual(headers["x-arqon-node"], "n1")
        self.assertRegex(headers["traceparent"], r"^00-%s-[0-9a-f]{16}-01$" % trace)
        self.assertIsNone(spy.next_msg(0.2))
        await ws.close()
        spy.close()

    async def test_invalid_trace_id_is_replaced(self):
        spy = self.spy("in.t.T1.r.>")
        ws, _ = await self.connect()
        await ws.send(event_json("R1", id_="m2", traceId="00000000000000000000000000000000"))
        await ws.recv()
        _, headers, payload = spy.next_msg()
        e = envelope_pb2.Envelope.FromString(payload)
        self.assertRegex(e.trace_id, r"^[0-9a-f]{32}$")
        self.assertNotEqual(e.trace_id, "0" * 32)
        self.assertEqual(headers["x-arqon-trace-id"], e.trace_id)
        await ws.close()
        spy.close()

    async def test_binary_frames_get_binary_replies(self):
        spy = self.spy("in.t.T1.r.>")
        ws, _ = await self.connect(encoding="binary")
        e = envelope_pb2.Envelope(id="b1", room_id="R2")
        e.event.type = "bin"
        e.event.data = b"\x00\x01"
        await ws.send(e.SerializeToString())
        frame = await ws.recv()
        self.assertIsInstance(frame, bytes)
        reply = envelope_pb2.Envelope.FromString(frame)
        self.assertEqual((reply.id, reply.event.type), ("b1", "ack"))
        subject, _, payload = spy.next_msg()
        self.assertEqual(subject, "in.t.T1.r.R2")
        self.assertEqual(envelope_pb2.Envelope.FromString(payload).event.data, b"\x00\x01")
        await ws.send(b"\xff\xff\xff")  # not an envelope
        err = error_of(envelope_pb2.Envelope.FromString(await ws.recv()))
        self.assertEqual(err["code"], 400)
        await ws.close()
        spy.close()

    async def test_bad_input_is_answered_never_dropped(self):
        ws, _ = await self.connect()
        cases = [
            ("not json", 400),
            (json.dumps({"id": "x1", "roomId": "R1", "bogus": 1}), 400),
            (event_json("a.b", id_="x2"), 400),
            (event_json("*", id_="x3"), 400),
            (event_json(">", id_="x4"), 400),
            (json.dumps({"id": "x5", "roomId": "R1"}), 400),
            (cmd_json("dance", "R1", "x6"), 400),
            (json.dumps({"id": "x7", "signal": {"type": "BAN"}}), 400),
        ]
        for text, code in cases:
            await ws.send(text)
            e = parse(await ws.recv())
            self.assertEqual(e.event.type, "error", text)
            self.assertEqual(error_of(e)["code"], code, text)
        await ws.close()

    async def test_rooms_claim(self):
        audit = self.spy("sys.audit.>")
        ws, welcome = await self.connect(rooms=["lobby", "game-*"])
        await ws.send(cmd_json("join", "secret", "j1"))
        self.assertEqual(error_of(parse(await ws.recv()))["code"], 403)
        await ws.send(event_json("secret", id_="e1"))
        denied = parse(await ws.recv())
        self.assertEqual(error_of(denied)["code"], 403)
        # Both refusals are on the tenant's audit trail, with the SPEC headers.
        records = [audit.next_msg() for _ in range(2)]
        for (subject, headers, payload), want in zip(records, ["sys.brain.T1.join", "in.t.T1.r.secret"]):
            rec = json.loads(payload)
            self.assertEqual(subject, "sys.audit.T1")
            self.assertEqual((rec["component"], rec["action"], rec["code"], rec["subject"]),
                             ("shield", "permission_denied", 403, want))
            self.assertEqual((rec["tenant"], rec["conn"], rec["node"]),
                             ("T1", welcome["conn_id"], welcome["node"]))
            self.assertEqual(headers["x-arqon-trace-id"], rec["trace_id"])
            self.assertEqual(headers["x-arqon-tenant"], "T1")
            self.assertRegex(headers["traceparent"], "^00-" + rec["trace_id"] + "-[0-9a-f]{16}-01$")
        self.assertEqual(json.loads(records[1][2])["trace_id"], denied.trace_id)
        audit.close()
        await ws.send(event_json("game-7", id_="e2"))  # covered by the claim
        self.assertEqual(parse(await ws.recv()).event.type, "ack")
        await ws.send(cmd_json("join", "lobby", "j2"))
        self.assertEqual(parse(await ws.recv()).event.type, "ack")
        await ws.close()

    async def test_publish_needs_membership_without_claim(self):
        ws, _ = await self.connect(rooms=None)
        # No rooms claim: joining is allowed, publishing to a room not joined is not.
        await ws.send(event_json("R9", id_="p1"))
        self.assertEqual(error_of(parse(await ws.recv()))["code"], 403)
        await ws.send(cmd_json("join", "R9", "p2"))
        self.assertEqual(parse(await ws.recv()).event.type, "ack")
        await ws.send(event_json("R9", id_="p3"))
        self.assertEqual(parse(await ws.recv()).event.type, "ack")
        await ws.send(cmd_json("leave", "R9", "p4"))
        self.assertEqual(parse(await ws.recv()).event.type, "ack")
        await ws.send(cmd_json("leave", "R9", "p5"))
        self.assertEqual(error_of(parse(await ws.recv()))["code"], 404)
        await ws.close()

    async def test_join_notice_reaches_brain_subject(self):
        spy = self.spy("sys.brain.T1.>")
        ws, welcome = await self.connect(sub="bob")
        await ws.send(cmd_json("join", "R5", "j"))
        await ws.recv()
        subject, headers, payload = spy.next_msg()
        self.assertEqual(subject, "sys.brain.T1.join")
        e = envelope_pb2.Envelope.FromString(payload)
        self.assertEqual((e.room_id, e.sender, e.conn_id), ("R5", "bob", welcome["conn_id"]))
        await ws.close()
        subject, _, payload = spy.next_msg()  # leaving on close is announced too
        self.assertEqual(subject, "sys.brain.T1.leave")
        spy.close()

    async def test_presence_without_brain_is_503(self):
        ws, _ = await self.connect()
        await ws.send(cmd_json("presence", "R1", "q1"))
        e = parse(await ws.recv())
        self.assertEqual(e.id, "q1")
        self.assertEqual(error_of(e)["code"], 503)
        await ws.close()

    async def test_reads_need_membership(self):
        ws, _ = await self.connect(rooms=None)
        for cmd in ("presence", "history"):
            await ws.send(cmd_json(cmd, "R8", "r-" + cmd))
            e = parse(await ws.recv())
            self.assertEqual((e.id, error_of(e)["code"]), ("r-" + cmd, 403))
        await ws.close()

    async def test_presence_answered_by_a_responder(self):
        responder = NatsClient(self.nats.port)
        responder.subscribe("sys.brain.T1.presence")
        ws, welcome = await self.connect(sub="carol")
        await ws.send(cmd_json("presence", "R1", "q2"))
        loop = asyncio.get_running_loop()
        request = await loop.run_in_executor(None, responder.next_msg)
        self.assertEqual(request[0], "sys.brain.T1.presence")
        self.assertIsNotNone(request.reply)
        asked = envelope_pb2.Envelope.FromString(request[2])
        self.assertEqual((asked.cmd.type, asked.room_id, asked.sender, asked.conn_id),
                         ("presence", "R1", "carol", welcome["conn_id"]))
        state = envelope_pb2.Envelope(room_id="R1", event=envelope_pb2.Event(
            type="presence.state", data=b'[{"user":"carol"}]'))
        responder.publish(request.reply, state.SerializeToString())
        responder.flush()
        e = parse(await asyncio.wait_for(ws.recv(), 5))
        self.assertEqual((e.id, e.event.type, e.event.data), ("q2", "presence.state", b'[{"user":"carol"}]'))
        responder.close()
        await ws.close()


class IngressConfirmation(unittest.IsolatedAsyncioTestCase):
    """A room event's ack means ARQON_INGRESS stored it: the Shield creates the stream when it
    is missing, answers 503 when the stream refuses, is missing or does not answer in time,
    and refuses at once past max_unconfirmed_publishes."""

    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.shield = Shield(cls.nats.url, workers=1, extra_toml=(
            "[shield]\nconn_rate = 100000.0\nconn_burst = 100000\n"
            "max_unconfirmed_publishes = 64\npublish_timeout_ms = 1500\n")).start()
        cls.shield.wait_ready()
        cls.js = NatsClient(cls.nats.port)

    @classmethod
    def tearDownClass(cls):
        cls.js.close()
        cls.shield.stop()
        cls.nats.stop()

    def metric(self, name):
        body = self.shield.http("/metrics")[1]
        m = re.search("^" + re.escape(name) + r" (\S+)$", body, re.M)
        return float(m.group(1)) if m else 0.0

    def failures(self, reason):
        return self.metric('shield_publish_confirm_failures_total{reason="%s"}' % reason)

    def stream(self):
        return js_request(self.js, "$JS.API.STREAM.INFO.ARQON_INGRESS")

    def wait_stream(self):
        deadline = time.monotonic() + 20
        while "error" in self.stream():
            self.assertLess(time.monotonic(), deadline, "the Shield did not create ARQON_INGRESS")
            time.sleep(0.1)

    def recreate_stream(self, **settings):
        """ARQON_INGRESS again, with the Shield's subjects and `settings` on top."""
        js_request(self.js, "$JS.API.STREAM.DELETE.ARQON_INGRESS")
        config = {"name": "ARQON_INGRESS", "subjects": ["in.t.*.r.*"], "storage": "file", **settings}
        self.assertNotIn("error", js_request(self.js, "$JS.API.STREAM.CREATE.ARQON_INGRESS",
                                             json.dumps(config).encode()))

    async def connect(self):
        ws = await websockets.connect(self.shield.url(make_token({"tenant_id": "C1", "rooms": ["*"]})))
        self.assertEqual(parse(await ws.recv()).event.type, "welcome")
        return ws

    async def answers(self, ws, n):
        """The next n answers, by client id."""
        got = {}
        while len(got) < n:
            e = parse(await asyncio.wait_for(ws.recv(), 10))
            got[e.id] = (e.event.type, json.loads(e.event.data)["code"] if e.event.type == "error" else 0)
        return got

    async def test_1_acked_means_stored(self):
        self.wait_stream()
        before = self.stream()["state"]["messages"]
        ws = await self.connect()
        for i in range(50):
            await ws.send(event_json("R1", id_=f"s{i}", data=b"stored"))
        got = await self.answers(ws, 50)
        self.assertEqual(set(got.values()), {("ack", 0)})
        self.assertEqual(self.stream()["state"]["messages"] - before, 50)
        await ws.close()

    async def test_2_refused_by_the_stream(self):
        self.recreate_stream(max_msgs=3, discard="new")
        before = self.failures("refused")
        ws = await self.connect()
        for i in range(5):
            await ws.send(event_json("R1", id_=f"r{i}"))
        got = await self.answers(ws, 5)
        self.assertEqual(sorted(got.values()), [("ack", 0)] * 3 + [("error", 503)] * 2)
        self.assertEqual(self.stream()["state"]["messages"], 3)  # what was acked is what is stored
        self.assertEqual(self.failures("refused") - before, 2)
        await ws.close()

    async def test_3_no_stream_then_created_again(self):
        js_request(self.js, "$JS.API.STREAM.DELETE.ARQON_INGRESS")
        before = self.failures("no_stream")
        ws = await self.connect()
        await ws.send(event_json("R1", id_="n1"))
        e = parse(await asyncio.wait_for(ws.recv(), 5))
        self.assertEqual((e.id, e.event.type), ("n1", "error"))
        self.assertEqual(json.loads(e.event.data)["code"], 503)
        self.assertIn("ARQON_INGRESS", json.loads(e.event.data)["reason"])
        self.assertEqual(self.failures("no_stream") - before, 1)
        self.recreate_stream()
        await ws.send(event_json("R1", id_="n2"))
        self.assertEqual(await self.answers(ws, 1), {"n2": ("ack", 0)})
        await ws.close()

    async def test_4_bound_then_timeout_then_recovery(self):
        # No stream, but a subscriber that never answers: nothing confirms, nothing says "no
        # responders"; 64 events wait, the rest are refused at once, the 64 time out.
        js_request(self.js, "$JS.API.STREAM.DELETE.ARQON_INGRESS")
        silent = NatsClient(self.nats.port)
        silent.subscribe("in.t.C1.r.>")
        full, timeout = self.failures("full"), self.failures("timeout")
        ws = await self.connect()
        for i in range(100):
            await ws.send(event_json("R1", id_=f"b{i}"))
        first = await self.answers(ws, 36)  # the refusals come first, at once
        self.assertEqual(set(first), {f"b{i}" for i in range(64, 100)})
        self.assertEqual(set(first.values()), {("error", 503)})
        self.assertEqual(self.failures("full") - full, 36)
        self.assertEqual(self.metric("shield_unconfirmed_publishes"), 64)
        rest = await self.answers(ws, 64)
        self.assertEqual(set(rest), {f"b{i}" for i in range(64)})
        self.assertEqual(set(rest.values()), {("error", 503)})
        self.assertEqual(self.failures("timeout") - timeout, 64)
        self.assertEqual(self.metric("shield_unconfirmed_publishes"), 0)
        silent.close()
        self.recreate_stream()
        await ws.send(event_json("R1", id_="after"))
        self.assertEqual(await self.answers(ws, 1), {"after": ("ack", 0)})
        await ws.close()


class Egress(ShieldTestCase):
    async def test_room_broadcast_reaches_members_only(self):
        a, wa = await self.connect(sub="a")
        b, _ = await self.connect(sub="b", encoding="binary")
        other_tenant, _ = await self.connect(sub="c", tenant_id="T2")
        outsider, _ = await self.connect(sub="d")
        for ws, rid in [(a, "ja"), (b, "jb"), (other_tenant, "jc")]:
            await ws.send(cmd_json("join", "R1", rid) if ws is not b else
                          envelope_pb2.Envelope(id=rid, room_id="R1", cmd=envelope_pb2.Command(type="join")).SerializeToString())
            self.assertEqual(parse(await ws.recv()).event.type, "ack")
        backend = NatsClient(self.nats.port)
        out = envelope_pb2.Envelope(room_id="R1", seq=7, sender="a")
        out.event.type = "chat.message"
        out.event.data = b"fan-out"
        backend.publish("out.t.T1.r.R1", out.SerializeToString())
        backend.flush()
        ea = parse(await asyncio.wait_for(a.recv(), 5))
        self.assertEqual((ea.room_id, ea.seq, ea.sender, ea.event.data), ("R1", 7, "a", b"fan-out"))
        fb = await asyncio.wait_for(b.recv(), 5)
        self.assertIsInstance(fb, bytes)  # binary client gets the protobuf frame
        self.assertEqual(envelope_pb2.Envelope.FromString(fb), out)
        for ws in (other_tenant, outsider):
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.3)
        # to one user, and to one connection
        backend.publish("out.t.T1.u.d", out.SerializeToString())
        backend.publish(f"out.t.T1.c.n1.{wa['conn_id']}", out.SerializeToString())
        backend.flush()
        self.assertEqual(parse(await asyncio.wait_for(outsider.recv(), 5)).seq, 7)
        self.assertEqual(parse(await asyncio.wait_for(a.recv(), 5)).seq, 7)
        backend.close()
        for ws in (a, b, other_tenant, outsider):
            await ws.close()


class RawProtocol(ShieldTestCase):
    """RFC 6455 behaviours a library client would never send, over a raw socket."""

    def handshake(self):
        s = socket.create_connection(("127.0.0.1", self.shield.port), timeout=5)
        s.sendall((f"GET /ws?token={make_token()} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        self.assertIn(b"101 Switching Protocols", head)
        self.assertIn(b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", head)
        self.read_frame(s)  # welcome
        return s

    def read_frame(self, s):
        def exactly(n):
            b = b""
            while len(b) < n:
                chunk = s.recv(n - len(b))
                if not chunk:
                    raise ConnectionError("closed")
                b += chunk
            return b
        b0, b1 = exactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", exactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", exactly(8))[0]
        return b0 & 0x0F, exactly(n)

    @staticmethod
    def frame(opcode, payload, fin=True, mask=True, rsv=0):
        head = bytes([(0x80 if fin else 0) | rsv | opcode])
        n = len(payload)
        m = 0x80 if mask else 0
        if n < 126:
            head += bytes([m | n])
        elif n < 65536:
            head += bytes([m | 126]) + struct.pack("!H", n)
        else:
            head += bytes([m | 127]) + struct.pack("!Q", n)
        if not mask:
            return head + payload
        key = b"\x01\x02\x03\x04"
        return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))

    def expect_close(self, s, code):
        while True:
            op, payload = self.read_frame(s)
            if op == 8:
                self.assertEqual(struct.unpack("!H", payload[:2])[0], code)
                return

    async def test_ping_pong_and_clean_close(self):
        s = self.handshake()
        s.sendall(self.frame(9, b"hello"))
        self.assertEqual(self.read_frame(s), (10, b"hello"))
        s.sendall(self.frame(8, struct.pack("!H", 1000) + b"bye"))
        self.expect_close(s, 1000)
        self.assertEqual(s.recv(1), b"")  # the server closes the TCP connection after
        s.close()

    async def test_protocol_violations(self):
        for frame, code in [
            (self.frame(1, b"x", mask=False), 1002),      # unmasked client frame
            (self.frame(1, b"x", rsv=0x40), 1002),        # reserved bit
            (self.frame(3, b"x"), 1002),                  # unknown opcode
            (self.frame(9, b"x" * 126), 1002),            # control frame too long
            (self.frame(0, b"x"), 1002),                  # continuation without a start
            (self.frame(1, b"\xc0\xaf"), 1007),           # invalid UTF-8
            (self.frame(8, struct.pack("!H", 1005)), 1002),  # invalid close code
            (self.frame(2, b"x" * (1024 * 1024 + 1)), 1009),  # over max_message_bytes
        ]:
            s = self.handshake()
            s.sendall(frame)
            self.expect_close(s, code)
            s.close()

    async def test_fragmented_text_with_interleaved_ping(self):
        s = self.handshake()
        msg = cmd_json("ping", id_="frag").encode()
        s.sendall(self.frame(1, msg[:5], fin=False) + self.frame(9, b"p") + self.frame(0, msg[5:]))
        self.assertEqual(self.read_frame(s), (10, b"p"))
        op, payload = self.read_frame(s)
        self.assertEqual(op, 1)
        self.assertEqual(parse(payload.decode()).id, "frag")
        s.close()


class SlowConsumer(unittest.IsolatedAsyncioTestCase):
    async def test_slow_consumer_closed_others_keep_receiving(self):
        # The default 1 MiB send queue. The good client reads every batch before the next
        # one is published, so its backlog stays far below the limit however slow this
        # machine is; the slow one never reads, and passes it once the kernel's buffers fill.
        with NatsServer() as nats, Shield(nats.url) as shield:
            slow = socket.create_connection(("127.0.0.1", shield.port))
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.sendall((f"GET /ws?token={make_token(sub='slow', rooms=['*'])} HTTP/1.1\r\nHost: x\r\n"
                          "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
            slow.sendall(RawProtocol.frame(1, cmd_json("join", "R1", "j").encode()))
            good = await websockets.connect(shield.url(make_token(sub="good", rooms=["*"])), max_size=None)
            await good.recv()
            await good.send(cmd_json("join", "R1", "g"))
            await recv_until(good, lambda e: e.event.type == "ack")
            backend = NatsClient(nats.port)
            big = envelope_pb2.Envelope(room_id="R1", event=envelope_pb2.Event(type="x", data=b"y" * 16000))
            batches, per_batch = 40, 25  # 16 MB in all
            for b in range(batches):
                for i in range(per_batch):
                    big.seq = b * per_batch + i + 1
                    backend.publish("out.t.T1.r.R1", big.SerializeToString())
                backend.flush()
                for i in range(per_batch):
                    e = parse(await asyncio.wait_for(good.recv(), 20))
                    self.assertEqual(e.seq, b * per_batch + i + 1)  # nothing lost, in order
            deadline = time.monotonic() + 10
            body = ""
            while time.monotonic() < deadline:
                body = shield.http("/metrics")[1]
                if "shield_slow_consumer_disconnects_total 1" in body:
                    break
                time.sleep(0.1)
            self.assertIn("shield_slow_consumer_disconnects_total 1\n", body)
            backend.close()
            slow.close()
            await good.close()


class SpineFailure(unittest.IsolatedAsyncioTestCase):
    async def test_nats_down_503_then_recovers_on_same_connection(self):
        nats = NatsServer().start()
        try:
            with Shield(nats.url) as shield:
                shield.wait_ready()
                ws = await websockets.connect(shield.url(make_token()))
                await ws.recv()
                await ws.send(cmd_json("join", "R1", "j"))
                self.assertEqual(parse(await ws.recv()).event.type, "ack")
                nats.kill()
                deadline = time.monotonic() + 10
                while shield.http("/readyz")[0] != 503 and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertEqual(shield.http("/readyz")[0], 503)
                await ws.send(event_json("R1", id_="down"))
                e = parse(await ws.recv())
                self.assertEqual((e.id, error_of(e)["code"]), ("down", 503))
                nats.restart()
                shield.wait_ready(15)
                # The Brain may have expired this node's presence: the joins are announced again.
                deadline = time.monotonic() + 10
                while "joins announced again after reconnecting" not in shield.log() and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertRegex(shield.log(), r'msg="joins announced again after reconnecting" count=1')
                spy = NatsClient(nats.port)
                spy.subscribe("in.t.T1.r.R1")
                await ws.send(event_json("R1", id_="up"))
                e = parse(await ws.recv())
                self.assertEqual((e.id, e.event.type), ("up", "ack"))
                self.assertEqual(spy.next_msg()[0], "in.t.T1.r.R1")
                # egress resumes too: the room subscription came back with the reconnect
                time.sleep(0.3)
                spy.publish("out.t.T1.r.R1", envelope_pb2.Envelope(room_id="R1", seq=1).SerializeToString())
                spy.flush()
                self.assertEqual(parse(await asyncio.wait_for(ws.recv(), 5)).seq, 1)
                spy.close()
                await ws.close()
        finally:
            nats.stop()


class SpineMaxPayload(unittest.IsolatedAsyncioTestCase):
    """An event within the Shield's message limit (1 MiB) but over NATS max_payload: 413
    for that message only, counted, logged once; the connection goes on."""

    async def test_413_then_the_connection_goes_on(self):
        with NatsServer(extra_conf="max_payload: 4096") as nats, Shield(nats.url) as shield:
            shield.wait_ready()
            spy = NatsClient(nats.port)
            spy.subscribe("in.t.T1.r.R1")
            audit = NatsClient(nats.port)
            audit.subscribe("sys.audit.T1")
            ws = await websockets.connect(shield.url(make_token({"rooms": ["*"]})), max_size=None)
            await ws.recv()
            for i in range(2):
                await ws.send(event_json("R1", data=b"x" * 6000, id_=f"big{i}"))
                e = parse(await asyncio.wait_for(ws.recv(), 5))
                self.assertEqual((e.id, error_of(e)["code"]), (f"big{i}", 413))
                self.assertIn("max_payload", error_of(e)["reason"])
            await ws.send(event_json("R1", data=b"y" * 100, id_="small"))
            e = parse(await asyncio.wait_for(ws.recv(), 5))
            self.assertEqual((e.id, e.event.type), ("small", "ack"))
            subject, _, payload = spy.next_msg()  # only the small one went out
            self.assertEqual((subject, envelope_pb2.Envelope.FromString(payload).id), ("in.t.T1.r.R1", "small"))
            self.assertIsNone(spy.next_msg(timeout=0.3))
            body = shield.http("/metrics")[1]
            self.assertIn("shield_messages_too_large_total 2\n", body)
            self.assertIn("shield_spine_unavailable_total 0\n", body)
            self.assertEqual(shield.log().count("exceeds NATS max_payload"), 1)
            self.assertEqual(shield.http("/readyz")[0], 200)  # not taken for a spine outage
            recs = [json.loads(audit.next_msg()[2]) for _ in range(2)]
            self.assertEqual([(r["action"], r["code"], r["subject"]) for r in recs],
                             [("too_large", 413, "in.t.T1.r.R1")] * 2)
            audit.close()
            spy.close()
            await ws.close()


class Limits(unittest.IsolatedAsyncioTestCase):
    """Rate limits, caps, origins and timeouts, with small limits."""

    @classmethod
    def setUpClass(cls):
        from arqon_harness import free_port
        cls.nats = NatsServer().start()
        cls.admin_port = free_port()
        cls.shield = Shield(cls.nats.url, workers=1, extra_toml=(
            "[shield]\nconn_rate = 0.01\nconn_burst = 5\nmax_connections_per_tenant = 2\n"
            'allowed_origins = ["https://good.example"]\nhandshake_timeout_ms = 500\n'
            'max_message_bytes = 4096\ntrusted_proxies = ["127.0.0.1"]\n'
            f'admin_listen = "127.0.0.1:{cls.admin_port}"\n')).start()
        cls.shield.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.shield.stop()
        cls.nats.stop()

    async def connect(self, tenant="L1", **kw):
        ws = await websockets.connect(self.shield.url(make_token({"tenant_id": tenant, "rooms": ["*"]})), **kw)
        await ws.recv()
        return ws

    async def test_rate_limit_answers_429_then_closes_1008(self):
        audit = NatsClient(self.nats.port)
        audit.subscribe("sys.audit.RL")
        ws = await self.connect("RL")
        codes = []
        for i in range(8):
            await ws.send(event_json("R1", id_=f"r{i}"))
            e = parse(await ws.recv())
            codes.append(error_of(e)["code"] if error_of(e) else 200)
        self.assertEqual(codes[:5], [200] * 5)  # the burst
        self.assertEqual(codes[5:], [429] * 3)  # then refused, each one answered
        # Persisting closes the connection with 1008.
        with self.assertRaises(websockets.exceptions.ConnectionClosed) as cm:
            for i in range(40):
                await ws.send(event_json("R1", id_=f"x{i}"))
                await asyncio.wait_for(ws.recv(), 5)
        self.assertEqual(cm.exception.rcvd.code, 1008)
        self.assertRegex(self.admin_metrics(), r"shield_rate_limited_total [1-9]")
        # the 429s are not audited one by one; the close for abuse is, once
        rec = json.loads(audit.next_msg()[2])
        self.assertEqual((rec["action"], rec["code"]), ("closed_for_abuse", 1008))
        self.assertIsNone(audit.next_msg(0.3))
        audit.close()

    def admin_metrics(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=5)
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode()
        conn.close()
        return body

    async def test_tenant_connection_cap(self):
        a = await self.connect("CAP")
        b = await self.connect("CAP")
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
            await self.connect("CAP")
        self.assertEqual(cm.exception.status_code, 429)
        other = await self.connect("CAP2")  # other tenants are not affected
        await a.close()
        await asyncio.sleep(0.2)
        c = await self.connect("CAP")  # a slot was freed
        for ws in (b, other, c):
            await ws.close()

    async def test_origin_checked(self):
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
            await self.connect("O1", origin="https://evil.example")
        self.assertEqual(cm.exception.status_code, 403)
        ws = await self.connect("O1", origin="https://good.example")
        await ws.close()

    async def test_message_too_big_closes_1009(self):
        ws = await self.connect("BIG")
        await ws.send(event_json("R1", data=b"x" * 5000))
        with self.assertRaises(websockets.exceptions.ConnectionClosed) as cm:
            await asyncio.wait_for(ws.recv(), 5)
        self.assertEqual(cm.exception.rcvd.code, 1009)

    async def test_handshake_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.shield.port), timeout=5)
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
        start = time.monotonic()
        self.assertEqual(s.recv(100), b"")  # the server hangs up
        self.assertLess(time.monotonic() - start, 4)
        s.close()

    async def test_keep_alive_http(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.shield.port, timeout=5)
        for _ in range(3):
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            self.assertEqual((r.status, r.read()), (200, b'{"status":"ok"}'))
        conn.close()

    async def test_admin_listen_moves_metrics(self):
        import http.client
        self.assertEqual(self.shield.http("/metrics")[0], 404)
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=5)
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertIn(b"shield_connections", r.read())
        conn.close()

    async def test_forwarded_for_only_from_trusted_proxy(self):
        ws = await self.connect("XFF", extra_headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
        await ws.close()
        await asyncio.sleep(0.1)
        self.assertRegex(self.shield.log(), r'msg="connected" .*tenant_id=XFF .*peer=203\.0\.113\.9')

    async def test_oversized_request_head_431(self):
        s = socket.create_connection(("127.0.0.1", self.shield.port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n")
        self.assertIn(b" 431 ", s.recv(200))
        s.close()


class TenantRate(unittest.IsolatedAsyncioTestCase):
    async def test_tenant_bucket_is_shared_by_its_connections(self):
        with NatsServer() as nats, Shield(nats.url, extra_toml=(
                "[shield]\ntenant_rate = 0.01\ntenant_burst = 4\nconn_rate = 1000.0\nconn_burst = 1000\n")) as shield:
            conns = []
            for tenant in ("TR", "TR", "TR2"):
                ws = await websockets.connect(shield.url(make_token({"tenant_id": tenant, "rooms": ["*"]})))
                await ws.recv()
                conns.append(ws)
            a, b, other = conns
            codes = []
            for i in range(6):  # alternate between the tenant's two connections
                ws = (a, b)[i % 2]
                await ws.send(event_json("R1", id_=f"t{i}"))
                e = parse(await ws.recv())
                codes.append(error_of(e)["code"] if error_of(e) else 200)
            self.assertEqual(codes, [200, 200, 200, 200, 429, 429])
            await other.send(event_json("R1", id_="o"))  # another tenant has its own bucket
            self.assertEqual(parse(await other.recv()).event.type, "ack")
            for ws in conns:
                await ws.close()


class Tls(unittest.IsolatedAsyncioTestCase):
    async def test_wss_with_self_signed_certificate(self):
        import ssl, tempfile
        with tempfile.TemporaryDirectory() as d, NatsServer() as nats:
            cert, key, ctx = self_signed_cert(d)
            shield = Shield(nats.url, tls_context=ctx,
                            extra_toml=f'[shield]\ntls_cert = "{cert}"\ntls_key = "{key}"\n')
            with shield:
                shield.wait_ready()
                ws = await websockets.connect(shield.url(make_token({"rooms": ["*"]})), ssl=ctx)
                self.assertEqual(parse(await ws.recv()).event.type, "welcome")
                spy = NatsClient(nats.port)
                spy.subscribe("in.t.T1.r.>")
                # A message larger than one TLS record crosses intact.
                await ws.send(event_json("R1", id_="t1", data=b"z" * 100000))
                e = parse(await ws.recv())
                self.assertEqual((e.id, e.event.type), ("t1", "ack"))
                self.assertEqual(envelope_pb2.Envelope.FromString(spy.next_msg()[2]).event.data, b"z" * 100000)
                await ws.close()
                spy.close()
                # Plain ws:// to the TLS port gets nowhere.
                with self.assertRaises(Exception):
                    await websockets.connect(shield.url(make_token()).replace("wss://", "ws://"),
                                             open_timeout=3)
                # A client that does not trust the certificate is refused by its own TLS.
                with self.assertRaises(ssl.SSLError):
                    await websockets.connect(shield.url(make_token()), ssl=ssl.create_default_context())

    async def test_bad_certificate_files_stop_startup(self):
        shield = Shield("nats://127.0.0.1:1", extra_toml='[shield]\ntls_cert = "/nonexistent.pem"\ntls_key = "/nonexistent.key"\n')
        shield.write_config()
        import subprocess, os
        r = subprocess.run([os.path.join(os.environ["ARQ_BIN_DIR"], "arqon-shield"), "--config",
                            shield.config], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("TLS: /nonexistent.pem", r.stderr)


class Shutdown(unittest.IsolatedAsyncioTestCase):
    async def test_sigterm_closes_1001_and_exits_0(self):
        with NatsServer() as nats:
            shield = Shield(nats.url).start()
            ws = await websockets.connect(shield.url(make_token()))
            await ws.recv()
            loop = asyncio.get_running_loop()
            stopping = loop.run_in_executor(None, shield.stop)
            with self.assertRaises(websockets.exceptions.ConnectionClosed) as cm:
                await asyncio.wait_for(ws.recv(), 10)
            self.assertEqual(cm.exception.rcvd.code, 1001)
            log_before_exit = shield.log_path
            self.assertEqual(await stopping, 0)

    async def test_secure_default_refuses_public_listen(self):
        shield = Shield("nats://127.0.0.1:1")
        shield.write_config()
        text = open(shield.config).read().replace("127.0.0.1:%d" % shield.port, "0.0.0.0:%d" % shield.port)
        open(shield.config, "w").write(text)
        import subprocess, os
        r = subprocess.run([os.path.join(os.environ["ARQ_BIN_DIR"], "arqon-shield"), "--config",
                            shield.config], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("allow_insecure", r.stderr)


if __name__ == "__main__":
    unittest.main()
