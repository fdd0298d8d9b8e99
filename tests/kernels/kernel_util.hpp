#pragma once
// Helpers for the kernel tests: build small inputs, run one node on the
// reference backend, and compare a result against hand-written values.
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "engine/core/graph.hpp"
#include "gtest/gtest.h"
#include "kiln/kiln.hpp"
#include "tests/kernels/naive.hpp"

namespace kiln::test {

// Shorthand that the kernel tests share.
using O = OpType;
using K = fb::ActivationKind;
using naive::make;

inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
inline constexpr float kInf = std::numeric_limits<float>::infinity();

// n values from `start`, `step` apart: 1..n by default, like the hand-computed
// cases' inputs.
std::vector<float> iota(int64_t n, float start = 1.0f, float step = 1.0f);
// The naive formulas take int64 parameters, the attribute tables int32.
std::vector<int32_t> i32(const std::vector<int64_t>& v);
// A 1-D tensor holding `v`.
Tensor vec(const std::vector<float>& v);

// Runs a one-node graph whose inputs are all graph inputs (so they travel
// through the session's arena like any activation) and returns its outputs.
std::vector<Tensor> run_node_n(OpType op, const std::vector<Tensor>& inputs, fb::AttributesUnion attrs,
                               size_t n_outputs);
Tensor run_node(OpType op, const std::vector<Tensor>& inputs, fb::AttributesUnion attrs = {});
template <class T>
Tensor run_node(OpType op, const std::vector<Tensor>& inputs, T attrs) {
  return run_node(op, inputs, make_attrs(std::move(attrs)));
}

// Shape equal and every value within `tol` (absolute); NaN must match NaN and
// infinities must match exactly.
::testing::AssertionResult values_are(const Tensor& actual, const Shape& shape, const std::vector<float>& expected,
                                      float tol = 1e-5f);

// Same shape and within `rel` of the reference (relative to its largest magnitude).
::testing::AssertionResult close_to(const Tensor& actual, const Tensor& reference, double rel = 1e-5);

// One of the fused activations (or none), for random kernel cases.
fb::FusedActivation random_activation(std::mt19937& rng);

}  // namespace kiln::test
