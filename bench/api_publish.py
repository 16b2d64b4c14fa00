#!/usr/bin/python3
"""bench/api_publish.py — /api/publish requests per second over keep-alive connections,
through the whole path a backend's message takes: HTTP → arqon-shield (API thread) →
nats-server (ARQON_INGRESS, JetStream ack) → arqon-brain (seq, Redis) → Shield → a member.

For each client count in CONNS, C threads each hold one keep-alive HTTP/1.1 connection and
post as fast as answers come back, for T seconds; a WebSocket member of every room counts
what is delivered. Prints a Markdown table: requests/s, latency p50/p99 of a request, and
whether every acknowledged message was delivered (the Brain keeping up); then, side by side,
the same client threads on GET /healthz (an answer with no NATS work behind it), which shows
how much of the figure is the client's own limit.

    BUILD_DIR=build /usr/bin/python3 bench/api_publish.py        (CONNS="1 4 16" T=5 ROOMS=10)

Everything listens on free loopback ports and stops when the script ends. Not part of
`make test`; its figures depend on the machine's load.
"""
import asyncio
import base64
import http.client
import json
import os
import platform
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.abspath(os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")))
os.environ.setdefault("ARQ_BIN_DIR", os.path.join(BUILD, "bin"))
sys.path[:0] = [os.path.join(ROOT, "tests", "harness"), os.path.join(ROOT, "tests", "integration"),
                os.path.join(BUILD, "gen", "python")]

import websockets  # noqa: E402
from arqon_harness import NatsServer, RedisServer  # noqa: E402
from brain_support import Brain  # noqa: E402
from shield_support import Shield, cmd_json, make_token, parse  # noqa: E402

CONNS = [int(c) for c in os.environ.get("CONNS", "1 4 16").split()]
T = float(os.environ.get("T", "5"))
ROOMS = int(os.environ.get("ROOMS", "10"))
KEY = "bench-" + os.urandom(16).hex()
TENANT = "T1"


def client(port, stop_at, latencies, errors, index, baseline=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"apikey {KEY}", "Content-Type": "application/json"}
    i = 0
    data = base64.b64encode(b"x" * 64).decode()
    while time.monotonic() < stop_at:
        body = json.dumps({"tenant": TENANT, "room": f"r{(index + i) % ROOMS}", "type": "bench",
                           "data": data}).encode()
        t0 = time.perf_counter()
        if baseline:  # the same client and connection, an answer without NATS behind it
            conn.request("GET", "/healthz")
        else:
            conn.request("POST", "/api/publish", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        latencies.append(time.perf_counter() - t0)
        if resp.status != 200:
            errors.append(resp.status)
        i += 1
    conn.close()


async def member(shield, counter, ready, done):
    token = make_token({"tenant_id": TENANT, "sub": "watcher", "rooms": ["*"]})
    async with websockets.connect(shield.url(token), max_size=None) as ws:
        await ws.recv()  # welcome
        for r in range(ROOMS):
            await ws.send(cmd_json("join", f"r{r}", id_=f"j{r}"))
        joined = 0
        while joined < ROOMS:
            if parse(await ws.recv()).event.type == "ack":
                joined += 1
        ready.set()
        while not done.is_set():
            try:
                frame = await asyncio.wait_for(ws.recv(), 0.2)
            except asyncio.TimeoutError:
                continue
            if parse(frame).event.type == "bench":
                counter[0] += 1


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else 0.0


async def main():
    keys = tempfile.NamedTemporaryFile("w", suffix=".keys", delete=False)
    keys.write(f"{KEY} *\n")
    keys.close()
    nats = NatsServer().start()
    redis = RedisServer().start()
    brain = Brain(nats.url, redis.url, partitions=8).start()
    fast = ("[shield]\nconn_rate = 1000000.0\nconn_burst = 1000000\ntenant_rate = 10000000.0\n"
            "tenant_burst = 10000000\n")
    shield = Shield(nats.url, extra_toml=fast + f'[api]\nkeys_file = "{keys.name}"\n').start()
    shield.wait_ready()
    rows = []
    try:
        for conns in CONNS:
            counter, ready, done = [0], asyncio.Event(), asyncio.Event()
            watcher = asyncio.ensure_future(member(shield, counter, ready, done))
            await asyncio.wait_for(ready.wait(), 10)
            latencies, errors = [], []
            stop_at = time.monotonic() + T
            threads = [threading.Thread(target=client, args=(shield.port, stop_at, latencies, errors, i))
                       for i in range(conns)]
            started = time.monotonic()
            for th in threads:
                th.start()
            while any(th.is_alive() for th in threads):
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - started
            acked = len(latencies) - len(errors)
            drain_until = time.monotonic() + 10
            while counter[0] < acked and time.monotonic() < drain_until:
                await asyncio.sleep(0.05)
            done.set()
            await watcher
            base = []
            stop_at = time.monotonic() + min(T, 3)
            threads = [threading.Thread(target=client, args=(shield.port, stop_at, base, [], i, True))
                       for i in range(conns)]
            b0 = time.monotonic()
            for th in threads:
                th.start()
            while any(th.is_alive() for th in threads):
                await asyncio.sleep(0.05)
            base_rps = len(base) / (time.monotonic() - b0)
            rows.append((conns, len(latencies) / elapsed, pct(latencies, 0.5) * 1e3, pct(latencies, 0.99) * 1e3,
                         len(errors), acked, counter[0], base_rps))
            print(f"  {conns} connections: {len(latencies) / elapsed:.0f} req/s", file=sys.stderr)
    finally:
        shield.stop()
        brain.stop()
        redis.stop()
        nats.stop()
        os.unlink(keys.name)
    print(f"## /api/publish over keep-alive, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(f"- machine: {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}; "
          f"load average at the end: {' '.join('%.2f' % x for x in os.getloadavg())}")
    print(f"- {T:.0f} s per run, 64-byte payloads over {ROOMS} rooms, one Brain; clients: Python "
          "http.client threads on the same machine\n")
    print("| connections | requests/s | p50 ms | p99 ms | errors | acked | delivered to a member "
          "| GET /healthz requests/s (same client) | publish / healthz |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c, rps, p50, p99, err, acked, got, base in rows:
        print(f"| {c} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {err} | {acked} | {got} | {base:.0f} | {rps / base:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
