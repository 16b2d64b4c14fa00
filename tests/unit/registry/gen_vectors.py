"""Writes protobuf test vectors, serialized by Python protobuf (an independent
implementation), for the registry's unit tests, and gzips descriptor sets:
gen_vectors.py PYTHON_OUT_DIR OUT_DIR [FILE_TO_GZIP...] (each written as FILE.gz)."""
import gzip
import os
import sys

sys.path.insert(0, sys.argv[1])
import common2_pb2  # noqa: E402
import rich3_pb2  # noqa: E402

OUT = sys.argv[2]


def scalars():
    m = rich3_pb2.Scalars(
        f_double=-1.5, f_float=3.25, f_int64=-(2**63), f_uint64=2**64 - 1, f_int32=-7,
        f_fixed64=2**64 - 2, f_fixed32=2**32 - 1, f_bool=True, f_string="héllo wörld ✓ 𝄞",
        f_bytes=b"\xff\x00\xfe", f_uint32=2**32 - 1, f_enum=rich3_pb2.GREEN,
        f_sfixed32=-(2**31), f_sfixed64=-(2**63), f_sint32=-(2**31), f_sint64=-(2**63),
        f_optional=0)
    return m


def repeated():
    m = rich3_pb2.Repeated()
    m.r_double.extend([1.0, -2.5])
    m.r_float.extend([0.5, 7.0])
    m.r_int64.extend([-1, 2**62])
    m.r_uint64.extend([0, 2**64 - 1])
    m.r_int32.extend([-1, 300, 0])
    m.r_fixed64.extend([1, 2])
    m.r_fixed32.extend([3, 4])
    m.r_bool.extend([True, False, True])
    m.r_string.extend(["a", "", "ü"])
    m.r_bytes.extend([b"", b"\x80"])
    m.r_uint32.extend([1, 2**32 - 1])
    m.r_enum.extend([0, 1, 2, 99])  # open enum: 99 is fine
    m.r_sfixed32.extend([-5])
    m.r_sfixed64.extend([-6])
    m.r_sint32.extend([-7, 7])
    m.r_sint64.extend([-8, 8])
    m.r_unpacked.extend([1, 2, 3])
    m.r_address.add(street="x", number=1)
    m.r_address.add()
    return m


def person(depth=0):
    p = common2_pb2.Person(name="Ada", id=1, level=common2_pb2.HIGH)
    p.packed_nums.extend([1, -1, 1000])
    p.nums.extend([4, 5])
    p.extra.note = "n"
    p.extra.code = 9
    it = p.item.add()
    it.qty = 3
    if depth < 2:
        it.owner.CopyFrom(person(depth + 1))
        p.friend.CopyFrom(person(depth + 1))
    p.blob = b"\x00\x01"
    p.text = "texte"
    p.levels.extend([common2_pb2.LOW, common2_pb2.MID])
    p.packed_levels.extend([common2_pb2.HIGH, common2_pb2.LOW])
    p.contact.extension = 42
    p.ranks["k"].email = "a@b"
    p.delta = -3
    p.ratio = 0.125
    p.crc = 77
    p.Extensions[common2_pb2.nickname] = "Countess"
    p.Extensions[common2_pb2.lucky].extend([7, -13])
    p.Extensions[common2_pb2.Contact.backup].email = "b@c"
    return p


def user():
    u = rich3_pb2.User(user_id="u-1", color=rich3_pb2.RED, email="u@example.com")
    u.address.street = "Main Street"
    u.address.number = 12
    u.address.previous.street = "Old Road"
    u.scores["alice"] = 3
    u.scores["bob"] = -4
    u.homes[-9].street = "Home"
    u.flags[True] = "yes"
    u.tags.extend(["t1", "t2"])
    u.scalars.CopyFrom(scalars())
    u.repeated.CopyFrom(repeated())
    u.person.CopyFrom(person())
    return u


def node(depth):
    n = rich3_pb2.Node(name="leaf")
    for i in range(depth):
        n = rich3_pb2.Node(name=str(i), child=n)
    return n


def write(name, msg):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(msg.SerializeToString())


os.makedirs(OUT, exist_ok=True)
write("scalars.bin", scalars())
write("repeated.bin", repeated())
write("person.bin", person())
write("user.bin", user())
write("node10.bin", node(10))
write("node64.bin", node(64))
write("node65.bin", node(65))

for path in sys.argv[3:]:
    with open(path, "rb") as src, open(path + ".gz", "wb") as dst:
        dst.write(gzip.compress(src.read(), mtime=0))
