#!/usr/bin/env bash
# The sanitizer part of CI (scripts/test.sh runs it after the normal build and tests):
#   asan   clang-14 build with AddressSanitizer + UBSan (fatal) and coverage for
#          the fuzzers, then the ctest labels unit, cli, converter, conformance, e2e, cpu
#   tsan   clang-14 build with ThreadSanitizer of the unit suite, then the ctest
#          label concurrency (none yet is not a failure; any TSan report is)
#   fuzz   scripts/fuzz.sh on the asan build's fuzz targets, FUZZ_SECONDS each (60)
#   build-asan   only configures and builds the asan build (scripts/fuzz.sh uses it)
# Usage: scripts/sanitize.sh [asan] [tsan] [fuzz]    (no argument: all three)
# Environment: ASAN_BUILD_DIR (build-asan), TSAN_BUILD_DIR (build-tsan),
#              KILN_SHARED_DIR, FUZZ_SECONDS.
# Every part runs even if an earlier one failed, so that one CI run reports all
# findings; the exit status is non-zero if any part failed.
set -uo pipefail
cd "$(dirname "$0")/.."

asan_dir=${ASAN_BUILD_DIR:-build-asan}
tsan_dir=${TSAN_BUILD_DIR:-build-tsan}
jobs=$(nproc)

# What both sanitizer builds share. Clang for both: the fuzz targets then
# share the ASan build (libFuzzer is clang's), and clang-14 compiled Kiln's
# sources with ASan + UBSan about a third faster than GCC 12 here. -O2 with
# line tables: reports name file:line without the cost of full debug info
# (and without NDEBUG, so asserts stay on). Only what the tests need:
# no Python module, no GPU backends (their suites are not run here), no
# Google Benchmark programs; lld links the many test programs faster.
common=(-G Ninja -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_CXX_COMPILER=clang++-14 "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -gline-tables-only"
  -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld
  -DCMAKE_MODULE_LINKER_FLAGS=-fuse-ld=lld
  -DKILN_BUILD_PYTHON=OFF -DKILN_BACKEND_VULKAN=OFF -DKILN_BACKEND_CUDA=OFF
  -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON
  ${KILN_SHARED_DIR:+-DKILN_SHARED_DIR="$KILN_SHARED_DIR"})

# Sanitizer reports fail the program; leaks too (LeakSanitizer, part of ASan).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

build_asan() {
  cmake -S . -B "$asan_dir" "${common[@]}" -DKILN_SANITIZE=address -DKILN_FUZZ=ON \
    "-DKILN_TEST_SUITES=unit;vision;converter;conformance;e2e;cpu;cli" >/dev/null &&
    cmake --build "$asan_dir" -j"$jobs"
}

# Less RealModels.ReferenceBackendTimes: it only times the reference backend on
# seven models that the other e2e tests run too, and under ASan that takes minutes.
test_asan() {
  ctest --test-dir "$asan_dir" --output-on-failure -j"$jobs" -L '^(unit|cli|converter|conformance|e2e|cpu)$' \
    -E '^RealModels\.ReferenceBackendTimes$'
}

tsan() {
  cmake -S . -B "$tsan_dir" "${common[@]}" -DKILN_SANITIZE=thread -DKILN_TEST_SUITES=unit >/dev/null &&
    cmake --build "$tsan_dir" -j"$jobs" --target kiln_concurrency_tests || return
  local count
  count=$(ctest --test-dir "$tsan_dir" -N -L '^concurrency$' | sed -n 's/^Total Tests: //p')
  if [ "${count:-0}" = 0 ]; then
    echo "sanitize: no test carries the ctest label 'concurrency' yet: nothing to run under ThreadSanitizer"
    return 0
  fi
  ctest --test-dir "$tsan_dir" --output-on-failure -j"$jobs" -L '^concurrency$'
}

summary=()
failed=0
# part NAME COMMAND...: runs and times one part, and records the outcome.
part() {
  local name=$1 start rc
  shift
  echo "==== sanitize: $name"
  start=$(date +%s)
  "$@"
  rc=$?
  local secs=$(($(date +%s) - start))
  summary+=("$(printf '%-12s %4d:%02d  %s' "$name" $((secs / 60)) $((secs % 60)) "$([ $rc = 0 ] && echo ok || echo "FAILED ($rc)")")")
  [ $rc = 0 ] || failed=1
  return $rc
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(asan tsan fuzz)
for p in "${parts[@]}"; do
  case "$p" in
    build-asan) part "asan build" build_asan ;;
    asan) part "asan build" build_asan && part "asan tests" test_asan ;;
    tsan) part "tsan" tsan ;;
    fuzz) part "fuzz" env FUZZ_BUILD_DIR="$asan_dir" scripts/fuzz.sh "${FUZZ_SECONDS:-60}" ;;
    *) echo "sanitize.sh: unknown part '$p' (asan, tsan, fuzz, build-asan)" >&2; exit 2 ;;
  esac
done

echo "==== sanitize: summary (wall time, m:ss)"
printf '  %s\n' "${summary[@]}"
if [ -f "$asan_dir/fuzz-summary.txt" ] && [[ " ${parts[*]} " == *" fuzz "* ]]; then
  sed 's/^/  /' "$asan_dir/fuzz-summary.txt"
fi
exit $failed
