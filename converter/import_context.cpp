#include "converter/import_context.hpp"

#include <array>
#include <limits>
#include <utility>

#include "converter/errors.hpp"
#include "converter/op_importers.hpp"
#include "engine/core/op_info.hpp"

namespace kiln::onnx_import {

namespace {
// Grouped by op family, one group per import_<family>.cpp (see op_importers.hpp).
// Ops of other domains than ONNX's are named "domain.Op".
constexpr std::array<std::pair<std::string_view, ImportFn>, 38> kImporters = {{
    {"Conv", import_conv},
    {"QLinearConv", import_qlinear_conv},

    {"MaxPool", import_pool},
    {"AveragePool", import_pool},
    {"GlobalAveragePool", import_global_pool},
    {"GlobalMaxPool", import_global_pool},
    {"com.microsoft.QLinearGlobalAveragePool", import_qlinear_global_pool},

    {"Relu", import_activation},
    {"Clip", import_clip},
    {"LeakyRelu", import_activation},
    {"Sigmoid", import_activation},
    {"HardSigmoid", import_activation},
    {"HardSwish", import_activation},
    {"Tanh", import_activation},

    {"Add", import_binary},
    {"Sub", import_binary},
    {"Mul", import_binary},
    {"Div", import_binary},
    {"com.microsoft.QLinearAdd", import_qlinear_add},

    {"BatchNormalization", import_batch_norm},

    {"Softmax", import_softmax},

    {"Gemm", import_gemm},
    {"MatMul", import_matmul},
    {"QLinearMatMul", import_qlinear_matmul},

    {"ReduceMean", import_reduce_mean},

    {"Flatten", import_flatten},
    {"Reshape", import_reshape},
    {"Squeeze", import_squeeze},
    {"Unsqueeze", import_unsqueeze},
    {"Identity", import_identity},
    {"Dropout", import_dropout},

    {"Transpose", import_transpose},
    {"Concat", import_concat},
    {"Split", import_split},
    {"Slice", import_slice},
    {"Pad", import_pad},

    {"QuantizeLinear", import_quantize_linear},
    {"DequantizeLinear", import_dequantize_linear},
}};
}  // namespace

ImportFn find_importer(std::string_view op) {
  for (const auto& [name, fn] : kImporters)
    if (name == op) return fn;
  return nullptr;
}

std::vector<int32_t> to_int32(const std::vector<int64_t>& v, const NodeContext& ctx, const char* what) {
  std::vector<int32_t> out;
  out.reserve(v.size());
  for (int64_t x : v) {
    if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max())
      ctx.invalid(std::string(what) + " value " + std::to_string(x) + " is out of range");
    out.push_back(static_cast<int32_t>(x));
  }
  return out;
}

std::vector<int64_t> required_ints(NodeContext& ctx, const char* name) {
  auto v = ctx.attrs().get_ints(name);
  if (!v) ctx.invalid(std::string("attribute '") + name + "' is missing");
  return *v;
}

NodeContext::NodeContext(Importer& importer, const onnx::NodeProto& node, std::string name)
    : importer_(importer),
      node_(node),
      name_(std::move(name)),
      where_("node '" + name_ + "' (" + node.op_type() + ")"),
      attrs_(node, where_) {}

void NodeContext::require_inputs(size_t min, size_t max) const {
  for (size_t i = 0; i < min; ++i)
    if (!has_input(i)) invalid("input " + std::to_string(i) + " is missing (needs at least " + std::to_string(min) + ")");
  if (num_inputs() > max)
    invalid("has " + std::to_string(num_inputs()) + " inputs, at most " + std::to_string(max) + " expected");
}

const Shape& NodeContext::shape(size_t i) {
  if (!has_input(i)) invalid("input " + std::to_string(i) + " is missing");
  return importer_.value(input_name(i), where_).shape;
}

bool NodeContext::is_constant(size_t i) {
  return has_input(i) && importer_.value(input_name(i), where_).is_constant();
}

TensorId NodeContext::tensor(size_t i) {
  if (!has_input(i)) invalid("input " + std::to_string(i) + " is missing");
  return importer_.graph_tensor(input_name(i), where_);
}

const HostTensor& NodeContext::constant(size_t i, const std::string& what) {
  if (!has_input(i)) invalid("input '" + what + "' is missing");
  const Value& v = importer_.value(input_name(i), where_);
  if (!v.is_constant())
    unsupported("input '" + what + "' ('" + input_name(i) +
                "') must be known at conversion time, but it is computed at run time");
  return importer_.host_value(input_name(i), where_);
}

std::vector<int64_t> NodeContext::constant_ints(size_t i, const std::string& what) {
  const HostTensor& t = constant(i, what);
  if (t.floating()) invalid("input '" + what + "' must hold integers, not " + dtype_name(t.dtype));
  if (t.shape.size() > 1) invalid("input '" + what + "' must be 1-D, got shape " + shape_to_string(t.shape));
  return t.i;
}

float NodeContext::constant_float(size_t i, const std::string& what) {
  const HostTensor& t = constant(i, what);
  if (t.size() != 1) invalid("input '" + what + "' must hold one value, got shape " + shape_to_string(t.shape));
  if (!t.floating())
    unsupported("input '" + what + "' has data type " + dtype_name(t.dtype) + "; Kiln computes in float32 only");
  return static_cast<float>(t.f[0]);
}

bool NodeContext::output_used(size_t i) const {
  return i < num_outputs() && !node_.output(static_cast<int>(i)).empty() &&
         importer_.is_used(node_.output(static_cast<int>(i)));
}

void NodeContext::unsupported(const std::string& what) const { throw_unsupported(where_ + ": " + what); }

void NodeContext::invalid(const std::string& what) const { throw_invalid(where_ + ": " + what); }

void NodeContext::emit(OpType op, std::vector<TensorId> inputs, fb::AttributesUnion attrs, size_t n_outputs) {
  if (n_outputs > num_outputs()) invalid("expected " + std::to_string(n_outputs) + " outputs");
  Node node;
  node.name = name_;
  node.op = op;
  node.inputs = std::move(inputs);
  node.attrs = std::move(attrs);
  std::vector<std::string> names;
  for (size_t i = 0; i < n_outputs; ++i) {
    const std::string& out = node_.output(static_cast<int>(i));
    names.push_back(out);
    node.outputs.push_back(importer_.new_tensor(out.empty() ? name_ + "_output_" + std::to_string(i) : out));
  }
  const std::vector<TensorId> outputs = node.outputs;
  const std::vector<TensorId> node_inputs = node.inputs;
  importer_.add_node(std::move(node));
  // Ops that only move values (ONNX runs them on quantized tensors directly, as
  // in QOperator models) give their outputs the input's dtype and parameters.
  Graph& g = importer_.graph();
  const TensorInfo& first = g.tensor(node_inputs.at(0));
  const bool moves_values = is_reshape_like(op) || op == OpType::MaxPool || op == OpType::GlobalMaxPool ||
                            op == OpType::Transpose || op == OpType::Slice || op == OpType::Split ||
                            op == OpType::Pad || op == OpType::Concat;
  if (moves_values && first.quant) {
    for (TensorId t : node_inputs)
      if (!(g.tensor(t).quant == first.quant) || g.tensor(t).dtype != first.dtype)
        unsupported("its quantized inputs have different quantization parameters");
    for (TensorId t : outputs) {
      g.tensor(t).dtype = first.dtype;
      g.tensor(t).quant = first.quant;
    }
  }
  for (size_t i = 0; i < n_outputs; ++i)
    if (!names[i].empty()) importer_.bind_output(names[i], outputs[i]);
}

TensorId NodeContext::emit_helper(OpType op, std::vector<TensorId> inputs, fb::AttributesUnion attrs,
                                  const std::string& suffix) {
  Node node;
  node.name = name_ + "_" + suffix;
  node.op = op;
  node.inputs = std::move(inputs);
  node.attrs = std::move(attrs);
  const TensorId out = importer_.new_tensor(name_ + "_" + suffix);
  node.outputs.push_back(out);
  importer_.add_node(std::move(node));
  return out;
}

}  // namespace kiln::onnx_import
