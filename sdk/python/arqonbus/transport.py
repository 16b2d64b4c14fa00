"""The transport under the client: one WebSocket connection, frames in and out.

The client only needs `open(url, headers, timeout, max_size)` returning an object with
`send(frame)`, `recv()` and `close(code, reason)`; `recv`/`send` raise `TransportClosed`
once the connection is gone, and `open` raises `HandshakeRefused` for an HTTP answer other
than 101. The default is Debian's python3-websockets (10.4, asyncio API); unit tests pass a
fake."""
import websockets
import websockets.exceptions


class TransportClosed(Exception):
    """The connection is closed: `code` is the WebSocket close code (1006 when none)."""

    def __init__(self, code, reason=""):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class HandshakeRefused(Exception):
    """The server answered the upgrade with HTTP `status`."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


class _WebSocketConnection:
    def __init__(self, ws):
        self._ws = ws

    async def recv(self):
        try:
            return await self._ws.recv()
        except websockets.exceptions.ConnectionClosed as exc:
            raise TransportClosed(exc.code, exc.reason) from None

    async def send(self, frame):
        try:
            await self._ws.send(frame)
        except websockets.exceptions.ConnectionClosed as exc:
            raise TransportClosed(exc.code, exc.reason) from None

    async def close(self, code=1000, reason=""):
        try:
            await self._ws.close(code, reason)
        except Exception:  # closing a broken connection: nothing left to report
            pass


async def websocket_open(url, headers, timeout, max_size, ping_interval=20.0):
    """Opens `url` with Debian's websockets; raises HandshakeRefused, OSError or
    asyncio.TimeoutError."""
    try:
        ws = await websockets.connect(url, extra_headers=headers, open_timeout=timeout,
                                      max_size=max_size, compression=None,
                                      ping_interval=ping_interval, ping_timeout=ping_interval,
                                      close_timeout=2)
    except websockets.exceptions.InvalidStatusCode as exc:
        raise HandshakeRefused(exc.status_code) from None
    except websockets.exceptions.InvalidHandshake as exc:
        raise OSError(f"WebSocket handshake failed: {exc}") from None
    return _WebSocketConnection(ws)
