#pragma once
// IEEE 754 binary16 <-> binary32 on the host, for --fp16-storage: weights are
// converted once when a session is created, graph inputs and outputs in the
// staging copies of each run (the API stays float32). Rounding is to nearest,
// ties to even (what the shaders' float16_t(x) does); values beyond float16's
// range become infinities, NaNs stay (quiet) NaNs.
#include <cstdint>
#include <cstring>

namespace kiln::vk {

// The largest finite float16, 65504.
inline constexpr float kHalfMax = 65504.0f;

inline uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t a = x & 0x7fffffffu;
  if (a >= 0x7f800000u)  // inf, or NaN (kept quiet, with the payload's top bits)
    return static_cast<uint16_t>(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0u));
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to 65520 or more: inf
  if (a >= 0x38800000u) {                                             // a float16 normal (>= 2^-14)
    uint32_t v = a - 0x38000000u;                                      // exponent bias 127 -> 15
    v += 0x0fffu + ((v >> 13) & 1u);                                   // round the 13 dropped bits, ties to even
    return static_cast<uint16_t>(sign | (v >> 13));
  }
  if (a < 0x33000000u) return static_cast<uint16_t>(sign);  // below 2^-25: zero
  // A float16 subnormal: m * 2^-24, m = the float's significand scaled down.
  const uint32_t e = a >> 23;  // 102..112
  const uint32_t m = (a & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - e;  // 14..24
  uint32_t r = m >> shift;
  const uint32_t rest = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
  if (rest > halfway || (rest == halfway && (r & 1u))) ++r;
  return static_cast<uint16_t>(sign | r);
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  uint32_t x;
  if (e == 0x1fu) {
    x = sign | 0x7f800000u | (m << 13);
  } else if (e != 0) {
    x = sign | ((e + 112u) << 23) | (m << 13);
  } else if (m == 0) {
    x = sign;
  } else {  // subnormal: normalise the significand
    uint32_t exp = 113u, mm = m;
    while ((mm & 0x400u) == 0) {
      mm <<= 1;
      --exp;
    }
    x = sign | (exp << 23) | ((mm & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}

inline void floats_to_halves(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = float_to_half(src[i]);
}
inline void halves_to_floats(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = half_to_float(src[i]);
}

}  // namespace kiln::vk
