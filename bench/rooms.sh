#!/usr/bin/env bash
# bench/rooms.sh — the ordered room path end to end: `arq bench --mode rooms` → arqon-shield →
# nats-server (JetStream, ARQON_INGRESS) → arqon-brain (seq, Redis) → nats-server → Shield →
# every member, side by side with the same rooms load on nats-server's own WebSocket listener.
# Prints a Markdown report on stdout (progress on stderr) and keeps every raw JSON result and
# log in $OUT.
#
#   BUILD_DIR=build bench/rooms.sh        (needs arq, arqon-shield and arqon-brain built there)
#   QUICK=1 bench/rooms.sh                (shorter runs and a smaller backlog, for a try-out)
#   BRAINS="/tmp/brain-base build/bin/arqon-brain" ROUNDS=3 RATES="2000 10000" T=5 bench/rooms.sh
#                                         (A/B: two Brain builds on one stack; see below)
#
# Scenarios (environment variables in brackets, defaults / with QUICK=1):
#   1. steady: each of RATES msg/s (2000 5000 10000 20000) over ROOMS × MEMBERS (10 × 10)
#      for T s (10 / 3), against the Shield+Brain and against nats-ws.
#   2. burst: BURST_BASE msg/s (5000) for BURST_T s (15 / 6), with BURST_RATE msg/s for
#      BURST_S s (5 / 2) after the first third; BURST_RATE defaults to 3× the highest rate of
#      scenario 1 the Shield+Brain delivered in full (60000 when all were).
#   3. backlog: the Brain stopped (SIGTERM), BACKLOG_N messages (500000 / 50000) published
#      through the Shield at BACKLOG_RATE msg/s (50000 / 25000; more runs, at most BACKLOG_RUNS
#      (5), until BACKLOG_N are acked), the Brain started again and timed until it has
#      sequenced them all and its ingress lag is 0; then a short live load.
#      The live load: LIVE_RATE msg/s (2000) for T s.
# SIZE (64) payload bytes after the 48-byte header; DRAIN_MS (10000 / 5000) bounds each run's
# wait for late deliveries; BRAIN_IDLE_S (120 / 30) bounds the wait for the Brain to catch up
# between runs; BACKLOG_TIMEOUT_S (900 / 180) bounds the catch-up.
#
# A/B of Brain builds: BRAINS, a space-separated list of arqon-brain binaries (paths relative
# to the repository root, like BUILD_DIR; empty by default, which runs the scenarios above),
# replaces scenarios 1 to 3 with ROUNDS (3) rounds on the same nats-server, Redis and Shield:
# in each round, for each of RATES, each Brain in turn is started (after the previous one is
# stopped with SIGTERM) and measured with the steady load of scenario 1 in a room of its own,
# then nats-ws with the same load. The report lists every run and, per rate, the median p50
# over the rounds of each Brain and of nats-ws, and their ratios.
#
# Everything listens on free loopback ports and stops when the script ends. Not part of
# `make test`: it takes several minutes and its figures depend on the machine's load.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
BIN=$BUILD_DIR/bin
OUT=${OUT:-$(mktemp -d /tmp/arq-rooms.XXXXXX)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SECRET=bench-secret-not-for-production
q() { if [[ -n ${QUICK:-} ]]; then echo "$2"; else echo "$1"; fi; }
RATES=${RATES:-2000 5000 10000 20000}
ROOMS=${ROOMS:-10}
MEMBERS=${MEMBERS:-10}
SIZE=${SIZE:-64}
T=${T:-$(q 10 3)}
DRAIN_MS=${DRAIN_MS:-$(q 10000 5000)}
BURST_BASE=${BURST_BASE:-5000}
BURST_T=${BURST_T:-$(q 15 6)}
BURST_S=${BURST_S:-$(q 5 2)}
BURST_ALL_OK=${BURST_ALL_OK:-60000}
BACKLOG_N=${BACKLOG_N:-$(q 500000 50000)}
BACKLOG_RATE=${BACKLOG_RATE:-$(q 50000 25000)}
BACKLOG_TIMEOUT_S=${BACKLOG_TIMEOUT_S:-$(q 900 180)}
BRAIN_IDLE_S=${BRAIN_IDLE_S:-$(q 120 30)}
LIVE_RATE=${LIVE_RATE:-2000}
BRAINS=${BRAINS:-}
ROUNDS=${ROUNDS:-3}
read -ra BRAIN_BINS <<< "$BRAINS"

for b in "$BIN/arq" "$BIN/arqon-shield" "${BRAIN_BINS[@]:-$BIN/arqon-brain}"; do
  [[ -x $b ]] || { echo "missing $b: build it first (cmake --build $BUILD_DIR)" >&2; exit 1; }
done
for c in nats-server redis-server curl python3; do
  command -v "$c" >/dev/null || { echo "$c is not installed" >&2; exit 1; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

log() { echo "$*" >&2; }
source bench/lib.sh
# wait_ready URL NAME: /readyz answers 200 within 30 s.
wait_ready() {
  for _ in $(seq 1 300); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$1") == 200 ]] && return 0
    sleep 0.1
  done
  log "$2 never became ready; see $OUT/$2.log"
  exit 1
}
now() { date +%s.%N; }

NATS_PORT=$(free_port)
NATS_WS_PORT=$(free_port)
NATS_MON_PORT=$(free_port)
SHIELD_PORT=$(free_port)
REDIS_PORT=$(free_port)
BRAIN_PORT=$(free_port)
NATS_URL=nats://127.0.0.1:$NATS_PORT
SHIELD_URL=ws://127.0.0.1:$SHIELD_PORT/ws
NATS_WS_URL=ws://127.0.0.1:$NATS_WS_PORT/
BRAIN_METRICS=http://127.0.0.1:$BRAIN_PORT/metrics

cat > "$OUT/nats.conf" <<EOF
host: 127.0.0.1
port: $NATS_PORT
http: 127.0.0.1:$NATS_MON_PORT
max_payload: 1048576
jetstream { store_dir: "$OUT/js" }
websocket { host: 127.0.0.1, port: $NATS_WS_PORT, no_tls: true }
EOF

# Rate limits and caps far above the offered load: this measures the room path, not the
# limiter. One client thread receives every delivery, so a member's send queue may hold a
# few megabytes at the peaks without the member being a slow consumer.
bench_shield_toml "$SHIELD_PORT" "$NATS_URL" "$SECRET" "send_queue_bytes = 8388608" > "$OUT/shield.toml"

cat > "$OUT/brain.toml" <<EOF
[nats]
url = "$NATS_URL"
[valkey]
url = "redis://127.0.0.1:$REDIS_PORT"
[brain]
metrics_listen = "127.0.0.1:$BRAIN_PORT"
partitions = 8
[log]
level = "warn"
EOF

NATS_PID= REDIS_PID= BRAIN_PID= SHIELD_PID=
cleanup() {
  for p in "$SHIELD_PID" "$BRAIN_PID" "$REDIS_PID" "$NATS_PID"; do
    [[ -n $p ]] && kill "$p" 2>/dev/null
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# start_brain LOG [BINARY]: the first Brain logs to brain.log, the one started after the
# backlog to brain-restarted.log, so that the report can tell their warnings apart; BINARY
# ($BIN/arqon-brain by default) is the build to start (each of BRAINS in the A/B mode).
start_brain() {
  "${2:-$BIN/arqon-brain}" --config "$OUT/brain.toml" >> "$OUT/$1" 2>&1 &
  BRAIN_PID=$!
}
stop_brain() {
  kill -TERM "$BRAIN_PID"
  wait "$BRAIN_PID" 2>/dev/null || true
  BRAIN_PID=
}

# metric NAME: its value on the Brain's /metrics, empty when unreachable or absent.
metric() { curl -s --max-time 2 "$BRAIN_METRICS" 2>/dev/null | awk -v n="$1" '$1 == n {print $2; exit}' || true; }
# brain_idle: waits (at most BRAIN_IDLE_S) for the Brain to have no ingress lag, so that one
# run's backlog does not slow the next; says so when it gives up.
brain_idle() {
  local deadline=$(($(date +%s) + BRAIN_IDLE_S)) lag
  while :; do
    lag=$(metric brain_ingress_lag_messages)
    [[ $lag == 0 ]] && return 0
    if (($(date +%s) >= deadline)); then
      log "   the Brain still lags ($lag) after ${BRAIN_IDLE_S}s; going on"
      return 0
    fi
    sleep 0.5
  done
}

# CPU seconds of a process (user + system), from /proc.
cpu_s() {
  [[ -n $1 && -r /proc/$1/stat ]] || { echo 0; return; }
  awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); print ($12 + $13) / hz}' "/proc/$1/stat"
}
cpu_all() { echo "$(cpu_s "$SHIELD_PID") $(cpu_s "$NATS_PID") $(cpu_s "$BRAIN_PID") $(cpu_s "$REDIS_PID")"; }

: > "$OUT/commands.txt"
# run NAME ARGS...: one `arq bench --mode rooms` run; its JSON in $OUT/NAME.json and the CPU
# seconds each server process used during it in $OUT/NAME.cpu.json.
run() {
  local name=$1; shift
  local cmd=("$BIN/arq" bench --json --mode rooms --rooms "$ROOMS" --size "$SIZE" "$@")
  echo "${cmd[*]}" | sed "s|$OUT|\$OUT|g" >> "$OUT/commands.txt"
  log "== $name: ${cmd[*]}"
  local rc=0 before after
  before="$(cpu_all) $(date +%s.%N)"
  "${cmd[@]}" > "$OUT/$name.json" 2> "$OUT/$name.err" || rc=$?
  after="$(cpu_all) $(date +%s.%N)"
  python3 - "$before" "$after" > "$OUT/$name.cpu.json" <<'EOF'
import json, sys
b = [float(x) for x in sys.argv[1].split()]; a = [float(x) for x in sys.argv[2].split()]
print(json.dumps(dict(zip(["shield", "nats", "brain", "redis", "wall"], [round(y - x, 2) for x, y in zip(b, a)]))))
EOF
  tail -1 "$OUT/$name.err" >&2 || true
  ((rc == 0)) || log "   exit status $rc (the report marks what went wrong)"
}

# The report's Python helpers, shared by the report of scenarios 1 to 3 and the A/B report:
# $OUT/report.py, imported by each (the results directory is their first argument).
cat > "$OUT/report.py" <<'EOF'
import json, os, sys
out = sys.argv[1]

def load(name):
    try:
        with open(os.path.join(out, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def us(v):
    if v is None: return "–"
    return f"{v/1000:.1f} ms" if v >= 10000 else (f"{v:.0f} µs" if v >= 100 else f"{v:.1f} µs")

def lat(h, q):
    return us(h[q]) if h and h.get("count") else "–"

def codes(r):
    return ", ".join(f"{k}: {v}" for k, v in r.get("error_codes", {}).items()) or "0"

def status(r):
    if not r: return "no result"
    m, bad = r["rooms"], []
    if r["connect_failed"]: bad.append(f"{r['connect_failed']} failed to connect")
    if r["closed_during_run"]: bad.append(f"{r['closed_during_run']} closed")
    if r["errors"]: bad.append(f"errors {codes(r)}")
    if r["lost_acks"]: bad.append(f"{r['lost_acks']} unacked")
    if m["seq_repeats"]: bad.append(f"{m['seq_repeats']} seq repeats")
    if m["seq_mismatches"]: bad.append(f"{m['seq_mismatches']} seq mismatches")
    if m["seq_missing"]: bad.append(f"{m['seq_missing']} without seq")
    if m["foreign"]: bad.append(f"{m['foreign']} foreign")
    if r["sent"] < 0.95 * m["offered"]: bad.append("sent less than offered")
    if r["delivered"] < r["delivered_expected"]: bad.append("not all delivered within the drain")
    if r["send_rate"] < 0.95 * m["offered_rate"] and r["sent"] >= 0.95 * m["offered"]:
        bad.append("pacing late (client busy)")
    return ", ".join(bad) or "ok"

def cpu(name):
    """The CPU seconds of each process, then their sum as a share of the machine during the
    run (wall time × cores): near 100 % the latencies are mostly waiting for a CPU."""
    c, r = load(name + ".cpu"), load(name)
    if not c: return "–"
    parts = [c[k] for k in ["shield", "nats", "brain", "redis"]] + ([r["client_cpu_s"]] if r else [])
    text = "/".join(f"{x:.1f}" for x in parts) + ("" if r else "/–")
    if c.get("wall"):
        text += f" ({100 * sum(parts) / (c['wall'] * os.cpu_count()):.0f} %)"
    return text

def seqgaps(r):
    return str(r["rooms"]["seq_gaps"]) if r["rooms"]["seq_checked"] else "n/a"

LEGEND = ("\nlost: (receiver, message) pairs never received by the end of the drain (messages refused with an error excluded);"
          " seq gaps: a member's seq jumping by more than 1 (Shield+Brain only); latency: send → delivery over all deliveries;"
          " drain: from the last send to the last delivery; CPU s: what each process used during the run"
          f" (client: the arq bench process, one thread; the machine has {os.cpu_count()} cores), and in"
          " brackets their sum as a share of the machine over the run (start, send, drain);"
          " pacing late: the client's own loop fell behind the schedule, so the achieved rate is the client's limit.")

# brain_log_warnings([(LOG, WHAT), ...]): the warnings and errors of each Brain log in $OUT,
# counted by message.
def brain_log_warnings(logs):
    for log, what in logs:
        warn = {}
        try:
            for line in open(os.path.join(out, log)):
                if "level=warn" in line or "level=error" in line:
                    msg = line.split("msg=", 1)[-1].strip()
                    warn[msg] = warn.get(msg, 0) + 1
        except OSError:
            continue
        print(f"Warnings and errors of {what} (`{log}`): " + ("none." if not warn else "count × message\n"))
        for msg, n in sorted(warn.items(), key=lambda kv: -kv[1]):
            print(f"- {n} × `{msg[:240]}`")
        print()
EOF

# report_header TITLE: the report's title and what it ran on.
report_header() {
  echo "## $1, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'),"\
       "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) memory, Linux $(uname -r)"
  echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- $(nats-server --version), $(redis-server --version | cut -d' ' -f1-3)," \
       "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet HEAD -- src && echo ' (the work tree has uncommitted changes in src/)')"
  echo "- $ROOMS rooms × ($MEMBERS members + 1 publisher, also a member): each message is delivered to $((MEMBERS + 1)) connections;" \
       "payload $SIZE B + 48 B header; one Brain, 8 partitions; Shield workers: one per core"
  echo "- ${T} s per steady run; drain at most ${DRAIN_MS} ms (ends early once every delivery arrived)"
}

SH=(--url "$SHIELD_URL" --secret "$SECRET" --tenant bench --no-metrics)
NW=(--url "$NATS_WS_URL" --target nats-ws)

log "output in $OUT"
nats-server -c "$OUT/nats.conf" >> "$OUT/nats.log" 2>&1 &
NATS_PID=$!
wait_port "$NATS_PORT" nats
wait_port "$NATS_WS_PORT" nats
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT" \
  >> "$OUT/redis.log" 2>&1 &
REDIS_PID=$!
wait_port "$REDIS_PORT" redis
start_brain brain.log "${BRAIN_BINS[0]:-}"
wait_ready "http://127.0.0.1:$BRAIN_PORT/readyz" brain
"$BIN/arqon-shield" --config "$OUT/shield.toml" >> "$OUT/shield.log" 2>&1 &
SHIELD_PID=$!
wait_port "$SHIELD_PORT" shield
wait_ready "http://127.0.0.1:$SHIELD_PORT/readyz" shield
sleep 0.5

# A short unreported run first, so that the first measured one does not pay for the first
# subscriptions, consumers and Redis scripts.
run warmup "${SH[@]}" --room warmup --members "$MEMBERS" --rate 1000 --duration 2 --drain-ms "$DRAIN_MS"

# ---- A/B of Brain builds (BRAINS): instead of scenarios 1 to 3 ----
if ((${#BRAIN_BINS[@]})); then
  for round in $(seq 1 "$ROUNDS"); do
    for rate in $RATES; do
      for i in "${!BRAIN_BINS[@]}"; do
        n=$((i + 1))
        log "== round $round, $rate msg/s: brain $n (${BRAIN_BINS[$i]})"
        stop_brain
        start_brain "brain-b$n.log" "${BRAIN_BINS[$i]}"
        wait_ready "http://127.0.0.1:$BRAIN_PORT/readyz" "brain-b$n"
        brain_idle
        run "ab-r${round}-b${n}-${rate}" "${SH[@]}" --room "ab${round}b${n}s${rate}" --members "$MEMBERS" --rate "$rate" --duration "$T" --drain-ms "$DRAIN_MS"
      done
      run "ab-r${round}-natsws-${rate}" "${NW[@]}" --room "ab${round}s${rate}" --members "$MEMBERS" --rate "$rate" --duration "$T" --drain-ms "$DRAIN_MS"
    done
  done

  report_header "Room path benchmark, A/B of Brain builds"
  echo "- $ROUNDS round(s); in each, per rate, every Brain started afresh on the same nats-server, Redis and Shield, then nats-ws"
  for i in "${!BRAIN_BINS[@]}"; do
    echo "- brain $((i + 1)): \`${BRAIN_BINS[$i]}\`, sha256 $(sha256sum "${BRAIN_BINS[$i]}" | cut -c1-12)"
  done
  echo
  python3 - "$OUT" "$RATES" "$ROUNDS" "${BRAIN_BINS[@]}" <<'EOF'
import statistics, sys; sys.dont_write_bytecode = True; sys.path.insert(0, sys.argv[1])
from report import *
rates, rounds, brains = sys.argv[2].split(), int(sys.argv[3]), sys.argv[4:]
targets = [(f"brain {i} (`{b}`)", f"b{i}") for i, b in enumerate(brains, 1)] + [("nats-ws", "natsws")]

print("### Steady load: each Brain build (Shield → NATS → Brain → NATS → Shield) and nats-ws, alternating\n")
print("| offered msg/s | round | target | delivered / expected | lost | dup | out of order | seq gaps | p50 | p99 | CPU s shield/nats/brain/redis/client | status |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
p50 = {}
for rate in rates:
    for rnd in range(1, rounds + 1):
        for tgt, key in targets:
            name = f"ab-r{rnd}-{key}-{rate}"
            r = load(name)
            if not r:
                print(f"| {rate} | {rnd} | {tgt} | | | | | | | | | no result |"); continue
            m, h = r["rooms"], r["rt_latency_us"]
            if h and h.get("count"):
                p50.setdefault((rate, key), []).append(h["p50"])
            print(f"| {rate} | {rnd} | {tgt} | {r['delivered']} / {r['delivered_expected']} | {m['lost']} | {m['duplicates']} | "
                  f"{m['out_of_order']} | {seqgaps(r)} | {lat(h,'p50')} | {lat(h,'p99')} | {cpu(name)} | {status(r)} |")

med = lambda rate, key: statistics.median(p50[(rate, key)]) if p50.get((rate, key)) else None
ratio = lambda a, b: f"{a / b:.2f}×" if a is not None and b else "–"
print(f"\n### Median p50 over {rounds} round(s)\n")
print("| offered msg/s | " + " | ".join(f"brain {i}" for i in range(1, len(brains) + 1)) + " | nats-ws | "
      + " | ".join(f"brain {i} / nats-ws" for i in range(1, len(brains) + 1))
      + "".join(f" | brain {i} / brain 1" for i in range(2, len(brains) + 1)) + " |")
print("|---" * (2 * len(brains) + 2 + max(len(brains) - 1, 0)) + "|")
for rate in rates:
    b = [med(rate, f"b{i}") for i in range(1, len(brains) + 1)]
    nw = med(rate, "natsws")
    print(f"| {rate} | " + " | ".join(us(x) for x in b) + f" | {us(nw)} | " + " | ".join(ratio(x, nw) for x in b)
          + "".join(f" | {ratio(x, b[0])}" for x in b[1:]) + " |")
print(LEGEND)
print("\n### The Brains' logs\n")
brain_log_warnings([("brain.log", "brain 1 during the warm-up")]
                   + [(f"brain-b{i}.log", f"brain {i} (`{b}`)") for i, b in enumerate(brains, 1)])
EOF
  echo
  echo "Raw results and logs: $OUT (commands in $OUT/commands.txt)"
  exit 0
fi

# ---- 1. steady rates, alternating the targets so that a load spike hits both ----
for rate in $RATES; do
  brain_idle
  run "steady-shield-$rate" "${SH[@]}" --room "s$rate" --members "$MEMBERS" --rate "$rate" --duration "$T" --drain-ms "$DRAIN_MS"
  run "steady-natsws-$rate" "${NW[@]}" --room "s$rate" --members "$MEMBERS" --rate "$rate" --duration "$T" --drain-ms "$DRAIN_MS"
done

# ---- 2. burst ----
if [[ -z ${BURST_RATE:-} ]]; then
  BURST_RATE=$(python3 - "$OUT" "$BURST_ALL_OK" $RATES <<'EOF'
import json, os, sys
out, all_ok, rates = sys.argv[1], float(sys.argv[2]), [float(r) for r in sys.argv[3:]]
def full(rate):
    try:
        r = json.load(open(os.path.join(out, f"steady-shield-{rate:g}.json")))
    except (OSError, ValueError):
        return False
    m = r["rooms"]
    return (r["ready"] == r["connections"] and not r["closed_during_run"] and not r["errors"]
            and r["sent"] >= 0.95 * m["offered"] and r["delivered"] >= r["delivered_expected"]
            and not (m["lost"] or m["duplicates"] or m["out_of_order"] or m["seq_gaps"]
                     or m["seq_repeats"] or m["seq_mismatches"] or m["seq_missing"]))
ok = [r for r in rates if full(r)]
print(f"{all_ok:.0f}" if len(ok) == len(rates) else f"{3 * max(ok or [min(rates)]):.0f}")
EOF
)
fi
log "burst rate: $BURST_RATE msg/s"
brain_idle
run burst-shield "${SH[@]}" --room burst --members "$MEMBERS" --rate "$BURST_BASE" --duration "$BURST_T" \
  --burst-rate "$BURST_RATE" --burst-s "$BURST_S" --drain-ms "$DRAIN_MS"
run burst-natsws "${NW[@]}" --room burst --members "$MEMBERS" --rate "$BURST_BASE" --duration "$BURST_T" \
  --burst-rate "$BURST_RATE" --burst-s "$BURST_S" --drain-ms "$DRAIN_MS"

# ---- 3. backlog: the Brain down while the Shield takes BACKLOG_N messages ----
brain_idle
ingress_msgs() {
  curl -s --max-time 2 "http://127.0.0.1:$NATS_MON_PORT/jsz?streams=true" | python3 -c '
import json, sys
try:
    j = json.load(sys.stdin)
    for a in j.get("account_details", []):
        for s in a.get("stream_detail", []):
            if s["name"] == "ARQON_INGRESS":
                print(s["state"]["last_seq"]); sys.exit()
except ValueError:
    pass
print("")' || true
}
ingress_before=$(ingress_msgs)
log "== backlog: stopping the Brain (SIGTERM)"
stop_brain
# Publishers only (--members 0): nothing is delivered while the Brain is down, so the drain
# waits for the acks only (--acks-only). Messages a run could not get acknowledged (the
# Shield reads more slowly than offered, and closing a connection drops what it had not
# read) are made up by further runs, at most BACKLOG_RUNS (5).
acked=0 backlog_runs=0
while ((acked < BACKLOG_N && backlog_runs < ${BACKLOG_RUNS:-5})); do
  backlog_runs=$((backlog_runs + 1))
  read -r b_rate b_s < <(python3 -c "left, rate = $BACKLOG_N - $acked, $BACKLOG_RATE
print(f'{rate:.0f} {left / rate:.3f}' if left / rate >= 0.1 else f'{left * 10:.0f} 0.1')")
  run "backlog-publish-$backlog_runs" "${SH[@]}" --room backlog --members 0 --rate "$b_rate" --duration "$b_s" \
    --acks-only --drain-ms 300000
  a=$(python3 -c "import json; print(json.load(open('$OUT/backlog-publish-$backlog_runs.json'))['acked'])" 2>/dev/null || echo 0)
  acked=$((acked + a))
done
ingress_after=$(ingress_msgs)
log "== backlog: $acked acked in $backlog_runs run(s); starting the Brain"
t_start=$(now)
start_brain brain-restarted.log
t_ready= t_done= seq_now= lag_now=
deadline=$(($(date +%s) + BACKLOG_TIMEOUT_S))
last_note=0
while :; do
  if [[ -z $t_ready && $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$BRAIN_PORT/readyz") == 200 ]]; then
    t_ready=$(now)
  fi
  seq_now=$(metric brain_messages_sequenced_total)
  lag_now=$(metric brain_ingress_lag_messages)
  if [[ -n $seq_now && -n $lag_now ]] && awk -v s="$seq_now" -v l="$lag_now" -v n="$acked" 'BEGIN { exit !(s + 0 >= n + 0 && l + 0 == 0) }'; then
    t_done=$(now)
    break
  fi
  if (($(date +%s) >= deadline)); then
    log "   gave up after ${BACKLOG_TIMEOUT_S}s: sequenced ${seq_now:-?}, lag ${lag_now:-?}"
    break
  fi
  if (($(date +%s) - last_note >= 5)); then
    log "   sequenced ${seq_now:-?} of $acked, lag ${lag_now:-?}"
    last_note=$(date +%s)
  fi
  sleep 0.1
done
python3 - "$OUT/backlog.json" <<EOF
import json, sys
t0, ready, done = $t_start, "$t_ready", "$t_done"
num = lambda v: float(v) if v not in ("", None) else None
r = {"n_target": $BACKLOG_N, "rate": $BACKLOG_RATE, "acked": $acked, "publish_runs": $backlog_runs,
     "ingress_seq_before": num("$ingress_before"), "ingress_seq_after": num("$ingress_after"),
     "ready_s": round(float(ready) - t0, 3) if ready else None,
     "catchup_s": round(float(done) - t0, 3) if done else None,
     "sequenced": num("$seq_now"), "lag": num("$lag_now"),
     "timeout_s": $BACKLOG_TIMEOUT_S}
if r["catchup_s"]:
    r["catchup_rate"] = round($acked / r["catchup_s"], 1)
    if r["ready_s"] is not None and r["catchup_s"] > r["ready_s"]:
        r["catchup_rate_from_ready"] = round($acked / (r["catchup_s"] - r["ready_s"]), 1)
json.dump(r, open(sys.argv[1], "w"))
EOF
brain_idle
run backlog-live "${SH[@]}" --room live --members "$MEMBERS" --rate "$LIVE_RATE" --duration "$T" --drain-ms "$DRAIN_MS"

# ---- the report ----
report_header "Room path benchmark"
echo
python3 - "$OUT" "$RATES" <<'EOF'
import sys; sys.dont_write_bytecode = True; sys.path.insert(0, sys.argv[1])
from report import *
rates = sys.argv[2].split()

print("### 1. Steady load: ordered rooms (Shield → NATS → Brain → NATS → Shield) vs nats-ws (client → NATS → client)\n")
print("| target | offered msg/s | achieved msg/s | deliveries/s | delivered / expected | lost | dup | out of order | seq gaps | p50 | p99 | max | drain s | CPU s shield/nats/brain/redis/client | status |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for rate in rates:
    for tgt, name in [("shield+brain", f"steady-shield-{rate}"), ("nats-ws", f"steady-natsws-{rate}")]:
        r = load(name)
        if not r:
            print(f"| {tgt} | {rate} | | | | | | | | | | | | | no result |"); continue
        m, h = r["rooms"], r["rt_latency_us"]
        print(f"| {tgt} | {m['offered_rate']:.0f} | {r['send_rate']:.0f} | {r['delivery_rate']:.0f} | "
              f"{r['delivered']} / {r['delivered_expected']} | {m['lost']} | {m['duplicates']} | {m['out_of_order']} | "
              f"{seqgaps(r)} | {lat(h,'p50')} | {lat(h,'p99')} | {lat(h,'max')} | {m['drain_s']:.2f} | {cpu(name)} | {status(r)} |")
print("\n| rate msg/s | p50 Shield+Brain / nats-ws | p99 Shield+Brain / nats-ws |")
print("|---|---|---|")
for rate in rates:
    a, b = load(f"steady-shield-{rate}"), load(f"steady-natsws-{rate}")
    if a and b and a["rt_latency_us"]["count"] and b["rt_latency_us"]["count"]:
        ha, hb = a["rt_latency_us"], b["rt_latency_us"]
        print(f"| {rate} | {ha['p50']/hb['p50']:.1f}× | {ha['p99']/hb['p99']:.1f}× |")
    else:
        print(f"| {rate} | – | – |")

print("\n### 2. Burst\n")
print("| target | base msg/s | burst msg/s × s | offered msg/s (whole run) | achieved msg/s | delivered / expected | lost | dup | out of order | seq gaps | 429 | 503 | other errors | p99 all | p99 in burst | p99 after burst | last burst delivery after the burst s | drain s | status |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for tgt, name in [("shield+brain", "burst-shield"), ("nats-ws", "burst-natsws")]:
    r = load(name)
    if not r:
        print(f"| {tgt} | | | | | | | | | | | | | | | | | | no result |"); continue
    m, ec = r["rooms"], dict(r.get("error_codes", {}))
    c429, c503 = ec.pop("429", 0), ec.pop("503", 0)
    other = ", ".join(f"{k}: {v}" for k, v in ec.items()) or "0"
    print(f"| {tgt} | {r['rate_target']:.0f} | {m['burst_rate']:.0f} × {m['burst_s']:g} | {m['offered_rate']:.0f} | {r['send_rate']:.0f} | "
          f"{r['delivered']} / {r['delivered_expected']} | {m['lost']} | {m['duplicates']} | {m['out_of_order']} | {seqgaps(r)} | "
          f"{c429} | {c503} | {other} | {lat(r['rt_latency_us'],'p99')} | {lat(m.get('burst'),'p99')} | "
          f"{lat(m.get('after_burst'),'p99')} | {m.get('burst_drain_s', 0):.2f} | {m['drain_s']:.2f} | {status(r)} |")

print("\n### 3. Backlog: the Brain stopped, messages published through the Shield, the Brain started again\n")
b, live = load("backlog"), load("backlog-live")
for i in range(1, (b or {}).get("publish_runs", 0) + 1):
    p = load(f"backlog-publish-{i}")
    if not p:
        print(f"- publishing run {i}: no result"); continue
    print(f"- publishing run {i}: {p['sent']} sent at {p['send_rate']:.0f} msg/s (offered {p['rate_target']:.0f}), "
          f"{p['acked']} acked at {p['ack_rate']:.0f} msg/s (the rate the Shield took them), refused {codes(p)}, "
          f"{p['lost_acks']} unanswered")
if b:
    sb, sa = b.get("ingress_seq_before"), b.get("ingress_seq_after")
    if sb is not None and sa is not None:
        print(f"- ARQON_INGRESS's last sequence grew by {sa - sb:.0f} while the Brain was down "
              f"({b['acked']} acked room messages; anything more is other traffic the stream keeps, such as join/leave notices)")
    print(f"- Brain restart: ready (/readyz) after {b['ready_s'] if b['ready_s'] is not None else '–'} s")
    if b.get("catchup_s"):
        print(f"- caught up (brain_messages_sequenced_total of the new process ≥ {b['acked']} and brain_ingress_lag_messages = 0) "
              f"{b['catchup_s']:.2f} s after the start: **{b['catchup_rate']:.0f} msg/s** from the start"
              + (f", {b['catchup_rate_from_ready']:.0f} msg/s from ready" if b.get("catchup_rate_from_ready") else ""))
    else:
        print(f"- **not caught up** within {b['timeout_s']} s: sequenced {b['sequenced']}, lag {b['lag']}")
if live:
    m, h = live["rooms"], live["rt_latency_us"]
    print(f"- live traffic afterwards ({m['offered_rate']:.0f} msg/s, {live['run_s']:.0f} s): delivered "
          f"{live['delivered']} / {live['delivered_expected']}, lost {m['lost']}, dup {m['duplicates']}, "
          f"out of order {m['out_of_order']}, seq gaps {m['seq_gaps']}, p50 {lat(h,'p50')}, p99 {lat(h,'p99')}, "
          f"max {lat(h,'max')}, drain {m['drain_s']:.2f} s — {status(live)}")
print(LEGEND)
print("\n### The Brain's log\n")
brain_log_warnings([("brain.log", "the first Brain (scenarios 1 and 2, stopped with SIGTERM for scenario 3)"),
                    ("brain-restarted.log", "the Brain started again in scenario 3")])
EOF
echo
echo "Raw results and logs: $OUT (commands in $OUT/commands.txt)"
