#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for a bounded time; fails if any
# finds a crash, a sanitizer report, a leak, a slow input (-timeout) or one
# that needs too much memory (-rss_limit_mb).
#   scripts/fuzz.sh [SECONDS per target, default 60] [TARGET ...]   (e.g. kiln_model image)
# Builds the targets first (the clang ASan + UBSan build of scripts/sanitize.sh,
# in $FUZZ_BUILD_DIR, default build-asan; configured there if new). Inputs:
#   <build>/fuzz-corpus/<target>/   seeds from scripts/fuzz_corpus.py
#   tests/fuzz/regressions/<target>/ inputs that once failed: replayed first, every run
#   <build>/fuzz-work/<target>/     what the fuzzer adds; kept, so longer runs build on shorter ones
# A failure leaves its input in <build>/fuzz-artifacts/<target>/; reproduce with
#   <build>/fuzz/fuzz_<target> <that file>
# FUZZ_JOBS (default: the number of cores) targets run at a time; the summary
# (also in <build>/fuzz-summary.txt) gives each one's execution count.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift $(($# > 0 ? 1 : 0))
build=${FUZZ_BUILD_DIR:-build-asan}

# Brought up to date first (quick when it is): fuzzing stale binaries would
# report bugs already fixed.
if [ -f "$build/build.ninja" ]; then
  cmake --build "$build" -j"$(nproc)" >/dev/null || { echo "fuzz.sh: building $build failed" >&2; exit 1; }
else
  ASAN_BUILD_DIR="$build" scripts/sanitize.sh build-asan || exit 1
fi
targets=("$@")
if [ ${#targets[@]} = 0 ]; then
  for bin in "$build"/fuzz/fuzz_*; do targets+=("${bin##*/fuzz_}"); done
fi

# The seeds depend on the generator and on the converter that writes the
# .kiln ones; made again when either changes.
corpus=$build/fuzz-corpus
if [ ! -f "$corpus/.done" ] || [ scripts/fuzz_corpus.py -nt "$corpus/.done" ] || [ "$build/kiln" -nt "$corpus/.done" ]; then
  /usr/bin/python3 scripts/fuzz_corpus.py "$corpus" --kiln "$build/kiln" || exit 1
  touch "$corpus/.done"
fi

# Leaks are findings; UBSan stops at its first report (the build also makes it fatal).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One fuzzer per core at a time: each is single-threaded, so on 2 cores two
# targets run side by side in the time of one, at the same speed each.
jobs=${FUZZ_JOBS:-$(nproc)}
# Replays the saved regressions of target $1 one by one (a file that fails
# names the bug), then fuzzes from the seeds, the work corpus and the passing
# regressions. A failing regression does not stop the fuzzing, so a known bug
# not fixed yet does not hide new ones.
run_one() {
  local t=$1 bin=$build/fuzz/fuzz_$1 logs=$build/fuzz-logs work=$build/fuzz-work/$1
  local artifacts=$build/fuzz-artifacts/$1 regress=tests/fuzz/regressions/$1 bad=() f
  local dirs=("$work" "$corpus/$t")
  mkdir -p "$work" "$artifacts"
  : >"$logs/$t.regressions.log"
  if [ -d "$regress" ]; then
    for f in "$regress"/*; do
      [ -f "$f" ] || continue
      "$bin" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$artifacts/replay-" "$f" \
        >>"$logs/$t.regressions.log" 2>&1 || bad+=("${f##*/}")
    done
    [ ${#bad[@]} = 0 ] && dirs+=("$regress")
  fi
  echo "${bad[*]}" >"$logs/$t.bad"
  "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dirs[@]}" >"$logs/$t.log" 2>&1
  echo $? >"$logs/$t.rc"
}

mkdir -p "$build/fuzz-logs"
for t in "${targets[@]}"; do
  if [ ! -x "$build/fuzz/fuzz_$t" ]; then
    echo "fuzz.sh: no target $t (built: $(ls "$build"/fuzz | sed 's/^fuzz_//' | tr '\n' ' '))" >&2
    exit 2
  fi
done
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  echo "==== fuzz: $t for ${seconds}s"
  rm -f "$build/fuzz-logs/$t.rc"
  run_one "$t" &
done
wait

# The sanitizer's or libFuzzer's report in log $1 (of its first failing input).
report() {
  grep -n -m1 -E '^==[0-9]+==|ERROR: libFuzzer|fuzz invariant failed|runtime error|terminate called' "$1" |
    cut -d: -f1 | { read -r first && tail -n +"$first" "$1" | head -40; }
}

summary=$build/fuzz-summary.txt
: >"$summary"
failed=0
for t in "${targets[@]}"; do
  log=$build/fuzz-logs/$t.log
  rc=$(cat "$build/fuzz-logs/$t.rc" 2>/dev/null || echo "?")
  bad=$(cat "$build/fuzz-logs/$t.bad" 2>/dev/null)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  status=""
  if [ -n "$bad" ]; then
    status="FAILED regressions: $bad; "
    failed=1
    echo "==== fuzz: $t: saved regressions fail: $bad (tests/fuzz/regressions/$t/)"
    report "$build/fuzz-logs/$t.regressions.log"
  fi
  if [ "$rc" != 0 ]; then
    status+="FAILED (exit $rc)"
    failed=1
    echo "==== fuzz: $t failed"
    report "$log"
    echo "fuzz: $t: full log $log; failing input in $build/fuzz-artifacts/$t/"
  fi
  printf 'fuzz %-14s %10s execs in %ss  %s\n' "$t" "${execs:-?}" "$seconds" "${status:-ok}" | tee -a "$summary"
done
exit $failed
