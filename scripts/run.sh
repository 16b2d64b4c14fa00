#!/usr/bin/env bash
# make run: the local development stack, in the foreground. Ctrl-C stops all of it.
#   nats-server (JetStream, data in .arqon/nats) on 127.0.0.1:4222
#   redis-server (no persistence, files in .arqon/redis) on 127.0.0.1:6379
#   the Brain and the Shield, as far as they are built (see README.md)
# A development JWT secret is created once in .arqon/jwt_secret (never committed).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/bin
STATE=.arqon
NATS_PORT=${ARQON_NATS_PORT:-4222}
REDIS_PORT=${ARQON_REDIS_PORT:-6379}
mkdir -p "$STATE/nats" "$STATE/redis" "$STATE/logs"

if [[ ! -s "$STATE/jwt_secret" ]]; then
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE/jwt_secret")
fi

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port name log
  for _ in $(seq 1 150); do
    port_busy "$1" && return 0
    sleep 0.1
  done
  echo "$2 did not start; see $3" >&2
  exit 1
}

for p in "$NATS_PORT:nats-server" "$REDIS_PORT:redis-server"; do
  if port_busy "${p%%:*}"; then
    echo "port ${p%%:*} is already in use (needed by ${p#*:}); stop what uses it or set ARQON_NATS_PORT / ARQON_REDIS_PORT" >&2
    exit 1
  fi
done

cat > "$STATE/nats.conf" <<CONF
host: 127.0.0.1
port: $NATS_PORT
jetstream { store_dir: "$PWD/$STATE/nats" }
CONF
nats-server -c "$STATE/nats.conf" >"$STATE/logs/nats.log" 2>&1 &
pids+=($!)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$PWD/$STATE/redis" >"$STATE/logs/redis.log" 2>&1 &
pids+=($!)
wait_port "$NATS_PORT" nats-server "$STATE/logs/nats.log"
wait_port "$REDIS_PORT" redis-server "$STATE/logs/redis.log"

TOKEN=$(ARQON_JWT_SECRET="$(cat "$STATE/jwt_secret")" "$BIN/arq" auth gen --tenant default --sub dev --ttl 86400)

cat <<INFO

ArqonBus development stack
  NATS (JetStream)  nats://127.0.0.1:$NATS_PORT      logs: $STATE/logs/nats.log
  Redis             redis://127.0.0.1:$REDIS_PORT     logs: $STATE/logs/redis.log
  Shield            not built yet: ws://127.0.0.1:4000/ws once it lands
  Dev token (tenant "default", user "dev", 24 h):
    $TOKEN

Ctrl-C stops everything.
INFO

# Exit (and clean up) as soon as any part stops.
wait -n "${pids[@]}"
echo "a part of the stack stopped; see $STATE/logs/" >&2
