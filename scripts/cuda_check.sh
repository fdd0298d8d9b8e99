#!/usr/bin/env bash
# The CUDA backend's GPU check, in one command (run it on a machine with an
# NVIDIA GPU, driver and CUDA 13 + cuDNN 9 in /usr/local/cuda):
#   1. builds Kiln (build dir $BUILD_DIR, default build-cuda),
#   2. runs the CUDA test suites (ctest -L cuda: every op and conv algorithm
#      against the reference backend, real models, determinism, CUDA graphs),
#   3. benchmarks MobileNetV2, ResNet-18 and ResNet-50 at batch 1 and 32 with
#      `kiln bench --backend cuda` (device time, energy via NVML) and PyTorch
#      eager with cuDNN in the same run (scripts/bench_torch_cuda.py; $PYTHON
#      must be a CUDA build of PyTorch), and prints both side by side against
#      the targets (MobileNetV2 b1 <= 0.3 ms, ResNet-50 b1 <= 1.0 ms, each
#      <= 0.5x PyTorch),
#   4. prints the per-layer table of FCM fused pairs vs cuDNN's separate
#      depthwise and pointwise layers (kiln_cuda_fcm_bench; target >= 1.5x).
# Results also go to $OUT_DIR (default $BUILD_DIR/cuda-check).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-cuda}
out=${OUT_DIR:-$build/cuda-check}
python=${PYTHON:-/usr/bin/python3}
jobs=${JOBS:-$(nproc)}
status=0

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DKILN_WARNINGS_AS_ERRORS=ON \
  ${KILN_SHARED_DIR:+-DKILN_SHARED_DIR="$KILN_SHARED_DIR"} || exit 1
cmake --build "$build" -j"$jobs" || exit 1
mkdir -p "$out"
"$build/kiln" devices --backend cuda || { echo "cuda_check: no usable CUDA device" >&2; exit 1; }

echo "== ctest -L cuda"
ctest --test-dir "$build" -L cuda --output-on-failure -j1 | tee "$out/ctest.txt" || status=1
if grep -q "Skipped" "$out/ctest.txt"; then
  echo "cuda_check: some CUDA tests were skipped (see $out/ctest.txt)" >&2
fi

echo "== kiln bench (cuda) and PyTorch eager"
tv="$build/models/torchvision"
for m in mobilenet_v2 resnet18 resnet50; do
  if [ ! -f "$tv/$m.onnx" ]; then
    "$python" scripts/export_torchvision.py --out "$tv" --models "$m" || status=1
  fi
  for b in 1 32; do
    "$build/kiln" convert "$tv/$m.onnx" "$out/${m}_b$b.kiln" --batch "$b" > /dev/null || { status=1; continue; }
    "$build/kiln" bench "$out/${m}_b$b.kiln" --backend cuda --runs 300 --warmup 30 --energy \
      --json "$out/kiln_${m}_b$b.json" > "$out/kiln_${m}_b$b.txt" || status=1
    KILN_CUDA_PROFILE=1 "$build/kiln" bench "$out/${m}_b$b.kiln" --backend cuda --runs 50 \
      > "$out/kiln_${m}_b${b}_layers.txt" || status=1
  done
done
"$python" scripts/bench_torch_cuda.py > "$out/torch.jsonl" || { echo "cuda_check: PyTorch baseline not run" >&2; status=1; }

"$python" - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
torch = {}
if os.path.exists(f"{out}/torch.jsonl"):
    for line in open(f"{out}/torch.jsonl"):
        r = json.loads(line)
        torch[(r["model"], r["batch"])] = r["median_ms"]
targets = {("mobilenet_v2", 1): 0.3, ("resnet50", 1): 1.0}
print(f"{'model':<14}{'batch':>6}{'kiln dev p50':>14}{'kiln wall p50':>15}{'torch p50':>11}{'ratio':>8}{'J/inf':>9}  target")
for m in ["mobilenet_v2", "resnet18", "resnet50"]:
    for b in [1, 32]:
        p = f"{out}/kiln_{m}_b{b}.json"
        if not os.path.exists(p):
            print(f"{m:<14}{b:>6}  (no kiln result)")
            continue
        j = json.load(open(p))
        dev = j.get("device_time_ms", {}).get("p50")
        wall = j["latency_ms"]["p50"]
        t = torch.get((m, b))
        ratio = f"{dev / t:.2f}" if (dev and t) else "n/a"
        e = j.get("energy", {})
        joules = f"{e['joules_per_inference']:.4f}" if e.get("available") else "n/a"
        tgt = targets.get((m, b))
        verdict = ""
        if tgt is not None and dev is not None:
            ok = dev <= tgt and (t is None or dev <= 0.5 * t)
            verdict = f"<= {tgt} ms and <= 0.5x torch: {'met' if ok else 'NOT met'}" + ("" if t else " (no torch figure)")
        print(f"{m:<14}{b:>6}{dev if dev is not None else float('nan'):>14.3f}{wall:>15.3f}"
              f"{(t if t else float('nan')):>11.3f}{ratio:>8}{joules:>9}  {verdict}")
PY

echo "== FCM fused pairs vs cuDNN separate layers"
"$build/kiln_cuda_fcm_bench" 200 | tee "$out/fcm_pairs.txt" || status=1
exit $status
