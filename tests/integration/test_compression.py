"""permessage-deflate (RFC 7692) end to end: real nats-server, real arqon-shield (and for
Replies, redis-server and arqon-brain answering history), independent clients: Debian's
python3-websockets (which offers the extension by default) and a raw socket client here that
frames and inflates with Python's zlib."""
import asyncio
import base64
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import zlib

import websockets

from arqon_harness import NatsClient, NatsServer, RedisServer
from brain_support import Brain
from shield_support import Shield, cmd_json, envelope_pb2, event_json, make_token, parse, recv_until

TAIL = b"\x00\x00\xff\xff"


def compressible(n):
    """JSON-like text of n bytes."""
    row = '{"type":"chat.message","room":"lobby","user":"alice","text":"hello there","n":%d},'
    out, i = "", 0
    while len(out) < n:
        out += row % i
        i += 1
    return out[:n].encode()


def deflate(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def inflate(data):
    d = zlib.decompressobj(-15)
    return d.decompress(data + TAIL)


class RawClient:
    """A WebSocket client on a plain socket: its own handshake (with or without an extension
    offer), masked frames with any RSV bits, and the server's frames as they are on the wire."""

    def __init__(self, port, token, extensions=None, encoding=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        path = f"/ws?token={token}" + (f"&encoding={encoding}" if encoding else "")
        head = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        if extensions:
            head += f"Sec-WebSocket-Extensions: {extensions}\r\n"
        self.sock.sendall((head + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("connection closed during the handshake")
            self.buf += chunk
        response, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.response = response.decode()
        assert self.response.startswith("HTTP/1.1 101"), self.response
        m = re.search(r"(?im)^Sec-WebSocket-Extensions: *(.*)$", self.response)
        self.extension = m.group(1).strip() if m else None
        # (rsv1, opcode, data inflated): compressed when the extension was negotiated (the
        # welcome is over compression_min_bytes) and fits the window (Replies checks which)
        self.welcome = self.recv_message()
        self.binary = encoding == "binary"
        assert self.welcome[1] == (2 if self.binary else 1), self.welcome
        assert self.envelope(self.welcome[2]).event.type == "welcome", self.welcome

    def envelope(self, data):
        return parse(bytes(data) if self.binary else data.decode())

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """(rsv1, opcode, payload as sent) of the next frame."""
        b0, b1 = self._read(2)
        assert not b1 & 0x80, "server frames are not masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        return bool(b0 & 0x40), b0 & 0x0F, self._read(n)

    def recv_message(self):
        """The next data message, inflated when it came compressed: (rsv1, opcode, data)."""
        while True:
            rsv1, op, payload = self.recv()
            if op in (1, 2):
                return rsv1, op, inflate(payload) if rsv1 else payload

    def send_frame(self, opcode, payload, rsv1=False, fin=True):
        mask = os.urandom(4)
        b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", b0, 0x80 | 127, n)
        masked = bytes(c ^ mask[i & 3] for i, c in enumerate(payload)) if n < 4096 else \
            (int.from_bytes(payload, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
        self.sock.sendall(head + mask + masked)

    def close_code(self, timeout=5):
        """Reads until the server's close frame; returns its code."""
        self.sock.settimeout(timeout)
        while True:
            _, op, payload = self.recv()
            if op == 8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005

    def close(self):
        self.sock.close()


class CompressionTestCase(unittest.IsolatedAsyncioTestCase):
    extra = ""

    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        # one worker: "once per delivery per worker" is then visible in the metrics
        cls.shield = Shield(cls.nats.url, workers=1, extra_toml=cls.extra).start()
        cls.shield.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.shield.stop()
        cls.nats.stop()

    def metric(self, name):
        _, body = self.shield.http("/metrics")
        m = re.search(rf"(?m)^{name} (\S+)$", body)
        return float(m.group(1)) if m else 0.0

    def rss_kb(self):
        with open(f"/proc/{self.shield.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def raw(self, room=None, extensions="permessage-deflate; client_max_window_bits", encoding=None, sub="r"):
        c = RawClient(self.shield.port, make_token({"rooms": ["*"], "sub": sub}), extensions, encoding)
        if room:
            if encoding == "binary":
                c.send_frame(2, envelope_pb2.Envelope(id="j", room_id=room, cmd=envelope_pb2.Command(type="join")).SerializeToString())
                rsv1, _, ack = c.recv_message()
                assert parse(ack).event.type == "ack", ack
            else:
                c.send_frame(1, cmd_json("join", room, "j").encode())
                rsv1, _, ack = c.recv_message()
                assert parse(ack.decode()).event.type == "ack", ack
            assert not rsv1, "an ack is under compression_min_bytes: plain"
        return c

    def publish(self, room, data, seq=1):
        out = envelope_pb2.Envelope(room_id=room, seq=seq, sender="backend")
        out.event.type = "chat.message"
        out.event.data = data
        backend = NatsClient(self.nats.port)
        backend.publish(f"out.t.T1.r.{room}", out.SerializeToString())
        backend.flush()
        backend.close()
        return out


class Negotiation(CompressionTestCase):
    async def test_websockets_client_negotiates(self):
        ws = await websockets.connect(self.shield.url(make_token({"rooms": ["*"]})), max_size=None)
        self.assertEqual(len(ws.extensions), 1)
        ext = ws.extensions[0]
        self.assertEqual(ext.name, "permessage-deflate")
        self.assertTrue(ext.remote_no_context_takeover)  # server_no_context_takeover
        self.assertTrue(ext.local_no_context_takeover)   # client_no_context_takeover
        await ws.close()

    def test_offers_declined_not_failed(self):
        for offer in ["permessage-deflate; server_max_window_bits=7", "permessage-deflate; bogus=1",
                      "x-webkit-deflate-frame", "permessage-deflate; client_no_context_takeover=yes"]:
            c = self.raw(extensions=offer)
            self.assertIsNone(c.extension, offer)
            c.close()
        c = self.raw(extensions="permessage-deflate; server_max_window_bits=10; client_max_window_bits=12")
        self.assertEqual(c.extension, "permessage-deflate; server_no_context_takeover; "
                                      "client_no_context_takeover; server_max_window_bits=10")
        c.close()


class Deliveries(CompressionTestCase):
    def test_one_delivery_plain_and_compressed(self):
        plain = self.raw("R1", extensions=None)
        zs = [self.raw("R1") for _ in range(4)]
        zbin = self.raw("R1", encoding="binary")
        small = compressible(100)
        before = self.metric("shield_deflate_in_bytes_total")
        out = self.publish("R1", small, seq=1)
        # under compression_min_bytes: plain for everyone, nothing compressed
        for c in [plain, zbin] + zs:
            rsv1, _, _ = c.recv_message()
            self.assertFalse(rsv1)
        self.assertEqual(self.metric("shield_deflate_in_bytes_total"), before)

        data = compressible(4096)
        out = self.publish("R1", data, seq=2)
        rsv1, op, text = plain.recv_message()
        self.assertFalse(rsv1)
        self.assertEqual(op, 1)
        self.assertEqual(parse(text.decode()).event.data, data)
        wire = []
        for c in zs:
            rsv1, op, payload = c.recv()
            self.assertTrue(rsv1)
            self.assertEqual(op, 1)
            self.assertEqual(inflate(payload), text)  # the same bytes as the plain client's
            wire.append(payload)
        self.assertEqual(len(set(wire)), 1)  # one shared frame
        self.assertLess(len(wire[0]) * 3, len(text))
        rsv1, op, payload = zbin.recv()
        self.assertTrue(rsv1)
        self.assertEqual(op, 2)
        self.assertEqual(envelope_pb2.Envelope.FromString(inflate(payload)), out)
        # compressed once per encoding on this worker, not once per recipient
        binary_len = len(out.SerializeToString())
        self.assertEqual(self.metric("shield_deflate_in_bytes_total") - before, binary_len + len(text))
        self.assertGreater(self.metric("shield_deflate_saved_bytes_total"), 4 * (len(text) - len(wire[0])) - 1)

        # incompressible data goes plain (deflate would not shrink it)
        noise = random.Random(7).randbytes(4096)
        self.publish("R1", noise, seq=3)
        rsv1, _, payload = zbin.recv()
        self.assertFalse(rsv1)
        self.assertEqual(envelope_pb2.Envelope.FromString(payload).event.data, noise)
        for c in [plain, zbin] + zs:
            c.close()

    def test_small_server_window(self):
        c = self.raw("R2", extensions="permessage-deflate; server_max_window_bits=10", encoding="binary")
        fits = compressible(900)
        self.publish("R2", fits, seq=1)
        rsv1, _, payload = c.recv()
        self.assertTrue(rsv1)
        d = zlib.decompressobj(-10)  # the window the client asked for is enough
        self.assertEqual(envelope_pb2.Envelope.FromString(d.decompress(payload + TAIL)).event.data, fits)
        self.publish("R2", compressible(4096), seq=2)
        rsv1, _, _ = c.recv()
        self.assertFalse(rsv1)  # larger than the client's window: plain
        c.close()

    def test_larger_than_a_window(self):
        """Longer than 32 KiB: compressed for a client with the full window, which no
        back-reference exceeds; plain for one that asked for a smaller window."""
        full = self.raw("R5")
        small = self.raw("R5", extensions="permessage-deflate; server_max_window_bits=14")
        data = compressible(200_000)
        self.publish("R5", data, seq=1)
        rsv1, _, payload = full.recv()
        self.assertTrue(rsv1)
        self.assertLess(len(payload) * 3, len(data))
        d = zlib.decompressobj(-15)
        self.assertEqual(parse(d.decompress(payload + TAIL).decode()).event.data, data)
        rsv1, _, payload = small.recv()
        self.assertFalse(rsv1)
        self.assertEqual(parse(payload.decode()).event.data, data)
        full.close()
        small.close()

    async def test_websockets_round_trips(self):
        """Both directions with a client that compresses everything it sends."""
        url = self.shield.url(make_token({"rooms": ["*"], "sub": "w"}))
        text_ws = await websockets.connect(url, max_size=None)
        bin_ws = await websockets.connect(self.shield.url(make_token({"rooms": ["*"]}), "binary"), max_size=None)
        await text_ws.recv()
        await bin_ws.recv()
        for ws, msg in [(text_ws, cmd_json("join", "R3", "j1")),
                        (bin_ws, envelope_pb2.Envelope(id="j2", room_id="R3", cmd=envelope_pb2.Command(type="join")).SerializeToString())]:
            await ws.send(msg)
            self.assertEqual(parse(await ws.recv()).event.type, "ack")
        inflated_before = self.metric("shield_inflate_out_bytes_total")
        for i, data in enumerate([compressible(5000), random.Random(3).randbytes(3000), b"tiny"]):
            # text JSON from one client, binary protobuf from the other
            await text_ws.send(event_json("R3", data=data, id_=f"t{i}"))
            e = envelope_pb2.Envelope(id=f"b{i}", room_id="R3")
            e.event.type = "bin"
            e.event.data = data
            await bin_ws.send(e.SerializeToString())
            for ws in (text_ws, bin_ws):
                ack = await recv_until(ws, lambda x: x.event.type == "ack")
                self.assertIn(ack.id, (f"t{i}", f"b{i}"))
        self.assertGreater(self.metric("shield_inflate_out_bytes_total"), inflated_before + 10000)
        self.assertGreater(self.metric("shield_inflate_out_bytes_total"), self.metric("shield_inflate_in_bytes_total"))
        # and the backend's fan-out comes back compressed, transparently for the client
        data = compressible(8000)
        self.publish("R3", data, seq=9)
        for ws in (text_ws, bin_ws):
            e = await recv_until(ws, lambda x: x.seq == 9)
            self.assertEqual(e.event.data, data)
        await text_ws.close()
        await bin_ws.close()


class Replies(CompressionTestCase):
    """Replies to one client (the welcome, acks, errors, presence and history answers) follow
    the rule of deliveries: compressed by the worker's deflater when the client negotiated the
    extension, the reply is at least compression_min_bytes and fits the client's window."""

    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.redis = RedisServer().start()
        cls.brain = Brain(cls.nats.url, cls.redis.url)
        cls.brain.start()
        cls.shield = Shield(cls.nats.url, workers=1).start()
        cls.shield.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.shield.stop()
        cls.brain.stop()
        cls.redis.stop()
        cls.nats.stop()

    @staticmethod
    def until(c, pred, sizes=None):
        """(rsv1, envelope) of the first message matching pred (presence events and
        deliveries arrive in between); sizes gets its length on the wire and inflated."""
        while True:
            rsv1, op, payload = c.recv()
            if op not in (1, 2):
                continue
            data = inflate(payload) if rsv1 else payload
            e = c.envelope(data)
            if pred(e):
                if sizes is not None:
                    sizes[:] = [len(payload), len(data)]
                return rsv1, e

    def test_welcome(self):
        z, zbin, plain = self.raw(), self.raw(encoding="binary"), self.raw(extensions=None)
        small = self.raw(extensions="permessage-deflate; server_max_window_bits=8")  # 256 bytes
        self.assertGreaterEqual(len(z.welcome[2]), 256)
        self.assertTrue(z.welcome[0])
        self.assertGreaterEqual(len(zbin.welcome[2]), 256)
        self.assertTrue(zbin.welcome[0])
        self.assertFalse(plain.welcome[0])
        self.assertGreater(len(small.welcome[2]), 256)
        self.assertFalse(small.welcome[0])  # larger than the client's window: plain
        data = json.loads(z.envelope(z.welcome[2]).event.data)
        self.assertEqual((data["tenant_id"], data["user"]), ("T1", "r"))
        for c in (z, zbin, plain, small):
            c.close()

    def test_history_and_acks(self):
        z, zbin, plain = self.raw("RH"), self.raw("RH", encoding="binary"), self.raw("RH", extensions=None)
        rows = [compressible(300 + i) for i in range(40)]
        for i, data in enumerate(rows):
            z.send_frame(1, event_json("RH", data=data, id_=f"e{i}").encode())
            rsv1, ack = self.until(z, lambda e: e.id == f"e{i}")
            self.assertEqual(ack.event.type, "ack")
            self.assertFalse(rsv1)  # a small ack stays plain
        for c in (z, zbin, plain):
            self.until(c, lambda e: e.seq == len(rows))

        # an ack at or above the threshold is compressed like any reply (a long id makes one)
        long_id = "x" * 300
        for c, compressed in ((z, True), (plain, False)):
            c.send_frame(1, cmd_json("ping", id_=long_id).encode())
            rsv1, ack = self.until(c, lambda e: e.id == long_id)
            self.assertEqual((rsv1, ack.event.type), (compressed, "ack"))

        before = {m: self.metric(f"shield_deflate_{m}_bytes_total") for m in ("in", "out", "saved")}
        args = json.dumps({"since_seq": 0, "limit": 1000}).encode()
        pages = {}
        for name, c in (("z", z), ("zbin", zbin), ("plain", plain)):
            if c.binary:
                cmd = envelope_pb2.Envelope(id="h", room_id="RH", cmd=envelope_pb2.Command(type="history", data=args))
                c.send_frame(2, cmd.SerializeToString())
            else:
                c.send_frame(1, cmd_json("history", "RH", "h", data=args).encode())
            sizes = []
            rsv1, e = self.until(c, lambda e: e.id == "h", sizes)
            self.assertEqual(e.event.type, "history", e)
            pages[name] = (rsv1, sizes[0], sizes[1], json.loads(e.event.data))
        for name in ("z", "zbin"):
            self.assertTrue(pages[name][0], f"{name}: a history page goes compressed")
        self.assertFalse(pages["plain"][0], "no extension: plain")
        for name in ("z", "zbin", "plain"):
            body = pages[name][3]
            self.assertEqual([int(m["seq"]) for m in body["messages"]], list(range(1, len(rows) + 1)))
            self.assertEqual([base64.b64decode(m["event"]["data"]) for m in body["messages"]], rows)
        # the JSON page on the wire: a fraction of the plain client's
        self.assertLess(pages["z"][1] * 4, pages["plain"][1])
        # counted like deliveries: bytes given to deflate, bytes out, bytes not sent
        grown = {m: self.metric(f"shield_deflate_{m}_bytes_total") - before[m] for m in before}
        self.assertGreaterEqual(grown["in"], pages["z"][2] + pages["zbin"][2])
        self.assertGreaterEqual(grown["out"], pages["z"][1] + pages["zbin"][1])
        self.assertLess(grown["out"] * 3, grown["in"])
        self.assertGreaterEqual(grown["saved"], pages["z"][2] - pages["z"][1] + pages["zbin"][2] - pages["zbin"][1])
        for c in (z, zbin, plain):
            c.close()


class Hostile(CompressionTestCase):
    def test_decompression_bomb(self):
        bomb = deflate(b"\x00" * (64 << 20))  # 64 MiB of zeros, ~64 KiB on the wire
        self.assertLess(len(bomb), 100 << 10)
        c = self.raw()
        c.send_frame(2, bomb, rsv1=True)
        self.assertEqual(c.close_code(), 1009)
        c.close()
        rss = self.rss_kb()
        for _ in range(10):
            c = self.raw()
            c.send_frame(2, bomb, rsv1=True)
            self.assertEqual(c.close_code(), 1009)
            c.close()
        grown = self.rss_kb() - rss
        self.assertLess(grown, 2048, f"RSS grew by {grown} KiB over 10 bombs")
        # a message just past the bound (1 MiB) closes too
        c = self.raw()
        c.send_frame(2, deflate(b"a" * ((1 << 20) + 1)), rsv1=True)
        self.assertEqual(c.close_code(), 1009)
        c.close()

    def test_corrupt_and_misused(self):
        c = self.raw()
        c.send_frame(2, b"\x07\x00garbage", rsv1=True)  # reserved block type
        self.assertEqual(c.close_code(), 1007)
        c.close()
        c = self.raw()
        c.send_frame(1, deflate(b"\xff\xfe not utf-8"), rsv1=True)
        self.assertEqual(c.close_code(), 1007)
        c.close()
        c = self.raw()
        c.send_frame(9, b"", rsv1=True)  # RSV1 on a control frame
        self.assertEqual(c.close_code(), 1002)
        c.close()
        c = self.raw(extensions=None)
        c.send_frame(1, deflate(b"hello"), rsv1=True)  # not negotiated
        self.assertEqual(c.close_code(), 1002)
        c.close()
        c = self.raw()
        part = deflate(b"hello hello")
        c.send_frame(1, part[:3], rsv1=True, fin=False)
        c.send_frame(0, part[3:], rsv1=True)  # RSV1 on a continuation
        self.assertEqual(c.close_code(), 1002)
        c.close()

    def test_fragmented_compressed_message(self):
        c = self.raw()
        msg = cmd_json("join", "R4", "frag").encode()
        z = deflate(msg)
        c.send_frame(1, z[:2], rsv1=True, fin=False)
        c.send_frame(9, b"ping")
        c.send_frame(0, z[2:])
        rsv1, op, pong = c.recv()
        self.assertEqual(op, 10)
        _, _, ack = c.recv_message()
        e = parse(ack.decode())
        self.assertEqual((e.id, e.event.type), ("frag", "ack"))
        c.close()


BROWSER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser")
PLAYWRIGHT = os.path.join(BROWSER_DIR, "node_modules", "playwright-core")

# Driven by node through playwright-core: a page opens a WebSocket (Chromium offers
# permessage-deflate on its own), joins a room, sends a large compressible message, says
# "joined" on the console and waits for the delivery the test then publishes.
CHROMIUM_SCRIPT = r"""
const { chromium } = require(process.env.PLAYWRIGHT);
(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    chromiumSandbox: false, timeout: 30000,
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.log('page: ' + m.text()));
    const result = await page.evaluate(({ url, big }) => new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const out = {};
      setTimeout(() => reject(new Error('timed out: ' + JSON.stringify(out))), 20000);
      ws.onerror = () => reject(new Error('websocket error'));
      ws.onmessage = (m) => {
        const e = JSON.parse(m.data);
        if (e.event && e.event.type === 'welcome') {
          out.extensions = ws.extensions;
          ws.send(JSON.stringify({ id: 'j', roomId: 'RB', cmd: { type: 'join' } }));
        } else if (e.id === 'j') {
          ws.send(JSON.stringify({ id: 'big', roomId: 'RB', event: { type: 'chat.message', data: btoa(big) } }));
        } else if (e.id === 'big') {
          out.big = e.event.type;
          console.log('joined');
        } else if (e.seq === '42' || e.seq === 42) {
          out.delivered = atob(e.event.data) === big;
          out.length = m.data.length;
          ws.close();
          resolve(out);
        }
      };
    }), { url: process.env.URL, big: process.env.BIG });
    console.log('RESULT ' + JSON.stringify(result));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.log('ERROR ' + e.message); process.exit(1); });
"""


class Chromium(CompressionTestCase):
    def test_chromium_both_directions(self):
        node = os.environ.get("ARQ_NODE") or shutil.which("node")
        if not node or not os.path.isdir(PLAYWRIGHT) or not os.path.exists("/usr/bin/chromium"):
            self.skipTest("node, tests/browser/node_modules or chromium missing (scripts/bootstrap.sh)")
        big = compressible(4096).decode()
        saved, inflated = self.metric("shield_deflate_saved_bytes_total"), self.metric("shield_inflate_out_bytes_total")
        with tempfile.TemporaryDirectory() as d:
            script = os.path.join(d, "chromium_deflate.cjs")
            with open(script, "w") as f:
                f.write(CHROMIUM_SCRIPT)
            env = dict(os.environ, PLAYWRIGHT=os.path.abspath(PLAYWRIGHT), BIG=big,
                       URL=self.shield.url(make_token({"rooms": ["*"], "sub": "chromium"}, ttl=600)))
            for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
                env.pop(k, None)
            proc = subprocess.Popen([node, script], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            timer = threading.Timer(90, proc.kill)
            timer.start()
            try:
                output, result = [], None
                for line in proc.stdout:
                    output.append(line.rstrip())
                    if line.startswith("page: joined"):
                        self.publish("RB", big.encode(), seq=42)
                    elif line.startswith("RESULT "):
                        result = json.loads(line[len("RESULT "):])
                proc.wait()
            finally:
                timer.cancel()
                proc.stdout.close()
        self.assertIsNotNone(result, "\n".join(output))
        self.assertIn("permessage-deflate", result["extensions"])
        self.assertIn("server_no_context_takeover", result["extensions"])
        self.assertEqual(result["big"], "ack")  # Chromium's compressed message was inflated and routed
        self.assertTrue(result["delivered"])
        self.assertGreater(self.metric("shield_inflate_out_bytes_total") - inflated, 4096)
        self.assertGreater(self.metric("shield_deflate_saved_bytes_total") - saved, 3000)


class Disabled(CompressionTestCase):
    extra = "[shield]\npermessage_deflate = false\n"

    async def test_extension_refused(self):
        ws = await websockets.connect(self.shield.url(make_token({"rooms": ["*"]})), max_size=None)
        self.assertEqual(ws.extensions, [])
        await ws.recv()
        await ws.close()
        c = self.raw()
        self.assertIsNone(c.extension)
        c.send_frame(1, deflate(b"hello"), rsv1=True)
        self.assertEqual(c.close_code(), 1002)
        c.close()


if __name__ == "__main__":
    unittest.main()
