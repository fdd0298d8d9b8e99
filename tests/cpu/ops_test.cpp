// One-node and small multi-node graphs on backend "cpu" (every ISA level, 1
// and 2 threads) against the reference backend: the SIMD pooling, activation,
// binary, concat and GEMM paths, the reference-kernel fallback, NCHW<->NHWC
// conversions where a reader wants the other layout, and residual-Add fusion.
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "engine/core/op_info.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/cpu/cpu_test_util.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;

constexpr double kTol = 1e-4;

// A convolution with random constant weights and bias; its output is NHWC in the cpu backend.
TensorId conv(GraphBuilder& b, TensorId x, int64_t cout, int32_t k, int32_t stride = 1, int32_t pad = -1,
              int32_t group = 1, fb::FusedActivation activation = {}, const std::string& name = {}) {
  const int64_t cin = b.graph().shape(x)[1];
  // From the graph's size so far: the same weights whichever tests ran before.
  const uint32_t seed = 1000 + 17 * static_cast<uint32_t>(b.graph().tensors.size());
  if (pad < 0) pad = k / 2;
  const TensorId w = b.random_constant(numbered("w", seed), {cout, cin / group, k, k}, seed, -0.5f, 0.5f);
  const TensorId bias = b.random_constant(numbered("b", seed), {cout}, seed + 7);
  return b.node(O::Conv, {x, w, bias}, conv_attrs({k, k}, {stride, stride}, {pad, pad, pad, pad}, {}, group, activation),
                name);
}

std::vector<Tensor> inputs_for(const Graph& g, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  return random_inputs(g, seed, lo, hi);
}

void check(const Graph& g, const std::vector<Tensor>& inputs, const std::string& what, double tol = kTol,
           const CpuOptions& cpu = {}) {
  SCOPED_TRACE(what);
  expect_cpu_matches_reference(g, inputs, tol, "heuristic", cpu);
}

void check(const GraphBuilder& b, uint32_t seed, const std::string& what, float lo = -1.0f, float hi = 1.0f) {
  const Graph g = b.build();
  check(g, inputs_for(g, seed, lo, hi), what);
}

std::string detail_on_cpu(const Graph& g, const std::string& node, const SessionOptions& options = cpu_options()) {
  const Model model(std::make_shared<Graph>(g));
  Session session(model, options);
  return node_detail(session, node);
}

TEST(CpuOps, BackendIsRegistered) {
  const auto names = available_backends();
  EXPECT_NE(std::find(names.begin(), names.end(), "cpu"), names.end());
  EXPECT_FALSE(cpu_isa_names().empty());
  EXPECT_EQ(cpu_isa_names().front(), "generic");
}

// ---- pooling ----------------------------------------------------------------------------

struct PoolCase {
  OpType op;
  Shape x;
  std::vector<int32_t> kernel, strides, pads, dilations;
  bool ceil_mode = false, count_include_pad = false;
};

void PrintTo(const PoolCase& c, std::ostream* os) {
  *os << op_name(c.op) << " x" << shape_to_string(c.x) << " k" << ::testing::PrintToString(c.kernel) << " s"
      << ::testing::PrintToString(c.strides) << " p" << ::testing::PrintToString(c.pads) << " d"
      << ::testing::PrintToString(c.dilations) << " ceil " << c.ceil_mode << " cip " << c.count_include_pad;
}

class CpuPool : public ::testing::TestWithParam<PoolCase> {};

TEST_P(CpuPool, MatchesReferenceOnNchwInputAndAfterAConv) {
  const PoolCase& c = GetParam();
  const auto attrs = [&] {
    return pool_attrs(c.kernel, c.strides, c.pads, c.dilations, c.ceil_mode, c.count_include_pad);
  };
  {  // straight on the graph input: converted to NHWC first
    GraphBuilder b;
    b.output(b.node(c.op, {b.input("x", c.x)}, attrs(), "pool"));
    check(b, 11, "pool on the NCHW graph input");
    EXPECT_EQ(detail_on_cpu(b.build(), "pool"), "simd nhwc");
  }
  {  // after a 1x1 conv (NHWC), then another conv reads the pool's NHWC output
    GraphBuilder b;
    const TensorId x = b.input("x", c.x);
    const TensorId t = conv(b, x, c.x[1], 1);
    const TensorId p = b.node(c.op, {t}, attrs(), "pool");
    b.output(conv(b, p, 3, 3));
    b.output(p);
    check(b, 12, "pool between convs");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Pools, CpuPool,
    ::testing::Values(
        PoolCase{O::MaxPool, {1, 19, 13, 13}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}},
        PoolCase{O::MaxPool, {2, 5, 8, 8}, {2, 2}, {2, 2}, {}, {}},
        PoolCase{O::MaxPool, {1, 7, 10, 10}, {3, 3}, {2, 2}, {}, {}, true},
        PoolCase{O::MaxPool, {1, 33, 9, 11}, {3, 2}, {1, 2}, {1, 0, 0, 1}, {}},
        PoolCase{O::MaxPool, {1, 17, 11, 11}, {3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}},
        PoolCase{O::MaxPool, {1, 8, 7, 7}, {1, 1}, {2, 2}, {}, {}},
        PoolCase{O::MaxPool, {1, 3, 6, 9}, {2, 3}, {2, 2}, {0, 1, 1, 2}, {1, 2}, true},
        PoolCase{O::AveragePool, {1, 19, 7, 7}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {}, false, false},
        PoolCase{O::AveragePool, {1, 19, 7, 7}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {}, false, true},
        PoolCase{O::AveragePool, {1, 5, 7, 7}, {2, 2}, {2, 2}, {}, {}, true, false},
        PoolCase{O::AveragePool, {1, 5, 7, 7}, {2, 2}, {2, 2}, {}, {}, true, true},
        PoolCase{O::AveragePool, {2, 9, 10, 9}, {3, 3}, {2, 2}, {0, 1, 2, 1}, {}, true, true},
        PoolCase{O::AveragePool, {2, 9, 10, 9}, {3, 3}, {2, 2}, {0, 1, 2, 1}, {}, true, false},
        PoolCase{O::AveragePool, {1, 16, 9, 9}, {2, 3}, {1, 1}, {1, 1, 0, 1}, {2, 1}, false, true},
        PoolCase{O::AveragePool, {1, 65, 7, 7}, {7, 7}, {1, 1}, {}, {}},
        PoolCase{O::AveragePool, {1, 4, 1, 1}, {1, 1}, {1, 1}, {}, {}}),
    [](const auto& info) { return numbered(std::string(op_name(info.param.op)) + "_", static_cast<int64_t>(info.index)); });

// The memory report counts the weights every convolution kernel holds: at
// least the raw weights (packing pads panels; Winograd transforms grow them).
TEST(CpuOps, MemoryReportCountsEveryConvolutionsWeights) {
  GraphBuilder b;
  TensorId t = conv(b, b.input("x", {1, 8, 16, 16}), 24, 3);  // 3x3: im2win or winograd
  t = conv(b, t, 24, 3, 1, 1, 24);                            // depthwise
  t = conv(b, t, 40, 1, 1, 0);                                // 1x1
  b.output(t);
  const Model model(std::make_shared<Graph>(b.build()));
  const size_t raw = sizeof(float) * (24 * 8 * 9 + 24 * 9 + 40 * 24);
  for (const char* algorithm : {"heuristic", "fixed:direct", "fixed:im2col"}) {
    Session session(model, cpu_options(1, "", algorithm));
    EXPECT_GE(session.memory().weights_bytes, raw) << algorithm;
  }
}

TEST(CpuOps, GlobalPools) {
  for (O op : {O::GlobalAveragePool, O::GlobalMaxPool}) {
    {
      GraphBuilder b;
      b.output(b.node(op, {b.input("x", {2, 19, 5, 7})}));
      check(b, 21, std::string(op_name(op)) + " on the graph input");
    }
    {  // after a conv, then Flatten + Gemm as in a classifier head
      GraphBuilder b;
      const TensorId t = conv(b, b.input("x", {2, 6, 9, 7}), 33, 3);
      const TensorId g = b.node(op, {t});
      const TensorId f = b.node(O::Flatten, {g}, flatten_attrs(1));
      b.output(b.node(O::Gemm, {f, b.random_constant("fc", {10, 33}, 5), b.random_constant("fcb", {10}, 6)},
                      gemm_attrs(1, 1, false, true)));
      b.output(g);
      check(b, 22, std::string(op_name(op)) + " after a conv");
    }
  }
}

// ---- activations ------------------------------------------------------------------------

struct UnaryCase {
  OpType op;
  fb::AttributesUnion attrs;
  std::string name;
};

std::vector<UnaryCase> unary_cases() {
  std::vector<UnaryCase> v;
  v.push_back({O::Relu, no_attrs(), "Relu"});
  v.push_back({O::Clip, make_attrs(clip_attrs(-0.5f, 0.75f)), "Clip(-0.5,0.75)"});
  v.push_back({O::Clip, make_attrs(clip_attrs(0.0f, 6.0f)), "Clip(0,6)"});
  v.push_back({O::LeakyRelu, make_attrs(leaky_relu_attrs(0.2f)), "LeakyRelu(0.2)"});
  v.push_back({O::Sigmoid, no_attrs(), "Sigmoid"});
  v.push_back({O::HardSigmoid, make_attrs(hard_sigmoid_attrs(0.3f, 0.4f)), "HardSigmoid(0.3,0.4)"});
  v.push_back({O::HardSwish, no_attrs(), "HardSwish"});
  v.push_back({O::Tanh, no_attrs(), "Tanh"});
  return v;
}

TEST(CpuOps, EveryUnaryActivation) {
  for (const UnaryCase& u : unary_cases()) {
    {  // on the NCHW graph input, values in [-8, 8) to reach every branch
      GraphBuilder b;
      b.output(b.node(u.op, {b.input("x", {2, 7, 5, 3})}, u.attrs, "act"));
      check(b, 31, u.name + " on the graph input", -8.0f, 8.0f);
      EXPECT_EQ(detail_on_cpu(b.build(), "act"), "simd");
    }
    {  // between convs (NHWC in, NHWC out) and as a graph output (converted back)
      GraphBuilder b;
      const TensorId t = conv(b, b.input("x", {1, 5, 9, 9}), 11, 3);
      const TensorId a = b.node(u.op, {t}, u.attrs, "act");
      b.output(conv(b, a, 4, 1));
      b.output(a);
      check(b, 32, u.name + " between convs", -3.0f, 3.0f);
    }
    {  // on a non-4-D tensor
      GraphBuilder b;
      b.output(b.node(u.op, {b.input("v", {3, 37})}, u.attrs));
      check(b, 33, u.name + " on a matrix", -8.0f, 8.0f);
    }
  }
}

// ---- binary ops ---------------------------------------------------------------------------

// Inputs for a graph whose input `divisor_input` (if any) must stay away from zero.
std::vector<Tensor> binary_inputs(const Graph& g, uint32_t seed, int divisor_input) {
  std::vector<Tensor> in = random_inputs(g, seed);
  if (divisor_input >= 0) in[static_cast<size_t>(divisor_input)] = random_tensor(in[divisor_input].shape(), seed + 99, 0.5f, 2.0f);
  return in;
}

float const_lo(O op) { return op == O::Div ? 0.5f : -1.0f; }

TEST(CpuOps, BinarySameShape) {
  for (O op : {O::Add, O::Sub, O::Mul, O::Div}) {
    const std::string name(op_name(op));
    {  // two NCHW graph inputs, with a fused activation
      GraphBuilder b;
      const TensorId x = b.input("x", {2, 5, 4, 3}), y = b.input("y", {2, 5, 4, 3});
      b.output(b.node(op, {x, y}, binary_attrs(act(K::LeakyRelu, 0.1f)), "bin"));
      SCOPED_TRACE(name + " inputs");
      expect_cpu_matches_reference(b.build(), binary_inputs(b.build(), 41, op == O::Div ? 1 : -1));
    }
    for (bool conv_first : {true, false}) {  // an NHWC conv output with an NCHW graph input, both orders
      GraphBuilder b;
      const TensorId x = b.input("x", {1, 6, 7, 5}), y = b.input("y", {1, 9, 7, 5});
      // As a divisor the conv output is kept within [0.5, 2] (a value near zero is ill-conditioned).
      const TensorId t = conv(b, x, 9, 3, 1, -1, 1, op == O::Div ? act(K::Clip, 0.5f, 2.0f) : fb::FusedActivation{});
      b.output(b.node(op, conv_first ? std::vector<TensorId>{t, y} : std::vector<TensorId>{y, t}, binary_attrs(),
                      "bin"));
      SCOPED_TRACE(name + (conv_first ? " conv, input" : " input, conv"));
      expect_cpu_matches_reference(b.build(), binary_inputs(b.build(), 42, op == O::Div && conv_first ? 1 : -1));
    }
    {  // two conv outputs (both NHWC), one operand used twice
      GraphBuilder b;
      const TensorId x = b.input("x", {2, 3, 6, 6});
      const TensorId t1 = conv(b, x, 10, 3);
      const TensorId t2 = conv(b, x, 10, 1, 1, 0, 1, op == O::Div ? act(K::Clip, 0.5f, 2.0f) : act(K::Sigmoid));
      const TensorId r = b.node(op, {t1, t2}, binary_attrs(act(K::Relu)));
      b.output(b.node(op, {r, t2}, binary_attrs()));
      check(b, 43, name + " two convs");
    }
    {  // a full-shape constant after a conv: falls back to the reference kernel
      GraphBuilder b;
      const TensorId t = conv(b, b.input("x", {1, 4, 5, 6}), 7, 3);
      const TensorId c = b.random_constant("c", {1, 7, 5, 6}, 44, const_lo(op), 2.0f);
      b.output(b.node(op, {t, c}, binary_attrs(), "bin"));
      b.output(b.node(op, {c, t}, binary_attrs()));
      SCOPED_TRACE(name + " full constant");
      expect_cpu_matches_reference(b.build(), random_inputs(b.build(), 44), kTol);
    }
  }
}

TEST(CpuOps, BinaryPerChannelConstantBothOrders) {
  for (O op : {O::Add, O::Sub, O::Mul, O::Div}) {
    for (const Shape& cs : {Shape{1, 13, 1, 1}, Shape{13, 1, 1}}) {
      for (bool nhwc : {true, false}) {
        GraphBuilder b;
        const TensorId x = b.input("x", {2, nhwc ? 4 : 13, 5, 3});
        const TensorId t = nhwc ? conv(b, x, 13, 3) : x;
        const TensorId c = b.random_constant("c", cs, 51, const_lo(op), 2.0f);
        const TensorId d = b.random_constant("d", cs, 52, const_lo(op), 2.0f);
        const TensorId y1 = b.node(op, {t, c}, binary_attrs(act(K::Clip, -0.5f, 1.5f)), "const_second");
        // Division by an activation near zero is ill-conditioned: divide by one clipped to [0.5, 2].
        const TensorId denom = op == O::Div ? b.node(O::Clip, {t}, clip_attrs(0.5f, 2.0f)) : t;
        const TensorId y2 = b.node(op, {d, denom}, binary_attrs(), "const_first");
        b.output(y1);
        b.output(y2);
        const std::string what = fmt::format("{} per-channel {} {}", op_name(op), shape_to_string(cs), nhwc ? "NHWC" : "NCHW");
        check(b, 53, what);
        EXPECT_EQ(detail_on_cpu(b.build(), "const_second"), "simd per-channel nhwc") << what;
        EXPECT_EQ(detail_on_cpu(b.build(), "const_first"), "simd per-channel nhwc") << what;
      }
    }
  }
}

TEST(CpuOps, BinaryOtherBroadcastsUseTheFallback) {
  struct Bc {
    Shape x, c;
    bool c_is_input;
  };
  const std::vector<Bc> cases = {
      {{2, 6, 5, 4}, {1, 1, 5, 4}, false},  // per-pixel constant
      {{2, 6, 5, 4}, {2, 6, 1, 1}, true},   // per-image-and-channel activation
      {{2, 6, 5, 4}, {1}, false},           // scalar
      {{2, 6, 5, 4}, {4}, false},           // rank-1: broadcasts along W, not C
      {{1, 6, 5, 4}, {2, 1, 1, 1}, true},   // the output is bigger than either operand
      {{2, 6, 5, 4}, {6, 1, 4}, false},     // channel and width
  };
  for (O op : {O::Add, O::Sub, O::Mul, O::Div}) {
    for (const Bc& c : cases) {
      for (bool after_conv : {false, true}) {
        GraphBuilder b;
        const TensorId x0 = b.input("x", after_conv ? Shape{c.x[0], 3, c.x[2], c.x[3]} : c.x);
        const TensorId x = after_conv ? conv(b, x0, c.x[1], 3) : x0;
        const TensorId k = c.c_is_input ? b.input("c", c.c) : b.random_constant("c", c.c, 61, const_lo(op), 2.0f);
        b.output(b.node(op, {x, k}, binary_attrs()));
        if (op != O::Div) b.output(b.node(op, {k, x}, binary_attrs()));
        const Graph g = b.build();
        SCOPED_TRACE(fmt::format("{} {} with {}{}", op_name(op), shape_to_string(c.x), shape_to_string(c.c),
                                 after_conv ? " after a conv" : ""));
        expect_cpu_matches_reference(g, binary_inputs(g, 62, c.c_is_input && op == O::Div ? 1 : -1));
      }
    }
  }
}

// A rank-1 constant of length W broadcasts along the last axis (numpy rules),
// even when W equals the channel count: it is not a per-channel operand.
TEST(CpuOps, RankOneConstantWhoseLengthEqualsTheChannelsBroadcastsAlongWidth) {
  for (bool after_conv : {false, true}) {
    GraphBuilder b;
    const TensorId x0 = b.input("x", {1, after_conv ? 3 : 4, 3, 4});
    const TensorId x = after_conv ? conv(b, x0, 4, 3) : x0;
    const TensorId c = b.constant("c", {4}, {1.0f, 10.0f, 100.0f, 1000.0f});
    b.output(b.node(O::Add, {x, c}, binary_attrs(), "add"));
    check(b, 65, after_conv ? "[1,4,3,4] (NHWC conv output) + [4]" : "[1,4,3,4] (graph input) + [4]");
  }
}

// ---- concat ---------------------------------------------------------------------------------

TEST(CpuOps, ConcatOnChannels) {
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 4, 7, 5});
  const TensorId y = b.input("y", {2, 7, 7, 5});
  const TensorId t1 = conv(b, x, 3, 3), t2 = conv(b, x, 5, 1), t3 = conv(b, t1, 1, 3);
  const TensorId c = b.node(O::Concat, {t1, y, t2, t3, t1}, concat_attrs(1), "concat");  // 3+7+5+1+3 = 19
  b.output(conv(b, c, 6, 3));
  b.output(b.node(O::Concat, {t2, t3}, concat_attrs(1)));
  b.output(c);
  check(b, 71, "concat axis 1");
  EXPECT_EQ(detail_on_cpu(b.build(), "concat"), "nhwc");
}

TEST(CpuOps, ConcatFallbacks) {
  {  // along H: NHWC inputs converted for the reference kernel
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 4, 5, 5});
    const TensorId t1 = conv(b, x, 6, 3), t2 = conv(b, x, 6, 1);
    b.output(b.node(O::Concat, {t1, t2}, concat_attrs(2), "concat"));
    check(b, 72, "concat axis 2");
    EXPECT_EQ(detail_on_cpu(b.build(), "concat"), "reference kernel");
  }
  {  // with a constant input
    GraphBuilder b;
    const TensorId t = conv(b, b.input("x", {1, 4, 5, 5}), 6, 3);
    b.output(b.node(O::Concat, {t, b.random_constant("k", {1, 2, 5, 5}, 73)}, concat_attrs(1), "concat"));
    check(b, 73, "concat with a constant");
  }
  {  // rank 2
    GraphBuilder b;
    b.output(b.node(O::Concat, {b.input("a", {3, 5}), b.input("b", {3, 2})}, concat_attrs(1)));
    check(b, 74, "concat of matrices");
  }
}

// ---- gemm ---------------------------------------------------------------------------------

TEST(CpuOps, GemmPackedPath) {
  struct G {
    int64_t M, Kd, N;
    bool trans_b;
    int bias;  // 0 none, 1 [N], 2 [1, N]
    fb::FusedActivation a;
  };
  const std::vector<G> cases = {
      {3, 37, 19, false, 1, {}},
      {3, 37, 19, true, 1, act(K::Relu)},
      {1, 37, 19, true, 0, {}},
      {2, 37, 19, false, 2, act(K::Sigmoid)},
      {5, 1100, 70, true, 1, act(K::Clip, -0.25f, 0.25f)},  // K longer than every ISA's K block
      {4, 64, 33, false, 0, act(K::HardSwish)},
      {1, 1, 1, false, 1, {}},
  };
  for (const G& c : cases) {
    GraphBuilder b;
    const TensorId x = b.input("x", {c.M, c.Kd});
    std::vector<TensorId> ins{x, b.random_constant("w", c.trans_b ? Shape{c.N, c.Kd} : Shape{c.Kd, c.N}, 81)};
    if (c.bias == 1) ins.push_back(b.random_constant("c", {c.N}, 82));
    if (c.bias == 2) ins.push_back(b.random_constant("c", {1, c.N}, 82));
    b.output(b.node(O::Gemm, ins, gemm_attrs(1, 1, false, c.trans_b, c.a), "gemm"));
    const std::string what = fmt::format("gemm M{} K{} N{} transB {} bias {} act {}", c.M, c.Kd, c.N, c.trans_b, c.bias,
                                         fb::EnumNameActivationKind(c.a.kind()));
    check(b, 83, what);
    EXPECT_EQ(detail_on_cpu(b.build(), "gemm"), "packed gemm") << what;
  }
}

TEST(CpuOps, GemmFallbacks) {
  auto build = [](float alpha, float beta, bool trans_a, bool const_w, Shape c_shape) {
    GraphBuilder b;
    const TensorId x = b.input("x", trans_a ? Shape{37, 3} : Shape{3, 37});
    const TensorId w = const_w ? b.random_constant("w", {37, 19}, 84) : b.input("w", {37, 19});
    std::vector<TensorId> ins{x, w};
    if (!c_shape.empty()) ins.push_back(b.random_constant("c", c_shape, 85));
    b.output(b.node(O::Gemm, ins, gemm_attrs(alpha, beta, trans_a, false, act(K::Tanh)), "gemm"));
    return b.build();
  };
  const std::vector<std::pair<std::string, Graph>> cases = {
      {"alpha 0.5", build(0.5f, 1, false, true, {19})},
      {"beta 0.25", build(1, 0.25f, false, true, {19})},
      {"transA", build(1, 1, true, true, {19})},
      {"weights as an input", build(1, 1, false, false, {19})},
      {"matrix C", build(1, 1, false, true, {3, 19})},
      {"scalar C", build(1, 1, false, true, {1})},
  };
  for (const auto& [what, g] : cases) {
    check(g, random_inputs(g, 86), what);
    EXPECT_EQ(detail_on_cpu(g, "gemm"), "reference kernel") << what;
  }
}

// ---- softmax, flatten, reshape: reference kernels on NCHW ---------------------------------

TEST(CpuOps, SoftmaxAfterGemmAndAfterAConv) {
  {
    GraphBuilder b;
    const TensorId g = b.node(O::Gemm, {b.input("x", {2, 40}), b.random_constant("w", {40, 10}, 91), b.random_constant("c", {10}, 92)},
                              gemm_attrs());
    b.output(b.node(O::Softmax, {g}, softmax_attrs(1)));
    check(b, 93, "softmax after gemm");
  }
  {
    GraphBuilder b;
    const TensorId t = conv(b, b.input("x", {1, 3, 6, 5}), 7, 3);
    b.output(b.node(O::Softmax, {t}, softmax_attrs(1), "softmax"));
    b.output(b.node(O::Softmax, {t}, softmax_attrs(3)));
    check(b, 94, "softmax over channels of an NHWC conv output");
    EXPECT_EQ(detail_on_cpu(b.build(), "softmax"), "simd");
  }
}

// The vectorised exponential behind Sigmoid, Tanh and Softmax, over the whole
// float range: tight absolute error against the reference (double-precision
// std::exp / std::tanh), saturation at the ends, NaN kept.
TEST(CpuOps, ExponentialActivationsAndSoftmaxOverTheFloatRange) {
  std::vector<float> values;
  for (float v = -120.0f; v <= 120.0f; v += 0.37f) values.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-6f, -1e-6f, 1e-30f, 88.0f, -88.0f, 89.0f, -104.0f, 3.4e38f, -3.4e38f,
                  std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()})
    values.push_back(v);
  const int64_t n = static_cast<int64_t>(values.size());
  for (O op : {O::Sigmoid, O::Tanh}) {
    GraphBuilder b;
    b.output(b.node(op, {b.input("x", {1, n})}, no_attrs()));
    const Graph g = b.build();
    Tensor x({1, n});
    std::copy(values.begin(), values.end(), x.data());
    const std::vector<Tensor> want = run_graph(g, {x}, "reference");
    for (const std::string& isa : cpu_isa_names()) {
      SessionOptions o = cpu_options(1, isa);
      const Model model(std::make_shared<Graph>(g));
      const std::vector<Tensor> got_isa = run_model(model, o, {x});
      for (int64_t i = 0; i < n; ++i) {
        const float w = want[0].data()[i], v = got_isa[0].data()[i];
        EXPECT_NEAR(v, w, 2e-7f + 2e-6f * std::abs(w)) << op_name(op) << "(" << values[static_cast<size_t>(i)] << "), isa " << isa;
      }
    }
  }
  {  // NaN stays NaN
    GraphBuilder b;
    b.output(b.node(O::Sigmoid, {b.input("x", {1, 3})}, no_attrs()));
    Tensor x({1, 3});
    x.data()[1] = std::numeric_limits<float>::quiet_NaN();
    const Model model(std::make_shared<Graph>(b.build()));
    for (const std::string& isa : cpu_isa_names())
      EXPECT_TRUE(std::isnan(run_model(model, cpu_options(1, isa), {x})[0].data()[1])) << isa;
  }
  {  // logits far apart and far from zero, a row of equal values, and odd lengths
    GraphBuilder b;
    b.output(b.node(O::Softmax, {b.input("x", {4, 1001})}, softmax_attrs(1)));
    const Graph g = b.build();
    Tensor x = random_tensor({4, 1001}, 7, -80.0f, 80.0f);
    for (int64_t k = 0; k < 1001; ++k) x.data()[1001 + k] = 42.0f;
    for (int64_t k = 0; k < 1001; ++k) x.data()[2 * 1001 + k] -= 1000.0f;
    check(g, {x}, "softmax with large logits");
  }
}

TEST(CpuOps, FlattenAndReshapeAfterAConvSeeNchwOrder) {
  {
    GraphBuilder b;
    const TensorId t = conv(b, b.input("x", {2, 3, 5, 4}), 6, 3);
    const TensorId f = b.node(O::Flatten, {t}, flatten_attrs(1));  // [2, 120] in NCHW order
    b.output(b.node(O::Gemm, {f, b.random_constant("w", {12, 120}, 95)}, gemm_attrs(1, 1, false, true)));
    b.output(f);
    check(b, 96, "flatten after conv");
  }
  {
    GraphBuilder b;
    const TensorId t = conv(b, b.input("x", {2, 3, 5, 4}), 6, 3);
    const TensorId r = b.node(O::Reshape, {t}, reshape_attrs({2, 6, 20}));
    b.output(b.node(O::Relu, {r}));
    b.output(b.node(O::Reshape, {t}, reshape_attrs({60, 4})));
    check(b, 97, "reshape after conv");
  }
  {  // 1x1 spatial: NCHW and NHWC coincide, no conversion needed
    GraphBuilder b;
    const TensorId t = conv(b, b.input("x", {2, 5, 3, 3}), 9, 3, 1, 0);
    b.output(b.node(O::Flatten, {t}, flatten_attrs(1)));
    check(b, 98, "flatten of a 1x1 conv output");
  }
  {  // a Transpose, Slice and Pad of an NHWC tensor
    GraphBuilder b;
    const TensorId t = conv(b, b.input("x", {1, 3, 5, 4}), 6, 3);
    b.output(b.node(O::Transpose, {t}, transpose_attrs({0, 2, 3, 1})));
    b.output(b.node(O::Slice, {t}, slice_attrs({1, 1}, {5, 3}, {1, 2}, {2, 1})));
    b.output(b.node(O::Pad, {t}, pad_attrs({0, 1, 0, 2, 0, 0, 1, 0}, 0.5f)));
    check(b, 99, "transpose/slice/pad of a conv output");
  }
}

// ---- convolutions through the session ------------------------------------------------------

TEST(CpuOps, ConvOutputIsAGraphOutput) {
  GraphBuilder b;
  const TensorId t = conv(b, b.input("x", {2, 5, 9, 7}), 13, 3, 2, 1, 1, act(K::Relu), "conv");
  b.output(t);
  check(b, 101, "conv output as graph output");
  EXPECT_EQ(detail_on_cpu(b.build(), "conv").find("reference"), std::string::npos);
}

TEST(CpuOps, ConvShapesTheSimdPathDoesNotTake) {
  {  // 1-D
    GraphBuilder b;
    b.output(b.node(O::Conv, {b.input("x", {1, 4, 11}), b.random_constant("w", {5, 4, 3}, 102)},
                    conv_attrs({3}, {2}, {1, 0}), "conv"));
    check(b, 103, "1-D conv");
    EXPECT_EQ(detail_on_cpu(b.build(), "conv"), "reference kernel");
  }
  {  // weights as a graph input
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 4, 6, 6});
    const TensorId t = conv(b, x, 4, 1);
    b.output(b.node(O::Conv, {t, b.input("w", {3, 4, 3, 3})}, conv_attrs({3, 3}), "conv"));
    check(b, 104, "conv with non-constant weights");
    EXPECT_EQ(detail_on_cpu(b.build(), "conv"), "reference kernel");
  }
  {  // 3-D pooling after a 2-D conv
    GraphBuilder b;
    const TensorId t = conv(b, b.input("x", {1, 4, 6, 6}), 4, 3);
    const TensorId u = b.node(O::Unsqueeze, {t}, axes_attrs({2}));
    b.output(b.node(O::MaxPool, {u}, pool_attrs({1, 2, 2}, {1, 2, 2})));
    check(b, 105, "3-D pool after conv");
  }
}

// conv -> conv -> Add(second, first): the Add moves into the second conv's epilogue.
TEST(CpuOps, ResidualAddProducedEarlierIsFused) {
  for (bool residual_first : {false, true}) {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 6, 9, 7});
    const TensorId t1 = conv(b, x, 8, 3, 1, 1, 1, act(K::Relu), "conv1");
    const TensorId t2 = conv(b, t1, 8, 3, 1, 1, 1, {}, "conv2");
    const TensorId sum = b.node(O::Add, residual_first ? std::vector<TensorId>{t1, t2} : std::vector<TensorId>{t2, t1},
                                binary_attrs(act(K::Relu)), "add");
    b.output(conv(b, sum, 4, 1));
    b.output(sum);
    check(b, 111, residual_first ? "Add(residual, conv)" : "Add(conv, residual)");
    EXPECT_EQ(detail_on_cpu(b.build(), "add"), "fused into conv2");
    EXPECT_NE(detail_on_cpu(b.build(), "conv2").find("+residual"), std::string::npos);
  }
  {  // the residual is the graph input (NCHW, converted for the epilogue)
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 8, 6, 6});
    const TensorId t = conv(b, x, 8, 3, 1, 1, 1, {}, "conv");
    b.output(b.node(O::Add, {t, x}, binary_attrs(), "add"));
    check(b, 112, "Add(conv, graph input)");
    EXPECT_EQ(detail_on_cpu(b.build(), "add"), "fused into conv");
  }
  {  // depthwise conv + residual: depthwise does not fuse, so another algorithm must take it
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 12, 8, 8});
    const TensorId t = conv(b, x, 12, 3, 1, 1, 12, {}, "dw");
    b.output(b.node(O::Add, {t, x}, binary_attrs(act(K::Clip, 0, 6)), "add"));
    check(b, 113, "depthwise + residual");
    const std::string d = detail_on_cpu(b.build(), "dw");
    if (detail_on_cpu(b.build(), "add") == "fused into dw") {
      EXPECT_EQ(d.rfind("depthwise", 0), std::string::npos) << d;
    }
  }
}

TEST(CpuOps, ResidualProducedLaterIsNotFusedButCorrect) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 6, 8, 8});
  const TensorId t = conv(b, x, 6, 3, 1, 1, 1, {}, "conv");  // node 0
  const TensorId later = b.node(O::MaxPool, {x}, pool_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}), "pool");  // node 1
  b.output(b.node(O::Add, {t, later}, binary_attrs(), "add"));
  check(b, 121, "Add(conv, tensor produced after the conv)");
  EXPECT_EQ(detail_on_cpu(b.build(), "add").find("fused"), std::string::npos);
}

TEST(CpuOps, AddsThatMustNotFuse) {
  {  // the conv has its own activation
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 6, 7, 7});
    const TensorId t = conv(b, x, 6, 3, 1, 1, 1, act(K::Relu), "conv");
    b.output(b.node(O::Add, {t, x}, binary_attrs(), "add"));
    check(b, 122, "conv with activation + Add");
    EXPECT_EQ(detail_on_cpu(b.build(), "add").find("fused"), std::string::npos);
  }
  {  // the conv output has a second reader
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 6, 7, 7});
    const TensorId t = conv(b, x, 6, 3, 1, 1, 1, {}, "conv");
    b.output(b.node(O::Add, {t, x}, binary_attrs(), "add"));
    b.output(b.node(O::Sigmoid, {t}));
    check(b, 123, "conv read twice");
    EXPECT_EQ(detail_on_cpu(b.build(), "add").find("fused"), std::string::npos);
  }
  {  // the conv output is itself a graph output
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 6, 7, 7});
    const TensorId t = conv(b, x, 6, 3, 1, 1, 1, {}, "conv");
    b.output(t);
    b.output(b.node(O::Add, {x, t}, binary_attrs(), "add"));
    check(b, 124, "conv output is a graph output");
    EXPECT_EQ(detail_on_cpu(b.build(), "add").find("fused"), std::string::npos);
  }
  {  // Add of the conv output with itself
    GraphBuilder b;
    const TensorId t = conv(b, b.input("x", {1, 6, 7, 7}), 6, 3, 1, 1, 1, {}, "conv");
    b.output(b.node(O::Add, {t, t}, binary_attrs(), "add"));
    check(b, 125, "Add(t, t)");
  }
  {  // a broadcast residual
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 6, 7, 7});
    const TensorId t = conv(b, x, 6, 3, 1, 1, 1, {}, "conv");
    b.output(b.node(O::Add, {t, b.input("r", {1, 6, 1, 1})}, binary_attrs(), "add"));
    check(b, 126, "broadcast residual");
  }
}

// ---- fused depthwise chains (expand 1x1 -> depthwise -> project 1x1) ---------------------

struct ChainCase {
  int64_t N, C, hidden, H, W, out;  // out: the project's channels
  int32_t k, stride, dilation;
  bool expand, project, residual;
};

// The cost model fuses only chains whose intermediates spill out of L2; with
// an L2 of 0 bytes these small test chains take the fused path all the same.
const CpuOptions kSpillEverything{.isa = "", .l2_bytes = 0};
SessionOptions spilling() {
  SessionOptions o = cpu_options();
  o.cpu = kSpillEverything;
  return o;
}

void PrintTo(const ChainCase& c, std::ostream* os) {
  *os << fmt::format("N{} C{} hidden{} {}x{} out{} k{} s{} d{} expand {} project {} residual {}", c.N, c.C, c.hidden,
                     c.H, c.W, c.out, c.k, c.stride, c.dilation, c.expand, c.project, c.residual);
}

// An inverted-residual block as in MobileNetV2; without a project, a 3x3 conv
// follows the depthwise (so the chain ends there).
Graph chain_graph(const ChainCase& c) {
  GraphBuilder b;
  const TensorId x = b.input("x", {c.N, c.expand ? c.C : c.hidden, c.H, c.W});
  const TensorId e = c.expand ? conv(b, x, c.hidden, 1, 1, 0, 1, act(K::Clip, 0, 6), "expand") : x;
  const int32_t pad = c.dilation * (c.k / 2);
  const TensorId dw_w = b.random_constant("dw_w", {c.hidden, 1, c.k, c.k}, 140, -0.5f, 0.5f);
  const TensorId d = b.node(O::Conv, {e, dw_w, b.random_constant("dw_b", {c.hidden}, 141)},
                            conv_attrs({c.k, c.k}, {c.stride, c.stride}, {pad, pad, pad, pad}, {c.dilation, c.dilation},
                                       static_cast<int32_t>(c.hidden), act(K::Clip, 0, 6)),
                            "dw");
  TensorId y = c.project ? conv(b, d, c.out, 1, 1, 0, 1, {}, "project") : conv(b, d, c.out, 3, 1, 1, 1, {}, "after");
  if (c.residual) y = b.node(O::Add, {y, x}, binary_attrs(), "add");
  b.output(y);
  return b.build();
}

TEST(CpuChains, InvertedResidualBlocksMatchTheReference) {
  const std::vector<ChainCase> cases = {
      {1, 16, 64, 28, 28, 16, 3, 1, 1, true, true, true},
      {1, 16, 64, 28, 28, 24, 3, 2, 1, true, true, false},
      {1, 24, 72, 33, 33, 24, 5, 1, 1, true, true, true},
      {2, 8, 48, 20, 36, 8, 3, 1, 1, true, true, true},
      {1, 3, 17, 31, 31, 3, 3, 1, 1, true, true, true},
      {1, 8, 40, 30, 30, 16, 3, 1, 1, false, true, false},   // no expand
      {1, 8, 40, 30, 30, 16, 3, 1, 1, true, false, false},   // no project
      {1, 8, 40, 30, 30, 40, 3, 2, 1, false, true, false},
  };
  int fused = 0;
  for (const ChainCase& c : cases) {
    const Graph g = chain_graph(c);
    check(g, random_inputs(g, 142), ::testing::PrintToString(c), kTol, kSpillEverything);
    const std::string first = c.expand ? "expand" : "dw";
    const std::string detail = detail_on_cpu(g, first, spilling());
    fused += detail.rfind("fused", 0) == 0;
    fmt::print("[ figures  ] chain {}: {}\n", ::testing::PrintToString(c), detail);
  }
  EXPECT_GE(fused, 3) << "the fused-chain path was taken too rarely to be tested";
}

// The depthwise reads the expand's rows at a dilation of 2: rows the first
// output row skipped are needed by the next one.
TEST(CpuChains, DilatedDepthwiseInsideAChain) {
  const std::vector<ChainCase> cases = {
      {1, 16, 64, 28, 28, 16, 3, 1, 2, true, true, true},
      {1, 16, 64, 28, 28, 16, 3, 2, 2, true, true, false},
      {1, 16, 64, 28, 28, 16, 3, 1, 2, false, true, false},
  };
  // A wrong row pointer can crash the process: each case runs in a child
  // process (gtest's death-test machinery), so a crash fails only this test.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (const ChainCase& c : cases) {
    const Graph g = chain_graph(c);
    const std::string what = ::testing::PrintToString(c) + "; " + detail_on_cpu(g, c.expand ? "expand" : "dw", spilling());
    EXPECT_EXIT(
        {
          check(g, random_inputs(g, 143), what, kTol, kSpillEverything);
          std::exit(::testing::Test::HasFailure() ? 1 : 0);
        },
        ::testing::ExitedWithCode(0), "")
        << what << " (a failure or crash in the child process; its messages are above)";
  }
}

// The residual of a chain's project is produced by a node that sits between
// the chain's first (expand) and last (project) node in the graph's order.
TEST(CpuChains, ResidualProducedBetweenTheChainsNodes) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 16, 28, 28});
  const TensorId e = conv(b, x, 64, 1, 1, 0, 1, act(K::Clip, 0, 6), "expand");  // node 0
  const TensorId side = conv(b, x, 16, 3, 1, 1, 1, act(K::Relu), "side");         // node 1
  const TensorId d = conv(b, e, 64, 3, 1, 1, 64, act(K::Clip, 0, 6), "dw");       // node 2
  const TensorId p = conv(b, d, 16, 1, 1, 0, 1, {}, "project");                   // node 3
  b.output(b.node(O::Add, {p, side}, binary_attrs(), "add"));
  const Graph g = b.build();
  const std::string what =
      "expand: " + detail_on_cpu(g, "expand", spilling()) + "; add: " + detail_on_cpu(g, "add", spilling());
  check(g, random_inputs(g, 144), what, kTol, kSpillEverything);
}

// A small network with one conv of each kind, for the fixed:NAME runs.
Graph conv_zoo() {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 5, 13, 11});
  const TensorId c1 = conv(b, x, 12, 3, 1, 1, 1, act(K::Relu), "c3x3");
  const TensorId c2 = conv(b, c1, 16, 1, 1, 0, 1, act(K::Clip, 0, 6), "c1x1");
  const TensorId c3 = conv(b, c2, 16, 3, 2, 1, 16, act(K::HardSwish), "dw_s2");
  const TensorId c4 = conv(b, c3, 8, 3, 1, 1, 2, {}, "grouped");
  const TensorId w5 = b.random_constant("w5", {8, 8, 5, 3}, 131, -0.3f, 0.3f);
  const TensorId c5 = b.node(O::Conv, {c4, w5}, conv_attrs({5, 3}, {1, 2}, {2, 0, 1, 1}, {2, 1}), "c5x3_dil");
  const TensorId c6 = conv(b, c4, 8, 3, 1, 1, 1, {}, "c3x3_res");
  const TensorId sum = b.node(O::Add, {c6, c4}, binary_attrs(act(K::Relu)), "add");
  const TensorId c7 = conv(b, sum, 10, 1, 2, 0, 1, {}, "c1x1_s2");
  b.output(c5);
  b.output(c7);
  return b.build();
}

TEST(CpuOps, FixedAlgorithmThroughTheSession) {
  const Graph g = conv_zoo();
  const std::vector<Tensor> in = random_inputs(g, 132);
  const Model model(std::make_shared<Graph>(g));
  for (const std::string& name : conv_algorithm_names()) {
    SCOPED_TRACE("fixed:" + name);
    const double tol = name.rfind("winograd", 0) == 0 ? 1e-3 : kTol;
    const double err = expect_cpu_matches_reference(g, in, tol, "fixed:" + name);
    Session session(model, cpu_options(1, "", "fixed:" + name));
    int fixed = 0;
    for (const NodeProfile& p : session.profile()) {
      if (p.op != "Conv") continue;
      if (p.detail.rfind(name + " [fixed", 0) == 0) {
        ++fixed;
      } else {
        EXPECT_NE(p.detail.find("(" + name + " does not apply)"), std::string::npos) << p.name << ": " << p.detail;
      }
    }
    EXPECT_GE(fixed, 1) << name << " applied to none of the zoo's convolutions";
    fmt::print("[ figures  ] fixed:{} on the conv zoo: {} of 7 convs, max relative error {:.3g}\n", name, fixed, err);
  }
}

}  // namespace
}  // namespace kiln::test
