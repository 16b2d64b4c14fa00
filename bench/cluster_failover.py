#!/usr/bin/python3
"""bench/cluster_failover.py — do presence and history stay answered while a NATS node of a
3-node cluster dies?

For each round and each build: a fresh cluster (deploy/cluster/nats-node.conf, R3 streams,
the strict users), Redis, two Brains (lease_ttl_s 10, the default) and one Shield attached
to two nodes that survive; a member joins a room with 20 messages. Then the node that leads
the JetStream meta group (`meta`, the default) or another one (`other`) is SIGKILLed, and for
SECONDS the member asks presence, then history, in turn, one at a time (a quarter second
apart). Each answer is timed through the Shield; the Shield waits request_timeout_ms 3 000.
Prints a Markdown row per run: requests, those answered with an error (and why), median and
slowest answer.

    BUILDS="build other-build" ROUNDS=2 /usr/bin/python3 bench/cluster_failover.py [meta|other] [SECONDS]

BUILDS are build directories (each with bin/arqon-brain and bin/arqon-shield); rounds
alternate between them, so a comparison shares the machine's state.
"""
import asyncio
import collections
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILDS = os.environ.get("BUILDS", os.path.join(ROOT, "build")).split()
sys.path[:0] = [os.path.join(ROOT, "tests", "harness"), os.path.join(ROOT, "tests", "integration"),
                os.path.join(ROOT, "build", "gen", "python")]  # the envelope module of the tests' build
os.environ.setdefault("ARQ_BIN_DIR", os.path.join(os.path.abspath(BUILDS[0]), "bin"))

import arqon_daemon  # noqa: E402
from arqon_harness import RedisServer, free_port  # noqa: E402
from brain_support import Brain, strict_passwords  # noqa: E402
from shield_support import Shield, cmd_json, event_json  # noqa: E402
from test_brain import FAST_SHIELD, Client  # noqa: E402
from test_cluster import ClusterNode  # noqa: E402


class MonitoredNode(ClusterNode):
    """A cluster node with its monitoring port, to ask who leads the meta group."""

    def start(self):
        self.monitor = free_port()
        log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(["nats-server", "-c", os.path.join(self.dir, "nats-node.conf"),
                                      "-m", str(self.monitor)], env=self.env, stdout=log, stderr=log)
        log.close()
        return self


def meta_leader(nodes):
    for n in nodes.values():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{n.monitor}/jsz", timeout=2) as r:
                leader = json.load(r).get("meta_cluster", {}).get("leader")
            if leader:
                return leader
        except OSError:
            continue
    return None


async def run(build, victim_kind, seconds):
    arqon_daemon.BIN = os.path.join(os.path.abspath(build), "bin")
    pw, passwords = strict_passwords()
    env = dict(os.environ, **passwords)
    routes = {n: free_port() for n in ("n1", "n2", "n3")}
    nodes = {n: MonitoredNode(n, routes, env).start() for n in routes}
    redis = RedisServer().start()
    urls = [nodes[n].url for n in ("n1", "n2", "n3")]
    brains = [Brain(None, redis.url, nats_servers=order, extra_toml='stream_replicas = 3\nuser = "brain"',
                    expiry_s=15, lease_ttl_s=10, env={"ARQON_NATS_PASSWORD": pw["brain"]})
              for order in (urls, urls[::-1])]
    shield = None
    try:
        for b in brains:
            b.start()
        deadline = time.monotonic() + 20
        while not (leader := meta_leader(nodes)) and time.monotonic() < deadline:
            time.sleep(0.2)
        victim = leader if victim_kind == "meta" else next(n for n in nodes if n != leader)
        alive = [nodes[n].url for n in nodes if n != victim]
        shield = Shield(None, node_id="a", extra_toml=FAST_SHIELD, nats_servers=alive,
                        nats_user="shield", nats_password=pw["shield"]).start()
        shield.wait_ready()
        a = await Client.open(shield, sub="alice")
        await a.join("C")
        for i in range(20):
            await a.request(event_json("C", data=b"m%d" % i, id_=f"e{i}"), f"e{i}", timeout=10)
        nodes[victim].kill()
        t0, k, took, errors = time.monotonic(), 0, [], collections.Counter()
        while time.monotonic() - t0 < seconds:
            k += 1
            for cmd in ("presence", "history"):
                tag = f"{cmd}{k}"
                data = json.dumps({"since_seq": 10}).encode() if cmd == "history" else b""
                t1 = time.monotonic()
                reply = await a.request(cmd_json(cmd, "C", id_=tag, data=data), tag, timeout=10)
                took.append((time.monotonic() - t1) * 1000)
                if reply.event.type == "error":
                    errors[f'{cmd}: {json.loads(reply.event.data)["reason"]}'] += 1
            await asyncio.sleep(0.25)
        await a.close()
        return victim, took, errors
    finally:
        if shield:
            shield.stop()
        for b in brains:
            b.stop()
        redis.stop()
        for n in nodes.values():
            n.stop()


async def main():
    victim_kind = sys.argv[1] if len(sys.argv) > 1 else "meta"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 25
    rounds = int(os.environ.get("ROUNDS", "1"))
    print(f"{victim_kind} node killed; presence and history asked in turn for {seconds:.0f} s; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.1f}\n")
    print("| build | node killed | requests | errors | median ms | slowest ms | errors by reason |")
    print("|---|---|---|---|---|---|---|")
    for _ in range(rounds):
        for build in BUILDS:
            victim, took, errors = await run(build, victim_kind, seconds)
            reasons = "; ".join(f"{n} × {r}" for r, n in errors.most_common()) or "—"
            print(f"| {build} | {victim} | {len(took)} | {sum(errors.values())} | {statistics.median(took):.1f} | "
                  f"{max(took):.0f} | {reasons} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
