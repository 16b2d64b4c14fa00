#!/usr/bin/env bash
# Installs the Debian 12 packages ArqonBus needs to build, test and run, when missing.
# Runs apt-get as root, or through sudo otherwise. Safe to run again: it only installs
# what dpkg does not already report as installed.
set -euo pipefail

# scripts/bootstrap.sh [run|test]: `run` (make build, make run) installs what building and
# running the stack needs; `test` (make test, the default) adds the test tools: the
# independent clients, the fuzzers' clang, promtool, the browser and Node.
MODE=${1:-test}
case $MODE in run|test) ;; *) echo "usage: scripts/bootstrap.sh [run|test]" >&2; exit 2 ;; esac

PACKAGES=(
  build-essential cmake pkg-config
  nats-server libnats-dev redis-server libhiredis-dev
  libjwt-dev libxxhash-dev protobuf-compiler protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev
  zlib1g-dev libssl-dev openssl libcmocka-dev
  python3
)
if [[ $MODE == test ]]; then
  PACKAGES+=(python3-websockets python3-protobuf python3-xxhash wabt clang lld libclang-rt-14-dev prometheus
             chromium)
  # The browser and SDK tests run node and npm; a machine that already has them (a newer Node
  # on PATH, say) keeps its own, since Debian's npm would not replace it but would add a
  # second one.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
  fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "bootstrap: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: done" >&2
