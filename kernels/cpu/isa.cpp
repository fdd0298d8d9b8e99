#include "kernels/cpu/isa.hpp"

#include <array>
#include <fstream>
#include <thread>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kiln/error.hpp"

namespace kiln::cpu {

namespace generic {
extern const SimdKernels kKernels;
extern const Int8Kernels kInt8Kernels;
}  // namespace generic
namespace generic_exact_fma {
extern const SimdKernels kKernels;
}  // namespace generic_exact_fma
#if defined(__x86_64__)
namespace generic_hw_fma {
extern const SimdKernels kKernels;
}  // namespace generic_hw_fma
namespace avx2 {
extern const SimdKernels kKernels;
extern const Int8Kernels kInt8Kernels;
}  // namespace avx2
namespace avx512 {
extern const SimdKernels kKernels;
extern const Int8Kernels kInt8Kernels;
}  // namespace avx512
namespace avx512_vnni {
extern const SimdKernels kKernels;
extern const Int8Kernels kInt8Kernels;
}  // namespace avx512_vnni
#endif

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Generic: return "generic";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Avx512Vnni: return "avx512_vnni";
  }
  return "?";
}

Isa best_isa() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  // The avx512 kernels use F, BW, VL and DQ (every AVX-512 CPU since Skylake-X has them all).
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (avx512 && __builtin_cpu_supports("avx512vnni")) return Isa::Avx512Vnni;
  if (avx512) return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
  return Isa::Generic;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (int i = 0; i <= static_cast<int>(best_isa()); ++i) out.push_back(static_cast<Isa>(i));
  return out;
}

Isa choose_isa(const std::string& cap) {
  const Isa best = best_isa();
  if (cap.empty()) return best;
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni}) {
    if (cap != isa_name(isa)) continue;
    if (static_cast<int>(isa) > static_cast<int>(best))
      throw Error(ErrorCode::Unsupported,
                  "--isa " + cap + ": this CPU (or build) supports at most " + isa_name(best));
    return isa;
  }
  throw Error(ErrorCode::InvalidArgument, "unknown --isa '" + cap + "' (expected avx512_vnni, avx512, avx2 or generic)");
}

const SimdKernels& simd_kernels(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::Avx512Vnni) return avx512_vnni::kKernels;
  if (isa == Isa::Avx512) return avx512::kKernels;
  if (isa == Isa::Avx2) return avx2::kKernels;
#endif
  return generic::kKernels;
}

namespace {

bool cpu_has_fma() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

// The portable kernel sets: [0] generic with the FMA instruction (or, where
// the build has none, with std::fma), [1]-[3] the FMA levels, [4] generic
// with std::fma. The widest level's L1-sized K block (16 KiB of its
// 32-column panels) for all.
const std::array<SimdKernels, 5>& portable_tables() {
  constexpr int kPortableKBlock = 256;
  static const std::array<SimdKernels, 5> tables = [] {
    std::array<SimdKernels, 5> t{};
#if defined(__x86_64__)
    t[0] = generic_hw_fma::kKernels;
#else
    t[0] = generic_exact_fma::kKernels;
#endif
    for (int i = 1; i <= 3; ++i) t[static_cast<size_t>(i)] = simd_kernels(static_cast<Isa>(i));
    t[4] = generic_exact_fma::kKernels;
    for (SimdKernels& k : t) k.k_block = kPortableKBlock;
    return t;
  }();
  return tables;
}

}  // namespace

const SimdKernels& portable_simd_kernels(Isa isa) {
  static const bool fma = cpu_has_fma();
  if (isa == Isa::Generic && !fma) return portable_tables()[4];
  return portable_tables()[static_cast<size_t>(isa)];
}

std::vector<const SimdKernels*> portable_kernel_sets() {
  std::vector<const SimdKernels*> out;
  for (Isa isa : supported_isas()) out.push_back(&portable_simd_kernels(isa));
  if (out.front() != &portable_tables()[4]) out.insert(out.begin(), &portable_tables()[4]);
  return out;
}

const Int8Kernels& int8_kernels(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::Avx512Vnni) return avx512_vnni::kInt8Kernels;
  if (isa == Isa::Avx512) return avx512::kInt8Kernels;
  if (isa == Isa::Avx2) return avx2::kInt8Kernels;
#endif
  return generic::kInt8Kernels;
}

const Int8Kernels& int8_depthwise_kernels(Isa isa, int channels) {
  for (int level = static_cast<int>(isa); level > 0; --level) {
    const Int8Kernels& k = int8_kernels(static_cast<Isa>(level));
    if (k.lanes <= channels) return k;
  }
  return int8_kernels(Isa::Generic);
}

#if defined(__x86_64__)
__attribute__((target("avx"))) static void vzeroupper() { _mm256_zeroupper(); }
#endif

void clear_upper_vector_state() {
#if defined(__x86_64__)
  static const bool avx = __builtin_cpu_supports("avx");
  if (avx) vzeroupper();
#endif
}

std::string cpu_signature(Isa isa) {
  std::string model = "unknown-cpu";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) model = line.substr(colon + 2);
      break;
    }
  }
  return model + "/" + isa_name(isa);
}

}  // namespace kiln::cpu
