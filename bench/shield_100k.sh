#!/usr/bin/env bash
# bench/shield_100k.sh — SPEC section 9's "100 000 concurrent WebSocket connections on one
# node", on a machine whose per-process descriptor limit is below that: several Shield
# processes share one port (SO_REUSEPORT, as the workers of one Shield do), and several
# `arq bench --mode idle` clients connect from their own loopback source addresses (one
# address pair has about 28 000 ephemeral ports). Every connection is a real WebSocket
# session with a JWT, joined to a room, held idle; the counts are the Shields' own
# `shield_connections` gauges. Prints a Markdown report on stdout (progress on stderr) and
# keeps the configurations and logs in $OUT.
#
#   BUILD_DIR=build bench/shield_100k.sh
#   CONNECTIONS=100000 SHIELDS=6 CLIENTS=6 HOLD=20 bench/shield_100k.sh
#
# Not part of `make test`: it takes about a minute and needs a few GiB of memory.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
BIN=$BUILD_DIR/bin
OUT=${OUT:-$(mktemp -d /tmp/arq-100k.XXXXXX)}
mkdir -p "$OUT"
CONNECTIONS=${CONNECTIONS:-100000}
SHIELDS=${SHIELDS:-6}
CLIENTS=${CLIENTS:-6}
HOLD=${HOLD:-20}           # seconds each client holds its connections once all are open
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-120}
SECRET=bench-secret-not-for-production

for b in "$BIN/arq" "$BIN/arqon-shield"; do
  [[ -x $b ]] || { echo "missing $b: build it first (cmake --build $BUILD_DIR --target arq arqon-shield)" >&2; exit 1; }
done
command -v nats-server >/dev/null || { echo "nats-server is not installed" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
per_client=$(((CONNECTIONS + CLIENTS - 1) / CLIENTS))
per_shield=$(((CONNECTIONS + SHIELDS - 1) / SHIELDS))
# Each Shield gets about an equal share from the kernel's hash; leave room for the spread.
if ((per_client + 100 > $(ulimit -n) || per_shield * 11 / 10 + 100 > $(ulimit -n))); then
  echo "ulimit -n is $(ulimit -n): use more SHIELDS and CLIENTS for $CONNECTIONS connections" >&2
  exit 1
fi
if ((per_client > 28000)); then
  echo "$per_client connections per client exceed one source address's ephemeral ports" >&2
  exit 1
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; } # calc FORMAT EXPRESSION

NATS_PORT=$(free_port)
SHIELD_PORT=$(free_port)
cat > "$OUT/nats.conf" <<EOF
host: 127.0.0.1
port: $NATS_PORT
jetstream { store_dir: "$OUT/js" }
EOF

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

nats-server -c "$OUT/nats.conf" >> "$OUT/nats.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do port_open "$NATS_PORT" && break; sleep 0.1; done

SHIELD_PIDS=() ADMIN_PORTS=()
for i in $(seq 1 "$SHIELDS"); do
  admin=$(free_port)
  cat > "$OUT/shield-$i.toml" <<EOF
[shield]
listen = "127.0.0.1:$SHIELD_PORT"
admin_listen = "127.0.0.1:$admin"
node_id = "bench-$i"
workers = 1
conn_rate = 1000000.0
conn_burst = 1000000
max_connections = 200000
max_connections_per_tenant = 200000
[auth]
jwt_secret = "$SECRET"
[nats]
url = "nats://127.0.0.1:$NATS_PORT"
[log]
level = "warn"
EOF
  "$BIN/arqon-shield" --config "$OUT/shield-$i.toml" >> "$OUT/shield-$i.log" 2>&1 &
  SHIELD_PIDS+=($!) ADMIN_PORTS+=("$admin")
  PIDS+=($!)
done

metric_sum() { # the sum over the Shields of one unlabelled metric
  local total=0 v
  for port in "${ADMIN_PORTS[@]}"; do
    v=$(curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print int($2)}')
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
for port in "${ADMIN_PORTS[@]}"; do
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done
done
for _ in $(seq 1 100); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SHIELD_PORT/readyz") == 200 ]] && break
  sleep 0.1
done
sleep 1
rss_before=0
for p in "${SHIELD_PIDS[@]}"; do rss_before=$((rss_before + $(rss_kib "$p"))); done

echo "connecting $CONNECTIONS clients ($CLIENTS processes) to $SHIELDS Shields on port $SHIELD_PORT" >&2
t0=$(now)
CLIENT_PIDS=()
for i in $(seq 1 "$CLIENTS"); do
  n=$per_client
  ((i == CLIENTS)) && n=$((CONNECTIONS - per_client * (CLIENTS - 1)))
  # The hold starts when a client's own connections are open; the others may still be
  # connecting then, hence the margin.
  "$BIN/arq" bench --url "ws://127.0.0.1:$SHIELD_PORT/ws" --secret "$SECRET" --tenant bench \
    --mode idle --connections "$n" --duration "$((HOLD + CONNECT_TIMEOUT))" --no-metrics \
    --connect-timeout "$CONNECT_TIMEOUT" --concurrency 500 --source "127.0.0.$((i + 1))" \
    --json --quiet > "$OUT/client-$i.json" 2> "$OUT/client-$i.log" &
  CLIENT_PIDS+=($!)
  PIDS+=($!)
done

open=0 t_all=
deadline=$(($(date +%s) + CONNECT_TIMEOUT))
while (($(date +%s) < deadline)); do
  open=$(metric_sum shield_connections)
  echo "  $(calc %.1f "$(now) - $t0") s: $open open" >&2
  if ((open >= CONNECTIONS)); then t_all=$(now); break; fi
  sleep 1
done
[[ -n $t_all ]] || { echo "only $open of $CONNECTIONS connections open after ${CONNECT_TIMEOUT} s; see $OUT" >&2; exit 1; }
sleep "$HOLD"  # held idle: the figures below are read at the end of the hold
open_end=$(metric_sum shield_connections)
rss_after=0 per_shield_rows=""
for i in "${!SHIELD_PIDS[@]}"; do
  r=$(rss_kib "${SHIELD_PIDS[$i]}")
  c=$(curl -s "http://127.0.0.1:${ADMIN_PORTS[$i]}/metrics" | awk '$1 == "shield_connections" {print int($2)}')
  rss_after=$((rss_after + r))
  per_shield_rows+="| $((i + 1)) | $c | $r |"$'\n'
done
cpu_ticks=0
for p in "${SHIELD_PIDS[@]}"; do
  cpu_ticks=$((cpu_ticks + $(awk '{print $14 + $15}' "/proc/$p/stat")))
done
# (SIGTERM: a script's background jobs ignore SIGINT)
for p in "${CLIENT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
wait "${CLIENT_PIDS[@]}" 2>/dev/null || true

connect_s=$(calc %.3f "$t_all - $t0")
echo "## Shield: $CONNECTIONS idle connections on one node, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(uname -sr); descriptors per process: $(ulimit -Hn)"
echo "- $SHIELDS Shield processes (one worker each) on one port; $CLIENTS \`arq bench --mode idle\` clients from 127.0.0.2.. (each connection: HTTP upgrade with a JWT, joined to a room)"
echo "- command: \`CONNECTIONS=$CONNECTIONS SHIELDS=$SHIELDS CLIENTS=$CLIENTS HOLD=$HOLD bench/shield_100k.sh\`"
echo
echo "| figure | value |"
echo "|---|---:|"
echo "| connections open (sum of \`shield_connections\`), when all had connected | $open |"
echo "| connections open after $HOLD s idle | $open_end |"
echo "| time to open them all | $(calc %.1f "$connect_s") s ($(calc %.0f "$CONNECTIONS / $connect_s") connections/s) |"
echo "| Shields' resident memory before / after (sum) | $((rss_before / 1024)) MiB / $((rss_after / 1024)) MiB |"
printf '| resident memory per connection | %d bytes |\n' "$(((rss_after - rss_before) * 1024 / CONNECTIONS))"
echo "| Shields' CPU for connecting and holding (user + system) | $(calc %.1f "$cpu_ticks / $(getconf CLK_TCK)") s |"
echo
echo "| Shield | connections | VmRSS KiB |"
echo "|---:|---:|---:|"
printf '%s' "$per_shield_rows"
echo
echo "Configurations and logs: $OUT"
((open_end >= CONNECTIONS)) || { echo "connections were lost while idle" >&2; exit 1; }
