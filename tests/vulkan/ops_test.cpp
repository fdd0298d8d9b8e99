// Every op of the reference backend on backend "vulkan" against the reference
// (max|a-b| / max|ref| <= 1e-4), on random inputs and many shapes: a sweep of
// convolutions with every registered algorithm forced where it applies, the
// fused depthwise+pointwise pair, residual fusion, pools, broadcasting
// binaries, activations, data movement, GEMM/MatMul, Softmax, ReduceMean,
// BatchNorm; plus tune and its cache, timestamps, and bad options. Built a
// second time with float16 storage (kiln_vulkan_fp16_ops_test; see kTol).
// Without a Vulkan device every test that needs one is skipped, saying why.
#include <fmt/format.h>

#include <random>
#include <set>

#include "engine/core/op_info.hpp"
#include "engine/runtime/backend_registry.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/vulkan/vulkan_test_util.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;
#ifdef KILN_VULKAN_TEST_FP16_STORAGE
// This file is built twice: kiln_vulkan_fp16_ops_test runs every test below
// with --fp16-storage (vulkan_options() sets it), so every shader's float16
// build is checked on the same sweep. Inputs, weights, biases and each
// intermediate are rounded to float16 (relative step 2^-11 = 4.9e-4) while
// the arithmetic stays float32; a conv output sums many rounded products and
// is rounded again, chains of layers compound that, and cancellation makes
// small outputs carry the error of the large terms, hence a bound relative to
// max|ref| of 1e-2 (about 20 float16 steps). Measured on lavapipe: at most
// 1.5e-3 (Softmax on inputs in [-5, 5]), convolutions 6.7e-4; the margin is for
// devices whose float16 stores round toward zero, which Vulkan allows.
// Indexing or conversion bugs give errors of order 1.
constexpr double kTol = 1e-2;
#else
constexpr double kTol = 1e-4;
#endif

const std::vector<std::string> kAlgorithms = {"gemm1x1", "depthwise", "implicit_gemm", "direct"};

TEST(VulkanOps, BackendIsRegisteredAndSupportsEveryReferenceOp) {
  const auto names = available_backends();
  ASSERT_NE(std::find(names.begin(), names.end(), "vulkan"), names.end());
  // all_ops_graph uses every OpType; supports() must accept every node (no device needed).
  const Graph g = all_ops_graph();
  std::set<OpType> seen;
  for (const Node& n : g.nodes) seen.insert(n.op);
  for (const OpInfo& info : all_ops()) EXPECT_TRUE(seen.count(info.op)) << "all_ops_graph lacks " << info.name;
  auto backend = BackendRegistry::global().create("vulkan");
  for (const Node& n : g.nodes) EXPECT_TRUE(backend->supports(g, n)) << n.name << " " << op_name(n.op);
}

TEST(VulkanOps, DevicesAreListed) {
  KILN_SKIP_WITHOUT_VULKAN();
  const auto devices = list_devices("vulkan");
  ASSERT_FALSE(devices.empty());
  for (const auto& d : devices) fmt::print("[ figures  ] vulkan device {}: {} ({})\n", d.index, d.name, d.detail);
}

TEST(VulkanOps, AllOpsGraph) {
  KILN_SKIP_WITHOUT_VULKAN();
  const Graph g = all_ops_graph();
  expect_vulkan_matches_reference(g, random_inputs(g, 7), kTol);
}

// ---- convolutions -------------------------------------------------------------------------

struct ConvCase {
  int64_t n, c, k, h, w;
  int32_t kh, kw, sh, sw, dh, dw, group;
  std::vector<int32_t> pads;  // top, left, bottom, right
  fb::FusedActivation activation;
};

std::string describe(const ConvCase& c) {
  return fmt::format("N{} C{} K{} {}x{} k{}x{} s{}x{} d{}x{} g{} p{},{},{},{} act{}", c.n, c.c, c.k, c.h, c.w, c.kh, c.kw,
                     c.sh, c.sw, c.dh, c.dw, c.group, c.pads[0], c.pads[1], c.pads[2], c.pads[3],
                     static_cast<int>(c.activation.kind()));
}

Graph conv_graph(const ConvCase& c, uint32_t seed, bool bias = true) {
  GraphBuilder b;
  const TensorId x = b.input("x", {c.n, c.c, c.h, c.w});
  const TensorId w = b.random_constant("w", {c.k, c.c / c.group, c.kh, c.kw}, seed, -0.5f, 0.5f);
  std::vector<TensorId> ins = {x, w};
  if (bias) ins.push_back(b.random_constant("b", {c.k}, seed + 1));
  const TensorId y = b.node(O::Conv, ins,
                            conv_attrs({c.kh, c.kw}, {c.sh, c.sw}, c.pads, {c.dh, c.dw}, c.group, c.activation), "conv");
  b.output(y);
  return b.build();
}

// A fixed pseudo-random sweep: channels 1..67 (non-multiples of 4 and 16
// included), kernels 1/3/5/7, strides 1/2, asymmetric pads, dilations 1/2,
// groups 1, 2-4 and depthwise; small spatial sizes keep lavapipe quick.
std::vector<ConvCase> conv_sweep() {
  std::mt19937 rng(20240611);
  auto pick = [&](std::initializer_list<int> v) { return *(v.begin() + rng() % v.size()); };
  const K acts[] = {K::None, K::Relu, K::Clip, K::HardSwish, K::LeakyRelu, K::Sigmoid};
  std::vector<ConvCase> cases;
  for (int i = 0; i < 36; ++i) {
    ConvCase c;
    const int kind = i % 4;  // 0 dense, 1 depthwise, 2 grouped, 3 pointwise
    const int32_t k = kind == 3 ? 1 : pick({1, 3, 3, 5, 7});
    c.kh = k;
    c.kw = (i % 7 == 0 && k > 1) ? pick({1, 3}) : k;
    c.sh = pick({1, 2});
    c.sw = (i % 5 == 0) ? 3 - c.sh : c.sh;
    c.dh = kind == 3 ? 1 : pick({1, 1, 2});
    c.dw = kind == 3 ? 1 : pick({1, 2});
    const int64_t base = pick({1, 3, 4, 7, 16, 17, 24, 33, 64, 67});
    if (kind == 1) {
      c.c = c.k = base;
      c.group = static_cast<int32_t>(base);
    } else if (kind == 2) {
      c.group = pick({2, 3, 4});
      c.c = c.group * pick({1, 3, 5, 8});
      c.k = c.group * pick({1, 2, 5, 7});
    } else {
      c.group = 1;
      c.c = base;
      c.k = pick({1, 5, 16, 19, 32, 67});
    }
    c.n = i % 9 == 0 ? 2 : 1;
    c.h = pick({5, 7, 9, 12});
    c.w = pick({5, 8, 11});
    if (kind == 3 && i % 8 == 3) {
      c.pads = {0, 0, 0, 0};
    } else {
      c.pads = {static_cast<int32_t>(rng() % 3), static_cast<int32_t>(rng() % 3), static_cast<int32_t>(rng() % 3),
                static_cast<int32_t>(rng() % 2)};
    }
    // The (dilated) kernel must fit the padded input.
    while ((c.kh - 1) * c.dh + 1 > c.h + c.pads[0] + c.pads[2]) c.dh = 1, c.kh = std::max(1, c.kh - 2);
    while ((c.kw - 1) * c.dw + 1 > c.w + c.pads[1] + c.pads[3]) c.dw = 1, c.kw = std::max(1, c.kw - 2);
    const K a = acts[rng() % 6];
    c.activation = act(a, a == K::Clip ? 0.0f : a == K::LeakyRelu ? 0.1f : 0.0f, a == K::Clip ? 6.0f : 0.0f);
    cases.push_back(c);
  }
  return cases;
}

class VulkanConv : public ::testing::TestWithParam<ConvCase> {};

TEST_P(VulkanConv, EveryApplicableAlgorithmMatchesReference) {
  KILN_SKIP_WITHOUT_VULKAN();
  const ConvCase& c = GetParam();
  SCOPED_TRACE(describe(c));
  const Graph g = conv_graph(c, 11);
  const auto inputs = random_inputs(g, 5);
  expect_vulkan_matches_reference(g, inputs, kTol, "heuristic");
  for (const std::string& a : kAlgorithms) {
    const std::string detail = vulkan_node_detail(g, "conv", "fixed:" + a);
    if (detail.rfind(a + " [fixed", 0) != 0) continue;  // not applicable: the heuristic ran instead
    SCOPED_TRACE(a);
    expect_vulkan_matches_reference(g, inputs, kTol, "fixed:" + a);
  }
}

INSTANTIATE_TEST_SUITE_P(Sweep, VulkanConv, ::testing::ValuesIn(conv_sweep()),
                         [](const auto& info) { return fmt::format("case{}", info.index); });

TEST(VulkanConvAlgorithms, EachIsUsedSomewhereInTheSweep) {
  KILN_SKIP_WITHOUT_VULKAN();
  std::set<std::string> used;
  for (const ConvCase& c : conv_sweep()) {
    const Graph g = conv_graph(c, 11);
    for (const std::string& a : kAlgorithms)
      if (vulkan_node_detail(g, "conv", "fixed:" + a).rfind(a + " [fixed", 0) == 0) used.insert(a);
  }
  for (const std::string& a : kAlgorithms) EXPECT_TRUE(used.count(a)) << a << " applied to no case of the sweep";
}

TEST(VulkanConvAlgorithms, NoBiasAndOneAndThreeSpatialAxes) {
  KILN_SKIP_WITHOUT_VULKAN();
  ConvCase c{1, 6, 10, 9, 9, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, {}};
  for (const char* a : {"heuristic", "fixed:implicit_gemm", "fixed:direct"}) {
    const Graph g = conv_graph(c, 3, false);
    expect_vulkan_matches_reference(g, random_inputs(g, 9), kTol, a);
  }
  {  // 1-D
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 5, 17});
    const TensorId w = b.random_constant("w", {7, 5, 3}, 3);
    b.output(b.node(O::Conv, {x, w}, conv_attrs({3}, {2}, {2, 1}, {2}, 1, act(K::Relu))));
    const Graph g = b.build();
    for (const char* a : {"heuristic", "fixed:gemm1x1", "fixed:direct"})
      expect_vulkan_matches_reference(g, random_inputs(g, 2), kTol, a);
  }
  {  // 3-D, grouped
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 4, 5, 6, 7});
    const TensorId w = b.random_constant("w", {6, 2, 3, 2, 3}, 4);
    const TensorId bias = b.random_constant("b", {6}, 5);
    b.output(b.node(O::Conv, {x, w, bias}, conv_attrs({3, 2, 3}, {2, 1, 2}, {1, 0, 1, 0, 1, 1}, {1, 2, 1}, 2)));
    const Graph g = b.build();
    expect_vulkan_matches_reference(g, random_inputs(g, 3), kTol);
  }
}

TEST(VulkanConvAlgorithms, ConvWithWeightsComputedAtRunTime) {
  KILN_SKIP_WITHOUT_VULKAN();
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 3, 8, 8});
  const TensorId w = b.input("w", {4, 3, 3, 3});
  b.output(b.node(O::Conv, {x, w}, conv_attrs({3, 3}, {1, 1}, {1, 1, 1, 1})));
  const Graph g = b.build();
  for (const char* a : {"heuristic", "fixed:direct", "fixed:implicit_gemm"})
    expect_vulkan_matches_reference(g, random_inputs(g, 4), kTol, a);
}

// expand 1x1 -> depthwise -> project 1x1 (+ residual), as in MobileNetV2.
Graph inverted_residual(int64_t c, int64_t e, int32_t k, int32_t stride, bool residual, fb::FusedActivation dw_act) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, c, 10, 9});
  const TensorId w1 = b.random_constant("w1", {e, c, 1, 1}, 1, -0.5f, 0.5f);
  const TensorId b1 = b.random_constant("b1", {e}, 2);
  const TensorId t1 = b.node(O::Conv, {x, w1, b1}, conv_attrs({1, 1}, {}, {}, {}, 1, act(K::Clip, 0, 6)), "expand");
  const TensorId w2 = b.random_constant("w2", {e, 1, k, k}, 3, -0.5f, 0.5f);
  const TensorId b2 = b.random_constant("b2", {e}, 4);
  const int32_t p = k / 2;
  const TensorId t2 =
      b.node(O::Conv, {t1, w2, b2}, conv_attrs({k, k}, {stride, stride}, {p, p, p, p}, {}, static_cast<int32_t>(e), dw_act), "dw");
  const TensorId w3 = b.random_constant("w3", {c, e, 1, 1}, 5, -0.5f, 0.5f);
  const TensorId b3 = b.random_constant("b3", {c}, 6);
  TensorId y = b.node(O::Conv, {t2, w3, b3}, conv_attrs({1, 1}), "project");
  if (residual) y = b.node(O::Add, {y, x}, binary_attrs(), "add");
  b.output(y);
  return b.build();
}

TEST(VulkanConvAlgorithms, FusedDepthwisePointwise) {
  KILN_SKIP_WITHOUT_VULKAN();
  for (bool residual : {false, true})
    for (int32_t k : {3, 5})
      for (int32_t stride : {1, 2}) {
        if (residual && stride == 2) continue;
        SCOPED_TRACE(fmt::format("residual {} k {} stride {}", residual, k, stride));
        const Graph g = inverted_residual(24, 70, k, stride, residual, act(K::Clip, 0, 6));
        const auto inputs = random_inputs(g, 8);
        expect_vulkan_matches_reference(g, inputs, kTol, "fixed:dw_pw_fused");
        const std::string detail = vulkan_node_detail(g, "dw", "fixed:dw_pw_fused");
        EXPECT_EQ(detail.rfind("dw_pw_fused + project", 0), 0u) << detail;
        EXPECT_EQ(vulkan_node_detail(g, "project", "fixed:dw_pw_fused"), "fused into dw");
        if (residual) {
          EXPECT_EQ(vulkan_node_detail(g, "add", "fixed:dw_pw_fused"), "fused into dw");
        }
        expect_vulkan_matches_reference(g, inputs, kTol, "heuristic");
        expect_vulkan_matches_reference(g, inputs, kTol, "fixed:direct");
      }
}

TEST(VulkanConvAlgorithms, ResidualAddFusedIntoTheConvEpilogue) {
  KILN_SKIP_WITHOUT_VULKAN();
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 8, 7, 7});
  const TensorId w = b.random_constant("w", {8, 8, 3, 3}, 1, -0.5f, 0.5f);
  const TensorId c = b.node(O::Conv, {x, w}, conv_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}), "conv");
  b.output(b.node(O::Add, {x, c}, binary_attrs(act(K::Relu)), "add"));
  const Graph g = b.build();
  for (const char* a : {"fixed:implicit_gemm", "fixed:direct"}) {
    expect_vulkan_matches_reference(g, random_inputs(g, 3), kTol, a);
    EXPECT_NE(vulkan_node_detail(g, "conv", a).find("+residual"), std::string::npos);
    EXPECT_EQ(vulkan_node_detail(g, "add", a), "fused into conv");
  }
}

// ---- pools --------------------------------------------------------------------------------

TEST(VulkanOps, Pools) {
  KILN_SKIP_WITHOUT_VULKAN();
  struct P {
    Shape x;
    std::vector<int32_t> k, s, p, d;
    bool ceil, cip;
  };
  const std::vector<P> cases = {
      {{1, 3, 9, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, false, false},
      {{2, 5, 10, 7}, {2, 3}, {2, 1}, {0, 1, 1, 0}, {1, 2}, true, false},
      {{1, 4, 11, 11}, {3, 3}, {2, 2}, {1, 0, 1, 1}, {}, true, true},
      {{1, 2, 8, 9}, {5, 5}, {3, 2}, {2, 2, 2, 2}, {2, 1}, false, true},
      {{1, 3, 13}, {4}, {3}, {1, 2}, {}, true, false},
      {{1, 2, 5, 6, 7}, {2, 3, 2}, {2, 2, 1}, {0, 1, 1, 1, 0, 0}, {}, false, true},
  };
  for (const P& c : cases)
    for (O op : {O::MaxPool, O::AveragePool}) {
      SCOPED_TRACE(fmt::format("{} {} k{} ceil {} cip {}", op_name(op), shape_to_string(c.x), c.k.size(), c.ceil, c.cip));
      GraphBuilder b;
      const TensorId x = b.input("x", c.x);
      b.output(b.node(op, {x}, pool_attrs(c.k, c.s, c.p, c.d, c.ceil, c.cip)));
      const Graph g = b.build();
      expect_vulkan_matches_reference(g, random_inputs(g, 4), kTol);
    }
  for (const Shape& s : std::vector<Shape>{{1, 7, 5, 5}, {2, 3, 1, 1}, {1, 65, 9, 13}, {1, 3, 100}})
    for (O op : {O::GlobalAveragePool, O::GlobalMaxPool}) {
      GraphBuilder b;
      const TensorId x = b.input("x", s);
      b.output(b.node(op, {x}));
      const Graph g = b.build();
      expect_vulkan_matches_reference(g, random_inputs(g, 4), kTol);
    }
}

// ---- elementwise --------------------------------------------------------------------------

TEST(VulkanOps, BinariesWithBroadcasting) {
  KILN_SKIP_WITHOUT_VULKAN();
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {3, 1, 1}}, {{1, 3, 1, 5}, {2, 1, 4, 1}},
      {{2, 3, 4, 5}, {5}},          {{4, 5}, {2, 3, 4, 5}},    {{1}, {3, 7}},
      {{2, 1, 3, 1, 2, 1}, {1, 4, 1, 5, 1, 3}}};
  const fb::FusedActivation acts[] = {act(K::None), act(K::Relu), act(K::Tanh), act(K::HardSigmoid, 0.2f, 0.5f)};
  int i = 0;
  for (const auto& [sa, sb] : shapes)
    for (O op : {O::Add, O::Sub, O::Mul, O::Div}) {
      SCOPED_TRACE(fmt::format("{} {} {}", op_name(op), shape_to_string(sa), shape_to_string(sb)));
      GraphBuilder b;
      const TensorId x = b.input("a", sa);
      // Constant second operand every other case; Div's divisor away from zero.
      const TensorId y = (i % 2) ? b.random_constant("b", sb, 3, 0.5f, 2.0f) : b.input("b", sb);
      b.output(b.node(op, {x, y}, binary_attrs(acts[i++ % 4])));
      const Graph g = b.build();
      expect_vulkan_matches_reference(g, random_inputs(g, 6, 0.5f, 2.0f), kTol);
    }
}

TEST(VulkanOps, ActivationsInPlaceChain) {
  KILN_SKIP_WITHOUT_VULKAN();
  GraphBuilder b;
  TensorId t = b.input("x", {2, 3, 5, 7});
  t = b.node(O::Tanh, {b.node(O::Sigmoid, {t})});
  t = b.node(O::LeakyRelu, {t}, leaky_relu_attrs(0.3f));
  t = b.node(O::HardSwish, {t});
  t = b.node(O::HardSigmoid, {t}, hard_sigmoid_attrs(0.7f, 0.1f));
  t = b.node(O::Clip, {t}, clip_attrs(0.2f, 0.6f));
  const TensorId u = b.node(O::Relu, {b.node(O::Tanh, {b.input("y", {2, 3, 5, 7})})});
  b.output(b.node(O::Add, {t, u}));
  const Graph g = b.build();
  expect_vulkan_matches_reference(g, random_inputs(g, 1, -8.0f, 8.0f), kTol);
}

TEST(VulkanOps, BatchNormalization) {
  KILN_SKIP_WITHOUT_VULKAN();
  for (const Shape& s : std::vector<Shape>{{2, 5, 4, 3}, {1, 7}, {3, 4, 6}}) {
    GraphBuilder b;
    const TensorId x = b.input("x", s);
    const int64_t c = s[1];
    b.output(b.node(O::BatchNormalization,
                    {x, b.random_constant("g", {c}, 1), b.random_constant("b", {c}, 2), b.random_constant("m", {c}, 3),
                     b.random_constant("v", {c}, 4, 0.5f, 2.0f)},
                    batchnorm_attrs(1e-3f)));
    const Graph g = b.build();
    expect_vulkan_matches_reference(g, random_inputs(g, 2), kTol);
  }
}

// ---- data movement ------------------------------------------------------------------------

TEST(VulkanOps, ConcatSplitSliceTransposePadReshape) {
  KILN_SKIP_WITHOUT_VULKAN();
  for (int32_t axis : {0, 1, 2, 3}) {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 3, 4, 5});
    const TensorId y = b.node(O::Relu, {b.input("y", {2, 3, 4, 5})});
    const TensorId k = b.random_constant("k", {2, 3, 4, 5}, 3);
    const TensorId cat = b.node(O::Concat, {x, y, k, x}, concat_attrs(axis));
    const int32_t a = axis < 0 ? 3 : axis;
    const int64_t total = Shape{2, 3, 4, 5}[static_cast<size_t>(a)] * 4;
    const auto parts = b.node_n(O::Split, {cat}, make_attrs(split_attrs(axis, {1, total - 3, 2})), 3);
    for (TensorId p : parts) b.output(p);
    const Graph g = b.build();
    SCOPED_TRACE(axis);
    expect_vulkan_matches_reference(g, random_inputs(g, 2), kTol);
  }
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {3, 4, 5, 6});
    b.output(b.node(O::Transpose, {x}, transpose_attrs({2, 0, 3, 1})));
    b.output(b.node(O::Slice, {x}, slice_attrs({2, -1, 1}, {0, 0, 6}, {0, 2, 3}, {-1, -2, 2})));
    b.output(b.node(O::Slice, {x}, slice_attrs({1}, {1}, {1}, {1})));  // empty
    b.output(b.node(O::Pad, {x}, pad_attrs({1, 0, 2, -1, 0, 2, -1, 3}, 0.25f)));
    b.output(b.node(O::Reshape, {x}, reshape_attrs({12, 30})));
    b.output(b.node(O::Flatten, {b.node(O::Sigmoid, {x})}, flatten_attrs(2)));
    b.output(b.node(O::Squeeze, {b.node(O::Unsqueeze, {x}, axes_attrs({0, 3}))}, axes_attrs({0})));
    const Graph g = b.build();
    expect_vulkan_matches_reference(g, random_inputs(g, 5), kTol);
  }
  {  // Transpose of rank 6, reshape of a constant.
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 1, 3, 2, 4, 3});
    b.output(b.node(O::Transpose, {x}, transpose_attrs({5, 3, 0, 4, 1, 2})));
    const TensorId k = b.random_constant("k", {4, 6}, 9);
    b.output(b.node(O::Add, {b.node(O::Reshape, {k}, reshape_attrs({2, 12})), b.input("y", {2, 12})}));
    const Graph g = b.build();
    expect_vulkan_matches_reference(g, random_inputs(g, 5), kTol);
  }
}

TEST(VulkanOps, SoftmaxAndReduceMean) {
  KILN_SKIP_WITHOUT_VULKAN();
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 3, 4, 5});
  for (int32_t axis : {0, 1, 3}) {
    b.output(b.node(O::Softmax, {x}, softmax_attrs(axis, false)));
    b.output(b.node(O::Softmax, {x}, softmax_attrs(axis, true)));
  }
  b.output(b.node(O::ReduceMean, {x}, reduce_attrs({1}, true)));
  b.output(b.node(O::ReduceMean, {x}, reduce_attrs({0, 2}, false)));
  b.output(b.node(O::ReduceMean, {x}, reduce_attrs({2, 3}, true)));
  b.output(b.node(O::ReduceMean, {x}, reduce_attrs({}, false)));
  const Graph g = b.build();
  expect_vulkan_matches_reference(g, random_inputs(g, 3, -5.0f, 5.0f), kTol);
}

TEST(VulkanOps, GemmAndMatMul) {
  KILN_SKIP_WITHOUT_VULKAN();
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int c_kind = 0; c_kind < 4; ++c_kind) {
        GraphBuilder b;
        const int64_t M = 3, K = 37, N = 11;
        const TensorId a = b.input("a", ta ? Shape{K, M} : Shape{M, K});
        const TensorId w = b.random_constant("w", tb ? Shape{N, K} : Shape{K, N}, 2);
        std::vector<TensorId> ins = {a, w};
        if (c_kind == 1) ins.push_back(b.random_constant("c", {N}, 3));
        if (c_kind == 2) ins.push_back(b.random_constant("c", {M, 1}, 3));
        if (c_kind == 3) ins.push_back(b.random_constant("c", {M, N}, 3));
        b.output(b.node(O::Gemm, ins, gemm_attrs(0.7f, 1.3f, ta, tb, act(c_kind == 2 ? K::Relu : K::None))));
        const Graph g = b.build();
        SCOPED_TRACE(fmt::format("ta {} tb {} c {}", ta, tb, c_kind));
        expect_vulkan_matches_reference(g, random_inputs(g, 4), kTol);
      }
  const std::vector<std::pair<Shape, Shape>> mm = {
      {{5, 7}, {7, 3}}, {{2, 5, 7}, {7, 3}}, {{7}, {7, 4}}, {{3, 7}, {7}}, {{2, 1, 4, 6}, {3, 6, 5}}, {{1, 2, 3}, {4, 1, 3, 2}}};
  for (const auto& [sa, sb] : mm) {
    GraphBuilder b;
    const TensorId a = b.input("a", sa);
    const TensorId m = b.node(O::MatMul, {a, b.input("b", sb)});
    b.output(m);
    const Graph g = b.build();
    SCOPED_TRACE(shape_to_string(sa) + " x " + shape_to_string(sb));
    expect_vulkan_matches_reference(g, random_inputs(g, 4), kTol);
  }
}

// ---- timing, tuning, options ----------------------------------------------------------------

TEST(VulkanOps, TimestampsGiveNodeAndDeviceTimes) {
  KILN_SKIP_WITHOUT_VULKAN();
  const Graph g = inverted_residual(16, 48, 3, 1, true, act(K::Relu));
  const Model model(std::make_shared<Graph>(g));
  Session s(model, vulkan_options());
  s.run(random_inputs(g, 1));
  const auto dev = s.device_time_ms();
  ASSERT_TRUE(dev.has_value()) << "this device's compute queue has no timestamps";
  EXPECT_GT(*dev, 0.0);
  double sum = 0;
  for (const NodeProfile& p : s.profile()) sum += p.ms;
  EXPECT_GT(sum, 0.0);
  EXPECT_LE(sum, *dev * 1.5 + 0.1);
}

TEST(VulkanOps, TuneTimesCandidatesThenReadsTheCache) {
  KILN_SKIP_WITHOUT_VULKAN();
  ConvCase c{1, 8, 12, 9, 9, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, act(K::Relu)};
  const Graph g = conv_graph(c, 2);
  TempPath cache("kiln_vulkan_tune", ".tsv");
  SessionOptions o = vulkan_options("tune");
  o.tuning_cache = cache.str();
  const Model model(std::make_shared<Graph>(g));
  for (int round = 0; round < 2; ++round) {
    Session s(model, o);
    const auto inputs = random_inputs(g, 3);
    const auto got = s.run(inputs);
    Session ref(model, SessionOptions{});
    EXPECT_TRUE(tensors_close(got[0], ref.run(inputs)[0], kTol));
    const std::string detail = s.profile()[0].detail;
    EXPECT_NE(detail.find(round == 0 ? "[tuned" : "[tuning cache"), std::string::npos) << detail;
  }
}

TEST(VulkanOps, BadOptionsAreClearErrors) {
  KILN_SKIP_WITHOUT_VULKAN();
  const Graph g = all_ops_graph();
  const Model model(std::make_shared<Graph>(g));
  SessionOptions o = vulkan_options();
  o.gpu.device = 99;
  try {
    Session s(model, o);
    FAIL() << "device 99 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--device 99 is out of range"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(list_devices("vulkan")[0].name), std::string::npos) << e.what();
  }
  try {
    Session s(model, vulkan_options("fixed:winograd"));
    FAIL() << "fixed:winograd accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dw_pw_fused"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::test
