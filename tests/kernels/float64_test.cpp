// The reference backend's float64 accumulation (ReferencePrecision::Float64)
// against sums computed here in double, per output element, and rounded to
// float once: the kernel must give exactly that float. Where a fused or
// standalone activation other than Relu/Clip/LeakyRelu is involved, within one
// float ulp instead: exp/tanh and the hard-* formulas may be evaluated here in
// a different but equally valid order, differing in the last double bit, and
// a value that close to the midpoint of two floats may round to either.
#include <algorithm>
#include <bit>
#include <cmath>
#include <random>

#include "engine/core/op_info.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/kernel_util.hpp"

namespace kiln::test {
namespace {

std::vector<Tensor> run_node_with(OpType op, const std::vector<Tensor>& inputs, fb::AttributesUnion attrs,
                                  ReferencePrecision precision) {
  GraphBuilder b;
  std::vector<TensorId> ids;
  for (size_t i = 0; i < inputs.size(); ++i) ids.push_back(b.input(numbered("in", static_cast<int64_t>(i)), inputs[i].shape()));
  b.output(b.node(op, ids, std::move(attrs), "node"));
  Model model(std::make_shared<Graph>(b.build()));
  SessionOptions options;
  options.backend = "reference";
  options.reference.accumulation = precision;
  Session session(model, options);
  return session.run(inputs);
}

template <class T>
Tensor run_f64(OpType op, const std::vector<Tensor>& inputs, T attrs) {
  return run_node_with(op, inputs, make_attrs(std::move(attrs)), ReferencePrecision::Float64).front();
}
Tensor run_f64(OpType op, const std::vector<Tensor>& inputs, fb::AttributesUnion attrs) {
  return run_node_with(op, inputs, std::move(attrs), ReferencePrecision::Float64).front();
}
template <class T>
Tensor run_f32(OpType op, const std::vector<Tensor>& inputs, T attrs) {
  return run_node_with(op, inputs, make_attrs(std::move(attrs)), ReferencePrecision::Float32).front();
}

// The ONNX activations in double.
double activate(const fb::FusedActivation& a, double x) {
  switch (a.kind()) {
    case K::None: return x;
    case K::Relu: return x < 0 ? 0.0 : x;
    case K::Clip: return std::max(std::min(x, double{a.beta()}), double{a.alpha()});
    case K::LeakyRelu: return x < 0 ? double{a.alpha()} * x : x;
    case K::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case K::HardSigmoid: return std::clamp(double{a.alpha()} * x + double{a.beta()}, 0.0, 1.0);
    case K::HardSwish: return x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0);
    case K::Tanh: return std::tanh(x);
  }
  return x;
}

bool rounds_exactly(const fb::FusedActivation& a) {
  return a.kind() == K::None || a.kind() == K::Relu || a.kind() == K::Clip || a.kind() == K::LeakyRelu;
}

// Every element of `actual` is `expected` rounded to float (ulps = 0), or
// within `ulps` floats of it.
::testing::AssertionResult rounded_once(const Tensor& actual, const Shape& shape, const std::vector<double>& expected,
                                        int ulps = 0) {
  if (actual.shape() != shape)
    return ::testing::AssertionFailure() << "shape " << shape_to_string(actual.shape()) << ", expected "
                                         << shape_to_string(shape);
  if (static_cast<int64_t>(expected.size()) != actual.size())
    return ::testing::AssertionFailure() << "test bug: " << expected.size() << " values for " << actual.size();
  bool nonzero = false;
  for (size_t i = 0; i < expected.size(); ++i) {
    const float want = static_cast<float>(expected[i]), got = actual.data()[i];
    nonzero = nonzero || want != 0.0f;
    float lo = want, hi = want;
    for (int u = 0; u < ulps; ++u) {
      lo = std::nextafter(lo, -kInf);
      hi = std::nextafter(hi, kInf);
    }
    if (!(got >= lo && got <= hi))
      return ::testing::AssertionFailure() << "element " << i << " is " << got << " (bits "
                                           << std::bit_cast<uint32_t>(got) << "), expected " << want << " (bits "
                                           << std::bit_cast<uint32_t>(want) << ") from " << expected[i];
  }
  if (!nonzero) return ::testing::AssertionFailure() << "test bug: the expected values are all zero";
  return ::testing::AssertionSuccess();
}


struct Rng {
  std::mt19937 gen;
  int pick(int lo, int hi) { return lo + static_cast<int>(gen() % static_cast<unsigned>(hi - lo + 1)); }
};

TEST(Float64Accumulation, ConvMatchesADoubleSumRoundedOnce) {
  Rng r{std::mt19937(11)};
  for (int trial = 0; trial < 50; ++trial) {
    const int rank = r.pick(1, 3);
    const bool depthwise = r.pick(0, 3) == 0;
    int64_t group = depthwise ? r.pick(2, 9) : r.pick(1, 3);
    const int64_t cin = depthwise ? group : group * r.pick(1, 6), cout = depthwise ? group : group * r.pick(1, 4);
    const fb::FusedActivation a = random_activation(r.gen);
    Shape xs{r.pick(1, 2), cin}, ws{cout, cin / group};
    std::vector<int32_t> kernel, strides, dil, pads(2 * static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) {
      kernel.push_back(r.pick(1, rank == 3 ? 3 : 4));
      strides.push_back(r.pick(1, 3));
      dil.push_back(r.pick(1, 2));
      // Padding within the dilated kernel's extent: no output made of padding alone.
      const int extent = (kernel.back() - 1) * dil.back();
      pads[static_cast<size_t>(d)] = r.pick(0, std::min(2, extent));
      pads[static_cast<size_t>(rank + d)] = r.pick(0, std::min(2, extent));
      xs.push_back((rank == 3 ? r.pick(2, 5) : r.pick(3, 11)) + (kernel.back() - 1) * dil.back());
      ws.push_back(kernel.back());
    }
    const Tensor x = random_tensor(xs, 1000 + trial, -2.0f, 2.0f);
    const Tensor w = random_tensor(ws, 2000 + trial);
    const Tensor bias = random_tensor({cout}, 3000 + trial);
    const bool with_bias = trial % 2 == 0;
    std::vector<Tensor> inputs{x, w};
    if (with_bias) inputs.push_back(bias);
    const auto attrs = conv_attrs(kernel, strides, pads, dil, static_cast<int32_t>(group), a);
    const Tensor y = run_f64(O::Conv, inputs, attrs);

    // Per output element: bias, then input channels, then taps in row-major order.
    const Shape& ys = y.shape();
    const Shape ks(ws.begin() + 2, ws.end());
    std::vector<double> expected(static_cast<size_t>(y.size()));
    for (int64_t o = 0; o < y.size(); ++o) {
      const auto oi = naive::unravel(o, ys);
      const int64_t n = oi[0], m = oi[1], cg = ws[1], g = m / (cout / group);
      double acc = with_bias ? bias.data()[m] : 0.0;
      for (int64_t c = 0; c < cg; ++c)
        for (int64_t t = 0; t < element_count(ks); ++t) {
          const auto ki = naive::unravel(t, ks);
          std::vector<int64_t> xi{n, g * cg + c};
          bool inside = true;
          for (int d = 0; d < rank; ++d) {
            const int64_t pos = oi[2 + d] * strides[d] - pads[d] + ki[d] * dil[d];
            inside = inside && pos >= 0 && pos < xs[2 + d];
            xi.push_back(pos);
          }
          if (!inside) continue;
          std::vector<int64_t> wi{m, c};
          wi.insert(wi.end(), ki.begin(), ki.end());
          acc += double{x.data()[naive::ravel(xi, xs)]} * double{w.data()[naive::ravel(wi, ws)]};
        }
      expected[static_cast<size_t>(o)] = activate(a, acc);
    }
    ASSERT_TRUE(rounded_once(y, ys, expected, rounds_exactly(a) ? 0 : 1))
        << "trial " << trial << " x " << shape_to_string(xs) << " w " << shape_to_string(ws) << " group " << group
        << " activation " << static_cast<int>(a.kind()) << " y " << shape_to_string(ys) << " first "
        << (y.size() ? y.data()[0] : 0.0f);
  }
}

// A long dot product, where float accumulation visibly drifts: Float64 gives
// the double sum rounded once, Float32 does not (so the option reaches the kernel).
TEST(Float64Accumulation, ChangesALongConvolutionSum) {
  const Tensor x = random_tensor({1, 512, 3, 3}, 5, -1.0f, 1.0f);
  const Tensor w = random_tensor({4, 512, 3, 3}, 6, -1.0f, 1.0f);
  const Tensor f64 = run_f64(O::Conv, {x, w}, conv_attrs({3, 3}, {}, {1, 1, 1, 1}));
  const Tensor f32 = run_f32(O::Conv, {x, w}, conv_attrs({3, 3}, {}, {1, 1, 1, 1}));
  int differ = 0;
  for (int64_t i = 0; i < f64.size(); ++i) differ += f64.data()[i] != f32.data()[i];
  EXPECT_GT(differ, 0) << "float32 and float64 accumulation agree on every one of 36 sums of up to 4608 terms";
  EXPECT_TRUE(close_to(f32, f64, 1e-5));
}

TEST(Float64Accumulation, GemmAndMatMulMatchADoubleSumRoundedOnce) {
  Rng r{std::mt19937(12)};
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t M = r.pick(1, 7), N = r.pick(1, 12), Kd = r.pick(1, 300);
    const bool ta = r.pick(0, 1), tb = r.pick(0, 1);
    const float alpha = trial % 3 == 0 ? 1.0f : 0.37f, beta = trial % 2 ? 1.0f : -1.25f;
    const fb::FusedActivation a = random_activation(r.gen);
    const Tensor A = random_tensor(ta ? Shape{Kd, M} : Shape{M, Kd}, 4000 + trial);
    const Tensor B = random_tensor(tb ? Shape{N, Kd} : Shape{Kd, N}, 5000 + trial);
    const Tensor C = random_tensor({N}, 6000 + trial);
    const Tensor y = run_f64(O::Gemm, {A, B, C}, gemm_attrs(alpha, beta, ta, tb, a));
    std::vector<double> expected;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0.0;
        for (int64_t k = 0; k < Kd; ++k)
          acc += double{A.data()[ta ? k * M + m : m * Kd + k]} * double{B.data()[tb ? n * Kd + k : k * N + n]};
        expected.push_back(activate(a, double{alpha} * acc + double{beta} * C.data()[n]));
      }
    ASSERT_TRUE(rounded_once(y, {M, N}, expected, rounds_exactly(a) ? 0 : 1)) << "Gemm trial " << trial;
  }
  for (int trial = 0; trial < 20; ++trial) {
    // [batch, M, K] x [K, N], the right operand broadcast over the batch.
    const int64_t batch = r.pick(1, 3), M = r.pick(1, 6), N = r.pick(1, 9), Kd = r.pick(1, 200);
    const Tensor A = random_tensor({batch, M, Kd}, 7000 + trial);
    const Tensor B = random_tensor({Kd, N}, 8000 + trial);
    const Tensor y = run_f64(O::MatMul, {A, B}, fb::AttributesUnion{});
    std::vector<double> expected;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double acc = 0.0;
          for (int64_t k = 0; k < Kd; ++k) acc += double{A.data()[(b * M + m) * Kd + k]} * double{B.data()[k * N + n]};
          expected.push_back(acc);
        }
    ASSERT_TRUE(rounded_once(y, {batch, M, N}, expected)) << "MatMul trial " << trial;
  }
}

TEST(Float64Accumulation, AveragePoolsMatchADoubleMeanRoundedOnce) {
  Rng r{std::mt19937(13)};
  for (int trial = 0; trial < 30; ++trial) {
    const bool include_pad = trial % 2;
    std::vector<int32_t> kernel, strides, pads(4);
    Shape xs{r.pick(1, 2), r.pick(1, 4)};
    for (int d = 0; d < 2; ++d) {
      kernel.push_back(r.pick(1, 4));
      strides.push_back(r.pick(1, 3));
      pads[static_cast<size_t>(d)] = r.pick(0, kernel.back() - 1);
      pads[static_cast<size_t>(2 + d)] = r.pick(0, kernel.back() - 1);
      xs.push_back(r.pick(kernel.back(), 12));
    }
    const Tensor x = random_tensor(xs, 9000 + trial, -3.0f, 3.0f);
    const Tensor y = run_f64(O::AveragePool, {x}, pool_attrs(kernel, strides, pads, {}, false, include_pad));
    std::vector<double> expected;
    for (int64_t o = 0; o < y.size(); ++o) {
      const auto oi = naive::unravel(o, y.shape());
      double sum = 0.0;
      int64_t valid = 0;
      for (int64_t kh = 0; kh < kernel[0]; ++kh)
        for (int64_t kw = 0; kw < kernel[1]; ++kw) {
          const int64_t ih = oi[2] * strides[0] - pads[0] + kh, iw = oi[3] * strides[1] - pads[1] + kw;
          if (ih < 0 || ih >= xs[2] || iw < 0 || iw >= xs[3]) continue;
          sum += x.data()[naive::ravel({oi[0], oi[1], ih, iw}, xs)];
          ++valid;
        }
      // Without ceil_mode every window lies inside input + padding.
      const int64_t count = include_pad ? int64_t{kernel[0]} * kernel[1] : valid;
      expected.push_back(sum / static_cast<double>(count));
    }
    ASSERT_TRUE(rounded_once(y, y.shape(), expected)) << "trial " << trial << " x " << shape_to_string(xs);
  }
  const Tensor x = random_tensor({2, 3, 17, 9}, 77, -3.0f, 3.0f);
  const Tensor y = run_f64(O::GlobalAveragePool, {x}, fb::AttributesUnion{});
  std::vector<double> expected;
  for (int64_t p = 0; p < 6; ++p) {
    double sum = 0.0;
    for (int64_t i = 0; i < 17 * 9; ++i) sum += x.data()[p * 17 * 9 + i];
    expected.push_back(sum / (17.0 * 9.0));
  }
  EXPECT_TRUE(rounded_once(y, {2, 3, 1, 1}, expected));
}

TEST(Float64Accumulation, ReduceMeanAndSoftmaxMatchDoubleRoundedOnce) {
  const Tensor x = random_tensor({3, 5, 7, 4}, 31, -4.0f, 4.0f);
  const Shape& xs = x.shape();
  // ReduceMean over axes 1 and 3, keepdims.
  const Tensor rm = run_f64(O::ReduceMean, {x}, reduce_attrs({1, 3}, true));
  std::vector<double> expected;
  for (int64_t a = 0; a < xs[0]; ++a)
    for (int64_t c = 0; c < xs[2]; ++c) {
      double sum = 0.0;
      for (int64_t b = 0; b < xs[1]; ++b)
        for (int64_t d = 0; d < xs[3]; ++d) sum += x.data()[naive::ravel({a, b, c, d}, xs)];
      expected.push_back(sum / static_cast<double>(xs[1] * xs[3]));
    }
  EXPECT_TRUE(rounded_once(rm, {3, 1, 7, 1}, expected));

  // Softmax over axis 2: exp in double, one division, one rounding. Within an
  // ulp: exp's last double bit may differ between libm paths.
  const Tensor sm = run_f64(O::Softmax, {x}, softmax_attrs(2));
  std::vector<double> soft(static_cast<size_t>(x.size()));
  for (int64_t a = 0; a < xs[0]; ++a)
    for (int64_t b = 0; b < xs[1]; ++b)
      for (int64_t d = 0; d < xs[3]; ++d) {
        float mx = -kInf;
        for (int64_t c = 0; c < xs[2]; ++c) mx = std::max(mx, x.data()[naive::ravel({a, b, c, d}, xs)]);
        double sum = 0.0;
        for (int64_t c = 0; c < xs[2]; ++c) sum += std::exp(double{x.data()[naive::ravel({a, b, c, d}, xs)]} - mx);
        for (int64_t c = 0; c < xs[2]; ++c) {
          const int64_t i = naive::ravel({a, b, c, d}, xs);
          soft[static_cast<size_t>(i)] = std::exp(double{x.data()[i]} - mx) / sum;
        }
      }
  EXPECT_TRUE(rounded_once(sm, xs, soft, 1));
}

TEST(Float64Accumulation, BatchNormAndActivationsRoundOnce) {
  const Tensor x = random_tensor({2, 5, 6, 3}, 41, -3.0f, 3.0f);
  const Tensor scale = random_tensor({5}, 42, 0.5f, 1.5f), bias = random_tensor({5}, 43);
  const Tensor mean = random_tensor({5}, 44), var = random_tensor({5}, 45, 0.1f, 2.0f);
  const Tensor bn = run_f64(O::BatchNormalization, {x, scale, bias, mean, var}, batchnorm_attrs(1e-3f));
  std::vector<double> expected;
  for (int64_t i = 0; i < x.size(); ++i) {
    const int64_t c = (i / 18) % 5;
    // ONNX's order, (x − mean) / √(var + ε) · scale + bias: the kernel folds
    // scale / √(var + ε) first, so within one ulp (the double results may differ in their last bit).
    expected.push_back((double{x.data()[i]} - mean.data()[c]) / std::sqrt(double{var.data()[c]} + double{1e-3f}) *
                           scale.data()[c] +
                       bias.data()[c]);
  }
  EXPECT_TRUE(rounded_once(bn, x.shape(), expected, 1));

  const struct {
    OpType op;
    fb::FusedActivation a;
  } cases[] = {{O::Sigmoid, act(K::Sigmoid)}, {O::Tanh, act(K::Tanh)}, {O::HardSwish, act(K::HardSwish)}};
  for (const auto& c : cases) {
    const Tensor y = run_f64(c.op, {x}, fb::AttributesUnion{});
    std::vector<double> want;
    for (float v : x.values()) want.push_back(activate(c.a, v));
    EXPECT_TRUE(rounded_once(y, x.shape(), want, 1)) << op_name(c.op);
  }
}

// The float32 mode is the oracle every backend is tested against: it must
// not change. Its results are not the double ones on long sums.
TEST(Float64Accumulation, Float32ModeIsTheDefault) {
  EXPECT_EQ(SessionOptions{}.reference.accumulation, ReferencePrecision::Float32);
  const Tensor x = random_tensor({1, 256, 4, 4}, 51), w = random_tensor({8, 256, 3, 3}, 52);
  const std::vector<Tensor> in{x, w};
  const Tensor by_default = run_node(O::Conv, in, conv_attrs({3, 3}));
  EXPECT_TRUE(tensors_close(run_f32(O::Conv, in, conv_attrs({3, 3})), by_default, 0.0));
}

}  // namespace
}  // namespace kiln::test
