"""The Brain under load: a burst well above the rate it sustains, a restart with a backlog,
SIGTERM in the middle of a burst (real nats-server, redis-server, arqon-shield, arqon-brain).

The bursts are published straight to the ingress subjects over a raw NATS connection, as a
Shield does (same subjects, headers and envelopes), because a Python WebSocket client
cannot offer tens of thousands of messages per second. Members are real WebSocket clients
through the Shield, and a raw NATS subscriber on out.t.<tenant>.r.* checks every
sequenced message: per room, seqs 1..n exactly once and in the order they were sent.
bench/rooms.sh measures the same path through the Shield at full rate."""
import asyncio
import json
import os
import socket
import threading
import time
import unittest

from brain_support import Brain, redis_calls
from shield_support import cmd_json, envelope_pb2, event_json
from test_brain import BrainTestCase, Client, presence

TENANT = "T1"
ROOMS = ["L0", "L1", "L2", "L3"]
BURST = int(os.environ.get("ARQ_TEST_BURST", "20000"))


def envelope(room, i, sender="blaster", conn="aaaaaaaa-0-1"):
    e = envelope_pb2.Envelope()
    e.tenant_id, e.room_id, e.sender, e.conn_id = TENANT, room, sender, conn
    e.trace_id = "%032x" % (i + 1)
    e.timestamp = int(time.time() * 1000)
    e.event.type = "load"
    e.event.data = str(i).encode()
    return e.SerializeToString()


def hpub(room, i):
    """One HPUB frame of a room event as a Shield publishes it."""
    trace = "%032x" % (i + 1)
    hdr = (f"NATS/1.0\r\ntraceparent: 00-{trace}-00000000000000a1-01\r\nx-arqon-trace-id: {trace}\r\n"
           f"x-arqon-tenant: {TENANT}\r\nx-arqon-sender: blaster\r\nx-arqon-conn: aaaaaaaa-0-1\r\n\r\n"
           ).encode()
    body = envelope(room, i)
    return (f"HPUB in.t.{TENANT}.r.{room} {len(hdr)} {len(hdr) + len(body)}\r\n".encode()
            + hdr + body + b"\r\n")


def blast(port, first, count, rate=None):
    """Publishes `count` events round-robin over ROOMS as fast as one socket takes them (or
    at about `rate` per second); returns the offered rate (messages/s). Event i carries its
    number i as data."""
    frames = [hpub(ROOMS[i % len(ROOMS)], i) for i in range(first, first + count)]
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(4096)  # INFO
    s.sendall(b'CONNECT {"verbose":false,"headers":true}\r\n')
    started = time.monotonic()
    for k in range(0, len(frames), 500):
        if rate:
            time.sleep(max(0.0, started + k / rate - time.monotonic()))
        s.sendall(b"".join(frames[k:k + 500]))
    s.sendall(b"PING\r\n")
    buf = b""
    while b"PONG" not in buf:
        buf += s.recv(4096)
    elapsed = time.monotonic() - started
    s.close()
    return count / elapsed


def take_frames(buf):
    """The complete MSG/HMSG frames at the start of `buf` (a bytearray, consumed in place):
    ([(subject, payload)], whether the server sent PING)."""
    frames, ping, pos = [], False, 0
    while True:
        end = buf.find(b"\r\n", pos)
        if end < 0:
            break
        line = bytes(buf[pos:end])
        if line.startswith((b"HMSG", b"MSG")):
            parts = line.split()
            size = int(parts[-1])
            hsize = int(parts[-2]) if line.startswith(b"HMSG") else 0
            if len(buf) < end + 2 + size + 2:
                break
            frames.append((parts[1], bytes(buf[end + 2 + hsize:end + 2 + size])))
            pos = end + 2 + size + 2
        else:
            ping = ping or line == b"PING"
            pos = end + 2
    del buf[:pos]
    return frames, ping


class Collector(threading.Thread):
    """Every message on out.t.T1.r.*: (room, seq, number sent) of the room events. The
    reading thread only keeps the raw payloads, so that it drains the socket quickly: a
    subscriber that falls behind makes nats-server slow its publishers (the Brain) down."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.recv(4096)
        self.sock.sendall(b'CONNECT {"verbose":false,"headers":true}\r\n'
                          + f"SUB out.t.{TENANT}.r.* 1\r\nPING\r\n".encode())
        self.raw = []
        self.parsed = 0
        self._got = {r: [] for r in ROOMS}
        self.lock = threading.Lock()
        self.stopped = False
        self.start()

    def run(self):
        buf = bytearray()
        while not self.stopped:
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            frames, ping = take_frames(buf)
            if ping:
                self.sock.sendall(b"PONG\r\n")
            with self.lock:
                self.raw.extend(frames)

    @property
    def got(self):
        with self.lock:
            fresh, self.parsed = self.raw[self.parsed:], len(self.raw)
        for subject, payload in fresh:
            e = envelope_pb2.Envelope()
            e.ParseFromString(payload)
            if e.event.type == "load":
                self._got[subject.rsplit(b".", 1)[1].decode()].append((e.seq, int(e.event.data)))
        return self._got

    def forget(self):
        self.got  # parse what came so far
        self._got = {r: [] for r in ROOMS}

    def count(self):
        return sum(len(v) for v in self.got.values())

    async def wait_count(self, n, timeout):
        """Waits on the event loop, so that the WebSocket members keep reading: a member
        that stops reading slows the Shield, and through nats-server the Brain."""
        deadline = time.monotonic() + timeout
        while self.count() < n and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return self.count()

    def close(self):
        self.stopped = True
        self.sock.close()


def check_rooms(test, got, sent_numbers, first_seq=None):
    """Per room: every number sent exactly once, in sending order, under consecutive seqs
    (starting at first_seq[room] when given)."""
    for room in ROOMS:
        seqs = [s for s, _ in got[room]]
        numbers = [n for _, n in got[room]]
        expected = [i for i in sent_numbers if ROOMS[i % len(ROOMS)] == room]
        test.assertEqual(len(numbers), len(set(numbers)), f"{room}: a message delivered twice")
        test.assertEqual(numbers, expected, f"{room}: messages lost or out of order")
        test.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), f"{room}: seq gap or repeat")
        if first_seq is not None:
            test.assertEqual(seqs[0], first_seq[room], f"{room}: seq did not continue")


class Overload(BrainTestCase):
    """A burst far above the sustainable rate passes: nothing lost, control traffic served
    meanwhile; SIGTERM mid-burst is prompt; a Brain started on the backlog catches up."""
    brain_options = {"expiry_s": 2, "history_max_per_room": 100000}

    @property
    def brain(self):
        return self.brain_procs[0]

    def nats_port(self):
        return int(self.nats.url.rsplit(":", 1)[1])

    async def test_burst_backlog_and_sigterm(self):
        idle = await Client.open(self.shield, sub="idle")
        await idle.join(ROOMS[0])
        await idle.wait_for(lambda e: presence(e, "join", "idle"), what="own presence.join")
        collector = Collector(self.nats_port())
        try:
            # 1. A burst well above what the Brain sustains.
            offered = await asyncio.to_thread(blast, self.nats_port(), 0, BURST)
            # Control traffic is served while the backlog is worked through: a join is
            # applied (its presence.join arrives) and presence is answered.
            late = await Client.open(self.shield, sub="late")
            await late.join(ROOMS[1])
            t0 = time.monotonic()
            await late.wait_for(lambda e: presence(e, "join", "late"), timeout=5,
                                what="presence.join during the burst")
            join_s = time.monotonic() - t0
            r = await idle.request(cmd_json("presence", ROOMS[0], id_="p1"), "p1", timeout=5)
            self.assertEqual(r.event.type, "presence.state", r)
            self.assertIn("idle", [m["user"] for m in json.loads(r.event.data)])
            got = await collector.wait_count(BURST, timeout=120)
            self.assertEqual(got, BURST, f"burst of {BURST} at {offered:.0f}/s: {got} sequenced")
            check_rooms(self, collector.got, range(BURST))
            # Batches are committed by the script's digest (EVALSHA); its text went at most
            # once, answering the first NOSCRIPT.
            self.assertGreater(redis_calls(self.redis.port, "evalsha"), 0)
            self.assertLessEqual(redis_calls(self.redis.port, "evalsha", "failed_calls"), 1)
            # The idle member was never expired (the Shield stayed alive throughout).
            self.assertEqual(self.brain.metric("brain_presence_expired_total"), 0)
            self.assertFalse([e for e in idle.inbox if presence(e, "leave", "idle")])
            print(f"\nburst: {BURST} offered at {offered:.0f} msg/s; join applied after "
                  f"{join_s * 1000:.0f} ms during it", flush=True)

            # 2. Normal traffic afterwards is delivered normally.
            last = {room: collector.got[room][-1][0] for room in ROOMS}
            r = await idle.request(event_json(ROOMS[0], data=b"hi", id_="n1"), "n1")
            self.assertEqual(r.event.type, "ack", r)
            e = await idle.wait_for(lambda e: e.event.type == "chat.message", timeout=5,
                                    what="a normal message after the burst")
            self.assertEqual(e.seq, last[ROOMS[0]] + 1)

            # 3. SIGTERM in the middle of a burst: exits 0 within 5 s.
            collector.forget()
            last[ROOMS[0]] += 1
            threading.Thread(target=blast, args=(self.nats_port(), BURST, BURST), daemon=True).start()
            await collector.wait_count(BURST // 10, timeout=30)  # the Brain is busy with it now
            t0 = time.monotonic()
            rc = await asyncio.to_thread(self.brain.stop)
            stop_s = time.monotonic() - t0
            self.assertEqual(rc, 0)
            self.assertLess(stop_s, 5.0, "SIGTERM under load")
            await asyncio.sleep(1)  # the rest of the burst lands in the stream: a backlog

            # 4. A new Brain works through the backlog; seqs continue where they were.
            done_before = collector.count()
            t0 = time.monotonic()
            # Started from this thread: the harness ties a child's life to the thread
            # that started it.
            type(self).brain_procs[0] = Brain(self.nats.url, self.redis.url, partitions=4,
                                              **self.brain_options).start()
            got = await collector.wait_count(BURST, timeout=120)
            catch_up_s = time.monotonic() - t0
            self.assertEqual(got, BURST, f"after the restart: {got} of {BURST} sequenced")
            check_rooms(self, collector.got, range(BURST, 2 * BURST),
                        first_seq={room: last[room] + 1 for room in ROOMS})
            print(f"SIGTERM under load: exit in {stop_s:.2f} s; backlog of "
                  f"{BURST - done_before} caught up in {catch_up_s:.1f} s", flush=True)
            self.assertEqual(self.brain.metric("brain_ingress_lag_messages"), 0)
        finally:
            collector.close()
            await idle.close()


class HandoverUnderLoad(BrainTestCase):
    """Partitions move while the Brain is busy: a second Brain joins in the middle of a
    steady load (the first hands half of its partitions over), then the first is stopped
    with SIGTERM (the second takes the rest). A graceful handover waits for the batches in
    flight to be committed, so every message is delivered exactly once, in order, under
    consecutive seqs (docs/brain.md, Guarantees)."""
    brain_options = {"history_max_per_room": 100000}

    async def test_partitions_move_during_a_load(self):
        port = int(self.nats.url.rsplit(":", 1)[1])
        total, rate = 40000, 8000  # five seconds of load
        collector = Collector(port)
        sender = threading.Thread(target=blast, args=(port, 0, total, rate), daemon=True)
        try:
            sender.start()
            await collector.wait_count(total // 8, timeout=30)
            second = Brain(self.nats.url, self.redis.url, partitions=self.partitions,
                           **self.brain_options).start()
            self.brain_procs.append(second)
            deadline = time.monotonic() + 10
            while second.metric("brain_partitions_owned") < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            moved_at = collector.count()
            self.assertLess(moved_at, total, "the partitions moved after the load was over")
            rc = await asyncio.to_thread(self.brain_procs[0].stop)
            self.assertEqual(rc, 0)
            stopped_at = collector.count()
            got = await collector.wait_count(total, timeout=120)
            self.assertEqual(got, total, f"{got} of {total} delivered")
            check_rooms(self, collector.got, range(total))
            self.assertEqual(second.metric("brain_partitions_owned"), self.partitions)
            self.assertGreater(second.metric("brain_messages_sequenced_total"), 0)
            print(f"\nhandover under load: partitions moved at {moved_at}, first Brain "
                  f"stopped at {stopped_at} of {total} messages", flush=True)
        finally:
            collector.close()


class RequestFlood(BrainTestCase):
    """Presence requests beyond brain.max_pending_requests waiting jobs are answered 503 at
    once; every request gets exactly one answer."""
    brain_options = {"brain_toml": "max_pending_requests = 2"}

    async def test_requests_beyond_the_bound_are_refused_at_once(self):
        n = 300
        port = int(self.nats.url.rsplit(":", 1)[1])
        s = socket.create_connection(("127.0.0.1", port))
        s.recv(4096)
        s.sendall(b'CONNECT {"verbose":false,"headers":true}\r\nSUB _INBOX.flood.* 1\r\nPING\r\n')
        frames = []
        for i in range(n):
            e = envelope_pb2.Envelope(tenant_id=TENANT, room_id="F", sender="alice",
                                      conn_id="abcdef01-0-1", trace_id="%032x" % (i + 1))
            e.cmd.type = "presence"
            body = e.SerializeToString()
            hdr = (f"NATS/1.0\r\nx-arqon-tenant: {TENANT}\r\nx-arqon-sender: alice\r\n"
                   f"x-arqon-conn: abcdef01-0-1\r\n\r\n").encode()
            frames.append(f"HPUB sys.brain.{TENANT}.presence _INBOX.flood.{i} {len(hdr)} "
                          f"{len(hdr) + len(body)}\r\n".encode() + hdr + body + b"\r\n")
        s.sendall(b"".join(frames))
        answers, buf = {}, bytearray()
        s.settimeout(0.5)
        deadline = time.monotonic() + 10
        while len(answers) < n and time.monotonic() < deadline:
            try:
                chunk = s.recv(1 << 16)
            except socket.timeout:
                continue
            buf += chunk
            frames, ping = take_frames(buf)
            if ping:
                s.sendall(b"PONG\r\n")
            for subject, payload in frames:
                e = envelope_pb2.Envelope()
                e.ParseFromString(payload)
                i = int(subject.rsplit(b".", 1)[1])
                self.assertNotIn(i, answers, f"request {i} answered twice")
                answers[i] = json.loads(e.event.data) if e.event.type == "error" else e.event.type
        s.close()
        self.assertEqual(len(answers), n, "every request gets an answer")
        codes = [a["code"] for a in answers.values()]
        refused = codes.count(503)
        self.assertGreater(refused, 0, "some requests found the queue full")
        self.assertTrue(all(c in (503, 403) for c in codes), set(codes))  # 403: not a member
        self.assertEqual(self.brain_procs[0].metric("brain_requests_refused_total"), refused)
        print(f"\nrequest flood: {refused} of {n} answered 503 at once, the rest 403", flush=True)


if __name__ == "__main__":
    unittest.main()
