// The int8 Winograd F(2,3) and SFC-6 convolutions (kernels/cpu/conv/int8_fast_conv.cpp):
// their integer transforms reproduce direct convolution exactly on random
// tiles within the documented int16 bounds, and whole quantized Conv layers
// give the reference backend's bytes at every ISA level with 1 and 2 threads
// (odd sizes, asymmetric pads, batch 2, uint8 and int8 weights, per-channel
// zero points, fused clamps, channel counts that need several chunks).
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <random>

#include "engine/core/quantization.hpp"
#include "kernels/cpu/conv/int8_algorithm.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/cpu/cpu_test_util.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;

const cpu::FastTransform1D* transforms[] = {&cpu::winograd_f23_transform(), &cpu::sfc6_transform()};

int max_row_l1(const int8_t* m, int rows, int cols, int stride) {
  int best = 0;
  for (int r = 0; r < rows; ++r) {
    int s = 0;
    for (int c = 0; c < cols; ++c) s += std::abs(m[r * stride + c]);
    best = std::max(best, s);
  }
  return best;
}

TEST(Int8FastConv, TransformsReproduceDirectConvolution) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> v(-255, 255);
  for (const cpu::FastTransform1D* t : transforms) {
    const int n = t->n_in, T = t->terms, m = t->n_out;
    ASSERT_EQ(n, m + 2);
    for (int trial = 0; trial < 500; ++trial) {
      int64_t x[8][8], w[3][3];
      for (auto& row : x)
        for (auto& e : row) e = trial == 0 ? 255 : trial == 1 ? -255 : v(rng);
      for (auto& row : w)
        for (auto& e : row) e = trial == 0 ? -255 : trial == 1 ? -255 : v(rng);
      // U = BT X BTᵀ, V = G W Gᵀ, Y = AT (U ⊙ V) ATᵀ
      int64_t u[10][10] = {}, gw[10][3] = {}, vv[10][10] = {}, p[10][10], r[10][6] = {}, y[6][6] = {};
      int64_t bx[10][8] = {};
      for (int a = 0; a < T; ++a)
        for (int j = 0; j < n; ++j)
          for (int i = 0; i < n; ++i) bx[a][j] += t->bt[a][i] * x[i][j];
      for (int a = 0; a < T; ++a)
        for (int b = 0; b < T; ++b)
          for (int j = 0; j < n; ++j) u[a][b] += bx[a][j] * t->bt[b][j];
      for (int a = 0; a < T; ++a)
        for (int j = 0; j < 3; ++j)
          for (int i = 0; i < 3; ++i) gw[a][j] += t->g[a][i] * w[i][j];
      for (int a = 0; a < T; ++a)
        for (int b = 0; b < T; ++b)
          for (int j = 0; j < 3; ++j) vv[a][b] += gw[a][j] * t->g[b][j];
      for (int a = 0; a < T; ++a)
        for (int b = 0; b < T; ++b) {
          ASSERT_LE(std::abs(u[a][b]), 32767);
          ASSERT_LE(std::abs(vv[a][b]), 32767);
          p[a][b] = u[a][b] * vv[a][b];
        }
      for (int a = 0; a < T; ++a)
        for (int j = 0; j < m; ++j)
          for (int b = 0; b < T; ++b) r[a][j] += p[a][b] * t->at[j][b];
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j)
          for (int a = 0; a < T; ++a) y[i][j] += t->at[i][a] * r[a][j];
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j) {
          int64_t direct = 0;
          for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b) direct += x[i + a][j + b] * w[a][b];
          ASSERT_EQ(y[i][j], int64_t{t->scale} * t->scale * direct) << "n_in " << n << " trial " << trial;
        }
    }
    // The documented bounds: transformed operands in int16, a vpmaddwd pair sum in int32.
    const int bt1 = max_row_l1(&t->bt[0][0], T, n, cpu::FastTransform1D::kMaxIn);
    const int g1 = max_row_l1(&t->g[0][0], T, 3, 3);
    EXPECT_LE(bt1 * bt1 * 255, 32767);
    EXPECT_LE(g1 * g1 * 255, 32767);
    EXPECT_LT(2.0 * bt1 * bt1 * 255 * g1 * g1 * 255, 2147483648.0);
  }
}

// Two threads both get work on ResNet's small layers: the tasks are tile
// blocks × panel groups, and there are at least two per thread.
TEST(Int8FastConv, SmallLayersSplitOverTwoThreads) {
  for (const cpu::FastTransform1D* t : transforms)
    for (int hw : {7, 14})
      for (int c : {256, 512}) {
        ConvGeometry s;
        s.rank = 2;
        s.N = 1, s.C = c, s.K = c, s.H = s.W = hw, s.OH = s.OW = hw;
        s.KH = s.KW = 3, s.sh = s.sw = 1, s.dh = s.dw = 1, s.pt = s.pl = s.pb = s.pr = 1, s.group = 1;
        const cpu::FastConvPlan one = cpu::fast_conv_plan(s, *t, 1), two = cpu::fast_conv_plan(s, *t, 2);
        EXPECT_GE(two.blocks * two.panel_groups, 4) << "n_in " << t->n_in << " " << hw << "x" << hw << " C " << c;
        // One thread takes each block's panels in one task (the input transform once).
        EXPECT_EQ(one.panel_groups, 1);
      }
}

struct Case {
  int n, c, k, h, w;
  std::vector<int32_t> pads;  // top, left, bottom, right
  DataType w_dtype;
  bool per_channel, bias;
  fb::FusedActivation act;
  int32_t x_zero_point;
  std::vector<int32_t> w_zero_points;
  bool extreme = false;  // weights at ±255 from their zero point and inputs at 255 - zx: the chunk bound
  int chunked = 0;       // which algorithms must split the channels: 1 sfc, 2 winograd
};

TensorId quantized(GraphBuilder& b, TensorId t, DataType dt, QuantParams q) {
  b.graph().tensor(t).dtype = dt;
  b.graph().tensor(t).quant = std::move(q);
  return t;
}

Graph conv_graph(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  GraphBuilder b;
  const float sx = 0.02f;
  const TensorId x = quantized(b, b.input("x", {c.n, c.c, c.h, c.w}), DataType::UInt8, {{sx}, {c.x_zero_point}, -1});
  const quant::Range r = c.w_dtype == DataType::UInt8 ? quant::kUint8Range : quant::kInt8Range;
  std::vector<uint8_t> wb(static_cast<size_t>(c.k) * c.c * 9);
  QuantParams wq;
  wq.axis = c.per_channel ? 0 : -1;
  for (int i = 0; i < (c.per_channel ? c.k : 1); ++i) {
    wq.scale.push_back(0.01f * (1 + static_cast<float>(i % 5) / 4));
    wq.zero_point.push_back(c.w_zero_points[static_cast<size_t>(i) % c.w_zero_points.size()]);
  }
  std::uniform_int_distribution<int32_t> value(r.lo, r.hi);
  for (size_t i = 0; i < wb.size(); ++i) {
    int32_t v = value(rng);
    if (c.extreme) {
      const int32_t zw = wq.zero_point[c.per_channel ? i / (static_cast<size_t>(c.c) * 9) : 0];
      v = zw - r.lo >= r.hi - zw ? r.lo : r.hi;  // the farther end from the zero point
    }
    wb[i] = static_cast<uint8_t>(v);
  }
  Graph& g = b.graph();
  const TensorId w = g.add_constant("w", {c.k, c.c, 3, 3}, c.w_dtype, ConstantData::copy_of(wb.data(), wb.size()), wq);
  std::vector<TensorId> in{x, w};
  if (c.bias) {
    std::vector<int32_t> bias(static_cast<size_t>(c.k));
    std::uniform_int_distribution<int32_t> bv(-30000, 30000);
    for (auto& v : bias) v = bv(rng);
    QuantParams bq;
    bq.axis = c.per_channel ? 0 : -1;
    for (float s : wq.scale) bq.scale.push_back(sx * s);
    bq.zero_point.assign(bq.scale.size(), 0);
    in.push_back(g.add_constant("b", {c.k}, DataType::Int32, ConstantData::copy_of(bias.data(), bias.size() * 4), bq));
  }
  // An output scale that spreads typical accumulators (~sqrt(9C)·128·128 in
  // units of sx·sw, or 9C·255² for the extreme case) over the uint8 range.
  const double typical = c.extreme ? 9.0 * c.c * 255 * 255 : std::sqrt(9.0 * c.c) * 128 * 128;
  const float sy = static_cast<float>(sx * 0.01 * typical / 100);
  const TensorId y = b.node(O::Conv, in, conv_attrs({3, 3}, {1, 1}, c.pads, {1, 1}, 1, c.act));
  quantized(b, y, DataType::UInt8, {{sy}, {c.extreme ? 128 : 90}, -1});
  b.output(y);
  return b.build();
}

Tensor random_input(const Case& c, uint32_t seed) {
  Tensor t({c.n, c.c, c.h, c.w}, ElementType::UInt8);
  std::mt19937 rng(seed);
  auto* p = static_cast<uint8_t*>(t.raw());
  for (int64_t i = 0; i < t.size(); ++i)
    p[i] = c.extreme ? (c.x_zero_point < 128 ? 255 : 0) : static_cast<uint8_t>(rng() % 256);
  return t;
}

void expect_fast_conv_matches_reference(const Case& c, uint32_t seed) {
  const Model model(std::make_shared<Graph>(conv_graph(c, seed)));
  const std::vector<Tensor> inputs = {random_input(c, seed + 1)};
  const std::vector<Tensor> expected = run_model(model, reference_options(), inputs);
  const auto* e = static_cast<const uint8_t*>(expected[0].raw());
  int distinct = 0;
  for (int64_t i = 1; i < expected[0].size(); ++i) distinct += e[i] != e[0];
  EXPECT_TRUE(distinct > 0 || expected[0].size() == 1) << "test bug: every output byte is the same";
  for (const char* algorithm : {"fixed:winograd", "fixed:sfc"})
    for (const std::string& isa : cpu_isa_names())
      for (int threads : {1, 2}) {
        Session session(model, cpu_options(threads, isa, algorithm));
        const std::vector<Tensor> got = session.run(inputs);
        const std::string detail = node_detail(session, model.graph().nodes[0].name);
        EXPECT_NE(detail.find(std::string("int8 ") + (algorithm + 6)), std::string::npos) << detail;
        const bool chunks = c.chunked & (algorithm == std::string("fixed:sfc") ? 1 : 2);
        EXPECT_EQ(detail.find("channel chunks") != std::string::npos, chunks) << detail;
        ASSERT_EQ(got[0].size_bytes(), expected[0].size_bytes());
        EXPECT_EQ(std::memcmp(got[0].raw(), expected[0].raw(), got[0].size_bytes()), 0) << algorithm << " isa " << isa << " threads " << threads << " shape "
                                                  << fmt::format("N{} C{} K{} {}x{}", c.n, c.c, c.k, c.h, c.w);
      }
}

TEST(Int8FastConv, MatchesReferenceOnAwkwardShapes) {
  const Case cases[] = {
      {2, 5, 7, 9, 11, {1, 1, 1, 1}, DataType::UInt8, false, true, act(K::Relu), 128, {131}},
      {1, 37, 19, 13, 6, {0, 0, 0, 0}, DataType::Int8, true, true, act(K::Clip, 0, 6), 3, {0, -7, 12}},
      {1, 16, 33, 8, 15, {0, 1, 2, 1}, DataType::UInt8, true, false, {}, 250, {0, 255, 17, 128}},
      {2, 64, 70, 7, 7, {1, 1, 1, 1}, DataType::Int8, false, true, {}, 0, {-3}},
      {1, 130, 48, 14, 14, {1, 1, 1, 1}, DataType::UInt8, true, true, act(K::Relu), 77, {128, 3, 250}},
      {1, 3, 100, 20, 17, {2, 0, 0, 2}, DataType::Int8, true, true, {}, 200, {5}},
  };
  uint32_t seed = 100;
  for (const Case& c : cases) expect_fast_conv_matches_reference(c, seed += 10);
}

// Every weight ±255 from its zero point and every input 255 from its: the
// largest products the bounds allow. SFC needs several channel chunks from
// C = 102 (36·255·2295·C >= 2^31), Winograd from C = 918.
TEST(Int8FastConv, MatchesReferenceAtTheChunkBound) {
  const Case cases[] = {
      {1, 100, 8, 6, 7, {1, 1, 1, 1}, DataType::UInt8, false, false, {}, 0, {255}, true, 0},
      {1, 104, 8, 6, 7, {1, 1, 1, 1}, DataType::UInt8, false, false, {}, 0, {255}, true, 1},
      {1, 920, 4, 4, 5, {1, 1, 1, 1}, DataType::UInt8, true, false, {}, 255, {0, 255}, true, 3},
  };
  uint32_t seed = 500;
  for (const Case& c : cases) expect_fast_conv_matches_reference(c, seed += 10);
}

}  // namespace
}  // namespace kiln::test
