#pragma once
// The two fast 3×3 convolutions' 1-D transforms (FastTransform1D), as
// constants: the kernels (simd/int8_kernels.cpp) are instantiated per
// transform so that every zero coefficient disappears and every ±1 is an add,
// and the weight transform (conv/int8_fast_conv.cpp, at session creation)
// uses the same tables. scripts/derive_int8_fast_conv.py derives and checks them.
#include "kernels/cpu/simd/int8_kernels.hpp"

namespace kiln::cpu {

// Winograd F(2,3) with G doubled (integral): 4 inputs, 4 products, 2 outputs, scale 2.
inline constexpr FastTransform1D kWinogradF23{
    4, 4, 2, 2,
    {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}},
    {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}},
    {{1, 1, 1, 0}, {0, 1, -1, -1}}};

// SFC-6: 8 inputs, 10 products, 6 outputs, scale 6. Rows of BT and G: X0, X3,
// then (a, b, a + b) of X1 and of X2 (X = a + bω), then the two corrections
// (x0 − x6 with w0, x7 − x1 with w2). The DFT runs on x1..x6 and the weights as
// h = (w0, 0, 0, 0, w2, w1), whose cyclic convolution is the correlation with
// w; AT's rows give 6·z0 .. 6·z5.
inline constexpr FastTransform1D kSfc6{
    8, 10, 6, 6,
    {{0, 1, 1, 1, 1, 1, 1, 0},
     {0, 1, -1, 1, -1, 1, -1, 0},
     {0, 1, 0, -1, -1, 0, 1, 0},
     {0, 0, 1, 1, 0, -1, -1, 0},
     {0, 1, 1, 0, -1, -1, 0, 0},
     {0, 1, -1, 0, 1, -1, 0, 0},
     {0, 0, 1, -1, 0, 1, -1, 0},
     {0, 1, 0, -1, 1, 0, -1, 0},
     {1, 0, 0, 0, 0, 0, -1, 0},
     {0, -1, 0, 0, 0, 0, 0, 1}},
    {{1, 1, 1}, {1, -1, 1}, {1, 1, 0}, {0, -1, -1}, {1, 0, -1}, {1, 0, -1}, {0, -1, 1}, {1, -1, 0}, {1, 0, 0}, {0, 0, 1}},
    {{1, -1, 2, -1, -1, 1, 1, -2, 6, 0},
     {1, 1, 1, -2, 1, 1, -2, 1, 0, 0},
     {1, -1, -1, -1, 2, -2, 1, 1, 0, 0},
     {1, 1, -2, 1, 1, 1, 1, -2, 0, 0},
     {1, -1, -1, 2, -1, 1, -2, 1, 0, 0},
     {1, 1, 1, 1, -2, -2, 1, 1, 0, 6}}};

// QFastInArgs::transform and QFastOutArgs::transform index this.
inline constexpr const FastTransform1D* kFastTransforms[] = {&kWinogradF23, &kSfc6};

}  // namespace kiln::cpu
