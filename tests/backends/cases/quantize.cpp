// QuantizeLinear and DequantizeLinear, and the quantized form of every op
// that has one (engine/core/quantized_ops.hpp): float inputs are quantized,
// run through the quantized op and dequantized, so that every backend is
// compared on float outputs. Integer backends (reference, cpu) must agree
// bit for bit; float backends run the dequantized graph (within
// BackendConfig::quantized_tolerance).
#include "engine/core/quantization.hpp"
#include "tests/backends/op_cases.hpp"

namespace kiln::test {

namespace {

using O = OpType;

QuantParams per_tensor(float scale, int32_t zero_point) { return {{scale}, {zero_point}, -1}; }

// Sets the dtype and quantization of a node's output (GraphBuilder makes float32 tensors).
TensorId as_quantized(GraphBuilder& b, TensorId t, DataType dt, QuantParams q) {
  b.graph().tensor(t).dtype = dt;
  b.graph().tensor(t).quant = std::move(q);
  return t;
}

TensorId quantize(GraphBuilder& b, TensorId x, DataType dt, QuantParams q) {
  return as_quantized(b, b.node(O::QuantizeLinear, {x}), dt, std::move(q));
}
TensorId dequantize(GraphBuilder& b, TensorId x) { return b.node(O::DequantizeLinear, {x}); }

// A uint8/int8 constant of random values, its zero points from `zp` (one per
// index of `axis`, or one for all with axis -1) and scales around `scale`.
TensorId quantized_weight(GraphBuilder& b, const std::string& name, Shape shape, DataType dt, int axis,
                          std::vector<int32_t> zp, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  const quant::Range r = dt == DataType::UInt8 ? quant::kUint8Range : quant::kInt8Range;
  std::uniform_int_distribution<int32_t> value(r.lo, r.hi);
  std::uniform_real_distribution<float> jitter(0.5f, 1.5f);
  const int64_t n = element_count(shape);
  std::vector<uint8_t> bytes(static_cast<size_t>(n));
  for (auto& v : bytes) v = static_cast<uint8_t>(value(rng));
  QuantParams q;
  q.axis = axis;
  const int64_t count = axis < 0 ? 1 : shape[static_cast<size_t>(axis)];
  for (int64_t i = 0; i < count; ++i) {
    q.scale.push_back(scale * jitter(rng));
    q.zero_point.push_back(zp[static_cast<size_t>(i) % zp.size()]);
  }
  Graph& g = b.graph();
  return g.add_constant(g.unique_tensor_name(name), std::move(shape), dt,
                        ConstantData::copy_of(bytes.data(), bytes.size()), std::move(q));
}

// An int32 bias in units of sx·sw[n].
TensorId quantized_bias(GraphBuilder& b, const std::string& name, int64_t n, float sx, const QuantParams& w,
                        uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> value(-20000, 20000);
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = value(rng);
  QuantParams q;
  q.axis = w.per_axis() ? 0 : -1;
  for (int64_t i = 0; i < (w.per_axis() ? n : 1); ++i) {
    q.scale.push_back(sx * w.scale_at(i));
    q.zero_point.push_back(0);
  }
  Graph& g = b.graph();
  return g.add_constant(g.unique_tensor_name(name), {n}, DataType::Int32, ConstantData::copy_of(v.data(), v.size() * 4),
                        std::move(q));
}

struct QConvSpec {
  ConvSpec conv;
  DataType x_dtype = DataType::UInt8, w_dtype = DataType::UInt8;
  bool per_channel = false;
  std::vector<int32_t> w_zero_points{131};
  int32_t x_zero_point = 128, y_zero_point = 100;
};

Graph quantized_conv_graph(const QConvSpec& s) {
  GraphBuilder b;
  const ConvSpec& c = s.conv;
  const TensorId x = b.input("x", {c.n, c.cin, c.h, c.w});
  const float sx = 2.0f / 255;
  const TensorId xq = quantize(b, x, s.x_dtype, per_tensor(sx, s.x_zero_point));
  const float fan_in = static_cast<float>(c.cin / c.group * c.kh * c.kw);
  const TensorId w = quantized_weight(b, "w", {c.cout, c.cin / c.group, c.kh, c.kw}, s.w_dtype, s.per_channel ? 0 : -1,
                                      s.w_zero_points, 2.0f / 255 / std::sqrt(fan_in), 11);
  std::vector<TensorId> in{xq, w};
  if (c.bias) in.push_back(quantized_bias(b, "bias", c.cout, sx, *b.graph().tensor(w).quant, 12));
  const TensorId y =
      b.node(O::Conv, in, conv_attrs({c.kh, c.kw}, {c.sh, c.sw}, c.pads, {c.dh, c.dw}, c.group, c.activation));
  // An output scale that uses most of the range without saturating much.
  as_quantized(b, y, DataType::UInt8, per_tensor(0.012f, s.y_zero_point));
  b.output(dequantize(b, y));
  return b.build();
}

}  // namespace

std::vector<OpCase> quantize_cases() {
  std::vector<OpCase> v;
  auto add = [&](std::string name, std::function<Graph()> build, float lo = -1.2f, float hi = 1.2f) {
    OpCase c{std::move(name), std::move(build), lo, hi};
    c.quantized = true;
    v.push_back(std::move(c));
  };
  // Round trips, saturating at both ends (inputs beyond the representable range).
  for (auto [dt, zp] : {std::pair{DataType::UInt8, 128}, {DataType::UInt8, 0}, {DataType::Int8, -5}}) {
    add(std::string("QuantizeDequantize_") + (dt == DataType::UInt8 ? "u8_z" : "i8_z") + (zp < 0 ? "minus" : "") +
            std::to_string(std::abs(zp)),
        [dt, zp] {
          GraphBuilder b;
          const TensorId x = b.input("x", {2, 3, 5, 7});
          b.output(dequantize(b, quantize(b, x, dt, per_tensor(0.01f, zp))));
          return b.build();
        });
  }
  add("Requantize_u8_to_i8", [] {
    GraphBuilder b;
    const TensorId x = b.input("x", {3, 37});
    const TensorId q = quantize(b, x, DataType::UInt8, per_tensor(0.008f, 120));
    b.output(dequantize(b, quantize(b, q, DataType::Int8, per_tensor(0.011f, 3))));
    return b.build();
  });

  // Convolutions: the MobileNet shapes, then strides, pads, groups, dilations and zero points.
  auto conv = [&](std::string name, QConvSpec s) { add("QConv_" + name, [s] { return quantized_conv_graph(s); }); };
  using K = fb::ActivationKind;
  QConvSpec s;
  s.conv = {1, 3, 16, 15, 15, 3, 3, 2, 2, 1, 1, 1, {0, 0, 1, 1}, true, act(K::Clip, 0, 6)};
  conv("stem_3x3_s2_asymmetric_pads_relu6", s);
  s.conv = {1, 24, 24, 9, 11, 3, 3, 1, 1, 1, 1, 24, {1, 1, 1, 1}, true, act(K::Clip, 0, 6)};
  conv("depthwise_3x3_s1", s);
  s.conv = {1, 33, 33, 10, 9, 3, 3, 2, 2, 1, 1, 33, {0, 0, 1, 1}, true, act(K::Relu)};
  conv("depthwise_3x3_s2_odd_channels", s);
  s.conv = {2, 17, 17, 8, 8, 5, 5, 1, 1, 2, 2, 17, {4, 4, 4, 4}, false, {}};
  conv("depthwise_5x5_dilated_no_bias_batch2", s);
  s.conv = {1, 40, 72, 7, 7, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, {}};
  conv("pointwise_40_to_72", s);
  s.conv = {1, 19, 21, 6, 5, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, act(K::Clip, 0, 6)};
  conv("pointwise_odd_relu6", s);
  s.conv = {1, 16, 24, 9, 9, 1, 1, 2, 2, 1, 1, 1, {0, 0, 0, 0}, true, {}};
  conv("pointwise_stride2", s);
  s.conv = {1, 8, 12, 9, 7, 3, 3, 1, 2, 1, 1, 2, {1, 0, 2, 1}, true, {}};
  conv("grouped_3x3", s);
  s.per_channel = true;
  s.w_zero_points = {0, 255, 17, 128, 3};
  s.conv = {1, 12, 20, 6, 6, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, act(K::Relu)};
  conv("dense_3x3_per_channel_zero_points", s);
  s.w_dtype = DataType::Int8;
  s.w_zero_points = {0};
  s.conv = {1, 32, 48, 5, 5, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, {}};
  conv("pointwise_int8_weights_per_channel", s);
  s.x_dtype = DataType::Int8;
  s.x_zero_point = -3;
  s.per_channel = false;
  s.w_zero_points = {-7};
  s.conv = {1, 6, 9, 7, 7, 3, 3, 1, 1, 1, 1, 3, {1, 1, 1, 1}, true, {}};
  conv("int8_activations_grouped", s);
  // How the int8 GEMM splits work: a 7×7 image has too few pixel rows for two
  // threads (patch matrix first, then channel panels, one partial), groups
  // on a small image likewise, a 28×28 one enough (patches and GEMM per task).
  QConvSpec split;
  split.w_dtype = DataType::Int8;
  split.per_channel = true;
  split.w_zero_points = {0};
  split.conv = {1, 24, 200, 7, 7, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, act(K::Relu)};
  conv("dense_3x3_7x7_200_channels", split);
  split.conv = {2, 16, 20, 6, 6, 3, 3, 1, 1, 1, 1, 2, {1, 1, 1, 1}, true, {}};
  conv("grouped_3x3_small_image_batch2", split);
  split.conv = {1, 8, 12, 28, 28, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, false, {}};
  conv("dense_3x3_28x28", split);
  QConvSpec extreme;
  extreme.x_zero_point = 0;
  extreme.w_zero_points = {255};
  extreme.conv = {1, 64, 8, 4, 4, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, {}};
  conv("pointwise_saturating_zero_points", extreme);

  // Add (residual), average and max pools, concat with other scales, reshape.
  add("QAdd_relu", [] {
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 24, 7, 9}), z = b.input("z", {1, 24, 7, 9});
    const TensorId xq = quantize(b, x, DataType::UInt8, per_tensor(0.01f, 120));
    const TensorId zq = quantize(b, z, DataType::UInt8, per_tensor(0.006f, 140));
    const TensorId y = as_quantized(b, b.node(O::Add, {xq, zq}, binary_attrs(act(fb::ActivationKind::Relu))),
                                    DataType::UInt8, per_tensor(0.013f, 30));
    b.output(dequantize(b, y));
    return b.build();
  });
  add("QGlobalAveragePool", [] {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 37, 7, 7});
    const TensorId xq = quantize(b, x, DataType::UInt8, per_tensor(0.01f, 128));
    const TensorId y = as_quantized(b, b.node(O::GlobalAveragePool, {xq}), DataType::UInt8, per_tensor(0.004f, 128));
    b.output(dequantize(b, y));
    return b.build();
  });
  add("QMaxPool_and_AveragePool", [] {
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 5, 9, 8});
    const TensorId xq = quantize(b, x, DataType::UInt8, per_tensor(0.01f, 128));
    b.output(dequantize(b, as_quantized(b, b.node(O::MaxPool, {xq}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1})),
                                        DataType::UInt8, per_tensor(0.01f, 128))));
    b.output(dequantize(
        b, as_quantized(b, b.node(O::AveragePool, {xq}, pool_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}, {}, false, true)),
                        DataType::UInt8, per_tensor(0.007f, 125))));
    return b.build();
  });
  add("QConcat_requantized_and_Flatten", [] {
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 3, 4, 4}), z = b.input("z", {1, 5, 4, 4});
    const TensorId xq = quantize(b, x, DataType::UInt8, per_tensor(0.01f, 128));
    const TensorId zq = quantize(b, z, DataType::UInt8, per_tensor(0.02f, 100));
    const TensorId c =
        as_quantized(b, b.node(O::Concat, {xq, zq}, concat_attrs(1)), DataType::UInt8, per_tensor(0.015f, 110));
    b.output(dequantize(
        b, as_quantized(b, b.node(O::Flatten, {c}, flatten_attrs(1)), DataType::UInt8, per_tensor(0.015f, 110))));
    return b.build();
  });
  add("QGemm_per_channel", [] {
    GraphBuilder b;
    const TensorId x = b.input("x", {3, 40});
    const float sx = 0.01f;
    const TensorId xq = quantize(b, x, DataType::UInt8, per_tensor(sx, 128));
    const TensorId w = quantized_weight(b, "w", {17, 40}, DataType::Int8, 0, {0}, 0.004f, 21);
    const TensorId bias = quantized_bias(b, "bias", 17, sx, *b.graph().tensor(w).quant, 22);
    const TensorId y = as_quantized(b, b.node(O::Gemm, {xq, w, bias}, gemm_attrs(1, 1, false, true)), DataType::UInt8,
                                    per_tensor(0.01f, 128));
    b.output(dequantize(b, y));
    return b.build();
  });
  // A convolution whose only reader is an Add: the CPU takes the Add into the
  // GEMM's epilogue. The residual as the Add's second and as its first
  // operand, a 3×3 and a 1×1 layer, a fused Relu on the Add.
  for (const bool residual_first : {false, true})
    for (const int k : {3, 1})
      add(std::string("QConv_residual_add_") + (k == 3 ? "3x3" : "1x1") + (residual_first ? "_residual_first" : ""),
          [residual_first, k] {
            GraphBuilder b;
            const TensorId x = b.input("x", {2, 40, 9, 7});
            const float sx = 0.01f;
            const TensorId xq = quantize(b, x, DataType::UInt8, per_tensor(sx, 128));
            const TensorId w = quantized_weight(b, "w", {40, 40, k, k}, DataType::Int8, 0, {0}, 0.004f, 31);
            const TensorId bias = quantized_bias(b, "bias", 40, sx, *b.graph().tensor(w).quant, 32);
            const int32_t p = k / 2;
            const TensorId c = as_quantized(b, b.node(O::Conv, {xq, w, bias}, conv_attrs({k, k}, {1, 1}, {p, p, p, p})),
                                            DataType::UInt8, per_tensor(0.02f, 120));
            const std::vector<TensorId> in = residual_first ? std::vector<TensorId>{xq, c} : std::vector<TensorId>{c, xq};
            const TensorId y = as_quantized(b, b.node(O::Add, in, binary_attrs(act(fb::ActivationKind::Relu))),
                                            DataType::UInt8, per_tensor(0.025f, 10));
            b.output(dequantize(b, y));
            return b.build();
          });
  // A fire module's concat: one input already in the output's parameters (a
  // copy), one requantized, more pixels than one band of the CPU's split.
  add("QConcat_channels_copy_and_requantize_batch2", [] {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 7, 15, 13}), z = b.input("z", {2, 9, 15, 13});
    const TensorId xq = quantize(b, x, DataType::UInt8, per_tensor(0.01f, 128));
    const TensorId zq = quantize(b, z, DataType::UInt8, per_tensor(0.004f, 60));
    b.output(dequantize(
        b, as_quantized(b, b.node(O::Concat, {xq, zq}, concat_attrs(1)), DataType::UInt8, per_tensor(0.01f, 128))));
    return b.build();
  });
  // MaxPool whose output has its own parameters (a requantization table),
  // padding, dilation and a window that can miss the image on one side.
  add("QMaxPool_requantized_dilated_batch2", [] {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 37, 11, 9});
    const TensorId xq = quantize(b, x, DataType::UInt8, per_tensor(0.01f, 128));
    b.output(dequantize(
        b, as_quantized(b, b.node(O::MaxPool, {xq}, pool_attrs({3, 2}, {2, 1}, {2, 0, 1, 1}, {2, 1})),
                        DataType::UInt8, per_tensor(0.006f, 90))));
    return b.build();
  });
  add("QMaxPool_int8", [] {
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 6, 7, 7});
    const TensorId xq = quantize(b, x, DataType::Int8, per_tensor(0.01f, -5));
    b.output(dequantize(b, as_quantized(b, b.node(O::MaxPool, {xq}, pool_attrs({2, 2}, {2, 2}, {0, 0, 0, 0})),
                                        DataType::Int8, per_tensor(0.01f, -5))));
    return b.build();
  });
  // Gemm with B untransposed ([K][N], uint8 per tensor with a zero point),
  // more rows and channels than one task's block, a fused Relu.
  add("QGemm_untransposed_uint8_relu", [] {
    GraphBuilder b;
    const TensorId x = b.input("x", {130, 70});
    const float sx = 0.01f;
    const TensorId xq = quantize(b, x, DataType::UInt8, per_tensor(sx, 120));
    const TensorId w = quantized_weight(b, "w", {70, 150}, DataType::UInt8, -1, {133}, 0.004f, 23);
    const TensorId bias = quantized_bias(b, "bias", 150, sx, *b.graph().tensor(w).quant, 24);
    const TensorId y = as_quantized(
        b, b.node(O::Gemm, {xq, w, bias}, gemm_attrs(1, 1, false, false, act(fb::ActivationKind::Relu))),
        DataType::UInt8, per_tensor(0.01f, 128));
    b.output(dequantize(b, y));
    return b.build();
  });
  // MatMul of a rank-3 A and a constant B per channel (axis 1), no bias.
  add("QMatMul_rank3_per_channel", [] {
    GraphBuilder b;
    const TensorId x = b.input("x", {2, 3, 40});
    const TensorId xq = quantize(b, x, DataType::UInt8, per_tensor(0.01f, 128));
    const TensorId w = quantized_weight(b, "w", {40, 33}, DataType::Int8, 1, {0}, 0.004f, 25);
    const TensorId y = as_quantized(b, b.node(O::MatMul, {xq, w}), DataType::UInt8, per_tensor(0.01f, 110));
    b.output(dequantize(b, y));
    return b.build();
  });
  return v;
}

}  // namespace kiln::test
