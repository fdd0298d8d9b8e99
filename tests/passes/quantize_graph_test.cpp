// Post-training quantization (engine/quantize, apps/common/quantize.hpp) on
// small graphs: the weight and bias parameters against their definitions,
// activation parameters from calibrated ranges, which nodes are quantized and
// why others stay float, the calibration histogram, and the quantized graph
// running on the cpu backend within a bound derived from its scales.
#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "apps/common/quantize.hpp"
#include "engine/core/quantized_ops.hpp"
#include "engine/quantize/calibration.hpp"
#include "engine/quantize/quantize_graph.hpp"
#include "gmock/gmock.h"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;
using O = OpType;
using K = fb::ActivationKind;
using quantize::Range;

const Node& node_named(const Graph& g, const std::string& name) {
  for (const Node& n : g.nodes)
    if (n.name == name) return n;
  throw std::runtime_error("no node " + name);
}

float max_abs_of(const float* v, int64_t n) {
  float m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(v[i]));
  return m;
}

fb::FusedActivation act_of(K k) { return k == K::None ? fb::FusedActivation{} : act(k); }

// x [1,3,8,8] -> Conv 3x3 (4 channels, pads 1, fused `act`) -> y. Channel n's
// weights are scaled by `spread`^n, so per-channel and per-tensor scales differ.
Graph conv_graph(K act = K::None, float spread = 1.0f) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 3, 8, 8});
  std::vector<float> w = random_values(4 * 3 * 3 * 3, 11);
  for (size_t i = 0; i < w.size(); ++i) w[i] *= std::pow(spread, static_cast<float>(i / 27));
  const TensorId wt = b.constant("w", {4, 3, 3, 3}, w);
  const TensorId bias = b.constant("b", {4}, {0.25f, -0.5f, 0.125f, 1.0f});
  b.output(b.node(O::Conv, {x, wt, bias}, conv_attrs({3, 3}, {}, {1, 1, 1, 1}, {}, 1, act_of(act)), "conv"));
  return b.build();
}

std::vector<ptq::InputSet> input_sets(const Graph& g, int count, uint32_t seed) {
  std::vector<ptq::InputSet> sets;
  for (int i = 0; i < count; ++i) {
    ptq::InputSet s;
    s.what = numbered("random ", i);
    for (TensorId t : g.inputs) s.tensors.push_back(random_tensor(g.shape(t), seed + static_cast<uint32_t>(i)));
    sets.push_back(std::move(s));
  }
  return sets;
}

Model model_of(const Graph& g) { return Model(std::make_shared<const Graph>(g)); }

quantize::Ranges calibrated(const Graph& g, const std::vector<ptq::InputSet>& sets) {
  return ptq::calibrate(model_of(g), sets, reference_options()).ranges(quantize::Method::MinMax);
}

// ---- parameters -------------------------------------------------------------------

TEST(QuantizeWeight, PerChannelScaleIsMaxAbsOver127OfEachOutputChannel) {
  const Graph g = conv_graph(K::None, 3.0f);
  const TensorInfo& w = g.tensor(g.nodes[0].inputs[1]);
  const TensorInfo q = quantize::quantize_weight(w, 0);
  ASSERT_EQ(q.dtype, DataType::Int8);
  ASSERT_TRUE(q.quant && q.quant->per_axis());
  EXPECT_EQ(q.quant->axis, 0);
  ASSERT_EQ(q.quant->scale.size(), 4u);
  const auto* qv = reinterpret_cast<const int8_t*>(q.constant->bytes());
  for (int n = 0; n < 4; ++n) {
    const float* ch = w.constant->floats() + n * 27;
    EXPECT_FLOAT_EQ(q.quant->scale[static_cast<size_t>(n)], max_abs_of(ch, 27) / 127.0f) << "channel " << n;
    EXPECT_EQ(q.quant->zero_point[static_cast<size_t>(n)], 0);
    for (int k = 0; k < 27; ++k)
      EXPECT_NEAR(qv[n * 27 + k] * q.quant->scale[static_cast<size_t>(n)], ch[k],
                  q.quant->scale[static_cast<size_t>(n)] / 2 * 1.0001);
  }
  // The largest magnitude of each channel lands on ±127 (symmetric, full range).
  for (int n = 0; n < 4; ++n) {
    int peak = 0;
    for (int k = 0; k < 27; ++k) peak = std::max(peak, std::abs(int{qv[n * 27 + k]}));
    EXPECT_EQ(peak, 127) << "channel " << n;
  }
}

TEST(QuantizeWeight, PerTensorHasOneScaleOverTheWholeWeight) {
  const Graph g = conv_graph(K::None, 3.0f);
  const TensorInfo& w = g.tensor(g.nodes[0].inputs[1]);
  const TensorInfo q = quantize::quantize_weight(w, -1);
  ASSERT_FALSE(q.quant->per_axis());
  ASSERT_EQ(q.quant->scale.size(), 1u);
  EXPECT_FLOAT_EQ(q.quant->scale[0], max_abs_of(w.constant->floats(), 108) / 127.0f);
}

TEST(QuantizeWeight, GemmWithoutTransBIsPerColumn) {
  TensorInfo w;
  w.name = "w";
  w.shape = {2, 3};  // [K, N]: output channels along axis 1
  w.constant = ConstantData::from_floats({1.0f, -4.0f, 0.5f, -2.0f, 2.0f, 0.25f});
  const TensorInfo q = quantize::quantize_weight(w, 1);
  ASSERT_EQ(q.quant->scale.size(), 3u);
  EXPECT_FLOAT_EQ(q.quant->scale[0], 2.0f / 127);
  EXPECT_FLOAT_EQ(q.quant->scale[1], 4.0f / 127);
  EXPECT_FLOAT_EQ(q.quant->scale[2], 0.5f / 127);
}

TEST(QuantizeBias, ScaleIsInputScaleTimesEachWeightScale) {
  TensorInfo b;
  b.name = "b";
  b.shape = {2};
  b.constant = ConstantData::from_floats({0.3f, -1.7f});
  const QuantParams wq{{0.01f, 0.002f}, {0, 0}, 0};
  const TensorInfo q = quantize::quantize_bias(b, 0.05f, wq);
  ASSERT_EQ(q.dtype, DataType::Int32);
  ASSERT_EQ(q.quant->axis, 0);
  EXPECT_FLOAT_EQ(q.quant->scale[0], 0.05f * 0.01f);
  EXPECT_FLOAT_EQ(q.quant->scale[1], 0.05f * 0.002f);
  const auto* v = reinterpret_cast<const int32_t*>(q.constant->bytes());
  EXPECT_EQ(v[0], static_cast<int32_t>(std::nearbyint(0.3 / (0.05 * 0.01))));
  EXPECT_EQ(v[1], static_cast<int32_t>(std::nearbyint(-1.7 / (0.05 * 0.002))));
}

TEST(ActivationParams, RangeWidenedToHoldZero) {
  QuantParams p = quantize::activation_params({-1.0f, 3.0f});
  EXPECT_FLOAT_EQ(p.scale[0], 4.0f / 255);
  EXPECT_EQ(p.zero_point[0], 64);  // round(1 / (4/255))
  EXPECT_FALSE(p.per_axis());
  p = quantize::activation_params({0.5f, 2.0f});  // [0, 2]: zero stays exact
  EXPECT_FLOAT_EQ(p.scale[0], 2.0f / 255);
  EXPECT_EQ(p.zero_point[0], 0);
  p = quantize::activation_params({-6.0f, -2.0f});  // [-6, 0]
  EXPECT_EQ(p.zero_point[0], 255);
  p = quantize::activation_params({0.0f, 0.0f});
  EXPECT_GT(p.scale[0], 0.0f);
  EXPECT_THROW(quantize::activation_params({1.0f, NAN}), Error);
}

// ---- calibration statistics ---------------------------------------------------------

TEST(Calibration, MinMaxAndPercentileFromTheHistogram) {
  quantize::Calibration cal;
  std::vector<float> v(10000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  cal.add("t", v);
  const std::vector<float> outlier = {1.0e6f};  // arrives later: the histogram widens
  cal.add("t", outlier);
  const quantize::TensorStats& s = cal.tensors().at("t");
  EXPECT_EQ(s.count(), 10001);
  int64_t total = 0;
  for (int64_t c : s.histogram()) total += c;
  EXPECT_EQ(total, 10001) << "widening lost values";
  EXPECT_GE(s.limit(), 1.0e6);

  const Range mm = cal.ranges(quantize::Method::MinMax).at("t");
  EXPECT_EQ(mm.lo, 0.0f);
  EXPECT_EQ(mm.hi, 1.0e6f);
  // 99.9% keeps all but ~10 values at each end: the outlier goes, 9990 stays
  // (to within a bin of 2·limit/kBins).
  const Range p = cal.ranges(quantize::Method::Percentile, 99.9).at("t");
  const double bin = 2 * s.limit() / quantize::TensorStats::kBins;
  EXPECT_GE(p.lo, 0.0f);
  EXPECT_LE(p.lo, 10 + bin);
  EXPECT_NEAR(p.hi, 9990.0, bin + 1);
  EXPECT_THROW(cal.ranges(quantize::Method::Percentile, 40.0), Error);
  const std::vector<float> bad = {1.0f, INFINITY};
  EXPECT_THAT([&] { cal.add("u", bad); }, ::testing::ThrowsMessage<Error>(HasSubstr("'u'")));
}

// Gaussian values (σ = 1, seeded) with a few huge outliers: minmax stretches
// the range to the outliers, entropy clips them, to a few σ.
std::vector<float> gaussian_with_outliers(size_t n, uint32_t seed, bool rectified) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = rectified ? std::max(0.0f, normal(rng)) : normal(rng);
  for (size_t i = 0; i < 5; ++i) v[i * 997] = rectified || i % 2 ? 100.0f : -100.0f;
  return v;
}

TEST(Calibration, EntropyClipsOutliersThatMinMaxKeeps) {
  quantize::Calibration cal;
  cal.add("signed", gaussian_with_outliers(200000, 1, false));
  cal.add("relu", gaussian_with_outliers(200000, 2, true));
  const quantize::Ranges mm = cal.ranges(quantize::Method::MinMax);
  const quantize::Ranges kl = cal.ranges(quantize::Method::Entropy);
  EXPECT_EQ(mm.at("signed").hi, 100.0f);
  EXPECT_EQ(mm.at("signed").lo, -100.0f);
  EXPECT_EQ(mm.at("relu").hi, 100.0f);
  // Clipped well inside the outliers, yet beyond the bulk of the Gaussian. The
  // search starts at as many bins as levels (of 2048 over [0, L], L = 128 ≥
  // the widest value here), so the threshold is at least 128 (255 one-sided) bins.
  for (const char* t : {"signed", "relu"}) {
    EXPECT_GT(kl.at(t).hi, 2.5f) << t;
    EXPECT_LT(kl.at(t).hi, 20.0f) << t;
  }
  EXPECT_LT(kl.at("signed").lo, -2.5f);
  EXPECT_GT(kl.at("signed").lo, -20.0f);
  // A tensor that is never negative keeps 0 as its floor (uint8 over [0, t]).
  EXPECT_EQ(kl.at("relu").lo, 0.0f);
  EXPECT_EQ(quantize::parse_method("entropy"), quantize::Method::Entropy);
  EXPECT_THAT([] { quantize::parse_method("kl"); }, ::testing::ThrowsMessage<Error>(HasSubstr("entropy")));
}

TEST(Calibration, EntropyKeepsTheWholeRangeWithoutOutliers) {
  // Uniform values fill every level: clipping any of them only loses information.
  quantize::Calibration cal;
  std::vector<float> v(100000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 1000) / 999.0f * 8.0f;
  cal.add("u", v);
  const Range r = cal.ranges(quantize::Method::Entropy).at("u");
  EXPECT_EQ(r.lo, 0.0f);
  EXPECT_GT(r.hi, 7.5f);
  EXPECT_LE(r.hi, 8.0f);
}

// Entropy leaves a classifier's head at min/max: from the outputs back
// through Softmax, reshapes and pools to the last computing layer's output.
TEST(Calibration, TheHeadIsTheLastComputingLayerAndWhatFollows) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 3, 8, 8});
  const TensorId c1 = b.node(O::Conv, {x, b.random_constant("w1", {4, 3, 3, 3}, 1)},
                             conv_attrs({3, 3}, {}, {1, 1, 1, 1}, {}, 1, act(K::Relu)), "conv1");
  const TensorId c2 = b.node(O::Conv, {c1, b.random_constant("w2", {5, 4, 1, 1}, 2)}, conv_attrs({1, 1}), "conv2");
  const TensorId gap = b.node(O::GlobalAveragePool, {c2}, no_attrs(), "gap");
  const TensorId flat = b.node(O::Flatten, {gap}, flatten_attrs(1), "flatten");
  const TensorId y = b.node(O::Softmax, {flat}, softmax_attrs(1), "softmax");
  b.output(y);
  const Graph g = b.build();
  const std::set<std::string> head = ptq::head_tensors(g);
  EXPECT_EQ(head,
            (std::set<std::string>{g.tensor(c2).name, g.tensor(gap).name, g.tensor(flat).name, g.tensor(y).name}));
}

TEST(Calibration, RangesAreTheValuesTheFloatModelComputes) {
  const Graph g = conv_graph(K::Relu);
  const auto sets = input_sets(g, 3, 5);
  const quantize::Ranges r = calibrated(g, sets);
  float lo = INFINITY, hi = -INFINITY;
  for (const auto& s : sets) {
    const Tensor y = run_graph(g, s.tensors)[0];
    for (float v : y.values()) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  ASSERT_TRUE(r.count(g.tensor(g.outputs[0]).name));
  EXPECT_FLOAT_EQ(r.at(g.tensor(g.outputs[0]).name).lo, lo);
  EXPECT_FLOAT_EQ(r.at(g.tensor(g.outputs[0]).name).hi, hi);
  EXPECT_GE(lo, 0.0f);  // after the fused Relu
  ASSERT_TRUE(r.count("x"));
  EXPECT_GE(r.at("x").lo, -1.0f);
  EXPECT_LT(r.at("x").hi, 1.0f);
}

// ---- the quantized graph ------------------------------------------------------------

TEST(QuantizeGraph, ConvBecomesAnInt8ConvWithCalibratedParameters) {
  const Graph g = conv_graph(K::Relu, 2.0f);
  const auto sets = input_sets(g, 4, 21);
  const quantize::Ranges ranges = calibrated(g, sets);
  const quantize::Result r = quantize::quantize_graph(g, ranges, {});
  std::vector<O> ops;
  for (const Node& n : r.graph.nodes) ops.push_back(n.op);
  EXPECT_EQ(ops, (std::vector<O>{O::QuantizeLinear, O::Conv, O::DequantizeLinear}));
  EXPECT_EQ(r.quantized, std::vector<std::string>{"conv"});
  const Node& conv = node_named(r.graph, "conv");
  ASSERT_TRUE(is_quantized_node(r.graph, conv));

  const TensorInfo& x = r.graph.tensor(conv.inputs[0]);
  const TensorInfo& w = r.graph.tensor(conv.inputs[1]);
  const TensorInfo& b = r.graph.tensor(conv.inputs[2]);
  const TensorInfo& y = r.graph.tensor(conv.outputs[0]);
  EXPECT_EQ(x.dtype, DataType::UInt8);
  EXPECT_EQ(*x.quant, quantize::activation_params(ranges.at("x")));
  EXPECT_EQ(*y.quant, quantize::activation_params(ranges.at(g.tensor(g.outputs[0]).name)));
  EXPECT_EQ(y.quant->zero_point[0], 0) << "a Relu output starts at 0";
  EXPECT_EQ(*w.quant, *quantize::quantize_weight(g.tensor(g.nodes[0].inputs[1]), 0).quant);
  for (int n = 0; n < 4; ++n)
    EXPECT_FLOAT_EQ(b.quant->scale_at(n), x.quant->scale[0] * w.quant->scale_at(n)) << "bias units, channel " << n;
  // The model's output keeps its name.
  EXPECT_EQ(r.graph.tensor(r.graph.outputs[0]).name, g.tensor(g.outputs[0]).name);
}

// The int8 Conv's output, on the cpu backend, is within what its roundings can
// add: half a step of y, the input's half step through |w|, each weight's
// half step through |x|, and the bias's half unit.
TEST(QuantizeGraph, RunsOnTheCpuBackendWithinTheErrorItsScalesAllow) {
  for (const auto granularity : {quantize::WeightGranularity::PerChannel, quantize::WeightGranularity::PerTensor}) {
    const Graph g = conv_graph(K::None, 2.0f);
    const auto sets = input_sets(g, 4, 31);
    quantize::QuantizeOptions o;
    o.weights = granularity;
    const quantize::Result r = quantize::quantize_graph(g, calibrated(g, sets), o);
    const Node& conv = node_named(r.graph, "conv");
    const QuantParams& xq = *r.graph.tensor(conv.inputs[0]).quant;
    const QuantParams& wq = *r.graph.tensor(conv.inputs[1]).quant;
    const QuantParams& yq = *r.graph.tensor(conv.outputs[0]).quant;
    const float* w = g.tensor(g.nodes[0].inputs[1]).constant->floats();
    for (const auto& s : sets) {
      const Tensor want = run_graph(g, s.tensors, "reference")[0];
      const Tensor got = run_graph(r.graph, s.tensors, "cpu")[0];
      const double max_x = max_abs_of(s.tensors[0].data(), s.tensors[0].size());
      double worst_excess = -1e9;
      for (int64_t i = 0; i < want.size(); ++i) {
        const int64_t n = (i / 64) % 4;
        double w_l1 = 0;
        for (int k = 0; k < 27; ++k) w_l1 += std::fabs(w[n * 27 + k]);
        const double sw = wq.scale_at(n);
        const double bound = yq.scale[0] / 2 + xq.scale[0] / 2 * w_l1 + sw / 2 * 27 * (max_x + xq.scale[0] / 2) +
                             xq.scale[0] * sw / 2 + 1e-6;
        worst_excess = std::max(worst_excess, std::fabs(double{got.data()[i]} - want.data()[i]) - bound);
      }
      EXPECT_LE(worst_excess, 0.0) << (granularity == quantize::WeightGranularity::PerChannel ? "per channel"
                                                                                                : "per tensor");
    }
  }
}

// Conv (Relu) -> MaxPool -> Conv -> Softmax: the pool follows its quantized
// input and keeps its parameters, Softmax stays float, a named layer stays float.
Graph chain_graph() {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 3, 8, 8});
  const TensorId c1 = b.node(O::Conv, {x, b.random_constant("w1", {4, 3, 3, 3}, 1), b.random_constant("b1", {4}, 2)},
                             conv_attrs({3, 3}, {}, {1, 1, 1, 1}, {}, 1, act(K::Relu)), "conv1");
  const TensorId p = b.node(O::MaxPool, {c1}, pool_attrs({2, 2}, {2, 2}), "pool");
  const TensorId c2 = b.node(O::Conv, {p, b.random_constant("w2", {5, 4, 1, 1}, 3), b.random_constant("b2", {5}, 4)},
                             conv_attrs({1, 1}), "conv2");
  b.output(b.node(O::Softmax, {c2}, softmax_attrs(1), "softmax"));
  return b.build();
}

TEST(QuantizeGraph, FollowersShareParametersAndOpsWithoutInt8FormStayFloat) {
  const Graph g = chain_graph();
  const quantize::Result r = quantize::quantize_graph(g, calibrated(g, input_sets(g, 3, 41)), {});
  EXPECT_EQ(r.quantized, (std::vector<std::string>{"conv1", "pool", "conv2"}));
  const Node& pool = node_named(r.graph, "pool");
  EXPECT_EQ(*r.graph.tensor(pool.outputs[0]).quant, *r.graph.tensor(pool.inputs[0]).quant);
  EXPECT_FALSE(is_quantized_node(r.graph, node_named(r.graph, "softmax")));
  ASSERT_EQ(r.plan.kept_float.size(), 1u);
  EXPECT_EQ(r.plan.kept_float[0].node, "softmax");
  EXPECT_THAT(r.plan.kept_float[0].reason, HasSubstr("no int8 form"));
}

TEST(QuantizeGraph, KeepFloatIsHonoured) {
  const Graph g = chain_graph();
  quantize::QuantizeOptions o;
  o.keep_float = {"conv2"};
  const quantize::Result r = quantize::quantize_graph(g, calibrated(g, input_sets(g, 3, 41)), o);
  EXPECT_EQ(r.quantized, (std::vector<std::string>{"conv1", "pool"}));
  const Node& conv2 = node_named(r.graph, "conv2");
  EXPECT_FALSE(is_quantized_node(r.graph, conv2));
  EXPECT_EQ(r.graph.tensor(conv2.inputs[1]).dtype, DataType::Float32);
  EXPECT_TRUE(r.graph.tensor(conv2.inputs[1]).is_constant());
  const auto kept = std::find_if(r.plan.kept_float.begin(), r.plan.kept_float.end(),
                                 [](const quantize::FloatNode& f) { return f.node == "conv2"; });
  ASSERT_NE(kept, r.plan.kept_float.end());
  EXPECT_THAT(kept->reason, HasSubstr("by request"));
  // The float Conv reads the pool's output through a DequantizeLinear, and the model still runs.
  const auto sets = input_sets(g, 1, 7);
  EXPECT_LT(max_relative_error_of(run_graph(r.graph, sets[0].tensors, "cpu"), run_graph(g, sets[0].tensors)), 0.2);
}

TEST(QuantizeGraph, BadRequestsAreNamed) {
  const Graph g = chain_graph();
  const quantize::Ranges ranges = calibrated(g, input_sets(g, 1, 3));
  quantize::QuantizeOptions o;
  o.keep_float = {"no_such_node"};
  EXPECT_THAT([&] { quantize::quantize_graph(g, ranges, o); },
              ::testing::ThrowsMessage<Error>(HasSubstr("'no_such_node'")));
  // An int8 model is not quantized again.
  const quantize::Result r = quantize::quantize_graph(g, ranges, {});
  EXPECT_THAT([&] { quantize::quantize_graph(r.graph, ranges, {}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("quantized already")));
  // Without ranges, nothing is quantized and each layer says why.
  const quantize::Result none = quantize::quantize_graph(g, {}, {});
  EXPECT_TRUE(none.quantized.empty());
  EXPECT_THAT(none.plan.kept_float[0].reason, HasSubstr("no calibrated range"));
}

TEST(QuantizeGraph, GemmWithOneBiasPerOutputIsQuantizedABroadcastBiasIsNot) {
  for (const int64_t bias_len : {3, 1}) {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 4});
    const TensorId w = b.random_constant("w", {4, 3}, 1);
    const TensorId bias = b.random_constant("b", {bias_len}, 2);
    b.output(b.node(O::Gemm, {x, w, bias}, gemm_attrs(), "gemm"));
    const Graph g = b.build();
    const quantize::Result r = quantize::quantize_graph(g, calibrated(g, input_sets(g, 2, 9)), {});
    if (bias_len == 3) {
      EXPECT_EQ(r.quantized, std::vector<std::string>{"gemm"});
      EXPECT_EQ(r.graph.tensor(node_named(r.graph, "gemm").inputs[1]).quant->axis, 1) << "per column of [K, N]";
    } else {
      EXPECT_TRUE(r.quantized.empty());
      ASSERT_EQ(r.plan.kept_float.size(), 1u);
      EXPECT_THAT(r.plan.kept_float[0].reason, HasSubstr("broadcast"));
    }
  }
}

// ---- SQNR and the fallback --------------------------------------------------------------

TEST(LayerSqnr, PerChannelBeatsPerTensorOnWeightsOfUnequalChannels) {
  // Channel n's weights are 8^n times channel 0's: one scale for all wastes
  // the small channels' bits.
  const Graph g = conv_graph(K::None, 8.0f);
  const auto sets = input_sets(g, 4, 51);
  const Model f = model_of(g);
  const quantize::Ranges ranges = calibrated(g, sets);
  double db[2];
  int i = 0;
  for (const auto granularity : {quantize::WeightGranularity::PerChannel, quantize::WeightGranularity::PerTensor}) {
    quantize::QuantizeOptions o;
    o.weights = granularity;
    const quantize::Result r = quantize::quantize_graph(g, ranges, o);
    const auto layers = ptq::layer_sqnr(f, model_of(r.graph), r.quantized, sets, reference_options());
    ASSERT_EQ(layers.size(), 1u);
    EXPECT_EQ(layers[0].node, "conv");
    db[i++] = layers[0].sqnr_db;
  }
  // Dominated by the output's rounding: 255 steps over a range of ~7 standard
  // deviations of the largest channel, which three smaller channels share.
  EXPECT_GT(db[0], 15.0);
  EXPECT_LT(db[0], 60.0);
  EXPECT_GT(db[0], db[1]);
}

TEST(QuantizeRun, LayersBelowMinSqnrGoBackToFloat) {
  const Graph g = chain_graph();
  const auto sets = input_sets(g, 3, 61);
  ptq::Options o;
  o.session = reference_options();
  ptq::Report none = ptq::run(model_of(g), sets, sets, o);
  EXPECT_EQ(none.result.quantized.size(), 3u);
  EXPECT_TRUE(none.fell_back.empty());
  ASSERT_TRUE(none.top1.has_value());
  EXPECT_EQ(none.top1->total, 3);  // one row per set (batch 1)
  // A threshold above every layer's SQNR sends them all back.
  o.min_sqnr_db = 1000.0;
  const ptq::Report all = ptq::run(model_of(g), sets, {}, o);
  EXPECT_TRUE(all.result.quantized.empty());
  EXPECT_EQ(all.fell_back.size(), 3u);
  for (const auto& f : all.result.plan.kept_float)
    if (f.node != "softmax") {
      EXPECT_THAT(f.reason, HasSubstr("below --min-sqnr"));
    }
  // Between the two, only the layers under the threshold go.
  const double cut = none.layers[1].sqnr_db + 0.01;
  o.min_sqnr_db = cut;
  const ptq::Report some = ptq::run(model_of(g), sets, {}, o);
  for (const auto& b : some.fell_back) EXPECT_LT(b.sqnr_db, cut);
  EXPECT_FALSE(some.fell_back.empty());
  EXPECT_LT(some.result.quantized.size(), 3u);
}

}  // namespace
}  // namespace kiln::test
