"""Deployment settings against real nats-server, redis-server, arqon-brain and arqon-shield:
Redis credentials (the default user's password, an ACL user, a wrong password), Redis over
TLS (rediss://, with client certificates), a NATS
server list whose first server is down, and [nats] stream_replicas against existing streams."""
import asyncio
import json
import os
import socket
import time
import unittest

from arqon_harness import NatsServer, RedisServer, free_port
from brain_support import Brain
from shield_support import Shield, event_json, self_signed_cert
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


class TlsRedis(RedisServer):
    """redis-server on TLS only, with a certificate for 127.0.0.1 that also signs the client
    certificates it requires (Redis's default, tls-auth-clients yes)."""
    kind = "redis-tls"

    def __init__(self):
        super().__init__()
        self.cert, self.key, self.ctx = self_signed_cert(self.dir)
        self.ctx.load_cert_chain(self.cert, self.key)

    def _argv(self):
        return ["redis-server", "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
                "--tls-cert-file", self.cert, "--tls-key-file", self.key, "--tls-ca-cert-file", self.cert,
                "--save", "", "--appendonly", "no", "--dir", self.dir]

    def _ready(self):
        return b"+PONG" in self.call(b"PING\r\n")

    def call(self, command):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw, \
                 self.ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(command)
                return s.recv(1000)
        except OSError:
            return b""


class RedisTls(unittest.IsolatedAsyncioTestCase):
    """rediss://: the Brain verifies the server's certificate and presents its own."""

    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.redis = TlsRedis().start()

    @classmethod
    def tearDownClass(cls):
        cls.redis.stop()
        cls.nats.stop()

    def brain(self, **files):
        toml = "".join(f'{k} = "{v}"\n' for k, v in files.items())
        return Brain(self.nats.url, f"rediss://127.0.0.1:{self.redis.port}", valkey_toml=toml)

    async def test_rooms_sequenced_through_tls(self):
        b = self.brain(tls_ca_file=self.redis.cert, tls_cert_file=self.redis.cert,
                       tls_key_file=self.redis.key).start()
        shield = Shield(self.nats.url, extra_toml=FAST_SHIELD).start()
        try:
            shield.wait_ready()
            self.assertIn("Redis connected", b.log())
            c = await Client.open(shield, sub="tls-user")
            await c.join("T")
            for i in range(3):
                reply = await c.request(event_json("T", data=b"m%d" % i, id_=f"t{i}"), f"t{i}")
                self.assertEqual(reply.event.type, "ack")
            got = await c.wait_for(lambda e: e.event.type == "chat.message" and e.seq == 3, timeout=10,
                                   what="the third message, sequenced")
            self.assertEqual(got.event.data, b"m2")
            await c.close()
            # The counters are in the Redis behind TLS.
            self.assertIn(b"arq:", self.redis.call(b"KEYS *\r\n"))
        finally:
            shield.stop()
            self.assertEqual(b.stop(), 0)

    def test_refusals_are_clear_startup_errors(self):
        cases = [({}, "certificate is not trusted"),  # the system's CAs do not know this one
                 ({"tls_ca_file": "/nonexistent.pem"}, "valkey.tls_ca_file cannot be read")]
        for files, why in cases:
            b = self.brain(**files)
            try:
                with self.assertRaisesRegex(RuntimeError, "exited 1: (?s:.*)TLS to Redis refused(?s:.*)" + why):
                    b.start()
            finally:
                b.stop()  # (a Brain that did start would hold the partitions of the next test)

    def test_missing_client_certificate_is_named(self):
        # With TLS 1.3 the server refuses a missing client certificate after the handshake,
        # sometimes only after the first command: a start-up error, or the same reason in
        # the log of a Brain that never gets a working connection.
        b = self.brain(tls_ca_file=self.redis.cert)
        try:
            b.start()
            deadline = time.monotonic() + 10
            while "TLS to Redis refused" not in b.log():
                self.assertLess(time.monotonic(), deadline, "no refusal in the log")
                time.sleep(0.1)
            log = b.log()
        except RuntimeError as e:
            log = str(e)
        finally:
            b.stop()
        self.assertRegex(log, "TLS to Redis refused(?s:.*)client certificate")

    def test_cert_without_key_is_refused_at_load(self):
        b = self.brain(tls_ca_file=self.redis.cert, tls_cert_file=self.redis.cert)
        with self.assertRaisesRegex(RuntimeError, "tls_cert_file and tls_key_file must be set together"):
            b.start()


class ReplicaRedis(RedisServer):
    """redis-server replicating `primary`."""
    kind = "redis-replica"

    def __init__(self, primary):
        super().__init__()
        self.primary = primary

    def _argv(self):
        return super()._argv() + ["--replicaof", "127.0.0.1", str(self.primary.port)]


class Sentinel(RedisServer):
    """redis-server --sentinel watching `primary` as "arqon" (quorum 2), quick to decide."""
    kind = "sentinel"

    def __init__(self, primary):
        super().__init__()
        self.primary = primary

    def _prepare(self):
        with open(os.path.join(self.dir, "sentinel.conf"), "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                    f"sentinel monitor arqon 127.0.0.1 {self.primary.port} 2\n"
                    "sentinel down-after-milliseconds arqon 1000\n"
                    "sentinel failover-timeout arqon 4000\n")

    def _argv(self):
        return ["redis-server", os.path.join(self.dir, "sentinel.conf"), "--sentinel"]


class PasswordSentinel(Sentinel):
    """A sentinel with requirepass, watching `primary` alone (quorum 1)."""
    kind = "sentinel-pw"

    def _prepare(self):
        super()._prepare()
        with open(os.path.join(self.dir, "sentinel.conf"), "a") as f:
            f.write('requirepass "sentinel-secret"\n')

    def _ready(self):
        try:
            return "NOAUTH" in redis_call(self.port, "PING")
        except OSError:
            return False


def redis_call(port, *args):
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in args)).encode())
        return s.recv(65536).decode(errors="replace")


class SentinelPassword(unittest.TestCase):
    """[valkey] sentinel_password: sentinels that require one are asked with it; without it,
    or with a wrong one, the Brain stops at start and says which."""

    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer().start()
        cls.primary = RedisServer().start()
        cls.sentinel = PasswordSentinel(cls.primary).start()

    @classmethod
    def tearDownClass(cls):
        cls.sentinel.stop()
        cls.primary.stop()
        cls.nats.stop()

    def brain(self, password=None):
        toml = f'sentinels = ["127.0.0.1:{self.sentinel.port}"]\n'
        if password:
            toml += f'sentinel_password = "{password}"\n'
        return Brain(self.nats.url, "redis://127.0.0.1:1", valkey_toml=toml)

    def test_with_the_password(self):
        b = self.brain("sentinel-secret").start()
        try:
            self.assertEqual(b.http("/readyz")[0], 200)
            self.assertIn(f'msg="Redis connected"', b.log())
            self.assertNotIn("sentinel-secret", b.log())
        finally:
            self.assertEqual(b.stop(), 0)

    def test_without_or_wrong_password_stops_at_start(self):
        for password, why in ((None, "refused to answer without a password"),
                              ("wrong", "refused valkey.sentinel_password")):
            b = self.brain(password)
            try:
                with self.assertRaisesRegex(RuntimeError, "exited 1: (?s:.*)valkey: the sentinel 127.0.0.1:\\d+ " + why):
                    b.start()
            finally:
                b.stop()


class RedisSentinel(unittest.IsolatedAsyncioTestCase):
    async def test_the_brain_follows_a_failover_and_never_reuses_a_seq(self):
        nats = NatsServer().start()
        primary = RedisServer().start()
        replica = ReplicaRedis(primary).start()
        sentinels = [Sentinel(primary).start() for _ in range(3)]
        brain = shield = None
        try:
            deadline = time.monotonic() + 15  # the sentinels find the replica and each other
            while time.monotonic() < deadline and not all(
                    "num-slaves\r\n$1\r\n1" in redis_call(x.port, "SENTINEL", "master", "arqon") and
                    "num-other-sentinels\r\n$1\r\n2" in redis_call(x.port, "SENTINEL", "master", "arqon")
                    for x in sentinels):
                await asyncio.sleep(0.1)
            hosts = [f"127.0.0.1:{x.port}" for x in sentinels]
            # The url's host is not used: the sentinels name the primary.
            brain = Brain(nats.url, "redis://127.0.0.1:1")
            brain.text = brain.text.replace('[valkey]\nurl = "redis://127.0.0.1:1"\n',
                                            '[valkey]\nurl = "redis://127.0.0.1:1"\nsentinels = '
                                            + json.dumps(hosts) + '\nmaster_name = "arqon"\n')
            brain.start()
            shield = Shield(nats.url, extra_toml=FAST_SHIELD).start()
            shield.wait_ready()
            sub = await Client.open(shield, sub="watcher")
            pub = await Client.open(shield, sub="writer")
            await sub.join("F")
            await pub.join("F")
            acked = []
            killed = False
            for i in range(300):  # about 6 s at 50 msg/s; the primary dies after 2 s
                if i == 100:
                    primary.kill()
                    killed = True
                reply = await pub.request(event_json("F", data=f"m{i}".encode(), id_=f"e{i}"), f"e{i}")
                if reply.event.type == "ack":
                    acked.append(f"m{i}".encode())
                await asyncio.sleep(0.02)
            self.assertTrue(killed)
            self.assertGreater(len(acked), 250)
            # Every acked message arrives; no seq ever names two different messages.
            deadline = time.monotonic() + 40
            by_seq = {}
            while time.monotonic() < deadline:
                for e in sub.events("chat.message"):
                    seen = by_seq.setdefault(e.seq, e.event.data)
                    self.assertEqual(seen, e.event.data, f"seq {e.seq} named two messages")
                if set(acked) <= set(by_seq.values()):
                    break
                await asyncio.sleep(0.2)
            missing = set(acked) - set(by_seq.values())
            self.assertFalse(missing, f"{len(missing)} acked messages never delivered")
            self.assertEqual(sorted(by_seq), list(range(1, len(by_seq) + 1)), "seqs consecutive from 1")
            # The sentinels promoted the replica, and the Brain found it.
            self.assertIn("$6\r\nmaster", redis_call(replica.port, "ROLE"))
            self.assertGreaterEqual(brain.log().count("Redis connected"), 2, "connected again after the failover")
            await sub.close()
            await pub.close()
        finally:
            if shield:
                shield.stop()
            if brain:
                self.assertEqual(brain.stop(), 0)
            for x in sentinels + [replica, primary]:
                x.stop()
            nats.stop()


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
