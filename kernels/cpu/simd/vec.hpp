#pragma once
// The vector type of one instruction-set level, as GCC/Clang vector extensions.
// Every file under simd/ is compiled once per level with KILN_SIMD_LEVEL set
// (3 = AVX-512 + VNNI, 2 = AVX-512, 1 = AVX2+FMA, 0 = generic, which is SSE2 on x86 and NEON on
// ARM), so the same source yields one kernel set per level; isa.cpp picks one
// at run time.
#include <cstddef>
#include <cstring>
#if KILN_SIMD_LEVEL >= 1 || defined(__FMA__)
#include <immintrin.h>
#endif

#ifndef KILN_SIMD_LEVEL
#error "simd/ sources are compiled per ISA level with KILN_SIMD_LEVEL defined (see kernels/cpu/CMakeLists.txt)"
#endif

namespace kiln::cpu::KILN_SIMD_NS {

#if KILN_SIMD_LEVEL >= 2
inline constexpr int kVL = 16;
#elif KILN_SIMD_LEVEL == 1
inline constexpr int kVL = 8;
#else
inline constexpr int kVL = 4;
#endif

typedef float vf __attribute__((vector_size(kVL * sizeof(float))));
// The same type for unaligned, aliasing memory accesses.
typedef float vf_mem __attribute__((vector_size(kVL * sizeof(float)), aligned(4), may_alias));

inline vf load(const float* p) { return *reinterpret_cast<const vf_mem*>(p); }
inline void store(float* p, vf v) { *reinterpret_cast<vf_mem*>(p) = v; }
// Every lane x. Written as x - 0 (exact for every x, -0.0f and NaN included, so
// the compiler drops the subtraction and emits one broadcast load). `vf{} + x`
// is not an identity (it turns -0.0f into +0.0f), so it compiled to an add
// plus a register broadcast per use, on the FMA's ports, in the GEMM's inner loop.
inline vf splat(float x) { return x - vf{}; }
// First n (< kVL) lanes; the rest zero.
inline vf load_partial(const float* p, int n) {
  float tmp[kVL] = {};
  std::memcpy(tmp, p, static_cast<size_t>(n) * sizeof(float));
  return load(tmp);
}
inline void store_partial(float* p, vf v, int n) {
  float tmp[kVL];
  store(tmp, v);
  std::memcpy(p, tmp, static_cast<size_t>(n) * sizeof(float));
}
// a·b + c, the kernels' one multiply-add. They are compiled with
// -ffp-contract=off, so a product and a sum written apart stay apart on every
// level and only these are fused: the FMA levels use the instruction; the
// generic level rounds twice (SSE2 has no FMA) unless KILN_SIMD_EXACT_FMA,
// the kernel sets of Determinism::Portable, which give the FMA levels' bits:
// with the instruction on CPUs that have it (built with -mfma), else with
// std::fma per lane (glibc's exact emulation; about 30 times slower).
inline vf vfma(vf a, vf b, vf c) {
#if KILN_SIMD_LEVEL >= 2
  return _mm512_fmadd_ps(a, b, c);
#elif KILN_SIMD_LEVEL == 1
  return _mm256_fmadd_ps(a, b, c);
#elif defined(KILN_SIMD_EXACT_FMA) && defined(__FMA__)
  return _mm_fmadd_ps(a, b, c);
#elif defined(KILN_SIMD_EXACT_FMA)
  vf r;
  for (int i = 0; i < kVL; ++i) r[i] = __builtin_fmaf(a[i], b[i], c[i]);
  return r;
#else
  return a * b + c;
#endif
}
inline vf vfma(vf a, float b, vf c) { return vfma(a, splat(b), c); }
inline vf vfma(vf a, float b, float c) { return vfma(a, splat(b), splat(c)); }
inline vf vmax(vf a, vf b) { return a > b ? a : b; }
inline vf vmin(vf a, vf b) { return a < b ? a : b; }

typedef int vi __attribute__((vector_size(kVL * sizeof(int))));

// e^x for every lane, relative error below 2e-7 over the float range: x =
// n·ln2 + r with |r| <= ln2/2, e^r by its degree-6 Taylor polynomial, 2^n put
// straight into the exponent bits. Inputs are clamped to [-87.3, 88.3] (2^n
// stays a normal float); NaN stays NaN (the comparisons below are false for it).
inline vf vexp(vf x) {
  x = x > splat(88.3f) ? splat(88.3f) : x;
  x = x < splat(-87.3f) ? splat(-87.3f) : x;
  const vf t = vfma(x, 1.44269504f, 0.5f);
  vi n = __builtin_convertvector(t, vi);                    // truncates toward zero
  n += reinterpret_cast<vi>(t < __builtin_convertvector(n, vf));  // -1 where that was above t: floor
  const vf fn = __builtin_convertvector(n, vf);
  const vf r = vfma(fn, -1.428606765330187e-06f, vfma(fn, -0.693145751953125f, x));  // ln2 in two parts
  vf p = vfma(splat(1.0f / 720), r, splat(1.0f / 120));
  p = vfma(p, r, splat(1.0f / 24));
  p = vfma(p, r, splat(1.0f / 6));
  p = vfma(p, r, splat(0.5f));
  p = vfma(p, r, splat(1.0f));
  p = vfma(p, r, splat(1.0f));
  const vi scale = (n + 127) << 23;
  return p * reinterpret_cast<vf>(scale);
}

}  // namespace kiln::cpu::KILN_SIMD_NS
