#!/usr/bin/env bash
# run.sh — the engine benchmark: the same C programs compiled natively (gcc -O2) and to
# wasm32 (clang -O2), run by the native binary, our engine (`arq wasm run`, Release
# build), wabt's wasm-interp and node (V8), side by side and interleaved, with every
# runner's checksum checked against the native one. Prints Markdown tables.
#
#   bench/wasm/run.sh            (REPS=9 repetitions; BUILD=build-wbench)
#   REPS=3 PERF=0 bench/wasm/run.sh
#
# Whole-process wall time is the only measure every runner shares (wasm-interp cannot be
# timed from inside), so each table also has a `nop` row: the fixed cost of a runner
# (process start, load, instantiation). Ratios use execution time alone: net of that row
# for ours and wasm-interp, timed in-process around the call for native and node.
# With PERF=1 (default when `perf stat` works) one more pass counts user-space
# instructions per run, a figure that does not depend on the machine's load.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SRC=$ROOT/bench/wasm
BUILD=${BUILD:-$ROOT/build-wbench}
OUT=$BUILD/bench-wasm-run
REPS=${REPS:-9}
LAT_ITERS=${LAT_ITERS:-200000}
WORKLOADS=(nop fib intmix sha256)
RUNNERS=(native ours wasm-interp node)
if [[ -z ${PERF:-} ]]; then
  PERF=0
  # Some virtual machines have no counters: perf then prints "<not supported>", not a number.
  perf stat -x, -e instructions:u true 2>&1 >/dev/null | grep -q '^[0-9]' && PERF=1
fi

for tool in gcc clang wasm-interp node cmake; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 2; }
done

# ---- build ----------------------------------------------------------------------------
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j2 --target arq wasm_latency_bench >/dev/null
ARQ=$BUILD/bin/arq
mkdir -p "$OUT"
for w in "${WORKLOADS[@]}"; do
  clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -Wall -Wextra -Werror \
    -o "$OUT/$w.wasm" "$SRC/$w.c"
  gcc -O2 -Wall -Wextra -Werror -o "$OUT/$w.native" "$SRC/$w.c"
done

cmd_for() { # runner workload -> the command, in the array CMD
  case $1 in
  native) CMD=("$OUT/$2.native") ;;
  ours) CMD=("$ARQ" wasm run "$OUT/$2.wasm" --call bench) ;;
  wasm-interp) CMD=(wasm-interp "$OUT/$2.wasm" --run-all-exports) ;;
  node) CMD=(node "$SRC/node_run.mjs" "$OUT/$2.wasm" bench) ;;
  esac
}

# The checksum a runner printed, as an unsigned 32-bit number.
checksum() { # runner output
  local v
  if [[ $1 == wasm-interp ]]; then
    v=$(sed -n 's/^bench() => i32:\(-\{0,1\}[0-9]*\)$/\1/p' <<<"$2")
  else
    v=$(sed -n '1s/^i32:\(-\{0,1\}[0-9]*\)$/\1/p' <<<"$2")
  fi
  [[ -n $v ]] || { echo "?"; return; }
  echo $((v & 0xffffffff))
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A EXPECT
rm -rf "$OUT/times" && mkdir -p "$OUT/times"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; $(uname -sr)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "gcc $(gcc -dumpfullversion); $(clang --version | head -1); wasm-interp $(wasm-interp --version); node $(node --version)"
echo "repetitions: $REPS (runners interleaved, order rotated every repetition)"
echo

# ---- timed runs -------------------------------------------------------------------------
for ((rep = 0; rep < REPS; rep++)); do
  for w in "${WORKLOADS[@]}"; do
    for ((k = 0; k < ${#RUNNERS[@]}; k++)); do
      r=${RUNNERS[(k + rep) % ${#RUNNERS[@]}]}
      cmd_for "$r" "$w"
      t0=$EPOCHREALTIME
      out=$("${CMD[@]}" 2>"$OUT/stderr") || { echo "run.sh: $r $w failed: $(cat "$OUT/stderr")" >&2; exit 1; }
      t1=$EPOCHREALTIME
      sum=$(checksum "$r" "$out")
      if [[ $r == native ]]; then
        EXPECT[$w]=${EXPECT[$w]:-$sum}
      fi
      if [[ -n ${EXPECT[$w]:-} && $sum != "${EXPECT[$w]}" ]]; then
        echo "run.sh: $w: $r printed checksum $sum, native printed ${EXPECT[$w]}" >&2
        exit 1
      fi
      echo "$sum" >>"$OUT/times/$w.$r.sum"
      # Microseconds, from bash's own clock: no extra process per sample.
      echo $(( (${t1/./} - ${t0/./}) )) >>"$OUT/times/$w.$r"
      sed -n 's/^in-process ns: //p' "$OUT/stderr" >>"$OUT/times/$w.$r.inproc"
    done
  done
done
# Runs before the first native one of a workload were checked afterwards, here.
for w in "${WORKLOADS[@]}"; do
  for r in "${RUNNERS[@]}"; do
    if sort -u "$OUT/times/$w.$r.sum" | grep -qvx "${EXPECT[$w]}"; then
      echo "run.sh: $w: $r disagrees with native checksum ${EXPECT[$w]}" >&2
      exit 1
    fi
  done
done

declare -A MED NET
for w in "${WORKLOADS[@]}"; do
  for r in "${RUNNERS[@]}"; do
    MED[$w.$r]=$(median <"$OUT/times/$w.$r")
  done
done
for w in "${WORKLOADS[@]}"; do
  for r in "${RUNNERS[@]}"; do
    NET[$w.$r]=$(awk -v a="${MED[$w.$r]}" -v b="${MED[nop.$r]}" 'BEGIN {d = a - b; print (d > 1 ? d : 1)}')
  done
done
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a / b}'; }

echo "Wall time per run, median of $REPS, milliseconds (checksums agree in every run):"
echo
echo "| workload | checksum | native | ours | wasm-interp | node (V8) |"
echo "|---|---:|---:|---:|---:|---:|"
for w in "${WORKLOADS[@]}"; do
  echo "| $w | ${EXPECT[$w]} | $(ms "${MED[$w.native]}") | $(ms "${MED[$w.ours]}") | $(ms "${MED[$w.wasm-interp]}") | $(ms "${MED[$w.node]}") |"
done
echo
echo "Execution time alone: ours and wasm-interp net of their nop row; native and V8 timed"
echo "in-process around the call (V8's includes its tier-up compilation). Medians, ms:"
echo
echo "| workload | native | ours | wasm-interp | V8 | wasm-interp / ours | ours / native | ours / V8 |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for w in "${WORKLOADS[@]}"; do
  [[ $w == nop ]] && continue
  nat=$(awk '{print $1 / 1000}' "$OUT/times/$w.native.inproc" | median)
  v8=$(awk '{print $1 / 1000}' "$OUT/times/$w.node.inproc" | median)
  echo "| $w | $(ms "$nat") | $(ms "${NET[$w.ours]}") | $(ms "${NET[$w.wasm-interp]}") | $(ms "$v8") | $(ratio "${NET[$w.wasm-interp]}" "${NET[$w.ours]}") | $(ratio "${NET[$w.ours]}" "$nat") | $(ratio "${NET[$w.ours]}" "$v8") |"
done
echo

# ---- instruction counts (load-independent) --------------------------------------------------
if [[ $PERF == 1 ]]; then
  declare -A INS
  for w in "${WORKLOADS[@]}"; do
    for r in "${RUNNERS[@]}"; do
      cmd_for "$r" "$w"
      INS[$w.$r]=$(perf stat -x, -e instructions:u -- "${CMD[@]}" 2>&1 >/dev/null |
        awk -F, '/instructions/ {print $1}')
    done
  done
  echo "User-space instructions per run, millions (perf stat; one run each). The WebAssembly"
  echo "instructions executed come from our engine's fuel counter (one unit per instruction):"
  echo
  echo "| workload | native | ours | wasm-interp | node (V8) | wasm-interp / ours | ours / native | Wasm instrs | ours per Wasm instr |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for w in "${WORKLOADS[@]}"; do
    n=() && for r in "${RUNNERS[@]}"; do n+=("$(awk -v x="${INS[$w.$r]}" 'BEGIN {printf "%.1f", x / 1e6}')"); done
    left=$("$ARQ" wasm run "$OUT/$w.wasm" --fuel 1000000000000000 --call bench --fuel-left | sed -n 's/^fuel://p')
    wi=$((1000000000000000 - left))
    if [[ $w == nop ]]; then
      echo "| $w | ${n[0]} | ${n[1]} | ${n[2]} | ${n[3]} | | | $wi | |"
    else
      d() { awk -v a="${INS[$w.$1]}" -v b="${INS[nop.$1]}" 'BEGIN {print a - b}'; }
      echo "| $w | ${n[0]} | ${n[1]} | ${n[2]} | ${n[3]} | $(ratio "$(d wasm-interp)" "$(d ours)") | $(ratio "$(d ours)" "$(d native)") | $(awk -v x="$wi" 'BEGIN {printf "%.1fM", x / 1e6}') | $(ratio "$(d ours)" "$wi") |"
    fi
  done
  echo
  echo "(ratios on counts net of the nop row)"
  echo
fi

# ---- small-module latency -------------------------------------------------------------------
echo "Small-module latency (wasm_latency_bench $LAT_ITERS):"
echo
"$BUILD/bin/wasm_latency_bench" "$LAT_ITERS"
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
