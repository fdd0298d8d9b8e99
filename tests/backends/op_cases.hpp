#pragma once
// The harness's op cases (ops_test.cpp runs each on every configuration), one
// list per op family in cases/<family>.cpp, named like the family files of
// every backend (engine/core/op_info.hpp), so that a new op's case goes where
// its kernels went. Case names are test names: keep them when editing a list.
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/core/op_info.hpp"
#include "tests/common/graph_builder.hpp"

namespace kiln::test {

struct OpCase {
  std::string name;
  std::function<Graph()> build;
  // Range of the random inputs: where each piece of a function is reached, or
  // away from zero for a divisor.
  float lo = -1.0f, hi = 1.0f;
  // Quantized tensors inside: integer backends must match the reference
  // exactly, float backends within BackendConfig::quantized_tolerance.
  bool quantized = false;
};
inline void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

std::vector<OpCase> conv_cases();
std::vector<OpCase> pool_cases();
std::vector<OpCase> activation_cases();
std::vector<OpCase> binary_cases();
std::vector<OpCase> batchnorm_cases();
std::vector<OpCase> softmax_cases();
std::vector<OpCase> matmul_cases();
std::vector<OpCase> reduce_cases();
std::vector<OpCase> shape_cases();
std::vector<OpCase> data_movement_cases();
std::vector<OpCase> quantize_cases();
// Multi-op graphs (MobileNet/ResNet/fire blocks, the every-op graph): not
// counted for any family, so that an emptied family list is noticed.
std::vector<OpCase> block_cases();

// The list of `family`'s cases.
std::vector<OpCase> cases_of(OpFamily family);
// Every family's cases, then the blocks.
std::vector<OpCase> all_op_cases();

// ---- graph builders shared by the lists --------------------------------------

// "2x3x4x5": a shape or a list of attribute values, for case names.
std::string dims_name(const std::vector<int64_t>& v);
std::string dims_name(const std::vector<int32_t>& v);

// One node on one input.
Graph unary_graph(OpType op, fb::AttributesUnion attrs, Shape shape);
template <class T>
Graph unary_graph(OpType op, T attrs, Shape shape) {
  return unary_graph(op, make_attrs(std::move(attrs)), std::move(shape));
}

// op(a, b) where either operand may be a constant (const_a / const_b) with
// values in [lo, hi).
Graph binary_graph(OpType op, Shape a, Shape b_shape, bool const_a, bool const_b, fb::FusedActivation activation = {},
                   float lo = -1.0f, float hi = 1.0f);

struct ConvSpec {
  int64_t n = 1, cin = 3, cout = 4, h = 9, w = 9;
  int32_t kh = 3, kw = 3, sh = 1, sw = 1, dh = 1, dw = 1, group = 1;
  std::vector<int32_t> pads{1, 1, 1, 1};  // top, left, bottom, right
  bool bias = true;
  fb::FusedActivation activation{};
};

// A convolution of `x` with random weights (scaled by 1/sqrt(fan-in)) and bias from `seed`.
TensorId add_conv(GraphBuilder& b, TensorId x, const ConvSpec& s, uint32_t seed);
// A random but valid convolution: output at least 1x1, pads below the
// dilated kernel extent, groups dividing both channel counts.
ConvSpec random_conv(std::mt19937& rng);
// The seed of conv_cases()'s random sweep and its length.
inline constexpr uint32_t kConvSweepSeed = 2026;
inline constexpr int kConvSweepCases = 40;

}  // namespace kiln::test
