#pragma once
// Run-time choice of the SIMD kernel set: the best level this CPU supports,
// optionally capped (`--isa avx2` on an AVX-512 machine, for tests and for
// measuring what each level is worth).
#include <string>
#include <vector>

#include "kernels/cpu/simd/int8_kernels.hpp"
#include "kernels/cpu/simd/simd_kernels.hpp"

namespace kiln::cpu {

// Ordered: each level's CPU requirements include the previous level's.
enum class Isa { Generic = 0, Avx2 = 1, Avx512 = 2, Avx512Vnni = 3 };

const char* isa_name(Isa isa);
// The best level this build and this CPU support.
Isa best_isa();
// Every level this build and CPU can run, lowest first.
std::vector<Isa> supported_isas();
// `cap` is "" (best) or a level name; throws kiln::Error for an unknown name
// or one this CPU lacks.
Isa choose_isa(const std::string& cap);
const SimdKernels& simd_kernels(Isa isa);
// The kernel set of Determinism::Portable at `isa`: the same bits at every
// level. The level's own kernels (their multiply-adds are explicit fused ones,
// see simd/vec.hpp) with a fixed GEMM K block; at the generic level, the
// variant whose multiply-adds are exact FMAs (the instruction where the CPU
// has it, std::fma otherwise).
const SimdKernels& portable_simd_kernels(Isa isa);
// Every portable kernel set this CPU can run, the std::fma generic one
// included even where the CPU has FMA (for tests).
std::vector<const SimdKernels*> portable_kernel_sets();
const Int8Kernels& int8_kernels(Isa isa);
// The integer kernels for a depthwise layer of `channels` channels: the best
// level up to `isa` whose vectors are no wider than the channels (all levels
// give the same bits; a 16-lane vector on 8 channels would leave them to a
// per-channel tail), or the lowest level.
const Int8Kernels& int8_depthwise_kernels(Isa isa, int channels);
// Clears the upper halves of the calling thread's vector registers (vzeroupper)
// where the CPU has AVX. Code that leaves them dirty (libxxhash's checksums
// when a .kiln file is verified did) makes every SSE instruction of the generic
// kernels wait on them: MobileNetV2 at --isa generic took 60 times as long.
void clear_upper_vector_state();
// A short description of the CPU for tuning-cache keys, e.g. "AMD EPYC/avx512/2".
std::string cpu_signature(Isa isa);

}  // namespace kiln::cpu
