"""Deployment settings against real nats-server, redis-server, arqon-brain and arqon-shield:
Redis credentials (the default user's password, an ACL user, a wrong password), a NATS
server list whose first server is down, and [nats] stream_replicas against existing streams."""
import json
import os
import unittest

from arqon_harness import NatsServer, RedisServer, free_port
from brain_support import Brain
from shield_support import Shield, event_json
from test_brain import FAST_SHIELD, Client

PASSWORD = "s3cret/with@odd:chars"  # percent-encoded in the URL
ENCODED = "s3cret%2Fwith%40odd%3Achars"


class SecuredRedis(RedisServer):
    """redis-server that requires a password, with an ACL user `arq` as well."""

    def _argv(self):
        return super()._argv() + ["--requirepass", PASSWORD,
                                  "--user", "arq", "on", ">arq-pass", "~*", "&*", "+@all"]

    def _ready(self):
        import socket
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return b"NOAUTH" in s.recv(100)
        except OSError:
            return False


class RedisCredentials(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.redis = SecuredRedis().start()

    @classmethod
    def tearDownClass(cls):
        cls.redis.stop()
        cls.nats.stop()

    def ready(self, brain):
        return brain.http("/readyz")[0] == 200

    def test_default_user_password_percent_encoded(self):
        b = Brain(self.nats.url, f"redis://:{ENCODED}@127.0.0.1:{self.redis.port}/0").start()
        try:
            self.assertTrue(self.ready(b))
            self.assertIn("Redis connected", b.log())
            self.assertNotIn(PASSWORD, b.log(), "the password never reaches the log")
            self.assertNotIn(ENCODED, b.log())
        finally:
            self.assertEqual(b.stop(), 0)

    def test_acl_user(self):
        b = Brain(self.nats.url, f"redis://arq:arq-pass@127.0.0.1:{self.redis.port}").start()
        try:
            self.assertTrue(self.ready(b))
            self.assertIn("Redis connected", b.log())
        finally:
            self.assertEqual(b.stop(), 0)

    def test_wrong_password_is_a_clear_startup_error(self):
        for url in (f"redis://:wrong@127.0.0.1:{self.redis.port}", f"redis://arq:wrong@127.0.0.1:{self.redis.port}",
                    f"redis://127.0.0.1:{self.redis.port}"):
            b = Brain(self.nats.url, url)
            with self.assertRaisesRegex(RuntimeError, "exited 1: (?s:.*)Redis refused the credentials"):
                b.start()
            self.assertNotIn("wrong", b.log().replace("wrong@", ""), "the password is not logged")

    def test_tls_url_is_refused_at_load(self):
        b = Brain(self.nats.url, f"rediss://127.0.0.1:{self.redis.port}")
        with self.assertRaisesRegex(RuntimeError, "rediss:// \\(TLS\\) is not supported"):
            b.start()


class NatsServers(unittest.IsolatedAsyncioTestCase):
    async def test_first_server_down_the_next_one_serves(self):
        nats = NatsServer().start()
        redis = RedisServer().start()
        dead = f"nats://127.0.0.1:{free_port()}"
        brain = Brain(nats.url, redis.url, nats_servers=[dead, nats.url]).start()
        shield = Shield(nats.url, extra_toml=FAST_SHIELD, nats_servers=[dead, nats.url]).start()
        try:
            shield.wait_ready()
            a = await Client.open(shield, sub="ann")
            await a.join("S")
            reply = await a.request(event_json("S", data=b"via the list", id_="e"), "e")
            self.assertEqual(reply.event.type, "ack")
            got = await a.wait_for(lambda e: e.event.type == "chat.message", what="sequenced message")
            self.assertEqual((got.seq, got.event.data), (1, b"via the list"))
            await a.close()
        finally:
            shield.stop()
            self.assertEqual(brain.stop(), 0)
            redis.stop()
            nats.stop()


class StreamReplicas(unittest.TestCase):
    def test_a_mismatch_with_existing_streams_stops_the_start(self):
        nats = NatsServer().start()
        redis = RedisServer().start()
        try:
            first = Brain(nats.url, redis.url).start()  # creates the streams, 1 replica
            self.assertEqual(first.stop(), 0)
            again = Brain(nats.url, redis.url, extra_toml="stream_replicas = 3")
            with self.assertRaisesRegex(RuntimeError, "(?s)exited 1: .*another number of replicas"):
                again.start()
            self.assertRegex(again.log(), 'stream=ARQON_\\w+ replicas=1 stream_replicas=3')
        finally:
            redis.stop()
            nats.stop()

    def test_url_and_servers_together_are_refused(self):
        b = Brain("nats://127.0.0.1:4222", "redis://127.0.0.1:6379", extra_toml='servers = ["nats://127.0.0.1:4223"]')
        with self.assertRaisesRegex(RuntimeError, "set either url \\(one server\\) or servers"):
            b.start()


if __name__ == "__main__":
    unittest.main()
