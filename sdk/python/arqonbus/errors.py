"""Errors. Every failure the SDK reports is an `Error` with an integer `code` and a `reason`.

Codes come from where the failure happened, so they can be told apart without parsing text:

- 400-599 from an `error` event of the Shield or the Brain (`{"code":N,"reason":"..."}`,
  docs/protocol.md), or the HTTP status of a refused WebSocket upgrade (401, 429, 503, ...);
- 1000-4999 a WebSocket close code: 1006 when the connection was lost without one (or could
  not be opened), 4001 when the Shield closed it because the token expired;
- 408 (`TimeoutError`): no answer within `request_timeout` (the SDK's own, nothing was heard).
"""

# The SDK's own codes (the others are the server's or the WebSocket's).
TIMEOUT = 408            # a request got no answer in time
CONNECTION_LOST = 1006   # the connection dropped, or could not be opened
CLOSED = 1000            # the client was closed by the application
TOKEN_EXPIRED = 4001     # the Shield closed the connection at the token's exp
SERVER_DISCONNECT = 4000  # a backend disconnected the user (server API): no reconnection


class Error(Exception):
    """A failure with a numeric `code` and a human `reason`."""

    def __init__(self, code, reason):
        super().__init__(code, reason)
        self.code = int(code)
        self.reason = str(reason)

    def __str__(self):
        return f"{self.code} {self.reason}"

    def __repr__(self):
        return f"{type(self).__name__}({self.code!r}, {self.reason!r})"


class TimeoutError(Error):  # noqa: A001 - the SDK's name; also a subclass of Error
    """A request (or the opening handshake) got no answer within its timeout."""

    def __init__(self, reason):
        super().__init__(TIMEOUT, reason)


class ConnectionLost(Error):
    """The connection closed (or could not be opened) while a request was waiting for its
    answer. A publish that fails this way may or may not have reached the bus."""


class ClosedError(Error):
    """The client (or the room) was closed; nothing more will be delivered."""

    def __init__(self, reason="client closed"):
        super().__init__(CLOSED, reason)


class GapError(Error):
    """Raised by `Room.next()` (and so by `async for`) in place of messages the room's
    history no longer holds. `gap` says which seqs are missing; the next call goes on with
    the message after them. Code 410 (gone)."""

    def __init__(self, gap):
        super().__init__(410, f"messages {gap.from_seq}..{gap.to_seq} of room "
                              f"{gap.room!r} are no longer in its history")
        self.gap = gap
