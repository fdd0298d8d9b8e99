#!/usr/bin/env bash
# Builds the kiln tool and classifies photos with the real MobileNetV2 from
# ../shared/models (installs the Debian packages it needs first).
# Environment: KILN_SHARED_DIR (default ../shared), BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --no-python
shared=${KILN_SHARED_DIR:-../shared}
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_SHARED_DIR="$(realpath "$shared")" > /dev/null
cmake --build "$build" -j"$(nproc)" --target kiln_cli
model="$shared/models/mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_dequant.onnx"
if [ ! -f "$model" ]; then echo "demo: $model is missing (set KILN_SHARED_DIR)" >&2; exit 1; fi
set -x
"$build/kiln" convert "$model" "$build/mobilenet_v2.kiln"
"$build/kiln" classify "$build/mobilenet_v2.kiln" "$shared/images/grace_hopper.bmp" "$shared/images/parrot.jpg" \
  "$shared/images/wml_dog.jpg" --top 3
# The same photos with Google's quantized (int8) MobileNetV2, straight from its ONNX file.
qdq="$shared/models/mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_qdq.onnx"
if [ -f "$qdq" ]; then
  "$build/kiln" classify "$qdq" "$shared/images/grace_hopper.bmp" "$shared/images/parrot.jpg" \
    "$shared/images/wml_dog.jpg" --top 3
fi
