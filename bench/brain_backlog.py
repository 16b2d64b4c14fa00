#!/usr/bin/python3
"""bench/brain_backlog.py — how fast one Brain, then two Brains together, sequence a backlog.

For each Brain count, on a fresh nats-server and redis-server: N room events are published
straight to ARQON_INGRESS (as a Shield publishes them: same subjects, headers and envelopes)
while no Brain runs, then the Brains start and the script times until the sum of their
brain_messages_sequenced_total reaches N. Prints a Markdown table (and the CPU each process
used). The Shield is not in this path on purpose: it measures the Brain's own rate.

    BUILD_DIR=build /usr/bin/python3 bench/brain_backlog.py [N] [ROOMS]   (default 200000 100)
"""
import os
import socket
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.abspath(os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")))
os.environ.setdefault("ARQ_BIN_DIR", os.path.join(BUILD, "bin"))
sys.path[:0] = [os.path.join(ROOT, "tests", "harness"), os.path.join(ROOT, "tests", "integration"),
                os.path.join(BUILD, "gen", "python")]

from arqon_harness import NatsServer, RedisServer  # noqa: E402
from arqon.v1 import envelope_pb2  # noqa: E402
from brain_support import Brain  # noqa: E402

TENANT = "bench"


def frame(room, i):
    trace = "%032x" % (i + 1)
    e = envelope_pb2.Envelope(tenant_id=TENANT, room_id=room, sender="load", conn_id="aaaaaaaa-0-1",
                              trace_id=trace, timestamp=int(time.time() * 1000))
    e.event.type = "load"
    e.event.data = b"x" * 64
    body = e.SerializeToString()
    hdr = (f"NATS/1.0\r\ntraceparent: 00-{trace}-00000000000000a1-01\r\nx-arqon-trace-id: {trace}\r\n"
           f"x-arqon-tenant: {TENANT}\r\nx-arqon-sender: load\r\nx-arqon-conn: aaaaaaaa-0-1\r\n\r\n").encode()
    return (f"HPUB in.t.{TENANT}.r.{room} {len(hdr)} {len(hdr) + len(body)}\r\n".encode()
            + hdr + body + b"\r\n")


def publish(port, n, rooms):
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(4096)
    s.sendall(b'CONNECT {"verbose":false,"headers":true}\r\n')
    for k in range(0, n, 1000):
        s.sendall(b"".join(frame(f"r{i % rooms}", i) for i in range(k, min(n, k + 1000))))
    s.sendall(b"PING\r\n")
    buf = b""
    while b"PONG" not in buf:
        buf += s.recv(4096)
    s.close()


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(brains, n, rooms):
    nats, redis = NatsServer().start(), RedisServer().start()
    port = int(nats.url.rsplit(":", 1)[1])
    try:
        Brain(nats.url, redis.url, partitions=8).start().stop()  # creates the streams
        publish(port, n, rooms)
        started = time.monotonic()
        procs = [Brain(nats.url, redis.url, partitions=8, history_max_per_room=1000).start()
                 for _ in range(brains)]
        cpu0 = [cpu_s(p.proc.pid) for p in procs]
        nats_cpu0 = cpu_s(nats.proc.pid)
        while True:
            done = sum(p.metric("brain_messages_sequenced_total") or 0 for p in procs)
            if done >= n or time.monotonic() - started > 600:
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        cpu = [cpu_s(p.proc.pid) - c for p, c in zip(procs, cpu0)]
        nats_cpu = cpu_s(nats.proc.pid) - nats_cpu0
        for p in procs:
            p.stop()
        return done, elapsed, cpu, nats_cpu
    finally:
        redis.stop()
        nats.stop()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    rooms = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    print(f"backlog of {n} room events over {rooms} rooms, 8 partitions; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.1f}\n")
    print("| Brains | sequenced | seconds (start → all sequenced) | msg/s | Brain CPU s | nats-server CPU s |")
    print("|---|---|---|---|---|---|")
    for brains in (1, 2):
        done, elapsed, cpu, nats_cpu = run(brains, n, rooms)
        print(f"| {brains} | {int(done)} | {elapsed:.2f} | {done / elapsed:.0f} | "
              f"{' + '.join(f'{c:.2f}' for c in cpu)} | {nats_cpu:.2f} |", flush=True)


if __name__ == "__main__":
    main()
