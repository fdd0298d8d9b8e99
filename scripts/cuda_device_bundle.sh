#!/usr/bin/env bash
# Downloads the Debian packages Kiln builds against (fmt, flatc, nlohmann-json,
# protobuf, onnx, gtest, CLI11, stb, OpenSSL headers, xxHash) as .deb
# files into an ignored folder (default .device-debs/), for a GPU machine that
# has nvcc, CMake and PyTorch but none of these and no package registry.
# scripts/cuda_check.sh unpacks them there (dpkg -x, no root, nothing
# installed system-wide) into a prefix in its build folder and points
# CMAKE_PREFIX_PATH, PATH, CPATH, LIBRARY_PATH and LD_LIBRARY_PATH at it.
#
# Usage (here, on the machine with apt):  scripts/cuda_device_bundle.sh [DIR]
# then carry DIR to the GPU machine (e.g. the device tool's `carry`).
#
# Only the packages themselves and the runtime libraries they add are
# fetched: the C library, libstdc++, zlib and the compiler toolchain are
# expected on the GPU machine (nvcc needs them). The .debs are this machine's
# release (Debian 12: glibc 2.36), so they run on any system with glibc 2.36
# or newer; where that system already has a library of the same soname,
# cuda_check.sh uses the system's copy.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.device-debs}
packages=(
  libfmt-dev libfmt9
  flatbuffers-compiler flatbuffers-compiler-dev libflatbuffers-dev libflatbuffers2
  nlohmann-json3-dev libcli11-dev libstb-dev libstb0
  libprotobuf-dev libprotobuf32 libprotobuf-lite32 protobuf-compiler libprotoc32
  libonnx-dev libonnx1 libonnxifi
  libgtest-dev libgmock-dev googletest
  libssl-dev libssl3
  libxxhash-dev libxxhash0
)
mkdir -p "$dir"
rm -f "$dir"/*.deb
(cd "$dir" && apt-get download "${packages[@]}")
# Dependencies outside the list (besides the toolchain's) would be missing there.
base='^(libc6|libc6-dev|libgcc-s1|libstdc\+\+6|gcc-[0-9]+-base|zlib1g|zlib1g-dev|debconf|libc-dev-bin|linux-libc-dev|libcrypt1|libcrypt-dev|libnsl2|libnsl-dev|libtirpc3|libtirpc-dev|libtirpc-common|rpcsvc-proto|libgssapi-krb5-2|libk5crypto3|libkeyutils1|libkrb5-3|libkrb5support0|libcom-err2)$'
missing=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
            --no-enhances "${packages[@]}" 2>/dev/null | grep -v '^[ <]' | sort -u | grep -Ev "$base" |
          grep -vxF -f <(printf '%s\n' "${packages[@]}") || true)
if [ -n "$missing" ]; then
  echo "cuda_device_bundle: not bundled, needed by the packages above: $missing" >&2
  exit 1
fi
echo "cuda_device_bundle: $(ls "$dir"/*.deb | wc -l) packages, $(du -sh "$dir" | cut -f1) in $dir"
echo "carry '$dir' to the GPU machine; scripts/cuda_check.sh unpacks it there"
