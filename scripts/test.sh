#!/usr/bin/env bash
# Builds Kiln and runs the whole test suite, on a fresh machine too: installs
# the Debian packages it needs first (scripts/install-deps.sh).
#   scripts/test.sh [extra ctest arguments, e.g. -L e2e]
# Environment: KILN_SHARED_DIR (default ../shared), BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${BUILD_DIR:-build}
jobs=$(nproc)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_WARNINGS_AS_ERRORS=ON \
  ${KILN_SHARED_DIR:+-DKILN_SHARED_DIR="$KILN_SHARED_DIR"}
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" --output-on-failure -j"$jobs" "$@"
