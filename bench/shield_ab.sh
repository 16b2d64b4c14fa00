#!/usr/bin/env bash
# bench/shield_ab.sh — the same load against two or more arqon-shield builds, alternated in
# rounds on one nats-server, so that a change to the Shield is judged side by side rather
# than across runs on a noisy machine. Prints one Markdown row per build and round.
#
#   BUILD_DIR=build bench/shield_ab.sh path/to/arqon-shield-A path/to/arqon-shield-B ...
#
# Per build and round: 2000 idle connections on a fresh process (bytes per connection),
# then round trips at 1000 msg/s (10 clients) and 10000 msg/s (100 clients) through the
# responder (ack: the time to the Shield's ack). ROUNDS (default 3) and T (seconds per publishing run, default 5) adjust it.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
ARQ=$BUILD_DIR/bin/arq
ROUNDS=${ROUNDS:-3}
T=${T:-5}
(($# >= 2)) || { echo "usage: bench/shield_ab.sh SHIELD_BINARY SHIELD_BINARY..." >&2; exit 2; }
for b in "$ARQ" "$@"; do [[ -x $b ]] || { echo "missing $b" >&2; exit 1; }; done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

OUT=$(mktemp -d /tmp/arq-ab.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
NATS_PORT=$(free_port)
cat > "$OUT/nats.conf" <<EOF
host: 127.0.0.1
port: $NATS_PORT
jetstream { store_dir: "$OUT/js" }
EOF
SECRET=ab-secret
NATS_PID=
SHIELD_PID=
cleanup() {
  [[ -n $SHIELD_PID ]] && kill "$SHIELD_PID" 2>/dev/null
  [[ -n $NATS_PID ]] && kill "$NATS_PID" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT
nats-server -c "$OUT/nats.conf" > "$OUT/nats.log" 2>&1 &
NATS_PID=$!
for _ in $(seq 1 100); do port_open "$NATS_PORT" && break; sleep 0.1; done

start_shield() { # binary
  local port
  port=$(free_port)
  cat > "$OUT/shield.toml" <<EOF
[shield]
listen = "127.0.0.1:$port"
node_id = "ab"
conn_rate = 1000000.0
conn_burst = 1000000
tenant_rate = 10000000.0
tenant_burst = 10000000
[auth]
jwt_secret = "$SECRET"
[nats]
url = "nats://127.0.0.1:$NATS_PORT"
[log]
level = "warn"
EOF
  "$1" --config "$OUT/shield.toml" >> "$OUT/shield.log" 2>&1 &
  SHIELD_PID=$!
  for _ in $(seq 1 100); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz") == 200 ]] && break
    sleep 0.1
  done
  sleep 0.5
  URL=ws://127.0.0.1:$port/ws
}

echo "| build | round | idle bytes/conn | rt p50 µs @1k | rt p99 µs @1k | ack p50 µs @1k | route p99 µs @1k | rt p50 µs @10k | rt p99 µs @10k | ack p50 µs @10k | route p99 µs @10k | Shield CPU s @10k |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    start_shield "$bin"
    common=(--url "$URL" --secret "$SECRET" --pid "$SHIELD_PID" --quiet --json)
    "$ARQ" bench "${common[@]}" --mode idle --connections 2000 --duration 2 > "$OUT/idle.json" || true
    "$ARQ" bench "${common[@]}" --mode roundtrip --nats "nats://127.0.0.1:$NATS_PORT" --connections 10 \
      --rate 1000 --duration "$T" > "$OUT/rt1.json" || true
    "$ARQ" bench "${common[@]}" --mode roundtrip --nats "nats://127.0.0.1:$NATS_PORT" --connections 100 \
      --rate 10000 --duration "$T" > "$OUT/rt10.json" || true
    python3 - "$bin" "$round" "$OUT" <<'EOF'
import json, sys
b, rnd, out = sys.argv[1:]
def j(n):
    try:
        return json.load(open(f"{out}/{n}.json"))
    except (OSError, ValueError):
        return {}
i, a, c = j("idle"), j("rt1"), j("rt10")
g = lambda r, k, q: f"{r[k][q]:.0f}" if k in r and q in r[k] else "–"
print(f"| {b} | {rnd} | {i.get('bytes_per_conn', '–')} | {g(a,'rt_latency_us','p50')} | {g(a,'rt_latency_us','p99')} | "
      f"{g(a,'ack_latency_us','p50')} | {g(a,'shield_route_us','p99')} | {g(c,'rt_latency_us','p50')} | "
      f"{g(c,'rt_latency_us','p99')} | {g(c,'ack_latency_us','p50')} | {g(c,'shield_route_us','p99')} | "
      f"{c.get('server_cpu_s', '–')} |")
EOF
    kill "$SHIELD_PID"; wait "$SHIELD_PID" 2>/dev/null || true; SHIELD_PID=
  done
done
echo
echo "Logs: $OUT"
