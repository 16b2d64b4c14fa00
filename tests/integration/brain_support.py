"""Starting a real arqon-brain for integration tests (next to shield_support.Shield)."""
import http.client
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from arqon_harness import RedisServer, free_port, _die_with_parent
from shield_support import Shield

BIN = os.environ.get("ARQ_BIN_DIR", "build/bin")


def partition_of(tenant, room, partitions):
    """The Brain's room partition: FNV-1a 32 over "tenant/room" (src/brain/rules.c)."""
    h = 2166136261
    for c in (tenant + "/" + room).encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h % partitions


class Brain:
    """An arqon-brain process with its own metrics port."""

    def __init__(self, nats_url, redis_url, expiry_s=2, lease_ttl_s=2, partitions=4,
                 extra_toml="", env=None, log_level="info"):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="arq-brain-")
        self.config = os.path.join(self.dir, "arqon.toml")
        self.log_path = os.path.join(self.dir, "brain.log")
        self.env = env
        with open(self.config, "w") as f:
            f.write(f'[nats]\nurl = "{nats_url}"\n{extra_toml}\n'
                    f'[valkey]\nurl = "{redis_url}"\n'
                    f'[brain]\nmetrics_listen = "127.0.0.1:{self.port}"\n'
                    f"presence_expiry_s = {expiry_s}\nlease_ttl_s = {lease_ttl_s}\n"
                    f"partitions = {partitions}\nhistory_max_per_room = 2000\n"
                    f'[log]\nlevel = "{log_level}"\n')
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.update(self.env or {})
        self.proc = subprocess.Popen([os.path.join(BIN, "arqon-brain"), "--config", self.config],
                                     stdout=log, stderr=log, preexec_fn=_die_with_parent, env=env)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"arqon-brain exited {self.proc.returncode}: {self.log()}")
            try:
                if self.http("/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("arqon-brain did not become ready: " + self.log())

    def http(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read().decode()
        finally:
            conn.close()

    def metric(self, name, labels=""):
        """The value of one series on /metrics (labels as written, e.g. 'partition="3"')."""
        body = self.http("/metrics")[1]
        pat = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" (\S+)"
        m = re.search("^" + pat + "$", body, re.M)
        return float(m.group(1)) if m else None

    def owns(self, partition):
        return self.metric("brain_partition_owned", f'partition="{partition}"') == 1

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, sig=signal.SIGTERM):
        """Stops the process; returns its exit status (the log is printed when not 0)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        if rc not in (0, None, -signal.SIGKILL):
            print(f"arqon-brain exited {rc}; log: {self.log_path}\n{self.log()[-6000:]}")
        elif not os.environ.get("ARQ_KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return rc


class UserShield(Shield):
    """A Shield that connects to NATS as `user`, its password in ARQON_NATS_PASSWORD."""

    def __init__(self, nats_url, user, password, **kw):
        super().__init__(nats_url, **kw)
        self.user, self.password = user, password

    def write_config(self):
        super().write_config()
        with open(self.config) as f:
            text = f.read()
        text = text.replace("[nats]\n", f'[nats]\nuser = "{self.user}"\n', 1)
        with open(self.config, "w") as f:
            f.write(text)

    def start(self):
        old = os.environ.get("ARQON_NATS_PASSWORD")
        os.environ["ARQON_NATS_PASSWORD"] = self.password
        try:
            return super().start()
        finally:
            if old is None:
                del os.environ["ARQON_NATS_PASSWORD"]
            else:
                os.environ["ARQON_NATS_PASSWORD"] = old


def js_request(client, subject, payload=b""):
    """A JetStream API request through the harness's raw client; the JSON answer."""
    inbox = "_INBOX.test%d" % (client.sid + 1)
    client.subscribe(inbox)
    client.sock.sendall(f"PUB {subject} {inbox} {len(payload)}\r\n".encode() + payload + b"\r\n")
    m = client.next_msg(5)
    if m is None:
        raise AssertionError(f"no answer to {subject}")
    import json
    return json.loads(m[2])


class PersistentRedis(RedisServer):
    """redis-server with an append-only file, so that a restart keeps the data (as a
    production Valkey would)."""

    def _argv(self):
        argv = super()._argv()
        argv[argv.index("--appendonly") + 1] = "yes"
        return argv
