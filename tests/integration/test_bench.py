"""`arq bench` against a real nats-server and arqon-shield: a short ack run must parse,
be acknowledged and report no errors. A smoke test of the tool, not a benchmark."""
import json
import os
import subprocess
import tempfile
import time
import unittest

from arqon_harness import NatsServer
from shield_support import SECRET, Shield

BIN = os.environ.get("ARQ_BIN_DIR", "build/bin")


class BenchSmoke(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        # The defaults allow 100 messages/s per connection: enough for this load.
        cls.shield = Shield(cls.nats.url).start()
        cls.shield.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.shield.stop()
        cls.nats.stop()

    def bench(self, *args, check=True):
        # A generous drain: a loaded CI machine must not turn slow acks into a failure (the
        # drain ends as soon as everything is answered).
        argv = [os.path.join(BIN, "arq"), "bench", "--url", f"ws://127.0.0.1:{self.shield.port}/ws",
                "--secret", SECRET, "--json", "--drain-ms", "20000", *args]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=90)
        if check:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p

    def test_ack_run(self):
        p = self.bench("--mode", "ack", "--connections", "10", "--rate", "200", "--duration", "2",
                       "--pid", str(self.shield.proc.pid))
        r = json.loads(p.stdout)
        self.assertEqual(r["ready"], 10)
        self.assertGreater(r["acked"], 0)
        self.assertEqual(r["acked"], r["sent"])
        self.assertEqual(r["errors"], 0)
        self.assertEqual(r["connect_failed"], 0)
        self.assertEqual(r["ack_latency_us"]["count"], r["acked"])
        self.assertLessEqual(r["ack_latency_us"]["p50"], r["ack_latency_us"]["p99"])
        # The Shield's own routing histogram saw this run's events.
        self.assertGreaterEqual(r["shield_route_us"]["count"], r["acked"])
        self.assertGreater(r["rss_before_kib"], 0)
        self.assertIn("sending", p.stderr)  # the progress line, once a second

    def test_secret_from_config(self):
        # no --secret: the [auth] section of --config, as `arq auth gen` reads it
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as cfg:
            cfg.write(f'[auth]\njwt_secret = "{SECRET}"\n')
            cfg.flush()
            argv = [os.path.join(BIN, "arq"), "bench", "--url", f"ws://127.0.0.1:{self.shield.port}/ws",
                    "--config", cfg.name, "--json", "--quiet", "--mode", "ack", "--connections", "2",
                    "--rate", "20", "--duration", "0.5", "--no-metrics"]
            env = {k: v for k, v in os.environ.items() if k != "ARQON_JWT_SECRET"}
            p = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(json.loads(p.stdout)["ready"], 2)
        p = subprocess.run(argv[:4] + argv[6:], capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--secret, ARQON_JWT_SECRET or --config", p.stderr)

    def test_roundtrip_run(self):
        p = self.bench("--mode", "roundtrip", "--connections", "4", "--rate", "100", "--duration", "1",
                       "--nats", self.nats.url, "--quiet")
        r = json.loads(p.stdout)
        self.assertEqual(r["delivered"], r["sent"])
        self.assertGreater(r["rt_latency_us"]["count"], 0)

    def test_refused_token(self):
        p = subprocess.run([os.path.join(BIN, "arq"), "bench", "--url",
                            f"ws://127.0.0.1:{self.shield.port}/ws", "--secret", "wrong",
                            "--connections", "2", "--duration", "0.5", "--quiet"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("401", p.stdout)

    def test_idle_from_a_source_address(self):
        # The clients' sockets must be bound to --source while they hold their connections:
        # /proc/net/tcp lists them, established (state 01), to the Shield's port.
        argv = [os.path.join(BIN, "arq"), "bench", "--url", f"ws://127.0.0.1:{self.shield.port}/ws",
                "--secret", SECRET, "--json", "--quiet", "--mode", "idle", "--connections", "5",
                "--duration", "3", "--source", "127.0.0.9"]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
            want_local, want_remote = "0900007F", "0100007F:%04X" % self.shield.port
            seen = 0
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and seen < 5:
                with open("/proc/net/tcp") as f:
                    rows = [line.split() for line in f.readlines()[1:]]
                seen = sum(1 for r in rows
                           if r[1].startswith(want_local + ":") and r[2] == want_remote and r[3] == "01")
                time.sleep(0.1)
            out, err = p.communicate(timeout=60)
        self.assertEqual(seen, 5, err)
        self.assertEqual(p.returncode, 0, out + err)
        self.assertEqual(json.loads(out)["ready"], 5)
        bad = subprocess.run([*argv[:-1], "nonsense"], capture_output=True, text=True, timeout=30)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("--source: 'nonsense'", bad.stderr)

    def test_bad_options(self):
        for args, message in [(["--mode", "nope"], "--mode"), (["--rate", "-3"], "--rate"),
                              (["--connections", "1.5"], "whole number"),
                              (["--target", "nats-ws", "--mode", "ack"], "needs --target shield"),
                              (["--bogus", "1"], "unknown option")]:
            p = subprocess.run([os.path.join(BIN, "arq"), "bench", "--url", "ws://127.0.0.1:1/ws",
                                "--secret", "s", *args], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(message, p.stderr)


if __name__ == "__main__":
    unittest.main()
