"""What the SDK hands to the application: messages, gaps, presence events, members,
history pages. Plain immutable records (NamedTuple), compared by value."""
from typing import Dict, List, NamedTuple, Optional


class Message(NamedTuple):
    """One room message (or a direct delivery to the user or the connection, then `room` is
    "" and `seq` 0).

    `data` is bytes; `seq` the room's order (1, 2, 3, ...; 0 for unsequenced deliveries);
    `timestamp` milliseconds since the epoch, stamped by the Shield; `sender` the JWT `sub`
    of whoever published it; `trace_id` the W3C trace id (32 hex digits), the one `publish`
    returned to its sender."""
    type: str
    data: bytes
    seq: int
    sender: str
    room: str
    timestamp: int
    trace_id: str
    headers: Dict[str, str] = {}
    conn_id: str = ""


class Gap(NamedTuple):
    """Seqs `from_seq`..`to_seq` (inclusive) of `room` were never delivered and cannot be:
    the room's history no longer holds them (retention), or did not produce them within
    `gap_timeout`. Delivery goes on with seq `to_seq + 1`."""
    room: str
    from_seq: int
    to_seq: int


class Presence(NamedTuple):
    """A member joined (`kind` "join") or left ("leave") a room. `user` is the JWT `sub`,
    `conn_id` the connection; `member` the Brain's member record
    (`{"user","conn","node","joined_at"}`)."""
    kind: str
    room: str
    user: str
    conn_id: str
    member: Dict[str, object]
    timestamp: int
    trace_id: str


class Member(NamedTuple):
    """One entry of `Room.presence()`: a connection of `user` in the room."""
    user: str
    conn_id: str
    node: str
    joined_at: int


class HistoryPage(NamedTuple):
    """One page of `Room.history()`: `messages` with seq > since_seq in seq order;
    `next_seq` the `since_seq` that continues after this page; `latest_seq` the room's last
    assigned seq; `omitted` messages passed over as too large for any page."""
    messages: List[Message]
    next_seq: int
    latest_seq: int
    omitted: int = 0


class Welcome(NamedTuple):
    """The Shield's `welcome`: connection id, node, tenant, user, version and limits."""
    conn_id: str
    node: str
    tenant_id: str
    user: str
    version: str
    limits: Dict[str, object]


def member_of(obj) -> Optional[Member]:
    if not isinstance(obj, dict):
        return None
    return Member(str(obj.get("user", "")), str(obj.get("conn", "")), str(obj.get("node", "")),
                  int(obj.get("joined_at", 0) or 0))
