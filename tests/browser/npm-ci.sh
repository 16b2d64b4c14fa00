#!/bin/sh
# Installs tests/browser/node_modules from package-lock.json, once: `make test` runs ctest in
# build/ and build-asan/, maybe at the same time, and both share this one node_modules.
# The flock keeps two `npm ci` from deleting each other's tree; the stamp (the lock file's
# hash, written only after a successful install) makes the second run, and later ones, free.
set -eu
cd "$(dirname "$0")"
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
