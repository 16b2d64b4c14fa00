"""The Python harness starts real servers; checked with independent protocol clients."""
import os
import socket
import unittest

from arqon_harness import NatsClient, NatsServer, RedisServer


def redis_cmd(port, *args):
    req = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(req.encode())
        return s.recv(4096)


class HarnessTest(unittest.TestCase):
    def test_nats_pubsub_with_headers(self):
        with NatsServer() as nats:
            sub = NatsClient(nats.port)
            sub.subscribe("in.t.T1.r.>")
            pub = NatsClient(nats.port)
            pub.publish("in.t.T1.r.R1", b"payload", {"x-arqon-tenant": "T1"})
            pub.flush()
            subject, headers, payload = sub.next_msg()
            self.assertEqual(subject, "in.t.T1.r.R1")
            self.assertEqual(headers.get("x-arqon-tenant"), "T1")
            self.assertEqual(payload, b"payload")
            self.assertIsNone(sub.next_msg(timeout=0.2))
            sub.close()
            pub.close()

    def test_jetstream_enabled(self):
        with NatsServer() as nats:
            c = NatsClient(nats.port)
            inbox = "_INBOX.harness"
            c.subscribe(inbox)
            c.sock.sendall(f"PUB $JS.API.INFO {inbox} 0\r\n\r\n".encode())
            subject, _, payload = c.next_msg()
            self.assertEqual(subject, inbox)
            self.assertIn(b'"type":"io.nats.jetstream.api.v1.account_info_response"', payload)
            self.assertNotIn(b'"error"', payload)
            c.close()

    def test_redis_and_cleanup(self):
        redis = RedisServer().start()
        self.assertEqual(redis_cmd(redis.port, "SET", "k", "v"), b"+OK\r\n")
        self.assertEqual(redis_cmd(redis.port, "GET", "k"), b"$1\r\nv\r\n")
        directory = redis.dir
        redis.stop()
        self.assertFalse(os.path.exists(directory))
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", redis.port), timeout=1).close()

    def test_restart_keeps_port(self):
        with NatsServer() as nats:
            port = nats.port
            nats.kill()
            nats.restart()
            self.assertEqual(nats.port, port)
            NatsClient(nats.port).close()


if __name__ == "__main__":
    unittest.main()
