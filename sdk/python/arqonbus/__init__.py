"""ArqonBus client SDK for asyncio (docs/sdk-python.md).

    import arqonbus
    async with arqonbus.Client("ws://127.0.0.1:4000/ws", token=token) as client:
        room = await client.join("lobby")
        await room.publish("chat", b"hi")
        msg = await room.next(timeout=5)
"""
from .backoff import Backoff
from .client import STATES, Client
from .errors import (CLOSED, CONNECTION_LOST, SERVER_DISCONNECT, TIMEOUT, TOKEN_EXPIRED,
                     ClosedError, ConnectionLost, Error, GapError, TimeoutError)
from .room import Room
from .types import Gap, HistoryPage, Member, Message, Presence, Welcome

__version__ = "0.1.0"

__all__ = ["Backoff", "Client", "Room", "STATES", "Error", "TimeoutError", "ConnectionLost",
           "ClosedError", "GapError", "Gap", "HistoryPage", "Member", "Message", "Presence",
           "Welcome", "CLOSED", "CONNECTION_LOST", "SERVER_DISCONNECT", "TIMEOUT",
           "TOKEN_EXPIRED", "__version__"]
