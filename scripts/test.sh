#!/usr/bin/env bash
# make test: builds twice (Release, and ASan+UBSan in build-asan/), runs every ctest case
# in both, then the libFuzzer targets for a bounded time when clang is present.
# Exits non-zero if any build or test fails; runs all stages so one report shows everything.
set -uo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
failed=()

stage() { echo; echo "==== $*"; }

run_build() { # dir, cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; return 1; }
  cmake --build "$dir" -j"$JOBS"
}

mkdir -p build build-asan
stage "Release build (build/)"
if run_build build -DCMAKE_BUILD_TYPE=Release -DARQ_TESTS=ON; then
  stage "tests (build/)"
  ctest --test-dir build --output-on-failure -j"$JOBS" || failed+=("tests in build/")
else
  failed+=("Release build")
fi

stage "ASan+UBSan build (build-asan/)"
if run_build build-asan -DCMAKE_BUILD_TYPE=Debug -DARQ_SANITIZE=ON -DARQ_TESTS=ON; then
  stage "tests (build-asan/)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$JOBS" || failed+=("tests in build-asan/")
else
  failed+=("ASan build")
fi

if command -v clang >/dev/null 2>&1; then
  mkdir -p build-fuzz
  stage "libFuzzer build (build-fuzz/)"
  if CC=clang run_build build-fuzz -DCMAKE_BUILD_TYPE=Debug -DARQ_FUZZ=ON \
       -DARQ_FUZZ_SECONDS="${ARQ_FUZZ_SECONDS:-20}"; then
    stage "fuzz targets (build-fuzz/)"
    ctest --test-dir build-fuzz --output-on-failure -j"$JOBS" || failed+=("fuzz targets")
  else
    failed+=("fuzz build")
  fi
else
  echo "clang not found: fuzz targets skipped"
fi

echo
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "make test: FAILED: ${failed[*]}"
  exit 1
fi
echo "make test: all builds and tests passed"
