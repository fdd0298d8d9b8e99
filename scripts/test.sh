#!/usr/bin/env bash
# Builds Kiln and runs the whole test suite, on a fresh machine too: installs
# the Debian packages it needs first (scripts/install-deps.sh). Then, for the
# whole suite (no arguments), the sanitizer builds and the fuzzers
# (scripts/sanitize.sh: ASan + UBSan tests, TSan concurrency tests, 60 s per
# fuzz target); a summary of each part's time ends the output.
#   scripts/test.sh [extra ctest arguments, e.g. -L e2e]   (with arguments: the normal build only)
# Environment: KILN_SHARED_DIR (default ../shared), BUILD_DIR (default build),
# KILN_SANITIZERS=0 skips the sanitizer part, FUZZ_SECONDS (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${BUILD_DIR:-build}
jobs=$(nproc)
t0=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_WARNINGS_AS_ERRORS=ON \
  ${KILN_SHARED_DIR:+-DKILN_SHARED_DIR="$KILN_SHARED_DIR"}
cmake --build "$build" -j"$jobs"
t1=$(date +%s)
ctest --test-dir "$build" --output-on-failure -j"$jobs" "$@"
t2=$(date +%s)
mmss() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }
echo "test.sh: build $(mmss $((t1 - t0))), tests $(mmss $((t2 - t1)))"
if [ $# = 0 ] && [ "${KILN_SANITIZERS:-1}" != 0 ]; then
  status=0
  scripts/sanitize.sh || status=$?
  echo "test.sh: normal build $(mmss $((t1 - t0))), normal tests $(mmss $((t2 - t1))), sanitizers and fuzzers $(mmss $(($(date +%s) - t2)))"
  exit $status
fi
