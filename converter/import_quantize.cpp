// QuantizeLinear, DequantizeLinear (opsets 10-19; per tensor or per axis).
// The scale and zero point become the QuantParams of the quantized tensor:
// QuantizeLinear's output, DequantizeLinear's input. The fold_qdq pass then
// turns DequantizeLinear -> op -> QuantizeLinear patterns into quantized ops.
#include <cmath>
#include <cstring>

#include "converter/errors.hpp"
#include "converter/op_importers.hpp"

namespace kiln::onnx_import {

namespace {

DataType kiln_dtype(DType t) {
  switch (t) {
    case dtype::kUInt8:
      return DataType::UInt8;
    case dtype::kInt8:
      return DataType::Int8;
    case dtype::kInt32:
      return DataType::Int32;
    default:
      return DataType::Float32;
  }
}

}  // namespace

// The scale (input `scale_input`) and zero point (`zp_input`, default 0) of a
// tensor of rank `rank`; `dt` is the zero point's type (the quantized type). A
// scale of several values is per axis: the node's `axis` attribute, else `default_axis`.
QuantParams read_quant_params(NodeContext& ctx, size_t scale_input, size_t zp_input, size_t rank, int64_t default_axis,
                              DType* dt) {
  const HostTensor& scale = ctx.constant(scale_input, "scale");
  std::vector<double> zp;
  *dt = dtype::kUInt8;
  if (ctx.has_input(zp_input)) {
    const HostTensor& z = ctx.constant(zp_input, "zero point");
    *dt = z.dtype;
    for (size_t i = 0; i < z.size(); ++i) zp.push_back(z.get_double(i));
    if (z.shape != scale.shape)
      ctx.invalid("zero point shape " + shape_to_string(z.shape) + " differs from scale shape " +
                  shape_to_string(scale.shape));
  }
  if (scale.shape.size() > 1)
    ctx.unsupported("a scale of rank " + std::to_string(scale.shape.size()) + " (blocked quantization)");
  QuantParams q;
  for (size_t i = 0; i < scale.size(); ++i) {
    q.scale.push_back(static_cast<float>(scale.get_double(i)));
    q.zero_point.push_back(zp.empty() ? 0 : static_cast<int32_t>(zp[i]));
  }
  if (q.scale.empty()) ctx.invalid("the scale is empty");
  // A 1-D scale of several values is per axis; one value is per tensor whatever its shape.
  if (q.scale.size() > 1) {
    int64_t axis = ctx.attrs().get_int("axis", default_axis);
    if (axis < 0) axis += static_cast<int64_t>(rank);
    if (axis < 0 || axis >= static_cast<int64_t>(rank))
      ctx.invalid("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    q.axis = static_cast<int>(axis);
  }
  if (!q.per_axis() && q.scale.size() != 1) ctx.invalid("a per-tensor scale must hold one value");
  for (float s : q.scale)
    if (!(std::isfinite(s) && s > 0)) ctx.invalid("scale " + std::to_string(s) + " is not positive and finite");
  return q;
}

TensorId Importer::quantized_constant(const std::string& name, const std::string& where, QuantParams quant) {
  Value& v = value(name, where);
  if (v.graph >= 0 && graph_.tensor(v.graph).quant == quant) return v.graph;
  const DataType dt = kiln_dtype(v.dtype);
  if (dt == DataType::Float32)
    throw_unsupported(where + ": dequantizes '" + name + "' of data type " + dtype_name(v.dtype) +
                      " (expected uint8, int8 or int32)");
  const HostTensor& h = host_value(name, where);
  const size_t n = h.size();
  std::vector<uint8_t> bytes(n * dtype_size(dt));
  for (size_t i = 0; i < n; ++i) {
    const int64_t x = h.get_int(i);
    if (dt == DataType::Int32) {
      const auto x32 = static_cast<int32_t>(x);
      std::memcpy(bytes.data() + i * 4, &x32, 4);
    } else {
      bytes[i] = static_cast<uint8_t>(x);
    }
  }
  const TensorId id = graph_.add_constant(unique_name(name), v.shape, dt,
                                          ConstantData::copy_of(bytes.data(), bytes.size()), std::move(quant));
  if (v.graph < 0) v.graph = id;
  return id;
}

void import_quantize_linear(NodeContext& ctx) {
  ctx.require_inputs(2, 3);
  const TensorId x = ctx.tensor(0);
  DType dt;
  QuantParams q = read_quant_params(ctx, 1, 2, ctx.shape(0).size(), 1, &dt);
  if (dt != dtype::kUInt8 && dt != dtype::kInt8)
    ctx.unsupported("quantizing to " + dtype_name(dt) + " (Kiln quantizes to uint8 and int8)");
  ctx.emit(OpType::QuantizeLinear, {x}, {});
  Graph& g = ctx.importer().graph();
  TensorInfo& y = g.tensor(g.nodes.back().outputs[0]);
  y.dtype = kiln_dtype(dt);
  y.quant = std::move(q);
}

TensorId quantized_operand(NodeContext& ctx, size_t data, size_t scale, size_t zp, int64_t default_axis) {
  DType dt;
  QuantParams q = read_quant_params(ctx, scale, zp, ctx.shape(data).size(), default_axis, &dt);
  if (ctx.is_constant(data)) return ctx.importer().quantized_constant(ctx.input_name(data), ctx.where(), std::move(q));
  const TensorId x = ctx.tensor(data);
  TensorInfo& t = ctx.importer().graph().tensor(x);
  if (!is_quantized_dtype(t.dtype))
    ctx.invalid("input '" + t.name + "' is " + fb::EnumNameDataType(t.dtype) + ", not a quantized tensor");
  if (kiln_dtype(dt) != t.dtype) ctx.invalid("the zero point's type differs from input '" + t.name + "'");
  if (!t.quant) {
    t.quant = std::move(q);  // a quantized graph input
  } else if (!(*t.quant == q)) {
    ctx.unsupported("it reads '" + t.name + "' with other parameters (" + describe_dtype(t.dtype, q) +
                    ") than the node that made it (" + describe_dtype(t.dtype, t.quant) + ")");
  }
  return x;
}

void set_output_quantization(NodeContext& ctx, size_t scale, size_t zp) {
  DType dt;
  QuantParams q = read_quant_params(ctx, scale, zp, 0, 1, &dt);
  if (dt != dtype::kUInt8 && dt != dtype::kInt8) ctx.unsupported("a quantized output of type " + dtype_name(dt));
  if (q.per_axis()) ctx.unsupported("a per-axis quantized output");
  Graph& g = ctx.importer().graph();
  TensorInfo& y = g.tensor(g.nodes.back().outputs[0]);
  y.dtype = kiln_dtype(dt);
  y.quant = std::move(q);
}

TensorId quantized_bias(NodeContext& ctx, size_t bias, const TensorInfo& x, const TensorInfo& w) {
  QuantParams q;
  const int64_t n = ctx.shape(bias).empty() ? 1 : ctx.shape(bias)[0];
  for (int64_t i = 0; i < (w.quant->per_axis() ? n : 1); ++i) {
    q.scale.push_back(x.quant->scale[0] * w.quant->scale_at(i));
    q.zero_point.push_back(0);
  }
  q.axis = w.quant->per_axis() ? 0 : -1;
  if (ctx.importer().value(ctx.input_name(bias), ctx.where()).dtype != dtype::kInt32)
    ctx.invalid("the bias must be int32");
  return ctx.importer().quantized_constant(ctx.input_name(bias), ctx.where(), std::move(q));
}

void import_dequantize_linear(NodeContext& ctx) {
  ctx.require_inputs(2, 3);
  const TensorId x = quantized_operand(ctx, 0, 1, 2, 1);
  ctx.emit(OpType::DequantizeLinear, {x}, {});
}

}  // namespace kiln::onnx_import
