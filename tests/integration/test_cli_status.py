"""`arq status` against real parts: what is up is reported up, what is not is reported down."""
import asyncio
import os
import subprocess
import tempfile
import unittest

import websockets

from arqon_harness import NatsServer, RedisServer, free_port
from shield_support import BIN, Shield, make_token


class Status(unittest.IsolatedAsyncioTestCase):
    async def test_parts(self):
        with NatsServer() as nats, RedisServer() as redis, Shield(nats.url) as shield, \
             tempfile.TemporaryDirectory() as d:
            ws = await websockets.connect(shield.url(make_token()))
            await ws.recv()
            conf = os.path.join(d, "arqon.toml")
            with open(conf, "w") as f:
                f.write(f'[shield]\nlisten = "127.0.0.1:{shield.port}"\n[nats]\nurl = "{nats.url}"\n'
                        f'[valkey]\nurl = "{redis.url}"\n[brain]\nmetrics_listen = "127.0.0.1:{free_port()}"\n')
            loop = asyncio.get_running_loop()
            r = await loop.run_in_executor(None, lambda: subprocess.run(
                [os.path.join(BIN, "arq"), "status", "--config", conf, "--timeout-ms", "10000"], capture_output=True, text=True, timeout=30))
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)  # no Brain here
            lines = {line.split()[0]: line for line in r.stdout.splitlines()}
            # (Each part may take 10 s: the suite runs beside others, under ASan too.)
            self.assertRegex(lines["shield"], r"^shield +ok .*connections=1 ", r.stdout)
            self.assertRegex(lines["nats"], r"^nats +ok ", r.stdout)
            self.assertRegex(lines["valkey"], r"^valkey +ok ", r.stdout)
            self.assertRegex(lines["brain"], r"^brain +down ", r.stdout)
            bad = await loop.run_in_executor(None, lambda: subprocess.run(
                [os.path.join(BIN, "arq"), "status", "--timeout-ms", "0"], capture_output=True, text=True, timeout=30))
            self.assertEqual(bad.returncode, 2, bad.stderr)
            self.assertIn("--timeout-ms", bad.stderr)
            await ws.close()


if __name__ == "__main__":
    unittest.main()
