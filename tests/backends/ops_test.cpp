// Every op of the reference backend, alone and in small graphs, on every
// backend under test (backend_test_util.hpp) against the reference backend, on
// random inputs: a seeded sweep of convolution shapes (channels 1-67, kernels
// 1/3/5/7, strides 1/2, asymmetric pads, dilations 1/2, groups and depthwise,
// fused activations), pools, activations, broadcasting binaries, Gemm/MatMul,
// BatchNorm, data movement, reductions, softmax, and MobileNet/ResNet blocks.
// Tolerance: max|a-b| / max|ref| <= 1e-4.
#include <fmt/format.h>

#include <functional>
#include <random>
#include <set>

#include "engine/core/op_info.hpp"
#include "engine/runtime/backend_registry.hpp"
#include "tests/backends/backend_test_util.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;

constexpr double kTol = 1e-4;

struct OpCase {
  std::string name;
  std::function<Graph()> build;
  float lo = -1.0f, hi = 1.0f;  // range of the random inputs
};
void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

// ---- building blocks ----------------------------------------------------------

struct ConvSpec {
  int64_t n = 1, cin = 3, cout = 4, h = 9, w = 9;
  int32_t kh = 3, kw = 3, sh = 1, sw = 1, dh = 1, dw = 1, group = 1;
  std::vector<int32_t> pads{1, 1, 1, 1};  // top, left, bottom, right
  bool bias = true;
  fb::FusedActivation activation{};
};

std::string describe(const ConvSpec& s) {
  return fmt::format("n{}_c{}to{}_{}x{}_k{}x{}_s{}x{}_d{}x{}_g{}_p{}{}{}{}{}{}", s.n, s.cin, s.cout, s.h, s.w, s.kh,
                     s.kw, s.sh, s.sw, s.dh, s.dw, s.group, s.pads[0], s.pads[1], s.pads[2], s.pads[3],
                     s.bias ? "_bias" : "", s.activation.kind() == K::None ? "" : "_act");
}

TensorId add_conv(GraphBuilder& b, TensorId x, const ConvSpec& s, uint32_t seed) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(s.cin / s.group * s.kh * s.kw));
  const TensorId w = b.random_constant(numbered("w", seed), {s.cout, s.cin / s.group, s.kh, s.kw}, seed, -bound, bound);
  std::vector<TensorId> in{x, w};
  if (s.bias) in.push_back(b.random_constant(numbered("bias", seed), {s.cout}, seed + 1));
  return b.node(O::Conv, in, conv_attrs({s.kh, s.kw}, {s.sh, s.sw}, s.pads, {s.dh, s.dw}, s.group, s.activation));
}

Graph conv_graph(const ConvSpec& s, uint32_t seed) {
  GraphBuilder b;
  const TensorId x = b.input("x", {s.n, s.cin, s.h, s.w});
  b.output(add_conv(b, x, s, seed));
  return b.build();
}

// A random but valid convolution: output at least 1x1, pads below the
// dilated kernel extent, groups dividing both channel counts.
ConvSpec random_conv(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvSpec s;
  const int kernels[] = {1, 3, 5, 7};
  s.kh = kernels[pick(0, 3)];
  s.kw = pick(0, 3) == 0 ? kernels[pick(0, 3)] : s.kh;  // mostly square
  s.sh = pick(1, 2);
  s.sw = pick(0, 3) == 0 ? 3 - s.sh : s.sh;
  s.dh = s.kh > 1 && pick(0, 3) == 0 ? 2 : 1;
  s.dw = s.kw > 1 && pick(0, 3) == 0 ? 2 : 1;
  const int ekh = (s.kh - 1) * s.dh + 1, ekw = (s.kw - 1) * s.dw + 1;
  s.pads = {pick(0, ekh - 1), pick(0, ekw - 1), pick(0, ekh - 1), pick(0, ekw - 1)};
  s.h = pick(std::max(1, ekh - s.pads[0] - s.pads[2]), 19);
  s.w = pick(std::max(1, ekw - s.pads[1] - s.pads[3]), 19);
  switch (pick(0, 3)) {
    case 0: {  // depthwise, channel multiplier 1 or 2
      s.cin = pick(1, 67);
      s.group = static_cast<int32_t>(s.cin);
      s.cout = s.cin * pick(1, 2);
      break;
    }
    case 1: {  // grouped
      s.group = pick(2, 4);
      s.cin = s.group * pick(1, 12);
      s.cout = s.group * pick(1, 12);
      break;
    }
    default:
      s.cin = pick(1, 67);
      s.cout = pick(1, 67);
  }
  s.n = pick(0, 5) == 0 ? 2 : 1;
  s.bias = pick(0, 3) != 0;
  switch (pick(0, 4)) {
    case 0: s.activation = act(K::Relu); break;
    case 1: s.activation = act(K::Clip, 0.0f, 6.0f); break;
    case 2: s.activation = act(K::LeakyRelu, 0.1f); break;
    default: break;
  }
  return s;
}

Graph unary_graph(O op, fb::AttributesUnion attrs, Shape shape) {
  GraphBuilder b;
  const TensorId x = b.input("x", shape);
  b.output(b.node(op, {x}, std::move(attrs)));
  return b.build();
}

template <class T>
Graph unary_graph(O op, T attrs, Shape shape) {
  return unary_graph(op, make_attrs(std::move(attrs)), std::move(shape));
}

// op(x, y) where either operand may be a constant (const_a / const_b).
Graph binary_graph(O op, Shape a, Shape b_shape, bool const_a, bool const_b, fb::FusedActivation activation = {},
                   float lo = -1.0f, float hi = 1.0f) {
  GraphBuilder b;
  const TensorId x = const_a ? b.random_constant("a", a, 7, lo, hi) : b.input("a", a);
  const TensorId y = const_b ? b.random_constant("b", b_shape, 8, lo, hi) : b.input("b", b_shape);
  b.output(b.node(op, {x, y}, binary_attrs(activation)));
  return b.build();
}

// ---- the cases ------------------------------------------------------------------

std::vector<OpCase> conv_cases() {
  std::vector<OpCase> v;
  // Layers of MobileNetV2 and ResNet, scaled down in space.
  auto named = [&](const std::string& name, ConvSpec s) {
    v.push_back({"Conv_" + name, [s] { return conv_graph(s, 11); }});
  };
  named("stem_3to16_k3s2", {1, 3, 16, 23, 23, 3, 3, 2, 2, 1, 1, 1, {0, 0, 1, 1}, true, act(K::Clip, 0, 6)});
  named("stem_3to8_k7s2", {1, 3, 8, 21, 21, 7, 7, 2, 2, 1, 1, 1, {3, 3, 3, 3}, true, act(K::Relu)});
  named("pointwise_67to35", {1, 67, 35, 7, 9, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, {}});
  named("pointwise_16to96_relu6", {1, 16, 96, 10, 10, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, act(K::Clip, 0, 6)});
  named("depthwise_32_k3s1", {1, 32, 32, 14, 14, 3, 3, 1, 1, 1, 1, 32, {1, 1, 1, 1}, true, act(K::Clip, 0, 6)});
  named("depthwise_24_k3s2", {1, 24, 24, 15, 15, 3, 3, 2, 2, 1, 1, 24, {1, 1, 1, 1}, true, act(K::Clip, 0, 6)});
  named("depthwise_19_k5s2_asym", {1, 19, 19, 13, 11, 5, 5, 2, 2, 1, 1, 19, {1, 2, 2, 1}, false, {}});
  named("resnet_3x3_64", {1, 64, 64, 8, 8, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, act(K::Relu)});
  named("resnet_3x3_s2_32to64", {1, 32, 64, 9, 9, 3, 3, 2, 2, 1, 1, 1, {1, 1, 1, 1}, true, act(K::Relu)});
  named("dilated_3x3_d2", {1, 8, 12, 11, 11, 3, 3, 1, 1, 2, 2, 1, {2, 2, 2, 2}, true, {}});
  named("batch2_grouped", {2, 12, 8, 7, 7, 3, 3, 1, 1, 1, 1, 4, {1, 0, 0, 1}, true, {}});
  named("rect_1x7", {1, 5, 6, 9, 13, 1, 7, 1, 1, 1, 1, 1, {0, 3, 0, 3}, true, {}});
  // A seeded random sweep.
  std::mt19937 rng(2026);
  for (int i = 0; i < 40; ++i) {
    const ConvSpec s = random_conv(rng);
    const uint32_t seed = 100 + static_cast<uint32_t>(i);
    v.push_back({fmt::format("Conv_random{:02d}_{}", i, describe(s)), [s, seed] { return conv_graph(s, seed); }});
  }
  return v;
}

std::vector<OpCase> other_cases() {
  std::vector<OpCase> v;
  const Shape img{1, 5, 7, 9};
  // Pools.
  v.push_back({"MaxPool_k3s2_asym_ceil", [] {
                 return unary_graph(O::MaxPool, pool_attrs({3, 3}, {2, 2}, {0, 1, 1, 0}, {}, true), {1, 6, 12, 11});
               }});
  v.push_back({"MaxPool_k2s2", [] { return unary_graph(O::MaxPool, pool_attrs({2, 2}, {2, 2}), {2, 3, 8, 9}); }});
  v.push_back({"MaxPool_dilated", [] {
                 return unary_graph(O::MaxPool, pool_attrs({3, 2}, {1, 2}, {1, 1, 1, 0}, {2, 1}), {1, 4, 10, 9});
               }});
  v.push_back({"AveragePool_k3s1_pad_exclude", [] {
                 return unary_graph(O::AveragePool, pool_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}), {1, 7, 9, 8});
               }});
  v.push_back({"AveragePool_k3s2_pad_include_ceil", [] {
                 return unary_graph(O::AveragePool, pool_attrs({3, 3}, {2, 2}, {1, 0, 1, 1}, {}, true, true),
                                    {1, 5, 10, 11});
               }});
  v.push_back({"GlobalAveragePool", [] { return unary_graph(O::GlobalAveragePool, no_attrs(), {2, 67, 7, 5}); }});
  v.push_back({"GlobalMaxPool", [] { return unary_graph(O::GlobalMaxPool, no_attrs(), {1, 33, 6, 9}); }});
  // Activations, on a range that reaches every piece of each function.
  v.push_back({"Relu", [img] { return unary_graph(O::Relu, no_attrs(), img); }, -4, 4});
  v.push_back({"Clip", [img] { return unary_graph(O::Clip, clip_attrs(-0.3f, 0.7f), img); }, -4, 4});
  v.push_back({"LeakyRelu", [img] { return unary_graph(O::LeakyRelu, leaky_relu_attrs(0.15f), img); }, -4, 4});
  v.push_back({"Sigmoid", [img] { return unary_graph(O::Sigmoid, no_attrs(), img); }, -6, 6});
  v.push_back({"HardSigmoid", [img] { return unary_graph(O::HardSigmoid, hard_sigmoid_attrs(0.2f, 0.5f), img); }, -4, 4});
  v.push_back({"HardSwish", [img] { return unary_graph(O::HardSwish, no_attrs(), img); }, -5, 5});
  v.push_back({"Tanh", [img] { return unary_graph(O::Tanh, no_attrs(), img); }, -3, 3});
  // Binaries: same shapes, per-channel and scalar constants, two-sided broadcasts.
  v.push_back({"Add_same_shape", [img] { return binary_graph(O::Add, img, img, false, false); }});
  v.push_back({"Sub_per_channel_const", [] { return binary_graph(O::Sub, {1, 6, 5, 7}, {6, 1, 1}, false, true); }});
  v.push_back({"Mul_scalar_const_first", [] { return binary_graph(O::Mul, {1}, {1, 4, 6, 5}, true, false); }});
  v.push_back({"Div_by_const_rows", [] {
                 return binary_graph(O::Div, {1, 3, 4, 5}, {5}, false, true, {}, 0.5f, 2.0f);
               }});
  v.push_back({"Add_two_sided_broadcast_relu", [] {
                 return binary_graph(O::Add, {2, 1, 4, 5}, {1, 3, 1, 5}, false, false, act(K::Relu));
               }});
  v.push_back({"Mul_input_per_channel", [] { return binary_graph(O::Mul, {1, 8, 3, 3}, {1, 8, 1, 1}, false, false); }});
  v.push_back({"Div_same_shape", [] { return binary_graph(O::Div, {2, 3, 4}, {2, 3, 4}, false, true, {}, 0.5f, 2.0f); }});
  // Gemm / MatMul.
  v.push_back({"Gemm_transB_bias_alpha_beta", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {3, 37});
                 const TensorId w = b.random_constant("w", {19, 37}, 5);
                 const TensorId c = b.random_constant("c", {19}, 6);
                 b.output(b.node(O::Gemm, {x, w, c}, gemm_attrs(0.7f, 1.3f, false, true)));
                 return b.build();
               }});
  v.push_back({"Gemm_transA_matrix_bias", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {13, 4});
                 const TensorId w = b.random_constant("w", {13, 21}, 5);
                 const TensorId c = b.random_constant("c", {4, 21}, 6);
                 b.output(b.node(O::Gemm, {x, w, c}, gemm_attrs(1.0f, 0.5f, true, false, act(K::Relu))));
                 return b.build();
               }});
  v.push_back({"Gemm_classifier_1280to1000", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {1, 1280});
                 const TensorId w = b.random_constant("w", {1000, 1280}, 5, -0.05f, 0.05f);
                 const TensorId c = b.random_constant("c", {1000}, 6);
                 b.output(b.node(O::Gemm, {x, w, c}, gemm_attrs(1.0f, 1.0f, false, true)));
                 return b.build();
               }});
  v.push_back({"MatMul_batched_by_matrix", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {2, 5, 7});
                 const TensorId w = b.random_constant("w", {7, 9}, 5);
                 b.output(b.node(O::MatMul, {x, w}));
                 return b.build();
               }});
  v.push_back({"MatMul_two_inputs", [] {
                 GraphBuilder b;
                 b.output(b.node(O::MatMul, {b.input("a", {6, 11}), b.input("b", {11, 3})}));
                 return b.build();
               }});
  // BatchNorm (unfolded: the graph has no conv before it).
  v.push_back({"BatchNormalization", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {2, 6, 5, 4});
                 b.output(b.node(O::BatchNormalization,
                                 {x, b.random_constant("g", {6}, 1, 0.5f, 1.5f), b.random_constant("be", {6}, 2),
                                  b.random_constant("m", {6}, 3), b.random_constant("v", {6}, 4, 0.5f, 1.5f)},
                                 batchnorm_attrs(1e-5f)));
                 return b.build();
               }});
  // Data movement.
  v.push_back({"Flatten_axis1", [] { return unary_graph(O::Flatten, flatten_attrs(1), {2, 3, 4, 5}); }});
  v.push_back({"Reshape", [] { return unary_graph(O::Reshape, reshape_attrs({4, 6, 3}), {2, 3, 4, 3}); }});
  v.push_back({"Squeeze", [] { return unary_graph(O::Squeeze, axes_attrs({2, 3}), {1, 7, 1, 1}); }});
  v.push_back({"Unsqueeze", [] { return unary_graph(O::Unsqueeze, axes_attrs({0, 3}), {3, 4, 5}); }});
  v.push_back({"Identity", [] { return unary_graph(O::Identity, no_attrs(), {2, 3, 5}); }});
  v.push_back({"Dropout_inference", [] { return unary_graph(O::Dropout, no_attrs(), {1, 9}); }});
  v.push_back({"Transpose_to_nhwc", [] { return unary_graph(O::Transpose, transpose_attrs({0, 2, 3, 1}), {2, 5, 3, 4}); }});
  v.push_back({"Transpose_shuffle", [] { return unary_graph(O::Transpose, transpose_attrs({3, 1, 0, 2}), {2, 5, 3, 4}); }});
  for (int axis : {1, 2, 3})
    v.push_back({fmt::format("Concat_axis{}", axis), [axis] {
                   GraphBuilder b;
                   Shape a{1, 3, 4, 5}, c{1, 3, 4, 5}, d{1, 3, 4, 5};
                   c[static_cast<size_t>(axis)] = 2;
                   d[static_cast<size_t>(axis)] = 7;
                   b.output(b.node(O::Concat, {b.input("a", a), b.input("c", c), b.input("d", d)}, concat_attrs(axis)));
                   return b.build();
                 }});
  v.push_back({"Split_channels", [] {
                 GraphBuilder b;
                 const auto parts = b.node_n(O::Split, {b.input("x", {1, 6, 4, 5})}, make_attrs(split_attrs(1, {2, 3, 1})), 3);
                 for (TensorId t : parts) b.output(t);
                 return b.build();
               }});
  v.push_back({"Slice_steps_and_negative", [] {
                 return unary_graph(O::Slice, slice_attrs({1, 9, 0}, {5, 0, 7}, {1, 2, 3}, {2, -2, 3}), {1, 6, 10, 8});
               }});
  v.push_back({"Pad_constant_asym", [] { return unary_graph(O::Pad, pad_attrs({0, 0, 1, 2, 0, 1, 3, 0}, 0.5f), {1, 3, 4, 5}); }});
  // Reductions and softmax.
  v.push_back({"ReduceMean_spatial_keepdims", [] { return unary_graph(O::ReduceMean, reduce_attrs({2, 3}, true), {2, 5, 4, 3}); }});
  v.push_back({"ReduceMean_channels", [] { return unary_graph(O::ReduceMean, reduce_attrs({1}, false), {2, 5, 4, 3}); }});
  v.push_back({"Softmax_logits", [] { return unary_graph(O::Softmax, softmax_attrs(1), {2, 1000}); }, -8, 8});
  v.push_back({"Softmax_inner_axis", [] { return unary_graph(O::Softmax, softmax_attrs(3), {1, 3, 4, 5}); }, -4, 4});
  v.push_back({"Softmax_trailing_axes", [] { return unary_graph(O::Softmax, softmax_attrs(1, true), {2, 3, 4}); }});
  return v;
}

std::vector<OpCase> block_cases() {
  std::vector<OpCase> v;
  // An inverted residual block (expand 1x1, depthwise 3x3, project 1x1, + input):
  // what fused depthwise/pointwise paths are built for.
  for (int stride : {1, 2})
    v.push_back({fmt::format("Block_inverted_residual_s{}", stride), [stride] {
                   GraphBuilder b;
                   const TensorId x = b.input("x", {1, 16, 14, 14});
                   const auto relu6 = act(K::Clip, 0.0f, 6.0f);
                   TensorId t = add_conv(b, x, {1, 16, 96, 14, 14, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, relu6}, 1);
                   t = add_conv(b, t, {1, 96, 96, 14, 14, 3, 3, stride, stride, 1, 1, 96, {1, 1, 1, 1}, true, relu6}, 2);
                   const int64_t hw = stride == 1 ? 14 : 7;
                   t = add_conv(b, t, {1, 96, 16, hw, hw, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, {}}, 3);
                   if (stride == 1) t = b.node(O::Add, {t, x}, binary_attrs());
                   b.output(t);
                   return b.build();
                 }});
  // A ResNet basic block with a strided shortcut, then pool and classifier.
  v.push_back({"Block_resnet_basic_downsample_head", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {1, 8, 12, 12});
                 TensorId t = add_conv(b, x, {1, 8, 16, 12, 12, 3, 3, 2, 2, 1, 1, 1, {1, 1, 1, 1}, true, act(K::Relu)}, 1);
                 t = add_conv(b, t, {1, 16, 16, 6, 6, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, {}}, 2);
                 const TensorId sc = add_conv(b, x, {1, 8, 16, 12, 12, 1, 1, 2, 2, 1, 1, 1, {0, 0, 0, 0}, true, {}}, 3);
                 t = b.node(O::Add, {t, sc}, binary_attrs(act(K::Relu)));
                 t = b.node(O::GlobalAveragePool, {t});
                 t = b.node(O::Flatten, {t}, flatten_attrs(1));
                 t = b.node(O::Gemm, {t, b.random_constant("fc_w", {10, 16}, 4), b.random_constant("fc_b", {10}, 5)},
                            gemm_attrs(1.0f, 1.0f, false, true));
                 b.output(b.node(O::Softmax, {t}, softmax_attrs(1)));
                 return b.build();
               }});
  // A SqueezeNet fire module: concat of two convolutions of one input.
  v.push_back({"Block_fire_concat", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {1, 12, 9, 9});
                 const TensorId s = add_conv(b, x, {1, 12, 6, 9, 9, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, act(K::Relu)}, 1);
                 const TensorId e1 = add_conv(b, s, {1, 6, 10, 9, 9, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, act(K::Relu)}, 2);
                 const TensorId e3 = add_conv(b, s, {1, 6, 10, 9, 9, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, act(K::Relu)}, 3);
                 b.output(b.node(O::Concat, {e1, e3}, concat_attrs(1)));
                 return b.build();
               }});
  v.push_back({"Graph_every_op", [] { return all_ops_graph(); }});
  return v;
}

std::vector<OpCase> all_cases() {
  std::vector<OpCase> v = conv_cases();
  for (auto* more : {other_cases, block_cases})
    for (OpCase& c : more()) v.push_back(std::move(c));
  return v;
}

// ---- the tests ------------------------------------------------------------------

class BackendOps : public ::testing::TestWithParam<std::tuple<std::string, OpCase>> {
 protected:
  void SetUp() override {
    if (const std::string why = why_backend_cannot_run(backend()); !why.empty()) GTEST_SKIP() << why;
  }
  const std::string& backend() const { return std::get<0>(GetParam()); }
  const OpCase& op_case() const { return std::get<1>(GetParam()); }
};

TEST_P(BackendOps, MatchesTheReferenceBackend) {
  const Graph g = op_case().build();
  // Every node must run on the backend itself: a backend claims every op of the reference.
  const std::unique_ptr<Backend> be = BackendRegistry::global().create(backend());
  for (const Node& n : g.nodes)
    ASSERT_TRUE(be->supports(g, n)) << backend() << " does not support " << n.name << " (" << op_name(n.op) << ")";

  const Model model(std::make_shared<Graph>(g));
  Session session(model, options_for(backend()));
  // Two runs with different inputs: each must match its own reference (a
  // backend that kept stale results or ignored its inputs fails the second).
  for (uint32_t seed : {1u, 2u}) {
    const std::vector<Tensor> inputs = random_inputs(g, seed, op_case().lo, op_case().hi);
    const std::vector<Tensor> expected = run_graph(g, inputs, "reference");
    const std::vector<Tensor> got = session.run(inputs);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(tensors_close(got[i], expected[i], kTol)) << backend() << " output " << i << " (seed " << seed << ")";
  }
}

std::vector<std::tuple<std::string, OpCase>> params() {
  std::vector<std::tuple<std::string, OpCase>> v;
  for (const std::string& backend : backends_under_test())
    for (const OpCase& c : all_cases()) v.emplace_back(backend, c);
  return v;
}

INSTANTIATE_TEST_SUITE_P(EveryBackend, BackendOps, ::testing::ValuesIn(params()), [](const auto& info) {
  return std::get<0>(info.param) + "_" + std::get<1>(info.param).name;
});
// A build with only the reference backend has nothing to instantiate.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendOps);

// The harness itself: the conv sweep covers what it claims to.
TEST(BackendOpsHarness, ConvSweepCoversTheShapeSpace) {
  std::mt19937 rng(2026);
  bool depthwise = false, grouped = false, dilated = false, strided = false, asym = false, odd_channels = false;
  std::set<int> kernels;
  for (int i = 0; i < 40; ++i) {
    const ConvSpec s = random_conv(rng);
    depthwise |= s.group == s.cin && s.group > 1;
    grouped |= s.group > 1 && s.group != s.cin;
    dilated |= s.dh == 2 || s.dw == 2;
    strided |= s.sh == 2 || s.sw == 2;
    asym |= s.pads[0] != s.pads[2] || s.pads[1] != s.pads[3];
    odd_channels |= s.cin % 4 != 0 && s.cin > 4;
    kernels.insert(s.kh);
  }
  EXPECT_TRUE(depthwise && grouped && dilated && strided && asym && odd_channels);
  EXPECT_EQ(kernels, (std::set<int>{1, 3, 5, 7}));
}

}  // namespace
}  // namespace kiln::test
