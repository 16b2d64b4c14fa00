"""The wire: `arqon.v1.Envelope` as binary protobuf frames or proto3-JSON text frames
(docs/protocol.md, "Frames"), and the conversions to the SDK's records.

`_envelope_pb2` is protoc's output for proto/arqon/v1/envelope.proto, shipped in the package
so that it imports without a build directory (tests/test_envelope_module.py regenerates it
and compares)."""
import base64
import json

from google.protobuf import json_format

from . import _envelope_pb2 as pb
from .types import Message, Presence

Envelope = pb.Envelope

ENCODINGS = ("binary", "json")


def new_envelope(**fields):
    return pb.Envelope(**fields)


def command(ctype, room="", data=b"", id_=""):
    return pb.Envelope(id=id_, room_id=room, cmd=pb.Command(type=ctype, data=data))


def event(etype, room, data, id_="", trace_id="", headers=None):
    e = pb.Envelope(id=id_, room_id=room, trace_id=trace_id,
                    event=pb.Event(type=etype, data=data))
    if headers:
        e.headers.update(headers)
    return e


def encode(env, encoding):
    """The frame to send: bytes for "binary", str for "json"."""
    if encoding == "binary":
        return env.SerializeToString()
    return json.dumps(json_format.MessageToDict(env), separators=(",", ":"))


def decode(frame):
    """A received frame (bytes: protobuf, str: JSON) as an Envelope; ValueError when it is
    neither."""
    env = pb.Envelope()
    try:
        if isinstance(frame, (bytes, bytearray, memoryview)):
            env.ParseFromString(bytes(frame))
        else:
            json_format.Parse(frame, env, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise ValueError(f"undecodable frame: {exc}") from None
    except Exception as exc:  # protobuf's DecodeError is not a ValueError in every version
        raise ValueError(f"undecodable frame: {exc}") from None
    return env


def from_dict(obj):
    """An envelope given as a proto3-JSON object (a `history` entry)."""
    env = pb.Envelope()
    json_format.ParseDict(obj, env, ignore_unknown_fields=True)
    return env


def message_of(env, room=None):
    ev = env.event
    return Message(type=ev.type, data=bytes(ev.data), seq=int(env.seq), sender=env.sender,
                   room=env.room_id if room is None else room, timestamp=int(env.timestamp),
                   trace_id=env.trace_id, headers=dict(env.headers), conn_id=env.conn_id)


def presence_of(env):
    kind = env.event.type[len("presence."):]
    try:
        member = json.loads(bytes(env.event.data) or b"{}")
        if not isinstance(member, dict):
            member = {}
    except ValueError:
        member = {}
    return Presence(kind=kind, room=env.room_id, user=str(member.get("user", env.sender)),
                    conn_id=str(member.get("conn", env.conn_id)), member=member,
                    timestamp=int(env.timestamp), trace_id=env.trace_id)


def error_payload(data):
    """(code, reason) of an `error` event's data `{"code":N,"reason":"..."}`."""
    try:
        obj = json.loads(bytes(data))
        return int(obj.get("code", 0)), str(obj.get("reason", ""))
    except (ValueError, AttributeError, TypeError):
        return 0, bytes(data).decode("utf-8", "replace")


def b64(data):
    return base64.b64encode(data).decode()
