"""The demo page in a real browser: nats-server and arqon-shield here, Debian's chromium driven
by tests/browser/demo_page.test.mjs (playwright-core), which does the clicking and checks the
page's log. This side plays the backend: it publishes on the room's egress subject when the
page has joined, and checks that what the page sent reached NATS."""
import os
import queue
import subprocess
import threading
import time
import unittest

from arqon_harness import NatsClient, NatsServer
from shield_support import BIN, Shield, envelope_pb2, make_token

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "tests", "browser", "demo_page.test.mjs")
# Non-ASCII on purpose: the page base64-encodes the UTF-8 bytes of what is typed.
MESSAGE = "hello from a real browser, héllo ✓"
# The script's own bound is 60 s; this only catches a node that ignores it.
DEADLINE = 120


class DemoPage(unittest.TestCase):
    def setUp(self):
        self.nats = NatsServer().start()
        self.addCleanup(self.nats.stop)
        self.shield = Shield(self.nats.url).start()
        self.addCleanup(self.shield.stop)
        self.shield.wait_ready()

    def test_demo_page_in_chromium(self):
        spy = NatsClient(self.nats.port)
        self.addCleanup(spy.close)
        spy.subscribe("in.t.T1.r.lobby")
        spy.flush()
        # No rooms claim: the page must be refused a send to a room it has not joined.
        token = make_token({"sub": "alice"})
        env = dict(os.environ, PORT=str(self.shield.port), TOKEN=token, MESSAGE=MESSAGE,
                   NATS_PORT=str(self.nats.port),
                   SCREENSHOT=os.path.abspath(os.path.join(BIN, "..", "demo_page.png")))
        # Sanitizer settings meant for the project's binaries are no business of node's.
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            env.pop(k, None)
        proc = subprocess.Popen([os.environ.get("ARQ_NODE", "node"), SCRIPT], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                encoding="utf-8")
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        lines = queue.Queue()
        output = []

        def reader():
            for line in proc.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)
        threading.Thread(target=reader, daemon=True).start()

        published = False
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                proc.kill()
                self.fail("node did not finish in %d s:\n%s" % (DEADLINE, "\n".join(output)))
            if line is None:
                break
            output.append(line)
            if line == "JOINED" and not published:
                backend = NatsClient(self.nats.port)
                out = envelope_pb2.Envelope(room_id="lobby", seq=5, sender="bob")
                out.event.type = "chat.message"
                out.event.data = b"from the spine"
                backend.publish("out.t.T1.r.lobby", out.SerializeToString())
                backend.flush()
                backend.close()
                published = True
        rc = proc.wait(10)
        proc.stdout.close()
        report = "\n".join(output)
        self.assertEqual(rc, 0, "demo_page.test.mjs failed:\n" + report)
        self.assertTrue(published, "the page never said it had joined:\n" + report)

        # What the page sent reached the spine, stamped with the token's identity; the send
        # refused before the join must not have.
        subject, _, payload = spy.next_msg(5)
        self.assertEqual(subject, "in.t.T1.r.lobby")
        e = envelope_pb2.Envelope.FromString(payload)
        self.assertEqual((e.tenant_id, e.sender, e.event.type), ("T1", "alice", "chat.message"))
        self.assertEqual(e.event.data.decode("utf-8"), MESSAGE)
        subject, _, payload = spy.next_msg(5)
        self.assertEqual(envelope_pb2.Envelope.FromString(payload).event.data.decode("utf-8"),
                         "\u00e9" * 100000)
        self.assertIsNone(spy.next_msg(0.2))


if __name__ == "__main__":
    unittest.main()
