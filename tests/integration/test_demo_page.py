"""The demo page in a real browser: nats-server, redis-server, arqon-brain and arqon-shield here
(seqs, history and presence come from the Brain), Debian's chromium driven by
tests/browser/demo_page.test.mjs (playwright-core), which opens two pages and checks them.
This side restarts the Shield when the script asks for it: the script prints RESTART_SHIELD,
this side SIGKILLs the Shield, starts it again on the same port and writes SHIELD_RESTARTED
to the script's stdin.

ARQ_DEMO_SCREENSHOT=<path.png> makes the script save a picture of the page there (the one in
docs/images/demo-page.png comes from such a run); without it the tree is left alone. A failed
run always leaves demo_page-failure.png next to the build's bin/."""
import http.client
import os
import queue
import subprocess
import threading
import time
import unittest

from arqon_harness import NatsServer, RedisServer
from brain_support import Brain
from shield_support import BIN, Shield, make_token

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "tests", "browser", "demo_page.test.mjs")
# The script's own bound is 120 s; this only catches a node that ignores it.
DEADLINE = 180


class DemoPage(unittest.TestCase):
    def setUp(self):
        self.nats = NatsServer().start()
        self.addCleanup(self.nats.stop)
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.stop)
        # A crashed Shield's members go 2 s after its last heartbeat: beat well within that.
        self.brain = Brain(self.nats.url, self.redis.url, expiry_s=2).start()
        self.addCleanup(self.brain.stop)
        self.shield = Shield(self.nats.url, extra_toml="[shield]\nheartbeat_interval_ms = 500\n").start()
        self.addCleanup(self.shield.stop)
        self.shield.wait_ready()

    def get(self, path, headers=None, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.shield.port, timeout=5)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def test_assets(self):
        """The page, its assets and the SDK: content types, ETag revalidation, HEAD."""
        status, headers, page = self.get("/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertEqual(headers["cache-control"], "no-cache")
        self.assertIn(b'<script type="module" src="demo/app.js">', page)
        etag = headers["etag"]
        self.assertRegex(etag, r'^"[0-9a-f]{16}"$')
        status, headers, body = self.get("/", {"If-None-Match": etag})
        self.assertEqual((status, body, headers["etag"]), (304, b"", etag))
        self.assertEqual(self.get("/", {"If-None-Match": '"0000000000000000"'})[0], 200)
        status, headers, body = self.get("/", method="HEAD")
        self.assertEqual((status, body, headers["etag"]), (200, b"", etag))
        for path, ctype, needle in [("/sdk/arqonbus.js", "text/javascript; charset=utf-8", b"export"),
                                    ("/demo/app.js", "text/javascript; charset=utf-8", b"import"),
                                    ("/demo/style.css", "text/css; charset=utf-8", b"#messages"),
                                    ("/demo/icon.svg", "image/svg+xml", b"<svg")]:
            status, headers, body = self.get(path)
            self.assertEqual((status, headers["content-type"]), (200, ctype), path)
            self.assertIn(needle, body, path)
            self.assertNotEqual(headers["etag"], etag, path)
        self.assertEqual(self.get("/demo/")[0], 404)
        # One keep-alive connection: a 304 and a HEAD carry no body, so the next answer follows.
        conn = http.client.HTTPConnection("127.0.0.1", self.shield.port, timeout=5)
        try:
            for method, path, headers, want in [("GET", "/", {"If-None-Match": etag}, 304),
                                                ("HEAD", "/sdk/arqonbus.js", {}, 200),
                                                ("GET", "/demo/app.js", {}, 200),
                                                ("GET", "/", {"If-None-Match": "W/" + etag}, 304),
                                                ("GET", "/healthz", {}, 200)]:
                conn.request(method, path, headers=headers)
                r = conn.getresponse()
                body = r.read()
                self.assertEqual((r.status, r.getheader("Connection")), (want, "keep-alive"), path)
                self.assertEqual(bool(body), method == "GET" and want == 200, path)
        finally:
            conn.close()
        self.assertEqual(self.get("/sdk/arqonbus.js", method="POST")[0], 405)

    def test_demo_page_in_chromium(self):
        # No rooms claim: each page may join any room of tenant T1.
        env = dict(os.environ, PORT=str(self.shield.port),
                   TOKEN_A=make_token({"sub": "alice"}, ttl=600),
                   TOKEN_B=make_token({"sub": "bob"}, ttl=600),
                   FAILSHOT=os.path.abspath(os.path.join(BIN, "..", "demo_page-failure.png")))
        env.pop("SCREENSHOT", None)
        if os.environ.get("ARQ_DEMO_SCREENSHOT"):
            env["SCREENSHOT"] = os.path.abspath(os.environ["ARQ_DEMO_SCREENSHOT"])
        # Sanitizer settings meant for the project's binaries are no business of node's.
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            env.pop(k, None)
        proc = subprocess.Popen([os.environ.get("ARQ_NODE", "node"), SCRIPT], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, encoding="utf-8")
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        lines = queue.Queue()
        output = []

        def reader():
            for line in proc.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)
        threading.Thread(target=reader, daemon=True).start()

        restarts = 0
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
            if line == "RESTART_SHIELD":
                self.shield.kill()  # a crash: the pages see their connections drop
                self.shield.start()
                self.shield.wait_ready()
                restarts += 1
                try:
                    proc.stdin.write("SHIELD_RESTARTED\n")
                    proc.stdin.flush()
                except BrokenPipeError:
                    pass  # the script has failed meanwhile; its output says why
        rc = proc.wait(10)
        proc.stdout.close()
        proc.stdin.close()
        report = "\n".join(output)
        self.assertEqual(rc, 0, "demo_page.test.mjs failed:\n" + report)
        self.assertEqual(restarts, 1, "the script never asked for the Shield's restart:\n" + report)


if __name__ == "__main__":
    unittest.main()
