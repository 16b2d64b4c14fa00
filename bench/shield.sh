#!/usr/bin/env bash
# bench/shield.sh — the Shield's performance figures (SPEC section 9), side by side with
# nats-server's own WebSocket listener, in one run on this machine. Prints a Markdown report
# on stdout (progress on stderr) and keeps every raw JSON result in $OUT.
#
#   BUILD_DIR=build bench/shield.sh            (needs arq and arqon-shield built there)
#   QUICK=1 bench/shield.sh                    (shorter runs, for a try-out)
#   SHIELD_BIN=/other/arqon-shield bench/shield.sh   (the same load against another build)
#
# Everything listens on free loopback ports and stops when the script ends. Not part of
# `make test`: it takes about four minutes and its figures depend on the machine's load.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
BIN=$BUILD_DIR/bin
OUT=${OUT:-$(mktemp -d /tmp/arq-bench.XXXXXX)}
mkdir -p "$OUT"
SECRET=bench-secret-not-for-production
T=${QUICK:+2}
T=${T:-10}     # seconds per publishing scenario
HOLD=${QUICK:+2}
HOLD=${HOLD:-5}  # seconds the idle connections are held
IDLE_BIG=${IDLE_BIG:-10000}

SHIELD_BIN=${SHIELD_BIN:-$BIN/arqon-shield}
for b in "$BIN/arq" "$SHIELD_BIN"; do
  [[ -x $b ]] || { echo "missing $b: build it first (cmake --build $BUILD_DIR --target arq arqon-shield)" >&2; exit 1; }
done
command -v nats-server >/dev/null || { echo "nats-server is not installed" >&2; exit 1; }

# Every connection is a descriptor in the client and in the server.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < IDLE_BIG + 200)); then
  echo "ulimit -n is $(ulimit -n): the $IDLE_BIG-connection scenario needs more" >&2
  exit 1
fi

source bench/lib.sh

NATS_PORT=$(free_port)
NATS_WS_PORT=$(free_port)
SHIELD_PORT=$(free_port)
NATS_URL=nats://127.0.0.1:$NATS_PORT
SHIELD_URL=ws://127.0.0.1:$SHIELD_PORT/ws
NATS_WS_URL=ws://127.0.0.1:$NATS_WS_PORT/

cat > "$OUT/nats.conf" <<EOF
host: 127.0.0.1
port: $NATS_PORT
max_payload: 1048576
# The Shield keeps its policies in a JetStream KV bucket and refuses clients until it can
# read it, as in production.
jetstream { store_dir: "$OUT/js" }
websocket { host: 127.0.0.1, port: $NATS_WS_PORT, no_tls: true }
EOF

# Rate limits far above the offered load: the benchmark measures routing, not the limiter.
bench_shield_toml "$SHIELD_PORT" "$NATS_URL" "$SECRET" > "$OUT/shield.toml"

NATS_PID=
SHIELD_PID=
cleanup() {
  [[ -n $SHIELD_PID ]] && kill "$SHIELD_PID" 2>/dev/null
  [[ -n $NATS_PID ]] && kill "$NATS_PID" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT

start_nats() {
  nats-server -c "$OUT/nats.conf" >> "$OUT/nats.log" 2>&1 &
  NATS_PID=$!
  wait_port "$NATS_PORT" nats
  wait_port "$NATS_WS_PORT" nats
}

# A fresh Shield for each memory figure, so that its baseline holds no earlier connections.
start_shield() {
  if [[ -n $SHIELD_PID ]]; then kill "$SHIELD_PID"; wait "$SHIELD_PID" 2>/dev/null || true; fi
  "$SHIELD_BIN" --config "$OUT/shield.toml" >> "$OUT/shield.log" 2>&1 &
  SHIELD_PID=$!
  wait_port "$SHIELD_PORT" shield
  local ready=
  for _ in $(seq 1 100); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SHIELD_PORT/readyz") == 200 ]] && { ready=1; break; }
    sleep 0.1
  done
  [[ -n $ready ]] || { echo "the Shield never became ready; see $OUT/shield.log" >&2; exit 1; }
  sleep 0.5
}

restart_nats() {
  kill "$NATS_PID"; wait "$NATS_PID" 2>/dev/null || true
  start_nats
}

: > "$OUT/commands.txt"
# run NAME ARGS...: one `arq bench` run, its JSON kept as $OUT/NAME.json.
run() {
  local name=$1; shift
  local cmd=("$BIN/arq" bench --json "$@")
  echo "${cmd[*]}" | sed "s|$OUT|\$OUT|g" >> "$OUT/commands.txt"
  echo "== $name: ${cmd[*]}" >&2
  local rc=0
  "${cmd[@]}" > "$OUT/$name.json" 2> "$OUT/$name.err" || rc=$?
  tail -1 "$OUT/$name.err" >&2 || true
  ((rc == 0)) || echo "   exit status $rc (the report marks what went wrong)" >&2
}

SH=(--url "$SHIELD_URL" --secret "$SECRET" --tenant bench)
NW=(--url "$NATS_WS_URL" --target nats-ws)

start_nats
start_shield

# Routing overhead and ack latency: the Shield alone (nothing consumes in.t.*).
run ack-1k "${SH[@]}" --pid "$SHIELD_PID" --mode ack --connections 10 --rate 1000 --duration "$T"
run ack-10k "${SH[@]}" --pid "$SHIELD_PID" --mode ack --connections 100 --rate 10000 --duration "$T"

# Round trip, alternating the two targets so that a load spike on the machine hits both.
for i in 1 2; do
  run rt-shield-1k-$i "${SH[@]}" --pid "$SHIELD_PID" --mode roundtrip --nats "$NATS_URL" --connections 10 --rate 1000 --duration "$T"
  run rt-natsws-1k-$i "${NW[@]}" --pid "$NATS_PID" --mode roundtrip --connections 10 --rate 1000 --duration "$T"
done
run rt-shield-10k "${SH[@]}" --pid "$SHIELD_PID" --mode roundtrip --nats "$NATS_URL" --connections 100 --rate 10000 --duration "$T"
run rt-natsws-10k "${NW[@]}" --pid "$NATS_PID" --mode roundtrip --connections 100 --rate 10000 --duration "$T"

# Fan-out: one publisher, 1000 members; each message becomes 1000 deliveries.
for rate in 50 200; do
  run fan-shield-$rate "${SH[@]}" --pid "$SHIELD_PID" --mode fanout --nats "$NATS_URL" --connections 1000 --publishers 1 --rate $rate --duration "$T" --drain-ms 5000
  run fan-natsws-$rate "${NW[@]}" --pid "$NATS_PID" --mode fanout --connections 1000 --publishers 1 --rate $rate --duration "$T" --drain-ms 5000
done

# Memory per idle connection, each on a freshly started server.
start_shield
run idle-shield-1k "${SH[@]}" --mode idle --connections 1000 --duration "$HOLD" --pid "$SHIELD_PID"
start_shield
run idle-shield-big "${SH[@]}" --mode idle --connections "$IDLE_BIG" --duration "$HOLD" --pid "$SHIELD_PID"
restart_nats
run idle-natsws-1k "${NW[@]}" --mode idle --connections 1000 --duration "$HOLD" --pid "$NATS_PID"
restart_nats
run idle-natsws-big "${NW[@]}" --mode idle --connections "$IDLE_BIG" --duration "$HOLD" --pid "$NATS_PID"

# ---- the report ----
echo "## Shield benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'),"\
     "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) memory, Linux $(uname -r)"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $(nats-server --version), Shield $("$SHIELD_BIN" --version 2>/dev/null | head -1)," \
     "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet HEAD -- src && echo ' (the work tree has uncommitted changes in src/)')"
echo "- Shield workers: one per core; ${T} s per publishing run, idle connections held ${HOLD} s"
echo
python3 - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]

def load(name):
    try:
        with open(os.path.join(out, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def us(v):
    return "–" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")

def lat(r, key, q):
    h = r and r.get(key)
    return us(h[q]) if h and h["count"] else "–"

def cpu(r, k):
    return f"{r[k]:.1f}" if r and k in r else "–"

def ok(r):
    if not r:
        return "no result"
    bad = []
    if r["connect_failed"]: bad.append(f"{r['connect_failed']} failed to connect")
    if r["closed_during_run"]: bad.append(f"{r['closed_during_run']} closed")
    if r["errors"]: bad.append(f"{r['errors']} errors")
    if r["lost_acks"]: bad.append(f"{r['lost_acks']} unacked")
    if r["lost_deliveries"]: bad.append(f"{r['lost_deliveries']} undelivered")
    return ", ".join(bad) or "ok"

print("### Routing overhead and ack latency (Shield alone)\n")
print("| run | offered msg/s | conns | acked/s | route p50 µs | route p99 µs | ack p50 µs | ack p99 µs | ack p99.9 µs | Shield CPU s | client CPU s | status |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for n in ["ack-1k", "ack-10k"]:
    r = load(n)
    if not r: print(f"| {n} | | | | | | | | | no result |"); continue
    ro = r.get("shield_route_us", {})
    p = lambda q: ("≥ " if ro.get(q + "_open") else "") + us(ro.get(q)) if ro else "–"
    print(f"| {n} | {r['rate_target']:.0f} | {r['connections']} | {r['ack_rate']:.0f} | {p('p50')} | {p('p99')} | "
          f"{lat(r,'ack_latency_us','p50')} | {lat(r,'ack_latency_us','p99')} | {lat(r,'ack_latency_us','p999')} | "
          f"{cpu(r,'server_cpu_s')} | {cpu(r,'client_cpu_s')} | {ok(r)} |")

print("\nShield CPU: the Shield process while the load ran; client CPU: the arq bench process (its clients and, for the Shield's round trip and fan-out, the responder).")
print("\n### Round trip: client → Shield → NATS → responder → NATS → Shield → client, vs nats-server's WebSocket listener (client → NATS → client)\n")
print("| run | offered msg/s | conns | delivered/s | p50 µs | p90 µs | p99 µs | p99.9 µs | server CPU s | client CPU s | status |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
pairs = []
for n in ["rt-shield-1k-1", "rt-natsws-1k-1", "rt-shield-1k-2", "rt-natsws-1k-2", "rt-shield-10k", "rt-natsws-10k"]:
    r = load(n)
    if not r: print(f"| {n} | | | | | | | | no result |"); continue
    print(f"| {n} | {r['rate_target']:.0f} | {r['connections']} | {r['delivery_rate']:.0f} | "
          + " | ".join(lat(r, "rt_latency_us", q) for q in ["p50", "p90", "p99", "p999"])
          + f" | {cpu(r,'server_cpu_s')} | {cpu(r,'client_cpu_s')} | {ok(r)} |")
print("\n| pair | Shield p50 / nats-ws p50 | Shield p99 / nats-ws p99 |")
print("|---|---|---|")
for s, w in [("rt-shield-1k-1", "rt-natsws-1k-1"), ("rt-shield-1k-2", "rt-natsws-1k-2"), ("rt-shield-10k", "rt-natsws-10k")]:
    a, b = load(s), load(w)
    if a and b and a["rt_latency_us"]["count"] and b["rt_latency_us"]["count"]:
        ra = a["rt_latency_us"]; rb = b["rt_latency_us"]
        print(f"| {s} / {w} | {ra['p50']/rb['p50']:.1f}× | {ra['p99']/rb['p99']:.1f}× |")

print("\n### Fan-out: 1 publisher, every member receives each message (the Shield's path includes the responder hop)\n")
print("| run | members | offered msg/s | deliveries/s | delivery p50 µs | p99 µs | max µs | server CPU s | client CPU s | status |")
print("|---|---|---|---|---|---|---|---|---|---|")
for rate in [50, 200]:
    for n in [f"fan-shield-{rate}", f"fan-natsws-{rate}"]:
        r = load(n)
        if not r: print(f"| {n} | | | | | | | | | no result |"); continue
        print(f"| {n} | {r['ready']} | {r['rate_target']:.0f} | {r['delivery_rate']:.0f} | {lat(r,'rt_latency_us','p50')} | "
              f"{lat(r,'rt_latency_us','p99')} | {lat(r,'rt_latency_us','max')} | {cpu(r,'server_cpu_s')} | "
              f"{cpu(r,'client_cpu_s')} | {ok(r)} |")

print("\n### Idle connections (fresh server each time; VmRSS from /proc)\n")
print("| run | connections | connect time s | RSS before KiB | RSS connected KiB | bytes per connection | status |")
print("|---|---|---|---|---|---|---|")
for n in ["idle-shield-1k", "idle-shield-big", "idle-natsws-1k", "idle-natsws-big"]:
    r = load(n)
    if not r: print(f"| {n} | | | | | | no result |"); continue
    print(f"| {n} | {r['ready']} | {r['connect_s']:.2f} | {r.get('rss_before_kib','–')} | {r.get('rss_after_kib','–')} | "
          f"{r.get('bytes_per_conn','–')} | {ok(r)} |")
EOF
echo
echo "Raw results and logs: $OUT (commands in $OUT/commands.txt)"
