// What only backend "vulkan" has, against the reference (max|a-b| / max|ref|
// <= 1e-4): a sweep of convolutions with every registered algorithm forced
// where it applies, the fused depthwise+pointwise pair, residual fusion,
// run-time weights, 1-D and 3-D convolutions; tune and its cache, timestamps,
// devices and bad options. Every op with the heuristic choice is in the
// generic harness (tests/backends, configurations vulkan and vulkan_fp16).
// Built a second time with float16 storage (kiln_vulkan_fp16_ops_test; see
// kTol). Without a Vulkan device every test that needs one is skipped, saying why.
#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <set>

#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/vulkan/vulkan_test_util.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;
#ifdef KILN_VULKAN_TEST_FP16_STORAGE
// This file is built twice: kiln_vulkan_fp16_ops_test runs every test below
// with --fp16-storage (vulkan_options() sets it), so every algorithm's float16
// shaders are checked on the same sweep. The bound is the harness's
// vulkan_fp16 tolerance; tests/backends/backend_test_util.cpp says why 1e-2.
constexpr double kTol = 1e-2;
#else
constexpr double kTol = 1e-4;
#endif

const std::vector<std::string> kAlgorithms = {"gemm1x1", "depthwise", "implicit_gemm", "direct"};

TEST(VulkanOps, BackendIsRegistered) {
  const auto names = available_backends();
  EXPECT_NE(std::find(names.begin(), names.end(), "vulkan"), names.end());
}

TEST(VulkanOps, DevicesAreListed) {
  KILN_SKIP_WITHOUT_VULKAN();
  const auto devices = list_devices("vulkan");
  ASSERT_FALSE(devices.empty());
  for (const auto& d : devices) fmt::print("[ figures  ] vulkan device {}: {} ({})\n", d.index, d.name, d.detail);
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
    Session ref(model, reference_options());
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
