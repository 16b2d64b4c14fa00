#!/usr/bin/python3
"""Runs the toml-test TOML 1.0.0 cases through `arq toml-decode`.

usage: toml_test_runner.py ARQ_BINARY TOML_TEST_DIR

Every case named in TOML_TEST_DIR/files-toml-1.0.0 is run: valid/X.toml must decode
(exit 0) to JSON equal to valid/X.json under upstream's comparison rules, and
invalid/X.toml must be rejected (exit 1; a crash or a timeout is a failure too).
Prints each failure, then `valid: X/N passed, invalid: Y/M rejected`, and exits 1 when
anything failed.
"""

import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

TIMEOUT_S = 10


def decode(arq, toml_bytes):
    return subprocess.run([arq, "toml-decode"], input=toml_bytes, capture_output=True,
                          timeout=TIMEOUT_S)


def is_scalar(obj):
    return (isinstance(obj, dict) and set(obj) == {"type", "value"}
            and isinstance(obj["value"], str))


DATETIME_RE = re.compile(
    r"^(?:(\d{4})-(\d{2})-(\d{2}))?T?(?:(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?$")


def datetime_key(kind, text):
    """Reduces a date/time to something comparable as an instant (upstream parses both
    sides with Go layouts after normalising ' ', 't' and 'z')."""
    text = text.replace(" ", "T").replace("t", "T").replace("z", "Z")
    m = DATETIME_RE.match(text)
    if not m:
        raise ValueError("unparseable %s %r" % (kind, text))
    y, mo, d, h, mi, s, frac, off = m.groups()
    nanos = int((frac or "0")[:9].ljust(9, "0"))
    if kind == "time-local":
        return (int(h), int(mi), int(s), nanos)
    if kind == "date-local":
        return (int(y), int(mo), int(d))
    stamp = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    if kind == "datetime":
        if off is None:
            raise ValueError("datetime without offset %r" % text)
        if off != "Z":
            sign = 1 if off[0] == "+" else -1
            stamp -= sign * datetime.timedelta(hours=int(off[1:3]), minutes=int(off[4:6]))
    elif off is not None:
        raise ValueError("%s with an offset %r" % (kind, text))
    return (stamp, nanos)


def scalars_equal(want, got):
    kind = want["type"]
    if got["type"] != kind:
        return False
    wv, gv = want["value"], got["value"]
    if kind in ("string", "integer"):
        return wv == gv
    if kind == "bool":
        return wv.lower() == gv.lower()
    if kind == "float":
        if wv.endswith("nan") or gv.endswith("nan"):
            return wv.lstrip("+-") == gv.lstrip("+-")
        try:
            return float(wv) == float(gv)
        except ValueError:
            return False
    try:
        return datetime_key(kind, wv) == datetime_key(kind, gv)
    except ValueError:
        return False


def compare(want, got, path="$"):
    """Returns None when equal, else a description of the first difference."""
    if is_scalar(want):
        if not is_scalar(got) or not scalars_equal(want, got):
            return "%s: want %s, got %s" % (path, json.dumps(want), json.dumps(got))
        return None
    if isinstance(want, dict):
        if not isinstance(got, dict) or is_scalar(got):
            return "%s: want a table, got %s" % (path, json.dumps(got)[:200])
        if set(want) != set(got):
            return "%s: keys differ: want %s, got %s" % (path, sorted(want), sorted(got))
        for key in want:
            diff = compare(want[key], got[key], "%s.%s" % (path, key))
            if diff:
                return diff
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(want) != len(got):
            return "%s: want an array of %d, got %s" % (path, len(want), json.dumps(got)[:200])
        for i, (w, g) in enumerate(zip(want, got)):
            diff = compare(w, g, "%s[%d]" % (path, i))
            if diff:
                return diff
        return None
    return "%s: unexpected JSON in the expected file: %r" % (path, want)


def run_valid(arq, root, name):
    toml_path = root / name
    try:
        proc = decode(arq, toml_path.read_bytes())
    except subprocess.TimeoutExpired:
        return "timed out"
    if proc.returncode != 0:
        return "exit %d: %s" % (proc.returncode, proc.stderr.decode(errors="replace").strip())
    try:
        got = json.loads(proc.stdout)
    except ValueError as e:
        return "output is not JSON (%s): %r" % (e, proc.stdout[:200])
    want = json.loads(toml_path.with_suffix(".json").read_bytes())
    return compare(want, got)


def run_invalid(arq, root, name):
    try:
        proc = decode(arq, (root / name).read_bytes())
    except subprocess.TimeoutExpired:
        return "timed out"
    if proc.returncode == 0:
        return "accepted: %s" % proc.stdout.decode(errors="replace")[:200]
    if proc.returncode != 1:
        return "exit %d (want 1): %s" % (proc.returncode,
                                          proc.stderr.decode(errors="replace").strip())
    return None


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    arq, root = argv[1], Path(argv[2])
    names = [line.strip() for line in (root / "files-toml-1.0.0").read_text().splitlines()]
    cases = [n for n in names if n.endswith(".toml")]
    counts = {"valid": [0, 0], "invalid": [0, 0]}
    for name in cases:
        kind = name.split("/", 1)[0]
        failure = (run_valid if kind == "valid" else run_invalid)(arq, root, name)
        counts[kind][1] += 1
        if failure:
            print("FAIL %s: %s" % (name, failure))
        else:
            counts[kind][0] += 1
    (vp, vn), (ip, in_) = counts["valid"], counts["invalid"]
    print("valid: %d/%d passed, invalid: %d/%d rejected" % (vp, vn, ip, in_))
    return 0 if vp == vn and ip == in_ and vn > 0 and in_ > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
