#!/usr/bin/env bash
# Installs every build and test dependency of Kiln from Debian packages.
# Idempotent: packages already present are skipped, so a second run is quick.
# Usage: scripts/install-deps.sh [--no-python]   (--no-python skips PyTorch, which
#        is only needed to export the torchvision test models; the packages that
#        build and test the Python module kiln (python/) are always installed)
set -euo pipefail

want_python=1
for arg in "$@"; do
  case "$arg" in
    --no-python) want_python=0 ;;
    *) echo "install-deps.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake ninja-build pkg-config git
  libflatbuffers-dev flatbuffers-compiler
  libstb-dev libjpeg62-turbo-dev
  libprotobuf-dev protobuf-compiler libonnx-dev libonnx-testdata
  libcli11-dev libfmt-dev nlohmann-json3-dev libssl-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libvulkan-dev glslc spirv-tools mesa-vulkan-drivers vulkan-tools
  # The sanitizer builds and libFuzzer (scripts/sanitize.sh, scripts/fuzz.sh;
  # llvm-14, a dependency of clang-14, has llvm-symbolizer for their reports)
  # and the fuzzers' seed images (scripts/fuzz_corpus.py).
  clang-14 libclang-rt-14-dev lld-14 python3-pil
  # The Python module (python/, pybind11), its tests (CTest runs pytest), the
  # bench plots, and `pip install --no-build-isolation .` (setup.py).
  python3-dev python3-numpy pybind11-dev python3-pybind11 python3-pytest python3-matplotlib
  python3-setuptools python3-wheel python3-pip python3-venv
)
if [ "$want_python" = 1 ]; then
  packages+=(python3-onnx python3-torch python3-torchvision)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
