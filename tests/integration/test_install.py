"""`cmake --install` into a temporary prefix, then the installed programs run with the
installed configuration (docs/deployment.md): the files are where the docs say, each
program validates the installed config, and the installed Shield and Brain serve with it
(only the ports, the NATS and Redis addresses and a development secret laid over it)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from arqon_harness import NatsServer, RedisServer, free_port
from shield_support import SECRET

BUILD = os.path.dirname(os.path.abspath(os.environ["ARQ_BIN_DIR"]))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OVERLAY = os.path.join(ROOT, "scripts", "config_overlay.py")


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prefix = tempfile.mkdtemp(prefix="install-prefix-")
        out = subprocess.run(["cmake", "--install", BUILD, "--prefix", cls.prefix], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.prefix, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.prefix, *parts)

    def test_files_are_where_the_docs_say(self):
        for f in ("bin/arqon-shield", "bin/arqon-brain", "bin/arq"):
            self.assertTrue(os.access(self.path(f), os.X_OK), f)
        for f in ("etc/arqon/arqon.toml", "etc/arqon/nats/nats.conf", "etc/arqon/nats/accounts.conf",
                  "lib/systemd/system/arqon-shield.service", "lib/systemd/system/arqon-brain.service",
                  "share/doc/arqon/deployment.md"):
            self.assertTrue(os.path.isfile(self.path(f)), f)
        unit = open(self.path("lib/systemd/system/arqon-shield.service")).read()
        self.assertNotIn("@ARQ_", unit, "every placeholder substituted")
        for setting in ("NoNewPrivileges=yes", "DynamicUser=yes", "ProtectSystem=strict", "LimitNOFILE=262144"):
            self.assertIn(setting, unit)
        version = subprocess.run([self.path("bin/arq"), "version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(version.returncode, 0)
        if shutil.which("systemd-analyze"):  # not on every build machine
            for unit in ("arqon-shield", "arqon-brain"):
                check = subprocess.run(["systemd-analyze", "verify", "--man=no",
                                        self.path(f"lib/systemd/system/{unit}.service")],
                                       capture_output=True, text=True, timeout=30)
                self.assertNotIn("Unknown key", check.stderr)
                self.assertNotIn("Unknown section", check.stderr)

    def test_installed_config_is_valid_for_every_program(self):
        conf = self.path("etc/arqon/arqon.toml")
        for prog in ("arqon-shield", "arqon-brain"):
            out = subprocess.run([self.path("bin", prog), "--config", conf, "--check-config"],
                                 capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 0, out.stderr)

    def test_installed_programs_serve(self):
        nats = NatsServer().start()
        redis = RedisServer().start()
        shield_port, admin_port, metrics_port = free_port(), free_port(), free_port()
        conf = os.path.join(self.prefix, "run.toml")
        subprocess.run([sys.executable, OVERLAY, self.path("etc/arqon/arqon.toml"), conf,
                        f'shield.listen="127.0.0.1:{shield_port}"', f'shield.admin_listen="127.0.0.1:{admin_port}"',
                        f'auth.jwt_secret="{SECRET}"', f'nats.url="{nats.url}"', f'valkey.url="{redis.url}"',
                        f'brain.metrics_listen="127.0.0.1:{metrics_port}"'], check=True, timeout=10)
        procs = [subprocess.Popen([self.path("bin", p), "--config", conf], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for p in ("arqon-brain", "arqon-shield")]
        try:
            import time
            import urllib.request
            deadline = time.monotonic() + 20
            ready = set()
            while len(ready) < 2 and time.monotonic() < deadline:
                for name, port in (("shield", shield_port), ("brain", metrics_port)):
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                            if r.status == 200:
                                ready.add(name)
                    except OSError:
                        pass
                time.sleep(0.1)
            self.assertEqual(ready, {"shield", "brain"})
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                self.assertEqual(p.wait(timeout=20), 0)
            redis.stop()
            nats.stop()


if __name__ == "__main__":
    unittest.main()
