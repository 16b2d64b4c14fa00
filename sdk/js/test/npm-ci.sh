#!/bin/sh
# Installs sdk/js/node_modules (the ws package the integration tests use under Node 18/20)
# from package-lock.json, once: several build trees may run it at the same time. The flock
# keeps two `npm ci` from deleting each other's tree; the stamp (the lock file's hash,
# written only after a successful install) makes later runs free.
set -eu
cd "$(dirname "$0")/.."
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
