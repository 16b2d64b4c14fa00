"""`arq dev up` (what `make run` runs) brings up the whole stack; `arq dev down` stops it.

End to end with the real parts: NATS with the strict users of deploy/nats, Redis, the
Brain and the Shield; a client joins a room and gets its own message back, sequenced."""
import asyncio
import json
import os
import re
import threading
import subprocess
import tempfile
import time
import unittest

import websockets

from arqon_harness import free_port
from shield_support import BIN, cmd_json, event_json, parse

HOME = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ARQ = os.path.join(BIN, "arq")


def read(path):
    with open(path) as f:
        return f.read()


class DevStack(unittest.IsolatedAsyncioTestCase):
    async def test_up_use_down(self):
        state = tempfile.mkdtemp(prefix="arq-dev-")
        ports = {k: str(free_port()) for k in ("NATS", "REDIS", "SHIELD", "BRAIN_METRICS")}
        # The operator's configuration is the base of the stack's (here a copy of the shipped
        # one with another node id); the stack sets only its ports and NATS users over it.
        config = os.path.join(state, "operator.toml")
        with open(config, "w") as f:
            f.write(read(os.path.join(HOME, "config", "arqon.toml")).replace('node_id = "node-1"',
                                                                           'node_id = "dev-custom"'))
        env = dict(os.environ, ARQON_HOME=HOME, ARQON_BIN_DIR=os.path.abspath(BIN), ARQON_STATE_DIR=state,
                   **{f"ARQON_{k}_PORT": v for k, v in ports.items()})
        # a path relative to the caller's directory (the script itself runs from the repository)
        up = subprocess.Popen([ARQ, "dev", "up", "--config", "operator.toml"], env=env, cwd=state,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            lines = []
            reader = threading.Thread(target=lambda: lines.extend(iter(up.stdout.readline, "")), daemon=True)
            reader.start()
            deadline = time.monotonic() + 90
            while "stops everything" not in "".join(lines):
                self.assertLess(time.monotonic(), deadline, "".join(lines))
                self.assertIsNone(up.poll(), "".join(lines))
                time.sleep(0.2)
            out = "".join(lines)
            token = re.search(r"#token=(\S+)", out).group(1)
            self.assertIn(f"ws://127.0.0.1:{ports['SHIELD']}/ws?token={token}", out)

            status = subprocess.run([ARQ, "status", "--config", os.path.join(state, "shield.toml")],
                                    env=dict(env, ARQON_NATS_PASSWORD=read(f"{state}/nats_shield_password")),
                                    capture_output=True, text=True, timeout=30)
            self.assertEqual(status.returncode, 0, status.stdout + status.stderr)

            ws = await websockets.connect(f"ws://127.0.0.1:{ports['SHIELD']}/ws?token={token}")
            welcome = parse(await ws.recv())
            self.assertEqual(welcome.event.type, "welcome")
            self.assertEqual(json.loads(welcome.event.data)["node"], "dev-custom")
            await ws.send(cmd_json("join", "lobby", "j"))
            deadline = time.monotonic() + 20
            got = None
            while got is None and time.monotonic() < deadline:
                e = parse(await asyncio.wait_for(ws.recv(), 20))
                if e.event.type == "ack" and e.id == "j":
                    await ws.send(event_json("lobby", id_="m", data=b"through the stack"))
                elif e.event.type == "chat.message":
                    got = e
            self.assertIsNotNone(got, "own broadcast not received")
            self.assertEqual((got.room_id, got.sender, got.seq, got.event.data),
                             ("lobby", "dev", 1, b"through the stack"))
            await ws.close()

            down = subprocess.run([ARQ, "dev", "down"], env=env, capture_output=True, text=True, timeout=30)
            self.assertEqual(down.returncode, 0, down.stderr)
            self.assertEqual(up.wait(20), 0)
            self.assertFalse(os.path.exists(os.path.join(state, "run.pid")))
            again = subprocess.run([ARQ, "dev", "down"], env=env, capture_output=True, text=True, timeout=30)
            self.assertEqual(again.returncode, 1)
            self.assertIn("no stack is running", again.stderr)
        finally:
            if up.poll() is None:
                up.terminate()
                up.wait(20)


if __name__ == "__main__":
    unittest.main()
