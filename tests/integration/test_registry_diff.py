"""Differential test of the schema validator (src/registry) against Python protobuf.

Random messages of a rich schema (tests/unit/registry/protos), built and serialized by
Python protobuf, must all validate. Mutations of them (bit flips, truncations, inserted,
deleted and duplicated bytes) that Python's parser rejects must be rejected by the
validator too. The other direction is not required: the validator is deliberately
stricter in the ways docs/registry.md lists (wire-type mismatches, undeclared closed-enum
values, proto2 UTF-8, undeclared groups, reserved field numbers, depth 64 < 100, tags
over 32 bits, required fields per occurrence): those cases are counted, and their error
must be one of those.

Environment: ARQ_SCHEMA_BATCH (the schema_batch program), ARQ_REGISTRY_DATA (its test
data: rich.desc and the protoc-generated Python modules in py/). ARQ_DIFF_SEED and
ARQ_DIFF_COUNT vary the run.
"""
import os
import random
import struct
import subprocess
import sys
import unittest
import warnings

DATA = os.environ["ARQ_REGISTRY_DATA"]
BATCH = os.environ["ARQ_SCHEMA_BATCH"]
sys.path.insert(0, os.path.join(DATA, "py"))

from google.protobuf import descriptor as pbd  # noqa: E402
from google.protobuf.message import DecodeError  # noqa: E402

import common2_pb2  # noqa: E402
import rich3_pb2  # noqa: E402

SEED = int(os.environ.get("ARQ_DIFF_SEED", "20261122"))
COUNT = int(os.environ.get("ARQ_DIFF_COUNT", "200"))
FD = pbd.FieldDescriptor

TYPES = [
    ("arq.test.User", rich3_pb2.User),
    ("arq.test.Scalars", rich3_pb2.Scalars),
    ("arq.test.Repeated", rich3_pb2.Repeated),
    ("arq.test.Node", rich3_pb2.Node),
    ("arq.common.Person", common2_pb2.Person),
    ("arq.common.Contact", common2_pb2.Contact),
]


# Error texts of the validator's documented strictness (docs/registry.md): bytes Python
# accepts that the validator may refuse.
DOCUMENTED_STRICTER = (
    "wire type",          # mismatch with the declared type (Python: unknown field)
    "closed enum",        # undeclared value of a proto2 enum (Python: unknown field)
    "invalid UTF-8",      # proto2 strings (Python's C++ parser only logs)
    "group",              # group wire types on undeclared fields
    "reserved range",     # field numbers 19000-19999
    "nesting deeper",     # depth limit 64 < 100
    "invalid tag",        # a 5-byte tag with bits above 32 (Python drops them)
    "missing required",   # checked per occurrence of a message, before merging
)


def rand_text(rng):
    alphabet = "abcxyz019 _-éü€✓𝄞\u0000\u07ff\uffff"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))


def rand_scalar(rng, f):
    t = f.type
    if t in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        return rng.choice([0.0, -1.5, 3.25, 1e10, rng.uniform(-1e6, 1e6)])
    if t in (FD.TYPE_INT64, FD.TYPE_SFIXED64, FD.TYPE_SINT64):
        return rng.choice([0, -1, 1, -(2**63), 2**63 - 1, rng.randrange(-(2**63), 2**63)])
    if t in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
        return rng.choice([0, 1, 2**64 - 1, rng.randrange(0, 2**64)])
    if t in (FD.TYPE_INT32, FD.TYPE_SFIXED32, FD.TYPE_SINT32):
        return rng.choice([0, -1, 1, -(2**31), 2**31 - 1, rng.randrange(-(2**31), 2**31)])
    if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
        return rng.choice([0, 1, 2**32 - 1, rng.randrange(0, 2**32)])
    if t == FD.TYPE_BOOL:
        return rng.random() < 0.5
    if t == FD.TYPE_STRING:
        return rand_text(rng)
    if t == FD.TYPE_BYTES:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 10)))
    if t == FD.TYPE_ENUM:
        values = [v.number for v in f.enum_type.values]
        if f.enum_type.file.syntax == "proto3" and rng.random() < 0.2:
            return rng.randrange(-5, 1000)  # open enum
        return rng.choice(values)
    raise AssertionError(t)


def fill(rng, msg, depth):
    d = msg.DESCRIPTOR
    chosen_oneofs = {o.name: rng.choice(o.fields) for o in d.oneofs}
    for f in d.fields:
        if f.containing_oneof is not None and chosen_oneofs[f.containing_oneof.name] is not f:
            continue
        required = f.label == FD.LABEL_REQUIRED
        if not required and rng.random() < 0.35:
            continue
        nested = f.type in (FD.TYPE_MESSAGE, FD.TYPE_GROUP)
        if nested and depth > 3 and not required:
            continue
        if f.label == FD.LABEL_REPEATED:
            if nested and f.message_type.GetOptions().map_entry:
                kf, vf = f.message_type.fields_by_name["key"], f.message_type.fields_by_name["value"]
                target = getattr(msg, f.name)
                for _ in range(rng.randrange(0, 4)):
                    k = rand_scalar(rng, kf)
                    if vf.type == FD.TYPE_MESSAGE:
                        fill(rng, target[k], depth + 1)
                    else:
                        target[k] = rand_scalar(rng, vf)
                continue
            target = getattr(msg, f.name)
            for _ in range(rng.randrange(0, 5)):
                if nested:
                    fill(rng, target.add(), depth + 1)
                else:
                    target.append(rand_scalar(rng, f))
        elif nested:
            fill(rng, getattr(msg, f.name), depth + 1)
            getattr(msg, f.name).SetInParent()
        else:
            setattr(msg, f.name, rand_scalar(rng, f))


def mutate(rng, data):
    data = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0 and data:  # bit flip
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    elif kind == 1 and data:  # truncation
        del data[rng.randrange(len(data)):]
    elif kind == 2:  # inserted byte
        data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
    elif kind == 3 and data:  # deleted byte
        del data[rng.randrange(len(data))]
    elif kind == 4 and data:  # random byte
        data[rng.randrange(len(data))] = rng.randrange(256)
    elif data:  # duplicated slice
        i = rng.randrange(len(data))
        j = rng.randrange(i, min(len(data), i + 8) + 1)
        data[i:i] = data[i:j]
    return bytes(data)


def python_accepts(cls, data):
    # A zero tag makes Python's parser stop and drop the rest with a RuntimeWarning ("Not
    # all data was converted") instead of failing: that counts as a rejection here.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            m = cls()
            m.ParseFromString(data)
            ok = m.IsInitialized()
        except (DecodeError, RuntimeError, ValueError, UnicodeDecodeError):
            return False
    return ok and not any("Not all data was converted" in str(w.message) for w in caught)


def run_batch(name, records):
    stream = b"".join(struct.pack("<I", len(r)) + r for r in records)
    out = subprocess.run([BATCH, os.path.join(DATA, "rich.desc"), name], input=stream,
                         stdout=subprocess.PIPE, check=True, timeout=300).stdout
    lines = out.decode("utf-8", "replace").splitlines()
    assert len(lines) == len(records), (len(lines), len(records))
    return lines


class Differential(unittest.TestCase):
    def test_random_messages_validate(self):
        rng = random.Random(SEED)
        for name, cls in TYPES:
            records = []
            for _ in range(COUNT):
                m = cls()
                fill(rng, m, 0)
                records.append(m.SerializeToString())
            bad = [(r.hex(), line) for r, line in zip(records, run_batch(name, records))
                   if line != "ok"]
            self.assertEqual(bad[:3], [], "%s: %d of %d valid messages rejected"
                             % (name, len(bad), len(records)))

    def test_mutations_python_rejects_are_rejected(self):
        rng = random.Random(SEED + 1)
        for name, cls in TYPES:
            records = []
            for _ in range(COUNT):
                m = cls()
                fill(rng, m, 0)
                data = m.SerializeToString()
                for _ in range(5):
                    data = mutate(rng, data)
                    records.append(data)
            verdicts = run_batch(name, records)
            missed, stricter, unexplained = [], 0, []
            for data, line in zip(records, verdicts):
                py_ok = python_accepts(cls, data)
                if not py_ok and line == "ok":
                    missed.append(data.hex())
                elif py_ok and line != "ok":
                    stricter += 1
                    if not any(reason in line for reason in DOCUMENTED_STRICTER):
                        unexplained.append((data.hex(), line))
            print("%s: %d mutations, %d rejected by Python, %d more by the validator only"
                  % (name, len(records), sum(not python_accepts(cls, r) for r in records),
                     stricter))
            self.assertEqual(missed[:3], [], "%s: %d mutations Python rejects were accepted"
                             % (name, len(missed)))
            self.assertEqual(unexplained[:3], [], "%s: %d refusals Python accepts, for reasons "
                             "docs/registry.md does not list" % (name, len(unexplained)))


if __name__ == "__main__":
    unittest.main()
