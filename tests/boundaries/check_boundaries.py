#!/usr/bin/env python3
"""The part boundaries of docs/architecture.md, checked where the compiler cannot see them.

Every library's headers are reachable from `src/`, so a forbidden `#include "shield/..."`
in the Brain would compile. This check reads every source and header under src/ and
refuses an include of a folder its part may not depend on. Exit status 1 lists each one.
"""
import os
import re
import sys

# part -> the folders (parts) its sources may include, besides its own. "arqon" and
# "google" are the generated protobuf headers.
ALLOWED = {
    "common": set(),
    "protocol": {"common", "arqon"},
    "net": {"common"},
    "spine": {"common", "protocol"},
    "wasm": {"common"},
    "registry": {"common", "google"},
    "policy": {"common", "wasm", "protocol"},
    "loadgen": {"common", "net", "protocol", "arqon"},
    "shield": {"common", "protocol", "net", "spine", "wasm", "registry", "policy", "arqon"},
    "brain": {"common", "protocol", "net", "spine", "arqon"},
    "cli": {"common", "protocol", "net", "spine", "wasm", "registry", "policy", "loadgen", "arqon"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([A-Za-z0-9_]+)/', re.M)


def main(root):
    src = os.path.join(root, "src")
    problems = []
    for part in sorted(os.listdir(src)):
        folder = os.path.join(src, part)
        if not os.path.isdir(folder):
            continue
        if part not in ALLOWED:
            problems.append(f"src/{part}: a part this check does not know; add it to ALLOWED "
                            "(and to docs/architecture.md)")
            continue
        for dirpath, _, files in os.walk(folder):
            for name in sorted(files):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for m in INCLUDE.finditer(text):
                    target = m.group(1)
                    if target != part and target not in ALLOWED[part]:
                        line = text.count("\n", 0, m.start()) + 1
                        problems.append(f"{os.path.relpath(path, root)}:{line}: {part} may not "
                                        f"include {target}/ (docs/architecture.md)")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")))
