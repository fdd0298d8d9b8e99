#include "engine/core/quantized_ops.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "engine/core/op_info.hpp"

namespace kiln {

namespace {

[[noreturn]] void fail(ErrorCode code, const Node& node, const std::string& what) {
  throw Error(code, "node '" + node.name + "' (" + std::string(op_name(node.op)) + "): " + what);
}

std::string dtype_text(const TensorInfo& t) { return "'" + t.name + "' (" + fb::EnumNameDataType(t.dtype) + ")"; }

bool per_tensor(const TensorInfo& t) { return t.quant && !t.quant->per_axis(); }

// A requantization multiplier (a ratio of scales) as float32. Scales are
// finite and positive (validate.cpp), but their ratio can exceed float32's
// range: an infinite multiplier turns a zero accumulator into NaN, whose
// conversion to an integer is undefined, so such a model is refused.
float multiplier(double m, const TensorInfo& from, const TensorInfo& to) {
  if (!(m <= std::numeric_limits<float>::max()))
    throw Error(ErrorCode::InvalidModel, "the scales of '" + from.name + "' and '" + to.name +
                                             "' give a requantization multiplier beyond float32's range");
  return static_cast<float>(m);
}

// A quantized weight: a uint8/int8 constant, per tensor or per index of `axis`.
void check_weight(const Graph& g, const Node& node, TensorId id, int axis) {
  const TensorInfo& w = g.tensor(id);
  if (!is_quantized_dtype(w.dtype) || !w.is_constant())
    fail(ErrorCode::Unsupported, node,
         "a quantized " + std::string(op_name(node.op)) + " needs a constant uint8 or int8 weight; " + dtype_text(w) +
             (w.is_constant() ? "" : " is computed at run time"));
  if (w.quant->per_axis() && w.quant->axis != axis)
    fail(ErrorCode::Unsupported, node,
         "weight '" + w.name + "' is quantized along axis " + std::to_string(w.quant->axis) +
             "; Kiln supports per-tensor or per-output-channel (axis " + std::to_string(axis) + ") weights");
}

void check_bias(const Graph& g, const Node& node, TensorId id) {
  const TensorInfo& b = g.tensor(id);
  if (b.dtype != DataType::Int32 || !b.is_constant())
    fail(ErrorCode::Unsupported, node,
         "the bias of a quantized op must be an int32 constant; " + dtype_text(b) + " is not");
}

void check_activation(const Node& node, const fb::FusedActivation& act) {
  using K = fb::ActivationKind;
  if (act.kind() != K::None && act.kind() != K::Relu && act.kind() != K::Clip)
    fail(ErrorCode::Unsupported, node, "a quantized op can end in Relu or Clip only, not " + describe_activation(act));
}

}  // namespace

quant::Range dtype_range(DataType dtype) {
  if (dtype == DataType::Int8) return quant::kInt8Range;
  if (dtype == DataType::UInt8) return quant::kUint8Range;
  return {INT32_MIN, INT32_MAX};
}

bool has_quantized_form(OpType op) {
  switch (op) {
    case OpType::Conv:
    case OpType::Gemm:
    case OpType::MatMul:
    case OpType::Add:
    case OpType::MaxPool:
    case OpType::AveragePool:
    case OpType::GlobalAveragePool:
    case OpType::GlobalMaxPool:
    case OpType::Relu:
    case OpType::Clip:
    case OpType::Concat:
    case OpType::Split:
    case OpType::Transpose:
    case OpType::Slice:
    case OpType::Pad:
    case OpType::QuantizeLinear:
    case OpType::DequantizeLinear:
      return true;
    default:
      return is_reshape_like(op);
  }
}

bool is_quantized_node(const Graph& graph, const Node& node) {
  return !node.inputs.empty() && !node.outputs.empty() && is_quantized_dtype(graph.tensor(node.inputs[0]).dtype) &&
         is_quantized_dtype(graph.tensor(node.outputs[0]).dtype);
}

void check_node_dtypes(const Graph& g, const Node& node) {
  auto dtype = [&](TensorId t) { return g.tensor(t).dtype; };
  if (node.op == OpType::QuantizeLinear) {
    const TensorInfo& x = g.tensor(node.inputs[0]);
    const TensorInfo& y = g.tensor(node.outputs[0]);
    if (x.dtype != DataType::Float32 && !is_quantized_dtype(x.dtype))
      fail(ErrorCode::InvalidModel, node, "input " + dtype_text(x) + " must be float32, uint8 or int8");
    if (!is_quantized_dtype(y.dtype))
      fail(ErrorCode::InvalidModel, node, "output " + dtype_text(y) + " must be uint8 or int8");
    if (is_quantized_dtype(x.dtype) && (!per_tensor(x) || !per_tensor(y)))
      fail(ErrorCode::Unsupported, node, "requantization is supported between per-tensor parameters only");
    return;
  }
  if (node.op == OpType::DequantizeLinear) {
    const TensorInfo& x = g.tensor(node.inputs[0]);
    if (!x.quant) fail(ErrorCode::InvalidModel, node, "input " + dtype_text(x) + " is not quantized");
    if (dtype(node.outputs[0]) != DataType::Float32)
      fail(ErrorCode::InvalidModel, node, "output " + dtype_text(g.tensor(node.outputs[0])) + " must be float32");
    return;
  }

  if (!is_quantized_node(g, node)) {
    for (TensorId t : node.inputs)
      if (dtype(t) != DataType::Float32)
        fail(ErrorCode::Unsupported, node,
             "reads " + dtype_text(g.tensor(t)) + " but its output is float32: Kiln runs " +
                 std::string(op_name(node.op)) +
                 " either on float32 tensors or with quantized input and output (insert "
                 "QuantizeLinear/DequantizeLinear)");
    for (TensorId t : node.outputs)
      if (dtype(t) != DataType::Float32)
        fail(ErrorCode::Unsupported, node,
             "writes " + dtype_text(g.tensor(t)) + " from float32 inputs; only QuantizeLinear makes quantized tensors");
    return;
  }

  if (!has_quantized_form(node.op))
    fail(ErrorCode::Unsupported, node,
         std::string(op_name(node.op)) + " has no quantized form in Kiln; dequantize its input and run it in float32");
  for (TensorId t : node.outputs)
    if (!is_quantized_dtype(dtype(t)) || !per_tensor(g.tensor(t)))
      fail(ErrorCode::Unsupported, node,
           "output " + dtype_text(g.tensor(t)) + " must be uint8 or int8 quantized per tensor");
  switch (node.op) {
    case OpType::Conv: {
      check_weight(g, node, node.inputs[1], 0);
      if (node.inputs.size() > 2) check_bias(g, node, node.inputs[2]);
      check_activation(node, attrs_as<fb::ConvAttrsT>(node).activation);
      break;
    }
    case OpType::Gemm: {
      const auto& a = attrs_as<fb::GemmAttrsT>(node);
      if (a.trans_a || a.alpha != 1.0f || a.beta != 1.0f)
        fail(ErrorCode::Unsupported, node, "a quantized Gemm must have alpha = beta = 1 and no transA");
      check_weight(g, node, node.inputs[1], a.trans_b ? 0 : 1);
      if (node.inputs.size() > 2) check_bias(g, node, node.inputs[2]);
      check_activation(node, a.activation);
      break;
    }
    case OpType::MatMul:
      if (g.shape(node.inputs[1]).size() != 2)
        fail(ErrorCode::Unsupported, node, "a quantized MatMul needs a 2-D constant weight");
      check_weight(g, node, node.inputs[1], 1);
      break;
    case OpType::Add:
      check_activation(node, attrs_as<fb::BinaryAttrsT>(node).activation);
      [[fallthrough]];
    default:
      for (TensorId t : node.inputs)
        if (!is_quantized_dtype(dtype(t)) || !per_tensor(g.tensor(t)))
          fail(ErrorCode::Unsupported, node,
               "input " + dtype_text(g.tensor(t)) + " must be uint8 or int8 quantized per tensor, like the output");
  }
  if (node.op == OpType::Add && g.shape(node.inputs[0]) != g.shape(node.inputs[1]))
    fail(ErrorCode::Unsupported, node, "a quantized Add needs inputs of one shape (no broadcasting)");
}

quant::Range output_clamp(const TensorInfo& y, const fb::FusedActivation& act) {
  quant::Range r = dtype_range(y.dtype);
  const float s = y.quant->scale[0];
  const int32_t z = y.quant->zero_point[0];
  using K = fb::ActivationKind;
  if (act.kind() == K::Relu) {
    r.lo = std::max(r.lo, z);
  } else if (act.kind() == K::Clip) {
    const quant::Range full = r;
    r.lo = std::max(r.lo, quant::quantize(act.alpha(), s, z, full.lo, full.hi));
    r.hi = std::min(r.hi, quant::quantize(act.beta(), s, z, full.lo, full.hi));
  }
  return r;
}

QuantizedLinear quantized_linear(const TensorInfo& x, const TensorInfo& w, const TensorInfo* bias_tensor,
                                 const TensorInfo& y, int64_t out_channels, const fb::FusedActivation& act) {
  QuantizedLinear q;
  q.x_zero_point = x.quant->zero_point[0];
  q.y_zero_point = y.quant->zero_point[0];
  q.clamp = output_clamp(y, act);
  const double sx = x.quant->scale[0], sy = y.quant->scale[0];
  const int32_t* bias = nullptr;
  if (bias_tensor) bias = reinterpret_cast<const int32_t*>(bias_tensor->constant->bytes());
  for (int64_t n = 0; n < out_channels; ++n) {
    q.w_zero_point.push_back(w.quant->zero_point_at(n));
    q.multiplier.push_back(multiplier(sx * w.quant->scale_at(n) / sy, x, y));
    q.bias.push_back(bias ? bias[n] : 0);
  }
  return q;
}

QuantizedAdd quantized_add(const TensorInfo& a, const TensorInfo& b, const TensorInfo& y,
                           const fb::FusedActivation& act) {
  QuantizedAdd q;
  q.za = a.quant->zero_point[0];
  q.zb = b.quant->zero_point[0];
  q.zy = y.quant->zero_point[0];
  q.ma = multiplier(double{a.quant->scale[0]} / y.quant->scale[0], a, y);
  q.mb = multiplier(double{b.quant->scale[0]} / y.quant->scale[0], b, y);
  q.clamp = output_clamp(y, act);
  return q;
}

Requantization requantization(const TensorInfo& from, const TensorInfo& to) {
  Requantization r;
  r.from_zero_point = from.quant->zero_point[0];
  r.to_zero_point = to.quant->zero_point[0];
  r.multiplier = multiplier(double{from.quant->scale[0]} / to.quant->scale[0], from, to);
  r.clamp = dtype_range(to.dtype);
  r.identity = from.dtype == to.dtype && from.quant == to.quant;
  return r;
}

ConstantData dequantized_constant(const TensorInfo& x) {
  const int64_t count = element_count(x.shape);
  std::vector<float> out(static_cast<size_t>(count));
  const AxisIndex axis(x);
  for (int64_t i = 0; i < count; ++i) {
    int32_t q;
    if (x.dtype == DataType::Int32)
      std::memcpy(&q, x.constant->bytes() + i * 4, 4);
    else if (x.dtype == DataType::Int8)
      q = static_cast<int8_t>(x.constant->bytes()[i]);
    else
      q = static_cast<uint8_t>(x.constant->bytes()[i]);
    const int64_t c = axis(i);
    out[static_cast<size_t>(i)] = quant::dequantize(q, x.quant->scale_at(c), x.quant->zero_point_at(c));
  }
  return ConstantData::from_floats(out);
}

float average_multiplier(const TensorInfo& x, const TensorInfo& y, int64_t count) {
  return multiplier(double{x.quant->scale[0]} / (double{y.quant->scale[0]} * static_cast<double>(count)), x, y);
}

}  // namespace kiln
