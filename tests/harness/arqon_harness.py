"""Real servers for Python integration tests: nats-server (JetStream) and redis-server.

Each server runs on a free 127.0.0.1 port with its own temporary directory, dies with the
test process (PR_SET_PDEATHSIG), and is stopped by the context manager, by stop(), or at
interpreter exit. Also: a minimal NATS text-protocol client (an independent client, not
the project's code) for asserting what crosses the spine.

Run tests with /usr/bin/python3 (Debian's python3-websockets and friends live there).
"""
import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

_PR_SET_PDEATHSIG = 1
_live = set()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _answers(port, probe, expect):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            if probe:
                s.sendall(probe)
            return s.recv(64).startswith(expect)
    except OSError:
        return False


class _Server:
    kind = "server"

    def __init__(self):
        self.port = None
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix=f"arq-{self.kind}-")

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def _argv(self):
        raise NotImplementedError

    def _ready(self):
        raise NotImplementedError

    def _launch(self):
        log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(self._argv(), stdout=log, stderr=log,
                                     preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self._ready():
                return True
            time.sleep(0.02)
        self.proc.kill()
        self.proc.wait()
        return False

    def start(self):
        for _ in range(5):
            self.port = free_port()
            self._prepare()
            if self._launch():
                _live.add(self)
                return self
        raise RuntimeError(f"{self.kind}-server did not start; log in {self.dir}/server.log")

    def _prepare(self):
        pass

    def _terminate(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self):
        """SIGKILL, as in a crash; the directory is kept for restart()."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self._terminate()
        if not self._launch():
            raise RuntimeError(f"{self.kind}-server did not restart")
        return self

    def stop(self):
        self._terminate()
        _live.discard(self)
        if self.dir and not os.environ.get("ARQ_KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class NatsServer(_Server):
    """nats-server with JetStream; `extra_conf` is appended to the generated config."""
    kind = "nats"
    scheme = "nats"

    def __init__(self, extra_conf=""):
        super().__init__()
        self.extra_conf = extra_conf

    def _prepare(self):
        with open(os.path.join(self.dir, "nats.conf"), "w") as f:
            f.write(f"host: 127.0.0.1\nport: {self.port}\n"
                    f"jetstream {{ store_dir: \"{self.dir}/js\" }}\n{self.extra_conf}\n")

    def _argv(self):
        return ["nats-server", "-c", os.path.join(self.dir, "nats.conf")]

    def _ready(self):
        return _answers(self.port, None, b"INFO ")


class RedisServer(_Server):
    kind = "redis"
    scheme = "redis"

    def _argv(self):
        return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.dir]

    def _ready(self):
        return _answers(self.port, b"PING\r\n", b"+PONG")


class Msg(tuple):
    """(subject, headers, payload), with the reply subject as .reply (None when absent)."""

    def __new__(cls, subject, headers, payload, reply=None):
        m = super().__new__(cls, (subject, headers, payload))
        m.reply = reply
        return m


class NatsClient:
    """A small, independent NATS text-protocol client (PUB/HPUB, SUB, MSG/HMSG)."""

    def __init__(self, port, user=None, password=None, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.sid = 0
        info = self._line()
        if not info.startswith(b"INFO "):
            raise RuntimeError(f"unexpected greeting {info!r}")
        opts = '{"verbose":false,"pedantic":false,"headers":true,"no_responders":true'
        if user is not None:
            opts += f',"user":"{user}","pass":"{password}"'
        self.sock.sendall((f"CONNECT {opts}}}\r\nPING\r\n").encode())
        self.pending = []
        self._expect_pong()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("NATS closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exactly(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("NATS closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _expect_pong(self):
        while True:
            line = self._line()
            if line == b"PONG":
                return
            if line.startswith(b"-ERR"):
                raise RuntimeError(line.decode())
            self._handle(line)

    def flush(self):
        self.sock.sendall(b"PING\r\n")
        self._expect_pong()

    def subscribe(self, subject):
        self.sid += 1
        self.sock.sendall(f"SUB {subject} {self.sid}\r\n".encode())
        self.flush()
        return self.sid

    def publish(self, subject, payload=b"", headers=None):
        if headers:
            hdr = "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            hdr = hdr.encode()
            self.sock.sendall(f"HPUB {subject} {len(hdr)} {len(hdr) + len(payload)}\r\n".encode()
                              + hdr + payload + b"\r\n")
        else:
            self.sock.sendall(f"PUB {subject} {len(payload)}\r\n".encode() + payload + b"\r\n")

    def _handle(self, line):
        parts = line.split()
        if parts[0] == b"MSG":
            size = int(parts[-1])
            reply = parts[3].decode() if len(parts) == 5 else None
            self.pending.append(Msg(parts[1].decode(), {}, self._exactly(size), reply))
        elif parts[0] == b"HMSG":
            hsize, size = int(parts[-2]), int(parts[-1])
            raw = self._exactly(size)
            headers = {}
            for h in raw[:hsize].split(b"\r\n")[1:]:
                if b":" in h:
                    k, v = h.split(b":", 1)
                    headers[k.decode().strip()] = v.decode().strip()
            reply = parts[3].decode() if len(parts) == 6 else None
            self.pending.append(Msg(parts[1].decode(), headers, raw[hsize:], reply))
        elif parts[0] == b"PING":
            self.sock.sendall(b"PONG\r\n")
        elif parts[0] == b"-ERR":
            self.pending.append(Msg("-ERR", {}, line))

    def next_msg(self, timeout=5.0):
        """(subject, headers, payload), or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                self._handle(self._line())
            except socket.timeout:
                return None
        return self.pending.pop(0)

    def close(self):
        self.sock.close()


@atexit.register
def _stop_all():
    for s in list(_live):
        s.stop()
