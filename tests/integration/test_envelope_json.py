"""`arq envelope json2pb|pb2json` agree with an independent implementation of the proto3
JSON mapping: Python protobuf's json_format, over the protoc-generated envelope_pb2."""
import base64
import json
import os
import random
import subprocess
import unittest

from google.protobuf import json_format

from arqon.v1 import envelope_pb2

ARQ = os.path.join(os.environ["ARQ_BIN_DIR"], "arq")
Envelope = envelope_pb2.Envelope
SystemSignal = envelope_pb2.SystemSignal

INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1

# Text that exercises escaping and UTF-8: quotes, backslashes, control characters, the
# characters JSON writers like to escape, and every UTF-8 length. U+0000 is left out: the
# C mapping refuses it on purpose (protobuf-c strings are NUL-terminated).
ALPHABET = ["a", "Z", "0", " ", '"', "\\", "/", "\n", "\t", "\x01", "\x1f", "\x7f", "<", ">",
            "&", "'", "\u00e9", "\u0800", "\u2028", "\u2029", "\ufeff", "\uffff", "\U0001f600",
            "\U0010ffff"]


def arq(*args, data):
    return subprocess.run([ARQ, "envelope", *args], input=data, capture_output=True, timeout=30)


def rand_text(rng, max_len=12):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, max_len)))


def rand_int(rng, lo, hi):
    return rng.choice([lo, hi, 0, 1, -1 if lo < 0 else 2, rng.randint(lo, hi),
                       2**53 + 1 if hi > 2**53 else hi, rng.randint(-1000, 1000) if lo < 0 else 7])


def rand_envelope(rng):
    m = Envelope()
    for name in ("trace_id", "tenant_id", "room_id", "twist_id", "id", "sender", "conn_id"):
        if rng.random() < 0.6:
            setattr(m, name, rand_text(rng))
    if rng.random() < 0.6:
        m.timestamp = rand_int(rng, INT64_MIN, INT64_MAX)
    if rng.random() < 0.6:
        m.seq = rand_int(rng, 0, UINT64_MAX)
    if rng.random() < 0.5:
        m.signature = rng.randbytes(rng.randint(0, 70))
    for _ in range(rng.choice([0, 0, 1, 3, 8])):
        m.headers[rand_text(rng, 6)] = rand_text(rng)
    which = rng.choice(["none", "cmd", "event", "signal"])
    if which in ("cmd", "event"):
        sub = getattr(m, which)
        sub.SetInParent()  # an empty sub-message still selects the oneof
        if rng.random() < 0.7:
            sub.type = rng.choice(["join", "leave", "history", "chat.message", rand_text(rng)])
        if rng.random() < 0.7:
            sub.data = rng.choice([json.dumps({"since_seq": 3, "limit": 50}).encode(),
                                   rng.randbytes(rng.randint(0, 40)), b""])
    elif which == "signal":
        m.signal.SetInParent()
        m.signal.type = rng.choice([0, 1, 2, 5, -7])  # open enum: unknown numbers are kept
        if rng.random() < 0.5:
            m.signal.reason = rand_text(rng)
    return m


def corpus():
    rng = random.Random(20261122)
    fixed = [Envelope(),
             Envelope(timestamp=INT64_MIN, seq=UINT64_MAX),
             Envelope(timestamp=INT64_MAX, seq=1, signature=b"\xfb\xff"),
             Envelope(cmd=envelope_pb2.Command()),
             Envelope(event=envelope_pb2.Event(type="ack")),
             Envelope(signal=SystemSignal(type=SystemSignal.BAN, reason="abuse")),
             Envelope(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", tenant_id="acme",
                      room_id="lobby", headers={"traceparent": "00-x-y-01", "": ""},
                      event=envelope_pb2.Event(type="chat", data=b'{"text":"hi"}'))]
    return fixed + [rand_envelope(rng) for _ in range(150)]


class EnvelopeJsonTest(unittest.TestCase):
    def json2pb(self, text):
        r = arq("json2pb", data=text.encode())
        self.assertEqual(r.returncode, 0, f"{text!r}: {r.stderr.decode()}")
        return Envelope.FromString(r.stdout)

    def test_python_json_to_arq_binary(self):
        """MessageToJson (both name styles, pretty and compact) -> json2pb -> equal message."""
        for m in corpus():
            for proto_names in (True, False):
                for indent in (2, None):
                    text = json_format.MessageToJson(m, preserving_proto_field_name=proto_names,
                                                     indent=indent)
                    with self.subTest(json=text):
                        self.assertEqual(self.json2pb(text), m)

    def test_arq_json_to_python(self):
        """pb2json output parses with json_format to an equal message, and is exactly the
        canonical form that json_format writes (compared as JSON values)."""
        for m in corpus():
            r = arq("pb2json", data=m.SerializeToString())
            with self.subTest(message=str(m)):
                self.assertEqual(r.returncode, 0, r.stderr.decode())
                out = r.stdout.decode()
                self.assertTrue(out.endswith("\n") and out.count("\n") == 1, out)
                self.assertEqual(json_format.Parse(out, Envelope()), m)
                canonical = json_format.MessageToJson(m, indent=None)
                self.assertEqual(json.loads(out), json.loads(canonical))

    def test_round_trip_through_arq(self):
        """binary -> pb2json -> json2pb gives back the same bytes."""
        for m in corpus()[:60]:
            data = m.SerializeToString()
            text = arq("pb2json", data=data).stdout
            back = arq("json2pb", data=text)
            self.assertEqual(back.returncode, 0, back.stderr.decode())
            self.assertEqual(Envelope.FromString(back.stdout), m)

    def test_inputs_json_format_also_accepts(self):
        """Spellings that are not canonical but that proto3 JSON parsers accept."""
        cases = {
            '{"timestamp": 1700000000000, "seq": "42"}': Envelope(timestamp=1700000000000, seq=42),
            '{"seq": 1e3}': Envelope(seq=1000),
            '{"signature": "-_8"}': Envelope(signature=b"\xfb\xff"),
            '{"signature": "+/8"}': Envelope(signature=b"\xfb\xff"),
            '{"signal": {"type": 1}}': Envelope(signal=SystemSignal(type=1)),
            '{"cmd": null, "roomId": null, "event": {"type": "x"}}':
                Envelope(event=envelope_pb2.Event(type="x")),
            '{"headers": {"a": "b"}, "conn_id": "c"}': Envelope(headers={"a": "b"}, conn_id="c"),
        }
        for text, want in cases.items():
            with self.subTest(json=text):
                self.assertEqual(json_format.Parse(text, Envelope()), want)
                self.assertEqual(self.json2pb(text), want)

    def test_invalid_inputs_exit_1(self):
        """What json_format refuses, arq refuses too, with a message and no output."""
        for text in ['{"cmd": {}, "event": {}}', '{"nope": 1}', '{"timestamp": 1.5}',
                     '{"seq": -1}', '{"seq": "18446744073709551616"}',
                     '{"signal": {"type": "NOPE"}}', '{"headers": {"a": 1}}', '{"id": 5}',
                     '{"id": "x"', '{"cmd": {"args": 1}}']:
            with self.subTest(json=text):
                with self.assertRaises(json_format.ParseError):
                    json_format.Parse(text, Envelope())
                self.assert_refused(text)

    def test_stricter_than_json_format(self):
        """Refused by arq although this json_format version lets them through: the same
        field under both names (which one wins is parser-dependent), a top-level array,
        duplicate keys (the RFC leaves them undefined)."""
        for text in ['{"trace_id": "a", "traceId": "b"}', '[]', '{"id": "a", "id": "b"}']:
            with self.subTest(json=text):
                self.assert_refused(text)

    def assert_refused(self, text):
        r = arq("json2pb", data=text.encode())
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")
        self.assertIn(b"arq envelope json2pb: byte ", r.stderr)

    def test_invalid_binary_exits_1(self):
        r = arq("pb2json", data=b"\x0a\xff")  # field 1, length 255, nothing after
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")

    def test_usage(self):
        r = arq("sideways", data=b"")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"usage", r.stderr)


if __name__ == "__main__":
    unittest.main()
