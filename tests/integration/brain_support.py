"""Starting a real arqon-brain for integration tests (next to shield_support.Shield)."""
import json
import os
import re
import shutil
import socket

from arqon_daemon import Daemon
from arqon_harness import NatsServer, RedisServer

ACCOUNTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "nats", "accounts.conf")


def strict_passwords():
    """A password for each user of deploy/nats/accounts.conf, and the environment variables
    nats-server reads them from. (A leading letter: nats-server reads environment values
    like config values.)"""
    pw = {u: "arq" + os.urandom(12).hex() for u in ("shield", "brain", "backend")}
    return pw, {f"ARQON_NATS_{u.upper()}_PASSWORD": p for u, p in pw.items()}


class StrictNats(NatsServer):
    """nats-server with the users of deploy/nats/accounts.conf; their passwords in .pw, and
    in this process's environment while the server runs (nats-server reads them there)."""

    def __init__(self):
        super().__init__(extra_conf='include "accounts.conf"')
        self.pw, self.env = strict_passwords()

    def _prepare(self):
        super()._prepare()
        shutil.copy(ACCOUNTS, self.dir)  # nats-server resolves includes next to its config
        os.environ.update(self.env)

    def stop(self):
        super().stop()
        for k in self.env:
            os.environ.pop(k, None)


def partition_of(tenant, room, partitions):
    """The Brain's room partition: FNV-1a 32 over "tenant/room" (src/brain/rules.c)."""
    h = 2166136261
    for c in (tenant + "/" + room).encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h % partitions


class Brain(Daemon):
    """An arqon-brain process with its own metrics port."""
    binary = "arqon-brain"

    def __init__(self, nats_url, redis_url, expiry_s=2, lease_ttl_s=2, partitions=4,
                 extra_toml="", env=None, log_level="info", history_max_per_room=2000,
                 brain_toml="", nats_servers=None, valkey_toml=""):
        super().__init__(env)
        where = f"servers = {json.dumps(nats_servers)}" if nats_servers else f'url = "{nats_url}"'
        self.text = (f'[nats]\n{where}\n{extra_toml}\n'
                     f'[valkey]\nurl = "{redis_url}"\n{valkey_toml}\n'
                     f'[brain]\nmetrics_listen = "127.0.0.1:{self.port}"\n'
                     f"presence_expiry_s = {expiry_s}\nlease_ttl_s = {lease_ttl_s}\n"
                     f"partitions = {partitions}\nhistory_max_per_room = {history_max_per_room}\n"
                     f"{brain_toml}\n"
                     f'[log]\nlevel = "{log_level}"\n')

    def write_config(self):
        with open(self.config, "w") as f:
            f.write(self.text)

    def metric(self, name, labels=""):
        """The value of one series on /metrics (labels as written, e.g. 'partition="3"')."""
        body = self.http("/metrics")[1]
        pat = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" (\S+)"
        m = re.search("^" + pat + "$", body, re.M)
        return float(m.group(1)) if m else None

    def owns(self, partition):
        return self.metric("brain_partition_owned", f'partition="{partition}"') == 1


def js_request(client, subject, payload=b""):
    """A JetStream API request through the harness's raw client; the JSON answer."""
    inbox = "_INBOX.test%d" % (client.sid + 1)
    client.subscribe(inbox)
    client.sock.sendall(f"PUB {subject} {inbox} {len(payload)}\r\n".encode() + payload + b"\r\n")
    m = client.next_msg(5)
    if m is None:
        raise AssertionError(f"no answer to {subject}")
    return json.loads(m[2])


class PersistentRedis(RedisServer):
    """redis-server with an append-only file, so that a restart keeps the data (as a
    production Valkey would)."""

    def _argv(self):
        argv = super()._argv()
        argv[argv.index("--appendonly") + 1] = "yes"
        return argv


def _redis_command(port, *args):
    """One command to redis-server over RESP; the raw reply (a bulk string's bytes, None
    for a nil, an integer's text)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"*{len(args)}\r\n".encode()
                  + b"".join(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args))
        buf = b""
        while b"\r\n" not in buf:
            buf += s.recv(65536)
        head, rest = buf.split(b"\r\n", 1)
        if head[:1] != b"$":
            return head[1:]
        n = int(head[1:])
        if n < 0:
            return None
        while len(rest) < n + 2:
            rest += s.recv(65536)
        return rest[:n]


def redis_get(port, key):
    return _redis_command(port, "GET", key)


def redis_set(port, key, value):
    return _redis_command(port, "SET", key, value)


def redis_calls(port, command, field="calls"):
    """How many times `command` ran on the server (INFO commandstats); `field` may also be
    failed_calls (those answered with an error)."""
    info = _redis_command(port, "INFO", "commandstats").decode()
    m = re.search(rf"^cmdstat_{re.escape(command.lower())}:.*\b{field}=(\d+)", info, re.M)
    return int(m.group(1)) if m else 0
