"""The shipped arqonbus/_envelope_pb2.py is exactly what protoc makes of
proto/arqon/v1/envelope.proto, and round-trips the wire both ways."""
import os
import shutil
import subprocess
import tempfile
import unittest

from arqonbus import _envelope_pb2 as pb
from arqonbus import codec

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
PROTO_ROOT = os.path.join(REPO, "proto")
SHIPPED = os.path.join(HERE, "..", "arqonbus", "_envelope_pb2.py")


class EnvelopeModule(unittest.TestCase):
    def test_regenerating_gives_the_same_file(self):
        protoc = shutil.which("protoc")
        self.assertIsNotNone(protoc, "protoc (Debian protobuf-compiler) is needed for this check")
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([protoc, f"--python_out={out}", f"-I{PROTO_ROOT}",
                            os.path.join(PROTO_ROOT, "arqon", "v1", "envelope.proto")], check=True)
            with open(os.path.join(out, "arqon", "v1", "envelope_pb2.py"), "rb") as f:
                fresh = f.read()
        with open(SHIPPED, "rb") as f:
            shipped = f.read()
        self.assertEqual(shipped, fresh, "regenerate: protoc --python_out=DIR -Iproto "
                         "proto/arqon/v1/envelope.proto, then copy DIR/arqon/v1/envelope_pb2.py "
                         "to sdk/python/arqonbus/_envelope_pb2.py")

    def test_both_encodings_round_trip(self):
        env = codec.event("chat", "lobby", b"\x00\x01\xff", id_="r1", trace_id="ab" * 16,
                          headers={"k": "v"})
        env.seq = 2**40
        binary = codec.encode(env, "binary")
        text = codec.encode(env, "json")
        self.assertIsInstance(binary, bytes)
        self.assertIsInstance(text, str)
        self.assertIn('"roomId":"lobby"', text)
        self.assertIn('"data":"AAH/"', text)      # bytes as base64
        self.assertIn('"seq":"1099511627776"', text)  # 64-bit integers as strings
        self.assertEqual(codec.decode(binary), env)
        self.assertEqual(codec.decode(text), env)
        self.assertEqual(codec.decode(text).seq, 2**40)
        with self.assertRaises(ValueError):
            codec.decode("{not json")
        with self.assertRaises(ValueError):
            codec.decode(b"\xff\xff\xff")

    def test_server_fields_and_unknown_json_fields(self):
        env = codec.decode('{"roomId":"r","seq":"7","sender":"bob","timestamp":"12",'
                           '"traceId":"' + "c" * 32 + '","event":{"type":"t","data":"aGk="},'
                           '"futureField":1}')
        m = codec.message_of(env)
        self.assertEqual((m.room, m.seq, m.sender, m.timestamp, m.data), ("r", 7, "bob", 12, b"hi"))
        self.assertIsInstance(pb.Envelope(), pb.Envelope)


if __name__ == "__main__":
    unittest.main()
