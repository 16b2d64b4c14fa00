#!/usr/bin/env bash
# make run: the local development stack, in the foreground. Ctrl-C stops all of it.
#   nats-server (JetStream, data in .arqon/nats) on 127.0.0.1:4222, with the strict users
#     of deploy/nats/accounts.conf (shield, brain, backend)
#   redis-server (append-only file in .arqon/redis, fsync every second) on 127.0.0.1:6379:
#     the room counters survive a restart, as the ingress stream does
#     (docs/brain.md: seqs never start again at 1 while Redis keeps its data)
#   arqon-brain (metrics on 127.0.0.1:9091) and arqon-shield (ws://127.0.0.1:4000/ws)
# A development JWT secret and the NATS passwords are created once in .arqon/ (never
# committed) and handed to each process through the environment. The programs' settings
# are those of config/arqon.toml (or ARQON_CONFIG) with the ports and users above.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${ARQON_BIN_DIR:-build/bin}
STATE=${ARQON_STATE_DIR:-.arqon}
NATS_PORT=${ARQON_NATS_PORT:-4222}
REDIS_PORT=${ARQON_REDIS_PORT:-6379}
SHIELD_PORT=${ARQON_SHIELD_PORT:-4000}
BRAIN_METRICS_PORT=${ARQON_BRAIN_METRICS_PORT:-9091}
CONFIG=${ARQON_CONFIG:-config/arqon.toml}
[[ -r $CONFIG ]] || { echo "configuration $CONFIG not readable (ARQON_CONFIG)" >&2; exit 1; }
mkdir -p "$STATE/nats" "$STATE/redis" "$STATE/logs"
case "$STATE" in /*) ;; *) STATE="$PWD/$STATE" ;; esac

# One stack per state directory; `arq dev down` stops it through this file.
if [[ -s "$STATE/run.pid" ]] && kill -0 "$(cat "$STATE/run.pid")" 2>/dev/null; then
  echo "a stack is already running from $STATE (pid $(cat "$STATE/run.pid")); arq dev down stops it" >&2
  exit 1
fi
echo $$ > "$STATE/run.pid"

secret() { # file [prefix]: a random hex secret, created once, readable by the owner only
  if [[ ! -s "$1" ]]; then
    (umask 077; { printf '%s' "${2:-}"; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; } > "$1")
  fi
}
secret "$STATE/jwt_secret"
# nats-server parses an environment value like a config value: a leading letter keeps
# the password a string (hex digits first would be read as a number, and fail).
for user in shield brain backend; do secret "$STATE/nats_${user}_password" arq; done

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$STATE/run.pid"
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

for p in "$NATS_PORT:nats-server" "$REDIS_PORT:redis-server" "$SHIELD_PORT:arqon-shield" \
         "$BRAIN_METRICS_PORT:arqon-brain"; do
  if port_busy "${p%%:*}"; then
    echo "port ${p%%:*} is already in use (needed by ${p#*:}); stop what uses it or set" \
         "ARQON_NATS_PORT / ARQON_REDIS_PORT / ARQON_SHIELD_PORT / ARQON_BRAIN_METRICS_PORT" >&2
    exit 1
  fi
done

# The users and permissions are those of deploy/nats; includes resolve next to the config.
cp deploy/nats/accounts.conf "$STATE/accounts.conf"
cat > "$STATE/nats.conf" <<CONF
host: 127.0.0.1
port: $NATS_PORT
jetstream { store_dir: "$STATE/nats" }
include ./accounts.conf
CONF
ARQON_NATS_SHIELD_PASSWORD="$(cat "$STATE/nats_shield_password")" \
ARQON_NATS_BRAIN_PASSWORD="$(cat "$STATE/nats_brain_password")" \
ARQON_NATS_BACKEND_PASSWORD="$(cat "$STATE/nats_backend_password")" \
  nats-server -c "$STATE/nats.conf" >"$STATE/logs/nats.log" 2>&1 &
pids+=($!)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly yes \
  --appendfsync everysec \
  --dir "$STATE/redis" >"$STATE/logs/redis.log" 2>&1 &
pids+=($!)
wait_port "$NATS_PORT" nats-server "$STATE/logs/nats.log"
wait_port "$REDIS_PORT" redis-server "$STATE/logs/redis.log"

# Each program gets the operator's configuration (ARQON_CONFIG, default config/arqon.toml)
# with what this stack decides set over it: the local ports and its NATS user.
part_config() { # user output
  /usr/bin/python3 scripts/config_overlay.py "$CONFIG" "$2" \
    "shield.listen=\"127.0.0.1:$SHIELD_PORT\"" "nats.url=\"nats://127.0.0.1:$NATS_PORT\"" \
    "nats.user=\"$1\"" "valkey.url=\"redis://127.0.0.1:$REDIS_PORT\"" \
    "brain.metrics_listen=\"127.0.0.1:$BRAIN_METRICS_PORT\""
}
part_config brain "$STATE/brain.toml"
part_config shield "$STATE/shield.toml"

ARQON_NATS_PASSWORD="$(cat "$STATE/nats_brain_password")" \
  "$BIN/arqon-brain" --config "$STATE/brain.toml" >"$STATE/logs/brain.log" 2>&1 &
pids+=($!)
wait_port "$BRAIN_METRICS_PORT" arqon-brain "$STATE/logs/brain.log"
ARQON_NATS_PASSWORD="$(cat "$STATE/nats_shield_password")" \
ARQON_JWT_SECRET="$(cat "$STATE/jwt_secret")" \
  "$BIN/arqon-shield" --config "$STATE/shield.toml" >"$STATE/logs/shield.log" 2>&1 &
pids+=($!)
wait_port "$SHIELD_PORT" arqon-shield "$STATE/logs/shield.log"

TOKEN=$(ARQON_JWT_SECRET="$(cat "$STATE/jwt_secret")" "$BIN/arq" auth gen --tenant default --sub dev --ttl 86400)

cat <<INFO

ArqonBus development stack
  NATS (JetStream)  nats://127.0.0.1:$NATS_PORT      logs: $STATE/logs/nats.log
  Redis             redis://127.0.0.1:$REDIS_PORT     logs: $STATE/logs/redis.log
  Brain             metrics http://127.0.0.1:$BRAIN_METRICS_PORT/metrics   logs: $STATE/logs/brain.log
  Shield            ws://127.0.0.1:$SHIELD_PORT/ws   logs: $STATE/logs/shield.log
  Demo page         http://127.0.0.1:$SHIELD_PORT/#token=$TOKEN
  WebSocket URL with the dev token:
    ws://127.0.0.1:$SHIELD_PORT/ws?token=$TOKEN
  Dev token (tenant "default", user "dev", 24 h):
    $TOKEN

Ctrl-C (or arq dev down) stops everything.
INFO

# Exit (and clean up) as soon as any part stops.
wait -n "${pids[@]}"
echo "a part of the stack stopped; see $STATE/logs/" >&2
