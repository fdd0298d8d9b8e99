#!/usr/bin/env bash
# Usage: test_install.sh BUILD_DIR SOURCE_DIR KILN_CLI SHARED_DIR
# Also checks that run-time-loaded backends (kiln_add_backend MODULE, e.g.
# cuda) are installed into <libdir>/kiln and load from there: on a machine
# without their device, `kiln devices` must report the backend's own
# no-device message, not a module that failed to load.
set -euo pipefail
build=$1 src=$2 kiln=$3 shared=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
test -f "$work/prefix/include/kiln/kiln.hpp"
test -f "$work/prefix/include/kiln/kiln.h"
ls "$work/prefix"/lib*/cmake/Kiln/KilnConfig.cmake > /dev/null
# The installed tree must not leak internal headers.
if [ -e "$work/prefix/include/engine" ]; then echo "internal headers installed" >&2; exit 1; fi

cmake -S "$src/apps/examples/classify" -B "$work/example" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release > "$work/configure.log"
cmake --build "$work/example" -j2 > "$work/build.log"

model="$shared/models/mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx"
if [ ! -f "$model" ]; then echo "missing test data: $model" >&2; exit 1; fi
"$kiln" convert "$model" "$work/m.kiln" > /dev/null
out=$("$work/example/classify_example" "$work/m.kiln" "$shared/images/parrot.jpg")
echo "$out"
echo "$out" | grep -q "macaw (88)"

# Backend modules: installed next to the library, found through
# $KILN_BACKEND_DIR (the baked-in install folder is the configured prefix,
# not this temporary one), and loadable with their vendor libraries.
for module in "$build"/lib/kiln/libkiln_backend_*.so; do
  [ -e "$module" ] || continue
  file=$(basename "$module")
  name=${file#libkiln_backend_}; name=${name%.so}
  installed=$(ls "$work/prefix"/lib*/kiln/"$file")
  out=$(KILN_BACKEND_DIR=$(dirname "$installed") "$work/prefix/bin/kiln" devices --backend "$name" 2>&1 || true)
  echo "$out"
  if ! echo "$out" | grep -q "^$name:" || echo "$out" | grep -q "could not load its module"; then
    echo "installed backend module $installed does not load" >&2
    exit 1
  fi
done
