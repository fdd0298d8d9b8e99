#include "converter/export_context.hpp"

#include <cmath>
#include <cstring>

#include "converter/op_exporters.hpp"
#include "engine/core/op_info.hpp"

namespace kiln::onnx_export {

namespace {

int32_t onnx_type(DataType t) {
  switch (t) {
    case DataType::Float32:
      return onnx::TensorProto::FLOAT;
    case DataType::Float16:
      return onnx::TensorProto::FLOAT16;
    case DataType::Int64:
      return onnx::TensorProto::INT64;
    case DataType::Int32:
      return onnx::TensorProto::INT32;
    case DataType::Int8:
      return onnx::TensorProto::INT8;
    case DataType::UInt8:
      return onnx::TensorProto::UINT8;
  }
  throw Error(ErrorCode::Internal, "data type " + std::to_string(static_cast<int>(t)) + " has no ONNX type");
}

void describe(onnx::ValueInfoProto& v, const TensorInfo& t) {
  v.set_name(t.name);
  auto* tt = v.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx_type(t.dtype));
  auto* shape = tt->mutable_shape();
  for (int64_t d : t.shape) shape->add_dim()->set_dim_value(d);
}

// Families whose nodes read and write float32 only: their int8 forms are
// what fold_qdq makes, and ONNX says them as DequantizeLinear -> op -> QuantizeLinear.
void check_float(const Graph& g, const Node& n) {
  if (op_family(n.op) == OpFamily::Quantize) return;
  for (const auto* list : {&n.inputs, &n.outputs})
    for (TensorId t : *list)
      if (g.tensor(t).dtype != DataType::Float32)
        no_onnx_form(n, "tensor '" + g.tensor(t).name + "' is " + fb::EnumNameDataType(g.tensor(t).dtype) +
                            " (an op in its quantized form, as fold_qdq leaves it); write the graph before the Q/DQ "
                            "pairs are folded");
}

}  // namespace

void no_onnx_form(const Node& n, const std::string& why) {
  throw Error(ErrorCode::Unsupported,
              "node '" + n.name + "' (" + std::string(op_name(n.op)) + ") has no ONNX form: " + why);
}

void set_int(onnx::NodeProto& n, const char* name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void set_float(onnx::NodeProto& n, const char* name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

Exporter::Exporter(const Graph& graph, onnx::GraphProto& out)
    : graph_(graph), out_(out), emitted_(graph.tensors.size(), 0) {
  for (const TensorInfo& t : graph.tensors) names_.insert(t.name);
}

std::string Exporter::fresh_name(const std::string& base) {
  std::string name = base;
  for (int i = 1; names_.count(name); ++i) name = base + "_" + std::to_string(i);
  names_.insert(name);
  return name;
}

void Exporter::add_initializer(const TensorInfo& t, const std::string& name) {
  auto* init = out_.add_initializer();
  init->set_name(name);
  init->set_data_type(onnx_type(t.dtype));
  for (int64_t d : t.shape) init->add_dims(d);
  // raw_data is little-endian, as Kiln's constants are on every host it runs on.
  init->set_raw_data(t.constant->bytes(), t.constant->size_bytes());
}

std::string Exporter::input(TensorId t) {
  const TensorInfo& info = graph_.tensor(t);
  if (info.is_constant() && !emitted_[static_cast<size_t>(t)]) {
    emitted_[static_cast<size_t>(t)] = 1;
    add_initializer(info, info.name);
  }
  return info.name;
}

std::vector<std::string> Exporter::inputs(const Node& n) {
  std::vector<std::string> names;
  for (TensorId t : n.inputs) names.push_back(input(t));
  return names;
}

onnx::NodeProto& Exporter::add_node(const std::string& op_type, const std::string& name,
                                    const std::vector<std::string>& in, const std::vector<std::string>& out) {
  auto* node = out_.add_node();
  node->set_op_type(op_type);
  node->set_name(name);
  for (const std::string& s : in) node->add_input(s);
  for (const std::string& s : out) node->add_output(s);
  return *node;
}

std::string Exporter::ints_initializer(const std::string& base, const std::vector<int64_t>& values) {
  TensorInfo t;
  t.dtype = DataType::Int64;
  t.shape = {static_cast<int64_t>(values.size())};
  t.constant = ConstantData::copy_of(values.data(), values.size() * sizeof(int64_t));
  const std::string name = fresh_name(base);
  add_initializer(t, name);
  return name;
}

std::string Exporter::float_initializer(const std::string& base, float value) {
  TensorInfo t;
  t.constant = ConstantData::copy_of(&value, sizeof value);
  const std::string name = fresh_name(base);
  add_initializer(t, name);
  return name;
}

std::pair<std::string, std::string> Exporter::quant_inputs(TensorId id) {
  if (const auto it = quant_inputs_.find(id); it != quant_inputs_.end()) return it->second;
  const TensorInfo& t = graph_.tensor(id);
  if (!t.quant) throw Error(ErrorCode::InvalidModel, "tensor '" + t.name + "' is quantized but has no parameters");
  const QuantParams& q = *t.quant;
  // Per tensor: scalars; per axis: one value per index of the axis (the node's `axis` attribute).
  const Shape shape = q.per_axis() ? Shape{static_cast<int64_t>(q.scale.size())} : Shape{};
  TensorInfo scale;
  scale.shape = shape;
  scale.constant = ConstantData::from_floats(q.scale);
  const std::string scale_name = fresh_name(t.name + "_scale");
  add_initializer(scale, scale_name);
  std::string zp_name;
  if (t.dtype != DataType::Int32) {
    TensorInfo zp;
    zp.dtype = t.dtype;
    zp.shape = shape;
    std::vector<uint8_t> bytes;
    for (int32_t z : q.zero_point) bytes.push_back(static_cast<uint8_t>(z));  // the int8 two's complement byte
    zp.constant = ConstantData::copy_of(bytes.data(), bytes.size());
    zp_name = fresh_name(t.name + "_zero_point");
    add_initializer(zp, zp_name);
  } else {
    for (int32_t z : q.zero_point)
      if (z != 0) throw Error(ErrorCode::InvalidModel, "int32 tensor '" + t.name + "' has a zero point other than 0");
  }
  return quant_inputs_[id] = {scale_name, zp_name};
}

std::string Exporter::activation_input(const Node& n, const fb::FusedActivation& act) {
  const std::string& y = output(n.outputs.at(0));
  return act.kind() == fb::ActivationKind::None ? y : fresh_name(y + "_before_activation");
}

void Exporter::emit_activation(const Node& n, const fb::FusedActivation& act, const std::string& in) {
  using K = fb::ActivationKind;
  const std::string& y = output(n.outputs.at(0));
  const std::string name = n.name + "_" + fb::EnumNameActivationKind(act.kind());
  switch (act.kind()) {
    case K::None:
      return;
    case K::Relu:
      add_node("Relu", name, {in}, {y});
      return;
    case K::Clip: {
      // An infinite bound is an omitted input.
      std::vector<std::string> inputs = {in, "", ""};
      if (std::isfinite(act.alpha())) inputs[1] = float_initializer(n.name + "_min", act.alpha());
      if (std::isfinite(act.beta())) inputs[2] = float_initializer(n.name + "_max", act.beta());
      while (inputs.back().empty()) inputs.pop_back();
      add_node("Clip", name, inputs, {y});
      return;
    }
    case K::LeakyRelu:
      set_float(add_node("LeakyRelu", name, {in}, {y}), "alpha", act.alpha());
      return;
    case K::Sigmoid:
      add_node("Sigmoid", name, {in}, {y});
      return;
    case K::HardSigmoid: {
      auto& node = add_node("HardSigmoid", name, {in}, {y});
      set_float(node, "alpha", act.alpha());
      set_float(node, "beta", act.beta());
      return;
    }
    case K::HardSwish:
      add_node("HardSwish", name, {in}, {y});
      return;
    case K::Tanh:
      add_node("Tanh", name, {in}, {y});
      return;
  }
  no_onnx_form(n, std::string("fused activation ") + fb::EnumNameActivationKind(act.kind()));
}

void Exporter::run() {
  for (const Node& n : graph_.nodes) {
    check_float(graph_, n);
    switch (op_family(n.op)) {
      case OpFamily::Conv:
        export_conv(*this, n);
        break;
      case OpFamily::Pool:
        export_pool(*this, n);
        break;
      case OpFamily::Activation:
        export_activation(*this, n);
        break;
      case OpFamily::Binary:
        export_binary(*this, n);
        break;
      case OpFamily::BatchNorm:
        export_batchnorm(*this, n);
        break;
      case OpFamily::Softmax:
        export_softmax(*this, n);
        break;
      case OpFamily::MatMul:
        export_matmul(*this, n);
        break;
      case OpFamily::Reduce:
        export_reduce(*this, n);
        break;
      case OpFamily::Shape:
        export_shape(*this, n);
        break;
      case OpFamily::DataMovement:
        export_data_movement(*this, n);
        break;
      case OpFamily::Quantize:
        export_quantize(*this, n);
        break;
    }
  }
  for (TensorId t : graph_.inputs) describe(*out_.add_input(), graph_.tensor(t));
  for (TensorId t : graph_.outputs) {
    if (graph_.tensor(t).is_constant())
      throw Error(ErrorCode::Unsupported, "graph output '" + graph_.tensor(t).name +
                                              "' is a constant; ONNX outputs are computed by nodes");
    describe(*out_.add_output(), graph_.tensor(t));
  }
}

}  // namespace kiln::onnx_export
