"""The client's state machine against the fake Shield: reconnects with backoff, re-joins and
recovery, states, request timeouts and errors, token refresh and 4001."""
import asyncio
import base64
import json
import time
import unittest

import arqonbus
from arqonbus.token import jwt_exp, refresh_delay
from fake_shield import FakeServer

FAST = arqonbus.Backoff(initial=0.01, max=0.05, jitter=0.0)


def jwt(exp, sub="u"):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return part({"alg": "HS256"}) + "." + part({"sub": sub, "exp": exp}) + ".sig"


def client(server, **kw):
    opts = dict(backoff=FAST, request_timeout=2.0, settle_delay=0.05, gap_timeout=0.5)
    opts.update(kw)
    token = opts.pop("token", "t")
    return arqonbus.Client("ws://fake/ws", token=token, transport=server.open, **opts)


async def until(pred, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


class Reconnect(unittest.IsolatedAsyncioTestCase):
    async def test_states_rejoin_and_recovery_after_a_drop(self):
        server = FakeServer()
        states = []
        c = client(server)
        c.on("state", states.append)
        await c.connect()
        room = await c.join("r")
        server.publish("r", b"1")
        self.assertEqual((await room.next(timeout=2)).seq, 1)
        first = server.conn
        first.drop(1006)
        server.publish("r", b"2")           # while disconnected: no live copy
        server.publish("r", b"3")
        await until(lambda: len(server.conns) == 2 and c.state == "connected")
        self.assertIn("r", server.conn.rooms, "re-joined on the new connection")
        server.publish("r", b"4")
        got = [await room.next(timeout=2) for _ in range(3)]
        self.assertEqual([m.seq for m in got], [2, 3, 4])
        self.assertEqual(states, ["connecting", "connected", "disconnected", "connecting", "connected"])
        self.assertEqual(c.reconnects, 1)
        await c.close()
        self.assertEqual(c.state, "disconnected")

    async def test_backoff_between_failed_attempts_then_recovery(self):
        server = FakeServer()
        c = client(server, backoff=arqonbus.Backoff(initial=0.05, factor=2.0, max=0.2, jitter=0.0))
        errors = []
        c.on("error", errors.append)
        await c.connect()
        room = await c.join("r")
        server.refuse = OSError("connection refused")
        t0 = time.monotonic()
        server.conn.drop(1006)
        await until(lambda: server.opens >= 5, timeout=5)
        elapsed = time.monotonic() - t0
        # drop -> 0.05 -> fail -> 0.1 -> fail -> 0.2 -> fail -> 0.2 -> 5th open
        self.assertGreaterEqual(elapsed, 0.5)
        self.assertLess(elapsed, 2.0)
        self.assertEqual(c.state, "connecting")
        self.assertTrue(any(e.code == 1006 and isinstance(e, arqonbus.ConnectionLost) for e in errors))
        server.refuse = None
        await until(lambda: c.state == "connected", timeout=3)
        server.publish("r", b"x")
        self.assertEqual((await room.next(timeout=2)).data, b"x")
        await c.close()

    async def test_a_busy_rejoin_is_retried_a_refused_one_ends_the_room(self):
        server = FakeServer()
        c = client(server)
        await c.connect()
        busy = await c.join("busy")
        gone = await c.join("gone")
        room_errors = []
        busy.on("error", room_errors.append)
        server.conn.drop(1006)
        server.errors["join"] = (503, "spine unavailable")
        await until(lambda: len(server.conns) == 2 and len(room_errors) >= 2)
        self.assertEqual(c.state, "connecting")
        del server.errors["join"]
        orig = server._handle

        def refuse_gone(conn, env):
            if env.cmd.type == "join" and env.room_id == "gone":
                server._reply(conn, env, "error", b'{"code":403,"reason":"not covered"}', "gone")
                return
            orig(conn, env)
        server._handle = refuse_gone
        await until(lambda: c.state == "connected")
        self.assertIn("busy", server.conn.rooms)
        self.assertEqual(set(c.rooms), {"busy"})
        with self.assertRaises(arqonbus.Error) as cm:
            await gone.next(timeout=1)
        self.assertEqual(cm.exception.code, 403)
        server.publish("busy", b"x")
        self.assertEqual((await busy.next(timeout=2)).data, b"x")
        await c.close()

    async def test_gives_up_after_max_attempts(self):
        server = FakeServer()
        c = client(server, backoff=arqonbus.Backoff(initial=0.01, jitter=0.0, max_attempts=3))
        await c.connect()
        room = await c.join("r")
        server.refuse = 503
        server.conn.drop(1001)
        await until(lambda: c.state == "disconnected" and c._runner.done(), timeout=3)
        self.assertEqual(server.opens, 1 + 3)
        with self.assertRaises(arqonbus.Error) as cm:
            await room.next(timeout=1)
        self.assertEqual(cm.exception.code, 503)
        with self.assertRaises(arqonbus.Error):
            await room.publish("chat", b"x")
        await c.close()

    async def test_a_refused_static_token_is_not_retried(self):
        server = FakeServer()
        server.refuse = 401
        c = client(server)
        with self.assertRaises(arqonbus.Error) as cm:
            await c.connect()
        self.assertEqual(cm.exception.code, 401)
        self.assertEqual(c.state, "disconnected")
        self.assertEqual(server.opens, 1)
        await c.close()

    async def test_connect_retries_until_the_shield_accepts(self):
        server = FakeServer()
        server.refuse = 503
        welcomes = []
        c = client(server)
        c.on("welcome", welcomes.append)
        task = asyncio.ensure_future(c.connect())
        await until(lambda: server.opens >= 3)
        self.assertFalse(task.done())
        server.refuse = None
        await asyncio.wait_for(task, 2)
        self.assertEqual(c.state, "connected")
        self.assertEqual([w.conn_id for w in welcomes], [server.conn.conn_id])
        self.assertEqual(c.reconnects, 0)
        await c.close()

    async def test_connect_gives_up_after_max_attempts_and_can_start_over(self):
        server = FakeServer()
        server.refuse = OSError("refused")
        c = client(server, backoff=arqonbus.Backoff(initial=0.01, jitter=0.0, max_attempts=2))
        with self.assertRaises(arqonbus.ConnectionLost) as cm:
            await c.connect()
        self.assertEqual((cm.exception.code, server.opens), (1006, 2))
        server.refuse = None
        await c.connect()
        self.assertEqual(c.state, "connected")
        await c.close()

    async def test_a_server_disconnect_4000_is_final(self):
        server = FakeServer()
        c = client(server)
        await c.connect()
        room = await c.join("r")
        server.conn.drop(4000, "banned by the backend")
        with self.assertRaises(arqonbus.ConnectionLost) as cm:
            await room.next(timeout=2)
        self.assertEqual(cm.exception.code, 4000)
        await asyncio.sleep(0.1)
        self.assertEqual((server.opens, c.state), (1, "disconnected"))
        await c.close()

    async def test_no_reconnect_when_disabled(self):
        server = FakeServer()
        c = client(server, reconnect=False)
        await c.connect()
        server.conn.drop(1001, "going away")
        await until(lambda: c.state == "disconnected")
        await asyncio.sleep(0.1)
        self.assertEqual(server.opens, 1)
        await c.close()

    async def test_backoff_delays(self):
        b = arqonbus.Backoff(initial=1.0, factor=2.0, max=10.0, jitter=0.5)
        self.assertEqual([b.delay(n, rand=lambda: 0.0) for n in range(6)], [1, 2, 4, 8, 10, 10])
        self.assertEqual(b.delay(2, rand=lambda: 1.0), 2.0)   # jitter takes off at most half
        self.assertEqual(b.delay(1000, rand=lambda: 0.0), 10.0)
        self.assertFalse(b.gives_up(100))
        self.assertTrue(arqonbus.Backoff(max_attempts=2).gives_up(2))
        with self.assertRaises(ValueError):
            arqonbus.Backoff(jitter=2)


class Requests(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.server = FakeServer()
        self.client = client(self.server, request_timeout=0.3)
        await self.client.connect()

    async def asyncTearDown(self):
        await self.client.close()

    async def test_an_unanswered_request_times_out_with_its_code(self):
        room = await self.client.join("r")
        self.server.silent.add("chat")
        with self.assertRaises(arqonbus.TimeoutError) as cm:
            await room.publish("chat", b"x")
        self.assertEqual(cm.exception.code, 408)
        self.assertIn("publish to r", cm.exception.reason)
        self.assertEqual(self.client._pending, {})

    async def test_a_message_over_max_message_bytes_is_refused_locally(self):
        self.client.welcome.limits["max_message_bytes"] = 1000
        room = await self.client.join("r")
        with self.assertRaises(arqonbus.Error) as cm:
            await room.publish("chat", b"x" * 2000)
        self.assertEqual(cm.exception.code, 413)
        self.assertFalse([e for e in self.server.conn.sent if e.WhichOneof("payload") == "event"])
        await room.publish("chat", b"x" * 500)

    async def test_error_replies_carry_code_and_reason(self):
        self.server.errors["join"] = (403, "room not covered by the token")
        with self.assertRaises(arqonbus.Error) as cm:
            await self.client.join("secret")
        self.assertEqual((cm.exception.code, cm.exception.reason), (403, "room not covered by the token"))
        self.assertNotIn("secret", self.client.rooms)

    async def test_a_join_whose_starting_point_fails_leaves_again(self):
        self.server.errors["history"] = (503, "no Brain")
        with self.assertRaises(arqonbus.Error) as cm:
            await self.client.join("r")
        self.assertEqual(cm.exception.code, 503)
        await until(lambda: not self.server.members.get("r"))
        self.assertNotIn("r", self.client.rooms)
        self.assertEqual([e.cmd.type for e in self.server.conn.sent if e.cmd.type != "history"],
                         ["join", "leave"])

    async def test_a_request_in_flight_fails_when_the_connection_drops(self):
        room = await self.client.join("r")
        self.server.silent.add("chat")
        self.client.request_timeout = 5
        task = asyncio.ensure_future(room.publish("chat", b"x"))
        await asyncio.sleep(0.05)
        self.server.conn.drop(1006)
        with self.assertRaises(arqonbus.ConnectionLost) as cm:
            await task
        self.assertEqual(cm.exception.code, 1006)

    async def test_a_request_made_while_reconnecting_waits_for_the_connection(self):
        room = await self.client.join("r")
        self.server.refuse = OSError("down")
        self.server.conn.drop(1006)
        await until(lambda: self.client.state == "connecting")
        self.client.request_timeout = 3
        task = asyncio.ensure_future(room.publish("chat", b"later"))
        await asyncio.sleep(0.2)
        self.assertFalse(task.done())
        self.server.refuse = None
        await task
        self.assertEqual(self.server.logs["r"][-1].event.data, b"later")

    async def test_errors_without_an_id_reach_the_error_listeners(self):
        errors = []
        self.client.on("error", errors.append)
        from arqonbus import _envelope_pb2 as pb
        self.server.conn.push(pb.Envelope(event=pb.Event(type="error", data=b'{"code":429,"reason":"slow down"}')))
        await until(lambda: errors)
        self.assertEqual((errors[0].code, errors[0].reason), (429, "slow down"))

    async def test_close_closes_the_connection_with_1000(self):
        conn = self.server.conn
        await self.client.close()
        self.assertEqual(conn.closed[0], 1000)
        self.assertEqual(self.client.state, "disconnected")

    async def test_closed_client_refuses_requests(self):
        room = await self.client.join("r")
        await self.client.close()
        with self.assertRaises(arqonbus.ClosedError):
            await room.publish("chat", b"x")
        with self.assertRaises(arqonbus.ClosedError):
            await self.client.join("s")


class Tokens(unittest.IsolatedAsyncioTestCase):
    def test_jwt_exp_and_refresh_delay(self):
        self.assertEqual(jwt_exp(jwt(1234)), 1234.0)
        self.assertIsNone(jwt_exp("not.a-jwt"))
        self.assertIsNone(jwt_exp("abc"))
        # 1 h token, refresh 30 s before exp.
        self.assertEqual(refresh_delay(exp=4600, now=1000, obtained_at=1000, before=30), 3570)
        # 10 s token: half its lifetime, not 30 s before (which is before it was issued).
        self.assertEqual(refresh_delay(exp=1010, now=1000, obtained_at=1000, before=30), 5)
        # already past the point: at once.
        self.assertEqual(refresh_delay(exp=1010, now=1009, obtained_at=1000, before=30), 0)

    async def test_refresh_before_expiry_with_a_fresh_token(self):
        server = FakeServer()
        issued = []

        async def token():
            t = jwt(int(time.time()) + 2, sub="u%d" % len(issued))
            issued.append(t)
            return t

        refreshed = []
        c = client(server, token=token, refresh_before_expiry=30)
        c.on("refresh", refreshed.append)
        await c.connect()
        self.assertEqual(server.conn.token, issued[0])
        await until(lambda: c.refreshes >= 2, timeout=5)
        self.assertEqual(server.refreshes[:2], issued[1:3])
        self.assertEqual(server.opens, 1, "refreshed on the same connection")
        self.assertEqual(c.refreshes, len(refreshed))
        self.assertEqual(c.token, server.refreshes[c.refreshes - 1])
        self.assertEqual(refreshed[0], jwt_exp(issued[1]))
        await c.close()

    async def test_close_4001_reconnects_at_once_with_a_fresh_token(self):
        server = FakeServer()
        n = [0]

        def token():
            n[0] += 1
            return jwt(int(time.time()) + 3600, sub="u%d" % n[0])

        slow = arqonbus.Backoff(initial=5.0, jitter=0.0)
        c = client(server, token=token, backoff=slow)
        await c.connect()
        room = await c.join("r")
        server.conn.drop(4001, "token expired")
        await until(lambda: len(server.conns) == 2 and c.state == "connected", timeout=2)
        self.assertNotEqual(server.conns[0].token, server.conns[1].token)
        self.assertIn("r", server.conn.rooms)
        await room.publish("chat", b"x")
        await c.close()

    async def test_a_refused_refresh_is_reported(self):
        server = FakeServer()
        server.errors["refresh"] = (401, "token expired")
        errors = []
        c = client(server, token=lambda: jwt(int(time.time()) + 2))
        c.on("error", errors.append)
        await c.connect()
        await until(lambda: any(e.code == 401 for e in errors), timeout=4)
        await c.close()


if __name__ == "__main__":
    unittest.main()
