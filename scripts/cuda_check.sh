#!/usr/bin/env bash
# The CUDA backend's GPU check, in one command (run it on a machine with an
# NVIDIA GPU, driver and CUDA 13 + cuDNN 9 in /usr/local/cuda):
#   1. configures and builds Kiln (build dir $BUILD_DIR, default build-cuda)
#      and exports the torchvision models (scripts/export_torchvision.py with
#      $PYTHON, default `python3` from PATH, also passed to CMake as
#      KILN_SYSTEM_PYTHON) before any test runs,
#   2. runs `ctest -L 'cuda|backends'`: the CUDA suites (every conv
#      algorithm against the reference backend, real models, determinism,
#      CUDA graphs, profiling, tuning) and tests/backends (every op and model
#      on every backend). On a GPU machine no CUDA test may skip: a skipped
#      one fails the check (tests of other backends may skip),
#   3. benchmarks MobileNetV2, ResNet-18 and ResNet-50 at batch 1 and 32 with
#      `kiln bench --backend cuda` (device time, energy via NVML) and PyTorch
#      eager with cuDNN in the same run (scripts/bench_torch_cuda.py; $PYTHON
#      must be a CUDA build of PyTorch), and prints both side by side against
#      the targets (MobileNetV2 b1 <= 0.3 ms, ResNet-50 b1 <= 1.0 ms, each
#      <= 0.5x PyTorch),
#   4. prints the per-layer table of FCM fused pairs vs cuDNN's separate
#      depthwise and pointwise layers (kiln_cuda_fcm_bench; target >= 1.5x).
# Results also go to $OUT_DIR (default $BUILD_DIR/cuda-check). Exit status 1
# when anything failed or a CUDA test skipped.
#
# STEPS (default "build test bench") runs a part: "build" (configure, export,
# build), "configure" (configure and export only), "test" (2), "bench" (3 and
# 4); the build folder is reused, so a machine with a per-command time limit
# can run them as separate commands.
#
# Test data: $KILN_SHARED_DIR, else shared/ in the repository root when it
# exists, else ../shared (CMake's default). To take the models to a machine
# that gets only the repository (like this workplace's device machine):
#   mkdir -p shared/models && cp -r ../shared/models/mobilenet_v2_1.0_224 shared/models/
# (shared/ is in .gitignore, never committed; the device tool sends shared/
# with the working tree, and naming it in `carry` does no harm).
#
# Build dependencies: a GPU machine without Kiln's Debian build dependencies
# (fmt, flatc, nlohmann-json, protobuf, onnx, gtest, ...) and
# without a package registry gets them carried: on a Debian machine with apt,
# run scripts/cuda_device_bundle.sh (apt-get download into .device-debs/,
# ignored) and carry .device-debs. When that folder holds .deb files, this
# script unpacks them with `dpkg -x` (or ar + tar where dpkg is missing) into
# $BUILD_DIR/device-deps and adds that prefix to CMAKE_PREFIX_PATH, PATH,
# CPATH, LIBRARY_PATH and LD_LIBRARY_PATH (the last not for $PYTHON); a
# runtime library the system already has (same soname) is taken from the
# system. E.g. with this workplace's device tool:
#   run(command="scripts/cuda_check.sh", carry=[".device-debs"])
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD_DIR:-build-cuda}
case $build in /*) build_abs=$build ;; *) build_abs=$root/$build ;; esac
out=${OUT_DIR:-$build/cuda-check}
python=${PYTHON:-python3}
python=$(command -v "$python" || echo "$python")
jobs=${JOBS:-$(nproc)}
steps=" ${STEPS:-build test bench} "
status=0

# Repository-local test data.
if [ -z "${KILN_SHARED_DIR:-}" ] && [ -d shared ]; then
  export KILN_SHARED_DIR="$root/shared"
fi

# $PYTHON runs with the caller's LD_LIBRARY_PATH, not the carried libraries'.
if [ -n "${LD_LIBRARY_PATH+x}" ]; then ld_orig=$LD_LIBRARY_PATH; fi
py() {
  if [ -n "${ld_orig+x}" ]; then LD_LIBRARY_PATH="$ld_orig" "$python" "$@"; else env -u LD_LIBRARY_PATH "$python" "$@"; fi
}

# Carried build dependencies (scripts/cuda_device_bundle.sh).
if compgen -G ".device-debs/*.deb" > /dev/null; then
  prefix="$build_abs/device-deps"
  arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || true)
  arch=${arch:-x86_64-linux-gnu}
  rm -rf "$prefix"  # fresh each time: the loop below turns files into links
  mkdir -p "$prefix"
  for deb in .device-debs/*.deb; do
    if command -v dpkg-deb > /dev/null; then
      dpkg-deb -x "$deb" "$prefix" || { echo "cuda_check: cannot unpack $deb" >&2; exit 1; }
    else  # a .deb is an ar archive holding data.tar.{xz,zst,gz}
      member=$(ar t "$deb" | grep '^data\.tar') || { echo "cuda_check: $deb has no data.tar" >&2; exit 1; }
      case $member in *.xz) z=-J ;; *.zst) z=--zstd ;; *.gz) z=-z ;; *) z= ;; esac
      ar p "$deb" "$member" | tar -x $z -f - -C "$prefix" || { echo "cuda_check: cannot unpack $deb" >&2; exit 1; }
    fi
  done
  libdir="$prefix/usr/lib/$arch"
  # Prefer the system's copy of a runtime library it already has.
  if command -v ldconfig > /dev/null && [ -d "$libdir" ]; then
    for f in "$libdir"/lib*.so.*; do
      [ -f "$f" ] && [ ! -L "$f" ] || continue
      soname=$(objdump -p "$f" 2>/dev/null | awk '/SONAME/ {print $2}')
      [ -n "$soname" ] || continue
      sys=$(ldconfig -p | awk -v s="$soname" '$1 == s && $NF !~ /device-deps/ {print $NF; exit}')
      if [ -n "$sys" ]; then  # the file itself becomes a link: CMake configs name it
        rm -f "$f"
        ln -s "$sys" "$f"
      fi
    done
  fi
  export CMAKE_PREFIX_PATH="$prefix/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export PATH="$prefix/usr/bin:$PATH"
  export CPATH="$prefix/usr/include${CPATH:+:$CPATH}"
  export LIBRARY_PATH="$libdir:$prefix/usr/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export LD_LIBRARY_PATH="$libdir:$prefix/usr/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "cuda_check: build dependencies from .device-debs unpacked into $prefix"
fi

mkdir -p "$build"
tv="$build/models/torchvision"
if [[ $steps == *" build "* || $steps == *" configure "* ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DKILN_WARNINGS_AS_ERRORS=ON \
    -DKILN_SYSTEM_PYTHON="$python" \
    ${KILN_SHARED_DIR:+-DKILN_SHARED_DIR="$KILN_SHARED_DIR"} || exit 1
  # The torchvision models, before any test (the model suites read them).
  py scripts/export_torchvision.py --out "$tv" || { echo "cuda_check: torchvision export failed" >&2; status=1; }
fi
if [[ $steps == *" build "* ]]; then
  cmake --build "$build" -j"$jobs" || exit 1
fi
mkdir -p "$out"

if [[ $steps == *" test "* ]]; then
  "$build/kiln" devices --backend cuda || { echo "cuda_check: no usable CUDA device" >&2; exit 1; }
  echo "== ctest -L 'cuda|backends'"
  ctest --test-dir "$build" -L 'cuda|backends' --output-on-failure -j1 | tee "$out/ctest.txt" || status=1
  skipped=$(grep '(Skipped)' "$out/ctest.txt" | grep -i cuda || true)
  if [ -n "$skipped" ]; then
    echo "cuda_check: FAILED: CUDA tests skipped on a GPU machine (see $out/ctest.txt):" >&2
    echo "$skipped" >&2
    status=1
  fi
  echo "== the quantized MobileNets on cuda (and vulkan): ArmNN's top-1 (ctest -R 'QdqMobileNet.(Cuda|Vulkan)')"
  ctest --test-dir "$build" -R 'QdqMobileNet.(Cuda|Vulkan)' --output-on-failure -j1 | tee "$out/ctest_int8.txt" || status=1
  if grep '(Skipped)' "$out/ctest_int8.txt" | grep -qi cuda; then
    echo "cuda_check: FAILED: the quantized models' CUDA tests were skipped on a GPU machine" >&2
    status=1
  fi
  others=$(grep -c '(Skipped)' "$out/ctest.txt" || true)
  [ "${others:-0}" -gt 0 ] && [ -z "$skipped" ] && echo "cuda_check: $others tests of other backends skipped"
fi

if [[ $steps == *" bench "* ]]; then
echo "== kiln bench (cuda) and PyTorch eager"
for m in mobilenet_v2 resnet18 resnet50; do
  if [ ! -f "$tv/$m.onnx" ]; then
    py scripts/export_torchvision.py --out "$tv" --models "$m" || status=1
  fi
  for b in 1 32; do
    "$build/kiln" convert "$tv/$m.onnx" "$out/${m}_b$b.kiln" --batch "$b" > /dev/null || { status=1; continue; }
    "$build/kiln" bench "$out/${m}_b$b.kiln" --backend cuda --runs 300 --warmup 30 --energy \
      --json "$out/kiln_${m}_b$b.json" > "$out/kiln_${m}_b$b.txt" || status=1
    "$build/kiln" bench "$out/${m}_b$b.kiln" --backend cuda --node-times --runs 50 \
      > "$out/kiln_${m}_b${b}_layers.txt" || status=1
  done
done
py scripts/bench_torch_cuda.py > "$out/torch.jsonl" || { echo "cuda_check: PyTorch baseline not run" >&2; status=1; }

py - "$out" <<'PY'
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
fi
exit $status
