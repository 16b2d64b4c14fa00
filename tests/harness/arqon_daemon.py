"""A project daemon (arqon-shield, arqon-brain) as a test sees it: started with a config,
ready when its /readyz answers 200, stopped with a signal, its log kept for the report when
it exits badly. Subclasses write the config and say which binary they run."""
import http.client
import os
import shutil
import signal
import subprocess
import tempfile
import time

from arqon_harness import _die_with_parent, free_port

BIN = os.environ.get("ARQ_BIN_DIR", "build/bin")


class Daemon:
    binary = None   # e.g. "arqon-shield"
    tls_context = None

    def __init__(self, env=None):
        self.port = free_port()
        short = self.binary.replace("arqon-", "")
        self.dir = tempfile.mkdtemp(prefix=f"arq-{short}-")
        self.config = os.path.join(self.dir, "arqon.toml")
        self.log_path = os.path.join(self.dir, f"{short}.log")
        self.env = env
        self.proc = None

    def write_config(self):
        raise NotImplementedError

    def start(self, timeout=20):
        self.write_config()
        env = dict(os.environ, **(self.env or {}))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([os.path.join(BIN, self.binary), "--config", self.config],
                                     stdout=log, stderr=log, preexec_fn=_die_with_parent, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.binary} exited {self.proc.returncode}: {self.log()}")
            try:
                if self.http("/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.binary} did not become ready: " + self.log())

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.http("/readyz")[0] == 200:
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.binary} never became ready")

    def http(self, path, method="GET", headers=None):
        """(status, body) of one request; http.client adds no Connection header of its own."""
        if self.tls_context:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=5,
                                               context=self.tls_context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read().decode()
        finally:
            conn.close()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def kill(self):
        """SIGKILL, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, sig=signal.SIGTERM):
        """Stops the process and returns its exit status. The directory goes unless the
        process failed (its log is then printed) or ARQ_KEEP_TEST_DIRS is set."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        if rc not in (0, None, -signal.SIGKILL):
            print(f"{self.binary} exited {rc}; log: {self.log_path}\n{self.log()[-6000:]}")
        elif not os.environ.get("ARQ_KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
