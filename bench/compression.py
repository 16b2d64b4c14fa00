#!/usr/bin/python3
"""bench/compression.py — fan-out of a 4 KB JSON message to 1000 room members with and
without permessage-deflate: bytes on the wire, the Shield's CPU, and its memory per idle
connection. Prints a Markdown report on stdout (progress on stderr).

    BUILD_DIR=build /usr/bin/python3 bench/compression.py
    MEMBERS=1000 MESSAGES=200 RATE=50 SIZE=4096 REPEAT=1 /usr/bin/python3 bench/compression.py

For each client encoding (JSON text, the default, and binary protobuf) and each mode (members
that offer permessage-deflate, members that do not), a fresh arqon-shield (one worker per
core) is started, MEMBERS raw WebSocket clients join one room, and a backend publishes
MESSAGES deliveries of a SIZE-byte JSON document at RATE per second straight to the room's
NATS subject. The clients are plain sockets in this process: they count the bytes and frames
they receive (compressed frames are counted as they arrive, not inflated, except a sample
checked against the plain payload). Shield CPU is utime+stime from /proc over the publishing
phase and the drain, write calls syscw of /proc/<pid>/io over the same phase, the deflate
counters the growth of the Shield's metrics over it (the welcomes and acks before it are
compressed too); RSS per connection is VmRSS after the members joined minus before, over
MEMBERS. REPEAT=N runs every Shield case N times, alternating plain and deflate, to show
run-to-run spread side by side. A RATE above what the members take (e.g. 100000: every
message published at once) makes deliveries reach a worker several per loop turn, written
to each member with one writev per turn. The same load then runs against nats-server's own WebSocket listener with
`compression: true` (members subscribe to one subject; the document is published to it as
is, without an envelope; a fresh nats-server, whose CPU and RSS are measured the same way).
Set NATS_WS=0 to skip it. Everything listens on free loopback ports and stops when the script
ends. Not part of `make test`: figures depend on the machine's load.
"""
import base64
import hashlib
import hmac
import json
import os
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")))
sys.path.insert(0, os.path.join(BUILD, "gen", "python"))
from arqon.v1 import envelope_pb2  # noqa: E402  (generated in the build tree)

MEMBERS = int(os.environ.get("MEMBERS", 1000))
MESSAGES = int(os.environ.get("MESSAGES", 200))
REPEAT = int(os.environ.get("REPEAT", 1))
RATE = float(os.environ.get("RATE", 50))
SIZE = int(os.environ.get("SIZE", 4096))
SECRET = "bench-secret-not-for-production"
OFFER = "permessage-deflate; client_max_window_bits"
TICK = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, what):
    for _ in range(200):
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on {port}")


def token(sub):
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    now = int(time.time())
    body = {"sub": sub, "tenant_id": "T1", "iat": now, "exp": now + 3600, "rooms": ["*"]}
    signing = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(body).encode())
    return signing + "." + b64(hmac.new(SECRET.encode(), signing.encode(), hashlib.sha256).digest())


def document(i):
    """A SIZE-byte JSON document, different for every message (as chat or state updates are)."""
    rows, n = [], 0
    while len(json.dumps({"seq": i, "rows": rows})) < SIZE:
        rows.append({"id": n, "user": f"user-{(n * 7919 + i) % 1000}", "status": "online" if n % 3 else "away",
                     "score": (n * 31 + i) % 977, "room": "lobby"})
        n += 1
    return json.dumps({"seq": i, "rows": rows}).encode()[:SIZE]


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def write_calls(pid):
    """write/writev/sendmsg system calls the process has made (syscw of /proc/<pid>/io)."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("syscw:"):
                return int(line.split()[1])
    return 0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Member:
    """A raw WebSocket client that counts what arrives."""

    def __init__(self, port, sub, offer, encoding):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        path = f"/ws?token={token(sub)}" + ("&encoding=binary" if encoding == "binary" else "")
        head = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        if offer:
            head += f"Sec-WebSocket-Extensions: {offer}\r\n"
        self.sock.sendall((head + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        response, _, rest = self.buf.partition(b"\r\n\r\n")
        assert response.startswith(b"HTTP/1.1 101"), response
        self.buf, self.pos = bytearray(rest), 0
        self.negotiated = b"permessage-deflate" in response
        self.frames = self.compressed = self.wire = 0
        self.sample = None
        self.encoding = encoding

    def send(self, payload, opcode):
        mask = os.urandom(4)
        n = len(payload)
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n) if n < 126 else struct.pack("!BBH", 0x80 | opcode, 0xFE, n)
        self.sock.sendall(head + mask + bytes(c ^ mask[i & 3] for i, c in enumerate(payload)))

    def next_frame(self):
        """Blocking: (rsv1, opcode, payload) of the next frame (setup phase only)."""
        while True:
            f = self._parse()
            if f:
                return self._frame(f)
            self.buf += self.sock.recv(65536)

    def _parse(self):
        """The frame at self.pos, consumed, or None when incomplete."""
        b, p = self.buf, self.pos
        if len(b) - p < 2:
            return None
        n, at = b[p + 1] & 0x7F, p + 2
        if n == 126:
            if len(b) - p < 4:
                return None
            n, at = struct.unpack_from("!H", b, p + 2)[0], p + 4
        elif n == 127:
            if len(b) - p < 10:
                return None
            n, at = struct.unpack_from("!Q", b, p + 2)[0], p + 10
        if len(b) < at + n:
            return None
        self.pos = at + n
        return bool(b[p] & 0x40), b[p] & 0x0F, at, n

    def _frame(self, f):
        rsv1, op, at, n = f
        return rsv1, op, bytes(self.buf[at:at + n])

    def join(self, room):
        if self.encoding == "binary":
            e = envelope_pb2.Envelope(id="j", room_id=room, cmd=envelope_pb2.Command(type="join"))
            self.send(e.SerializeToString(), 2)
        else:
            self.send(json.dumps({"id": "j", "roomId": room, "cmd": {"type": "join"}}).encode(), 1)
        while True:
            rsv1, op, payload = self.next_frame()
            if op in (1, 2) and b"ack" in (zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff") if rsv1 else payload):
                return

    def readable(self):
        """Non-blocking drain: counts bytes and frames; returns False once the peer is gone."""
        try:
            chunk = self.sock.recv(1 << 20)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.wire += len(chunk)
        self.buf += chunk
        while True:
            f = self._parse()
            if not f:
                break
            rsv1, op = f[0], f[1]
            if op in (1, 2):
                self.frames += 1
                self.compressed += rsv1
                if self.sample is None:
                    self.sample = self._frame(f)[::2]
        del self.buf[:self.pos]
        self.pos = 0
        return True


class NatsWsMember(Member):
    """A NATS client over WebSocket (nats-server's listener), offering permessage-deflate; it
    counts MSG operations in what it receives, inflating as it goes."""

    def __init__(self, port, offer):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        head = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        if offer:
            head += f"Sec-WebSocket-Extensions: {offer}\r\n"
        self.sock.sendall((head + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        response, _, rest = self.buf.partition(b"\r\n\r\n")
        assert response.startswith(b"HTTP/1.1 101"), response
        self.buf, self.pos = bytearray(rest), 0
        self.negotiated = b"permessage-deflate" in response
        self.reset_context = b"server_no_context_takeover" in response
        self.z = zlib.decompressobj(-15)
        self.frames = self.compressed = self.wire = 0
        self.sample = None
        self.tail = b""  # protocol text not yet scanned (a MSG line may span frames)

    def text(self, rsv1, payload):
        if not rsv1:
            return payload
        if self.reset_context:
            return zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
        return self.z.decompress(payload + b"\x00\x00\xff\xff")

    def subscribe(self, subject):
        self.send(f'CONNECT {{"verbose":false,"pedantic":false,"protocol":1}}\r\nSUB {subject} 1\r\nPING\r\n'.encode(), 1)
        seen = b""
        while b"PONG" not in seen:
            rsv1, op, payload = self.next_frame()
            seen += self.text(rsv1, payload)

    def readable(self):
        try:
            chunk = self.sock.recv(1 << 20)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.wire += len(chunk)
        self.buf += chunk
        while True:
            f = self._parse()
            if not f:
                break
            rsv1, op, payload = self._frame(f)
            if op in (1, 2):
                self.compressed += rsv1
                data = self.tail + self.text(rsv1, payload)
                self.frames += data.count(b"MSG ")
                self.tail = data[-8:]  # "MSG " split across frames is found in the next one
                self.frames -= self.tail.count(b"MSG ")
        del self.buf[:self.pos]
        self.pos = 0
        return True


def run_nats_ws(mode, workdir):
    """The same fan-out on nats-server's WebSocket listener (compression on)."""
    port, ws_port = free_port(), free_port()
    conf = os.path.join(workdir, f"nats-ws-{mode}.conf")
    with open(conf, "w") as f:
        f.write(f"host: 127.0.0.1\nport: {port}\nmax_payload: 1048576\n"
                f"websocket {{ host: 127.0.0.1, port: {ws_port}, no_tls: true, compression: true }}\n")
    nats = subprocess.Popen(["nats-server", "-c", conf], stdout=open(os.path.join(workdir, "nats-ws.log"), "a"),
                            stderr=subprocess.STDOUT)
    try:
        wait_port(port, nats, "nats-server")
        wait_port(ws_port, nats, "nats-server websocket")
        time.sleep(0.3)
        rss0 = rss_kb(nats.pid)
        members = [NatsWsMember(ws_port, OFFER if mode == "deflate" else None) for _ in range(MEMBERS)]
        for m in members:
            m.subscribe("bench")
        time.sleep(0.5)
        rss1 = rss_kb(nats.pid)
        docs = [document(i) for i in range(MESSAGES)]
        r = fan_out(nats.pid, port, members, docs, b"bench")
        r.update({"run": f"natsws-{mode}", "negotiated": sum(m.negotiated for m in members),
                  "rss_per_conn": (rss1 - rss0) * 1024 / MEMBERS, "rss_before_kb": rss0, "rss_after_kb": rss1})
        for m in members:
            m.sock.close()
        return r
    finally:
        nats.terminate()
        nats.wait(15)


def fan_out(pid, nats_port, members, payloads, subject):
    """Publishes the payloads at RATE and reads until every member has them (or 30 s more)."""
    sel = selectors.DefaultSelector()
    for m in members:
        m.sock.setblocking(False)
        sel.register(m.sock, selectors.EVENT_READ, m)
    pub = publisher(nats_port)
    cpu0, writes0 = proc_cpu_s(pid), write_calls(pid)
    t0 = time.monotonic()
    sent, want, deadline = 0, len(members) * len(payloads), None
    while True:
        now = time.monotonic()
        due = min(len(payloads), int((now - t0) * RATE) + 1)
        while sent < due:
            pub.sendall(b"PUB %s %d\r\n%s\r\n" % (subject, len(payloads[sent]), payloads[sent]))
            sent += 1
        if sent == len(payloads) and deadline is None:
            deadline = now + 30
        for key, _ in sel.select(0.005):
            if not key.data.readable():
                sel.unregister(key.fileobj)
        if sum(m.frames for m in members) >= want or (deadline and now > deadline):
            break
    result = {"members": len(members), "messages": len(payloads),
              "deliveries": sum(m.frames for m in members), "compressed": sum(m.compressed for m in members),
              "wire_bytes": sum(m.wire for m in members), "elapsed_s": time.monotonic() - t0,
              "shield_cpu_s": proc_cpu_s(pid) - cpu0, "write_calls": write_calls(pid) - writes0}
    pub.close()
    return result


def publisher(nats_port):
    s = socket.create_connection(("127.0.0.1", nats_port))
    s.recv(4096)  # INFO
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
    assert b"PONG" in s.recv(4096)
    return s


def run(mode, encoding, nats_port, workdir):
    port = free_port()
    conf = os.path.join(workdir, f"shield-{mode}-{encoding}.toml")
    with open(conf, "w") as f:
        f.write(f'[shield]\nlisten = "127.0.0.1:{port}"\nnode_id = "bench"\nworkers = 0\n'
                f"conn_rate = 1000000.0\nconn_burst = 1000000\ntenant_rate = 10000000.0\n"
                f"tenant_burst = 10000000\nsend_queue_bytes = 67108864\n"
                f'[auth]\njwt_secret = "{SECRET}"\n[nats]\nurl = "nats://127.0.0.1:{nats_port}"\n'
                f'[log]\nlevel = "warn"\n')
    shield = subprocess.Popen([os.path.join(BUILD, "bin", "arqon-shield"), "--config", conf],
                              stdout=open(os.path.join(workdir, "shield.log"), "a"), stderr=subprocess.STDOUT)
    try:
        wait_port(port, shield, "arqon-shield")
        time.sleep(0.5)
        rss0 = rss_kb(shield.pid)
        members = []
        for i in range(MEMBERS):
            for attempt in range(50):
                try:
                    members.append(Member(port, f"m{i}", OFFER if mode == "deflate" else None, encoding))
                    break
                except (AssertionError, OSError):
                    time.sleep(0.1)  # the Shield is still loading its policies and schemas
            else:
                raise SystemExit("members could not connect")
            members[-1].next_frame()  # welcome
        for m in members:
            m.join("bench")
        time.sleep(0.5)
        rss1 = rss_kb(shield.pid)
        negotiated = sum(m.negotiated for m in members)
        docs = [document(i) for i in range(MESSAGES)]
        envelopes = []
        for i, d in enumerate(docs):
            e = envelope_pb2.Envelope(room_id="bench", seq=i + 1, sender="backend")
            e.event.type = "state.update"
            e.event.data = d
            envelopes.append(e.SerializeToString())
        before = deflate_counters(port)
        r = fan_out(shield.pid, nats_port, members, envelopes, b"out.t.T1.r.bench")
        counters = {k: v - before.get(k, 0) for k, v in deflate_counters(port).items()}
        # a sample checked: what a member received inflates to what the plain path sends
        rsv1, payload = members[0].sample
        if rsv1:
            payload = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
        if encoding == "binary":
            assert envelope_pb2.Envelope.FromString(payload).event.data == docs[0]
        else:
            assert base64.b64decode(json.loads(payload)["event"]["data"]) == docs[0]
        r.update({"run": f"{mode}-{encoding}", "negotiated": negotiated,
                  "rss_per_conn": (rss1 - rss0) * 1024 / MEMBERS, "rss_before_kb": rss0, "rss_after_kb": rss1,
                  **counters})
        for m in members:
            m.sock.close()
        return r
    finally:
        shield.terminate()
        shield.wait(15)


def deflate_counters(port):
    _, metrics = http_get(port, "/metrics")
    counters = {}
    for line in metrics.splitlines():
        for name in ("shield_deflate_in_bytes_total", "shield_deflate_out_bytes_total",
                     "shield_deflate_saved_bytes_total"):
            if line.startswith(name + " "):
                counters[name] = float(line.split()[1])
    return counters


def http_get(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body.decode()


def main():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * MEMBERS + 256)), hard))
    workdir = tempfile.mkdtemp(prefix="arq-compression.")
    nats_port = free_port()
    with open(os.path.join(workdir, "nats.conf"), "w") as f:
        f.write(f'host: 127.0.0.1\nport: {nats_port}\nmax_payload: 1048576\njetstream {{ store_dir: "{workdir}/js" }}\n')
    nats = subprocess.Popen(["nats-server", "-c", os.path.join(workdir, "nats.conf")],
                            stdout=open(os.path.join(workdir, "nats.log"), "w"), stderr=subprocess.STDOUT)
    results = []
    try:
        wait_port(nats_port, nats, "nats-server")
        for encoding in ("json", "binary"):
            for _ in range(REPEAT):
                for mode in ("plain", "deflate"):
                    log(f"{mode}-{encoding}: {MEMBERS} members, {MESSAGES} messages of {SIZE} bytes at {RATE}/s")
                    results.append(run(mode, encoding, nats_port, workdir))
                    log(json.dumps(results[-1]))
        if os.environ.get("NATS_WS", "1") != "0":
            for mode in ("plain", "deflate"):
                log(f"natsws-{mode}: {MEMBERS} members on nats-server's WebSocket listener")
                results.append(run_nats_ws(mode, workdir))
                log(json.dumps(results[-1]))
    finally:
        nats.terminate()
        nats.wait(15)
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"Fan-out of a {SIZE}-byte JSON document to {MEMBERS} members, {MESSAGES} messages at {RATE}/s; "
          f"raw results in {workdir}/results.json\n")
    print("| run | negotiated | deliveries | compressed frames | wire bytes per delivery | wire MB | "
          "server CPU s | CPU µs per delivery | server write calls | deliveries per write | CPU µs per write | "
          "deflate in → out bytes (once per delivery per worker) | server RSS per idle member, bytes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        d = max(r["deliveries"], 1)
        zin, zout = r.get("shield_deflate_in_bytes_total", 0), r.get("shield_deflate_out_bytes_total", 0)
        print(f"| {r['run']} | {r['negotiated']} | {r['deliveries']} | {r['compressed']} | "
              f"{r['wire_bytes'] / d:.0f} | {r['wire_bytes'] / 1e6:.1f} | {r['shield_cpu_s']:.2f} | "
              f"{r['shield_cpu_s'] * 1e6 / d:.1f} | {r['write_calls']} | {d / max(r['write_calls'], 1):.1f} | "
              f"{r['shield_cpu_s'] * 1e6 / max(r['write_calls'], 1):.1f} | {zin:.0f} → {zout:.0f} | {r['rss_per_conn']:.0f} |")


if __name__ == "__main__":
    main()
