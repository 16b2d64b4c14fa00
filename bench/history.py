#!/usr/bin/python3
"""bench/history.py — what a history page costs a member, read the usual way (a short-lived
consumer) and the way the Brain reads it when no consumer can be created (direct gets, one
message each: a cluster's meta leader in a failover).

For each way, on a fresh nats-server, redis-server, Brain and Shield: one room gets N
messages through a WebSocket client, then the client asks for history one request at a
time and the script times each request from send to reply, through every part (Shield,
NATS, Brain, Redis). The direct-get run denies the Brain's NATS user the subjects that
create consumers on ARQON_ROOMS, as tests/integration/test_brain.py
(HistoryWithoutConsumers) does. Prints a Markdown table of medians.

    BUILD_DIR=build /usr/bin/python3 bench/history.py [N] [REQUESTS]   (default 2000 50)
"""
import asyncio
import json
import os
import statistics
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.abspath(os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")))
os.environ.setdefault("ARQ_BIN_DIR", os.path.join(BUILD, "bin"))
sys.path[:0] = [os.path.join(ROOT, "tests", "harness"), os.path.join(ROOT, "tests", "integration"),
                os.path.join(BUILD, "gen", "python")]

from arqon_harness import NatsServer, RedisServer  # noqa: E402
from brain_support import Brain  # noqa: E402
from shield_support import Shield, cmd_json, event_json  # noqa: E402
from test_brain import FAST_SHIELD, Client  # noqa: E402

DENY = '"$JS.API.CONSUMER.CREATE.ARQON_ROOMS", "$JS.API.CONSUMER.CREATE.ARQON_ROOMS.>"'


def auth(pw, deny):
    rule = f", permissions: {{ publish: {{ deny: [{DENY}] }} }}" if deny else ""
    return ("authorization { users = [\n"
            f'  {{ user: shield, password: "{pw["shield"]}" }}\n'
            f'  {{ user: brain, password: "{pw["brain"]}"{rule} }}\n'
            "] }")


async def page(client, since, limit, tag):
    args = json.dumps({"since_seq": since, "limit": limit}).encode()
    t0 = time.perf_counter()
    reply = await client.request(cmd_json("history", "B", id_=tag, data=args), tag, timeout=10)
    took = time.perf_counter() - t0
    if reply.event.type != "history":
        raise RuntimeError(f"history refused: {reply.event.data}")
    body = json.loads(reply.event.data)
    return took, len(body["messages"])


async def measure(deny, n, requests):
    pw = {u: "arq" + os.urandom(8).hex() for u in ("shield", "brain")}
    with NatsServer(extra_conf=auth(pw, deny)) as nats, RedisServer() as redis, \
            Brain(nats.url, redis.url, extra_toml='user = "brain"', history_max_per_room=n,
                  env={"ARQON_NATS_PASSWORD": pw["brain"]}), \
            Shield(nats.url, nats_user="shield", nats_password=pw["shield"], extra_toml=FAST_SHIELD) as shield:
        shield.wait_ready()
        c = await Client.open(shield, sub="reader")
        await c.join("B")
        for i in range(n):
            await c.request(event_json("B", data=b"x" * 100, id_=f"m{i}"), f"m{i}", timeout=10)
        await c.wait_for(lambda e: e.seq == n, timeout=30, what=f"seq {n}")
        c.inbox.clear()
        rows = {}
        for label, since, limit in (("100 newest (since = latest − 100)", n - 100, 100),
                                    ("1 000 from the start (since = 0)", 0, 1000)):
            times = []
            for k in range(requests):
                took, got = await page(c, since, limit, f"h{limit}-{k}")
                if got != limit:
                    raise RuntimeError(f"{got} messages, expected {limit}")
                times.append(took * 1000)
            rows[label] = statistics.median(times)
        await c.close()
        return rows


async def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    print(f"history of one room of {n} messages of 100 bytes, {requests} requests each, one at a time, "
          f"through the Shield; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    consumer = await measure(False, n, requests)
    direct = await measure(True, n, requests)
    print("| page | consumer (usual), median ms | direct gets (no consumer), median ms | ratio |")
    print("|---|---|---|---|")
    for label in consumer:
        print(f"| {label} | {consumer[label]:.1f} | {direct[label]:.1f} | {direct[label] / consumer[label]:.1f}× |")


if __name__ == "__main__":
    asyncio.run(main())
