#!/usr/bin/python3
"""config_overlay.py BASE OUT SECTION.KEY=VALUE... — writes BASE (a TOML file such as
config/arqon.toml) to OUT with the given keys set, for `make run`: the operator's file
stays the base, and only what the local stack must decide (ports, NATS user) is changed.

A key set in its section is replaced on its line; a key absent (or only commented out) is
added right after the section's header; a missing section is appended. VALUE is written
as given (a TOML value: quote strings). Comments and everything else are kept. The
programs validate the result when they load it (file:line: key: problem)."""
import re
import sys


def overlay(lines, section, key, value):
    header = re.compile(r"^\s*\[\s*" + re.escape(section) + r"\s*\]\s*(#.*)?$")
    any_header = re.compile(r"^\s*\[")
    assignment = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        lines += ["\n", f"[{section}]\n", f"{key} = {value}\n"]
        return
    end = next((i for i in range(start + 1, len(lines)) if any_header.match(lines[i])), len(lines))
    for i in range(start + 1, end):
        if assignment.match(lines[i]):
            lines[i] = f"{key} = {value}\n"
            return
    lines.insert(start + 1, f"{key} = {value}\n")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        lines = f.readlines()
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for item in argv[3:]:
        name, sep, value = item.partition("=")
        section, dot, key = name.rpartition(".")
        if not sep or not dot or not section or not key:
            print(f"config_overlay.py: expected SECTION.KEY=VALUE, got '{item}'", file=sys.stderr)
            return 2
        overlay(lines, section, key, value)
    with open(argv[2], "w") as f:
        f.writelines(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
