#!/bin/sh
# scripts/npm-ci.sh DIR: installs DIR/node_modules from DIR/package-lock.json, once. ctest
# runs in build/ and build-asan/, maybe at the same time, and both share one node_modules
# per folder (tests/browser: playwright-core; sdk/js: the ws package for Node 18/20).
# The flock keeps two `npm ci` from deleting each other's tree; the stamp (the lock file's
# hash, written only after a successful install) makes the second run, and later ones, free.
set -eu
[ $# -eq 1 ] || { echo "usage: scripts/npm-ci.sh DIR" >&2; exit 2; }
cd "$1"
exec flock "$PWD" sh -euc '
  stamp=node_modules/.installed-from-lock
  want=$(sha256sum package-lock.json | cut -d" " -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "node_modules already matches package-lock.json"
    exit 0
  fi
  npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
'
