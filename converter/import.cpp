// The import driver: walks the ONNX graph once, in order, folding constants
// and shape sub-graphs on the host and emitting Kiln nodes for the rest.
#include <algorithm>
#include <limits>
#include <new>

#include "converter/errors.hpp"
#include "converter/host_eval.hpp"
#include "converter/import_context.hpp"
#include "converter/onnx_model.hpp"
#include "converter/op_importers.hpp"
#include "converter/shape_utils.hpp"
#include "converter/tensor_proto.hpp"
#include "engine/core/checked_size.hpp"
#include "engine/core/shape_inference.hpp"
#include "engine/core/validate.hpp"
#include "engine/passes/passes.hpp"

namespace kiln {
namespace onnx_import {

namespace {
constexpr int64_t kMaxOpset = 19;

bool is_default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

// Host evaluation of a Kiln op on constants is kept for small tensors (shape
// arithmetic); large constant computations (a transposed weight, say) go to
// the graph, where the fold_constants pass evaluates them.
constexpr int64_t kMaxDeferredElements = int64_t{1} << 16;

// Element count that saturates instead of overflowing on hostile dims.
int64_t saturated_count(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d <= 0) return 0;
    if (n > std::numeric_limits<int64_t>::max() / d) return std::numeric_limits<int64_t>::max();
    n *= d;
  }
  return n;
}
}  // namespace

Importer::Importer(const onnx::ModelProto& model, const ConvertOptions& options, ConvertReport& report)
    : model_(model), onnx_graph_(model.graph()), options_(options), report_(report) {}

std::string Importer::node_name(int index) const {
  const onnx::NodeProto& n = onnx_graph_.node(index);
  return n.name().empty() ? n.op_type() + "_" + std::to_string(index) : n.name();
}

std::string Importer::unique_name(const std::string& base) {
  std::string name = base.empty() ? "tensor" : base;
  for (int i = 1; tensor_names_.count(name); ++i) name = base + "_" + std::to_string(i);
  tensor_names_.insert(name);
  return name;
}

void Importer::read_opset() {
  bool found = false;
  for (const auto& entry : model_.opset_import()) {
    if (!is_default_domain(entry.domain())) continue;
    opset_ = found ? std::max(opset_, entry.version()) : entry.version();
    found = true;
  }
  if (!found) {
    // IR version 1 and 2 files predate opset_import and mean opset 1.
    if (model_.ir_version() >= 3) throw_invalid("the model declares no opset for the default ONNX domain");
    opset_ = 1;
  }
  if (opset_ < 1) throw_invalid("invalid default-domain opset " + std::to_string(opset_));
  if (opset_ > kMaxOpset)
    throw_unsupported("the model uses opset " + std::to_string(opset_) +
                      " of the default ONNX domain; Kiln supports opsets 7 to " + std::to_string(kMaxOpset) +
                      " (and older ones for ops whose semantics did not change)");
  report_.opset = opset_;
}

// Lists every op type that is neither a Kiln op nor evaluable on the host,
// with the first node that uses it, in one error.
void Importer::check_ops_supported() const {
  std::vector<std::pair<std::string, std::string>> missing;  // op, first node
  for (int i = 0; i < onnx_graph_.node_size(); ++i) {
    const onnx::NodeProto& n = onnx_graph_.node(i);
    std::string op = n.op_type();
    if (!is_default_domain(n.domain())) {
      op = n.domain() + "." + op;
      if (find_importer(op)) continue;
    } else if (find_importer(op) || has_host_impl(op)) {
      continue;
    }
    const bool seen = std::any_of(missing.begin(), missing.end(), [&](const auto& m) { return m.first == op; });
    if (!seen) missing.emplace_back(op, node_name(i));
  }
  if (missing.empty()) return;
  std::string msg = "unsupported operator" + std::string(missing.size() > 1 ? "s" : "") + ": ";
  for (size_t i = 0; i < missing.size(); ++i)
    msg += (i ? ", " : "") + missing[i].first + " (first used by node '" + missing[i].second + "')";
  throw_unsupported(msg);
}

void Importer::add_initializers() {
  for (const onnx::TensorProto& t : onnx_graph_.initializer()) {
    const std::string what = "initializer '" + t.name() + "'";
    if (t.name().empty()) throw_invalid("an initializer has no name");
    if (values_.count(t.name())) throw_invalid(what + " is defined twice");
    check_not_external(t, what);
    Value v;
    v.proto = &t;
    v.dtype = t.data_type();
    v.shape = tensor_proto_shape(t, what);
    values_.emplace(t.name(), std::move(v));
  }
  if (onnx_graph_.sparse_initializer_size() > 0) throw_unsupported("sparse initializers are not supported");
}

void Importer::add_inputs() {
  if (options_.batch && *options_.batch < 1)
    throw Error(ErrorCode::InvalidArgument, "the batch size must be positive, got " + std::to_string(*options_.batch));
  bool first = true;
  for (const onnx::ValueInfoProto& in : onnx_graph_.input()) {
    const std::string& name = in.name();
    if (name.empty()) throw_invalid("a graph input has no name");
    if (values_.count(name)) {
      // IR < 4 lists initializers among the inputs: those are constants.
      if (values_.at(name).proto) continue;
      throw_invalid("graph input '" + name + "' is listed twice");
    }
    const onnx::TypeProto& type = in.type();
    if (!type.has_tensor_type()) {
      const char* kind = type.has_sequence_type() ? "a sequence"
                         : type.has_optional_type() ? "an optional"
                         : type.has_map_type()      ? "a map"
                                                    : "a non-tensor";
      throw_unsupported("graph input '" + name + "' is " + std::string(kind) + " type; Kiln takes float32 tensors only");
    }
    const auto elem = type.tensor_type().elem_type();
    if (elem != dtype::kFloat && elem != dtype::kUInt8 && elem != dtype::kInt8)
      throw_unsupported("graph input '" + name + "' has data type " + dtype_name(elem) +
                        "; Kiln takes float32, uint8 and int8 inputs (the latter read by a DequantizeLinear)");
    if (!type.tensor_type().has_shape())
      throw_unsupported("graph input '" + name + "' has no shape; Kiln needs static input shapes");
    Shape shape;
    const auto& dims = type.tensor_type().shape().dim();
    if (dims.size() > static_cast<int>(kMaxRank))
      throw_unsupported("graph input '" + name + "' has rank " + std::to_string(dims.size()) + " (at most 8)");
    for (int d = 0; d < dims.size(); ++d) {
      const auto& dim = dims[d];
      if (dim.has_dim_value()) {
        if (dim.dim_value() < 0) throw_invalid("graph input '" + name + "' has a negative dimension");
        if (dim.dim_value() > kMaxTensorElements)
          throw_invalid("graph input '" + name + "' has an implausible dimension " + std::to_string(dim.dim_value()));
        shape.push_back(dim.dim_value());
        continue;
      }
      const std::string label = dim.has_dim_param() ? "'" + dim.dim_param() + "'" : "(unnamed)";
      if (d != 0)
        throw_unsupported("graph input '" + name + "' has a symbolic dimension " + label + " at axis " +
                          std::to_string(d) + "; Kiln needs static shapes (only the batch dimension, axis 0, may "
                          "be symbolic)");
      shape.push_back(options_.batch.value_or(1));
      if (!options_.batch)
        warn("graph input '" + name + "': symbolic batch dimension " + label +
             " set to 1 (use --batch to choose another)");
    }
    if (options_.batch && !shape.empty()) {
      if (first && dims[0].has_dim_value() && dims[0].dim_value() != *options_.batch)
        exported_batch_ = dims[0].dim_value();
      shape[0] = *options_.batch;
    }
    first = false;
    kiln::checked_element_count(shape, {"graph input '" + name + "'", ErrorCode::InvalidModel});
    Value v;
    v.dtype = elem;
    v.shape = shape;
    v.graph = graph_.add_tensor(unique_name(name), shape);
    // Its quantization comes from the DequantizeLinear that reads it (import_quantize.cpp).
    if (elem != dtype::kFloat) graph_.tensors.back().dtype = elem == dtype::kUInt8 ? DataType::UInt8 : DataType::Int8;
    graph_.inputs.push_back(v.graph);
    values_.emplace(name, std::move(v));
  }
}

Value& Importer::value(const std::string& name, const std::string& where) {
  auto it = values_.find(name);
  if (it == values_.end())
    throw_invalid(where + ": reads tensor '" + name + "', which no earlier node, graph input or initializer defines");
  return it->second;
}

const HostTensor& Importer::host_value(const std::string& name, const std::string& where) {
  Value& v = value(name, where);
  if (!v.host) {
    if (!v.proto) throw_invalid(where + ": tensor '" + name + "' is not a constant");
    v.host = std::make_shared<HostTensor>(decode_host_tensor(*v.proto, "tensor '" + name + "'"));
  }
  return *v.host;
}

TensorId Importer::graph_tensor(const std::string& name, const std::string& where) {
  Value& v = value(name, where);
  if (v.graph >= 0) return v.graph;
  if (v.deferred_node >= 0) {
    emit_deferred(v.deferred_node);
    const TensorId id = value(name, where).graph;
    if (id < 0) throw Error(ErrorCode::Internal, where + ": tensor '" + name + "' was not emitted");
    return id;
  }
  if (!is_floating(v.dtype))
    throw_unsupported(where + ": reads tensor '" + name + "' of data type " + dtype_name(v.dtype) +
                      " as data; Kiln reads integer tensors only through DequantizeLinear");
  std::vector<float> data = v.proto ? decode_floats(*v.proto, "tensor '" + name + "'") : v.host->to_floats();
  // A graph output keeps its name for the node that produces it.
  const std::string tensor_name = unique_name(output_names_.count(name) ? name + "_value" : name);
  v.graph = graph_.add_constant(tensor_name, v.shape, ConstantData::from_floats(data));
  return v.graph;
}

TensorId Importer::new_tensor(const std::string& base) { return graph_.add_tensor(unique_name(base)); }

void Importer::add_node(Node node) {
  std::vector<Shape> shapes = infer_output_shapes(graph_, node);
  for (size_t i = 0; i < shapes.size() && i < node.outputs.size(); ++i)
    graph_.tensor(node.outputs[i]).shape = std::move(shapes[i]);
  graph_.nodes.push_back(std::move(node));
}

void Importer::bind_output(const std::string& name, TensorId id) {
  Value& v = values_[name];
  v.graph = id;
  v.dtype = dtype::kFloat;
  v.shape = graph_.shape(id);
  v.deferred_node = -1;
}

// The --batch heuristic. Static exports bake the batch size into Reshape
// targets (ShuffleNet's channel shuffle reshapes to [1, groups, C/groups, H, W],
// classifiers flatten with [1, -1]). When --batch changed the exported batch B,
// a target whose first entry is B, applied to a tensor that now carries the
// new batch in its first axis, gets the new batch instead when either the
// element counts would not match, or a -1 would otherwise absorb the batch.
std::vector<int64_t> Importer::adjust_reshape_batch(const Shape& input, std::vector<int64_t> target,
                                                    const std::string& where) {
  if (!exported_batch_ || !options_.batch || target.empty() || input.empty()) return target;
  const int64_t old_batch = *exported_batch_, new_batch = *options_.batch;
  if (target[0] != old_batch || input[0] != new_batch) return target;
  const bool infers = std::find(target.begin(), target.end(), -1) != target.end();
  if (!infers) {
    Shape positive;
    for (int64_t d : target) positive.push_back(d > 0 ? d : 1);
    const bool has_zero = std::find(target.begin(), target.end(), 0) != target.end();
    if (has_zero || saturated_count(positive) == saturated_count(input)) return target;
  }
  std::vector<int64_t> adjusted = target;
  adjusted[0] = new_batch;
  if (rescaled_reshapes_++ == 0)
    first_rescaled_ = where + ": " + shape_to_string(Shape(target)) + " -> " + shape_to_string(Shape(adjusted));
  return adjusted;
}

void Importer::define_host(const std::string& name, HostTensor t, int deferred_node) {
  if (name.empty()) return;
  Value v;
  v.dtype = t.dtype;
  v.shape = t.shape;
  v.host = std::make_shared<HostTensor>(std::move(t));
  v.deferred_node = deferred_node;
  values_[name] = std::move(v);
}

void Importer::define_constant(const onnx::NodeProto& node, const std::string& where) {
  const Attributes attrs(node, where);
  const std::string& out = node.output(0);
  if (out.empty()) return;
  if (const onnx::TensorProto* t = attrs.get_tensor("value")) {
    check_not_external(*t, where + " attribute 'value'");
    Value v;
    v.proto = t;
    v.dtype = t->data_type();
    v.shape = tensor_proto_shape(*t, where + " attribute 'value'");
    values_[out] = std::move(v);
  } else if (attrs.has("value_float")) {
    define_host(out, HostTensor::from_doubles(dtype::kFloat, {}, {attrs.get_float("value_float", 0)}));
  } else if (auto fs = attrs.get_floats("value_floats")) {
    define_host(out, HostTensor::from_doubles(dtype::kFloat, {static_cast<int64_t>(fs->size())},
                                              std::vector<double>(fs->begin(), fs->end())));
  } else if (attrs.has("value_int")) {
    define_host(out, HostTensor::from_ints(dtype::kInt64, {}, {attrs.get_int("value_int", 0)}));
  } else if (auto is = attrs.get_ints("value_ints")) {
    define_host(out, HostTensor::from_ints(dtype::kInt64, {static_cast<int64_t>(is->size())}, *is));
  } else if (attrs.has("sparse_value") || attrs.has("value_string") || attrs.has("value_strings")) {
    throw_unsupported(where + ": sparse and string constants are not supported");
  } else {
    throw_invalid(where + ": has no value attribute");
  }
}

void Importer::import_node(int index) {
  const onnx::NodeProto& node = onnx_graph_.node(index);
  const std::string& op = node.op_type();
  const std::string name = node_name(index);
  const std::string where = "node '" + name + "' (" + op + ")";
  if (node.output_size() == 0) throw_invalid(where + ": has no outputs");
  for (const std::string& in : node.input())
    if (!in.empty()) value(in, where);  // throws for undefined names
  for (const std::string& out : node.output())
    if (!out.empty() && values_.count(out))
      throw_invalid(where + ": writes tensor '" + out + "', which is already defined (ONNX names are assigned once)");

  if (op == "Constant") {
    define_constant(node, where);
    ++report_.folded_by_importer;
    return;
  }
  const Attributes attrs(node, where);
  if (is_shape_query(op)) {
    if (node.input_size() < 1 || node.input(0).empty()) throw_invalid(where + ": input 0 is missing");
    define_host(node.output(0), eval_shape_query(op, attrs, value(node.input(0), where).shape));
    ++report_.folded_by_importer;
    return;
  }

  const ImportFn importer = find_importer(is_default_domain(node.domain()) ? op : node.domain() + "." + op);
  bool all_constant = true, any_non_float = false;
  int64_t largest = 0;
  std::string runtime_input;
  for (const std::string& in : node.input()) {
    if (in.empty()) continue;
    const Value& v = value(in, where);
    if (!v.is_constant() && runtime_input.empty()) runtime_input = in;
    all_constant = all_constant && v.is_constant();
    any_non_float = any_non_float || !is_floating(v.dtype);
    largest = std::max(largest, saturated_count(v.shape));
  }

  if (has_host_impl(op) && all_constant && (!importer || any_non_float || largest <= kMaxDeferredElements)) {
    // A Kiln op on float constants stays available to the graph (deferred);
    // if the host cannot evaluate it, it simply becomes a graph node.
    const int deferred = importer && !any_non_float ? index : -1;
    std::vector<HostTensor> outs;
    try {
      std::vector<const HostTensor*> inputs;
      for (const std::string& in : node.input()) inputs.push_back(in.empty() ? nullptr : &host_value(in, where));
      outs = eval_on_host(op, attrs, opset_, inputs, static_cast<size_t>(node.output_size()));
    } catch (const Error&) {
      if (deferred < 0) throw;
    }
    if (!outs.empty()) {
      for (size_t i = 0; i < outs.size(); ++i)
        define_host(node.output(static_cast<int>(i)), std::move(outs[i]), deferred);
      ++report_.folded_by_importer;
      return;
    }
  }
  if (importer) {
    NodeContext ctx(*this, node, name);
    importer(ctx);
    return;
  }
  throw_unsupported(where + ": reads the run-time tensor '" + runtime_input + "'; Kiln evaluates " + op +
                    " only at conversion time, on constants (shape computations)");
}

void Importer::emit_deferred(int index) {
  const onnx::NodeProto& node = onnx_graph_.node(index);
  for (const std::string& out : node.output())
    if (!out.empty() && values_.count(out)) values_[out].deferred_node = -1;
  NodeContext ctx(*this, node, node_name(index));
  find_importer(node.op_type())(ctx);
  --report_.folded_by_importer;
}

void Importer::add_outputs() {
  for (const onnx::ValueInfoProto& out : onnx_graph_.output()) {
    const std::string& name = out.name();
    const std::string where = "graph output '" + name + "'";
    if (out.type().has_tensor_type()) {
      const auto elem = out.type().tensor_type().elem_type();
      if (elem != dtype::kUndefined && elem != dtype::kFloat && elem != dtype::kUInt8 && elem != dtype::kInt8)
        throw_unsupported(where + " has data type " + dtype_name(elem) +
                          "; Kiln computes float32 outputs, and uint8/int8 ones of quantized models");
    } else if (out.has_type() && out.type().value_case() != onnx::TypeProto::VALUE_NOT_SET) {
      throw_unsupported(where + " is not a tensor; Kiln computes float32 tensors only");
    }
    auto it = values_.find(name);
    if (it == values_.end()) throw_invalid(where + " is not produced by any node, input or initializer");
    Value& v = it->second;
    if (v.graph < 0 && v.deferred_node >= 0) emit_deferred(v.deferred_node);
    if (v.graph >= 0 && !graph_.tensor(v.graph).is_constant()) {
      const TensorInfo& t = graph_.tensor(v.graph);
      if (out.type().has_tensor_type()) {
        const auto elem = out.type().tensor_type().elem_type();
        const DataType declared = elem == dtype::kUInt8  ? DataType::UInt8
                                  : elem == dtype::kInt8 ? DataType::Int8
                                                         : DataType::Float32;
        if (elem != dtype::kUndefined && declared != t.dtype)
          throw_unsupported(where + " is " + dtype_name(elem) + " but its producer computes " +
                            fb::EnumNameDataType(t.dtype) +
                            ": Kiln computes integer tensors only as quantized values (QuantizeLinear, QLinear ops)");
      }
      graph_.outputs.push_back(v.graph);
      continue;
    }
    // A constant output: an Identity node reads it from a graph constant.
    if (!is_floating(v.dtype))
      throw_unsupported(where + " is a constant of data type " + dtype_name(v.dtype) +
                        "; Kiln computes float32 outputs only");
    const TensorId constant = graph_tensor(name, where);
    Node node;
    node.name = name + "_identity";
    node.op = OpType::Identity;
    node.inputs = {constant};
    node.outputs = {new_tensor(name)};
    const TensorId id = node.outputs[0];
    add_node(std::move(node));
    graph_.outputs.push_back(id);
  }
  if (graph_.outputs.empty()) throw_invalid("the model has no outputs");
}

Graph Importer::run() {
  read_opset();
  check_ops_supported();
  report_.onnx_nodes = onnx_graph_.node_size();
  const std::string& producer = model_.producer_name();
  const std::string& version = model_.producer_version();
  report_.onnx_producer = producer + (producer.empty() || version.empty() ? "" : " ") + version;
  graph_.producer = "kiln-convert from " + (report_.onnx_producer.empty() ? "an unnamed producer" : report_.onnx_producer);

  for (const auto& node : onnx_graph_.node())
    for (const std::string& in : node.input()) used_names_.insert(in);
  for (const auto& out : onnx_graph_.output()) {
    used_names_.insert(out.name());
    output_names_.insert(out.name());
  }
  add_initializers();
  add_inputs();
  for (int i = 0; i < onnx_graph_.node_size(); ++i) import_node(i);
  add_outputs();
  if (rescaled_reshapes_ > 0)
    warn("--batch " + std::to_string(*options_.batch) + ": " + std::to_string(rescaled_reshapes_) +
         " Reshape target(s) had the exported batch " + std::to_string(*exported_batch_) +
         " in their first axis and now use the new batch (first: " + first_rescaled_ + ")");
  if (graph_.inputs.empty())
    throw_unsupported("the model has no inputs (its outputs are constants); a Kiln model needs at least one input");
  for (TensorId t : graph_.inputs) {
    const TensorInfo& in = graph_.tensor(t);
    if (in.dtype != DataType::Float32 && !in.quant)
      throw_unsupported("graph input '" + in.name + "' is " + fb::EnumNameDataType(in.dtype) +
                        " but no DequantizeLinear or QLinear op reads it: Kiln computes integer tensors only as "
                        "quantized values");
  }
  graph_.remove_unused_tensors();
  validate_graph(graph_);
  return std::move(graph_);
}

}  // namespace onnx_import

namespace {
// Parses the model with `load`, imports and optimises it; `onnx_path` names it in errors.
template <class Load>
Graph import_with(const std::string& onnx_path, const ConvertOptions& options, ConvertReport* report, Load load) {
  ConvertReport local;
  ConvertReport& r = report ? *report : local;
  try {
    onnx::ModelProto model;
    load(model);
    onnx_import::Importer importer(model, options, r);
    Graph graph = importer.run();
    if (options.optimize) run_passes(graph, convert_time_passes());
    r.passes = graph.passes_applied;
    r.kiln_nodes = static_cast<int>(graph.nodes.size());
    return graph;
  } catch (const Error& e) {
    const std::string msg = e.what();
    // load_model_proto names the file already.
    if (msg.rfind(onnx_path + ":", 0) == 0) throw;
    throw Error(e.code(), onnx_path + ": " + msg);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::InvalidModel, onnx_path + ": out of memory while importing (implausibly large tensors?)");
  } catch (const std::length_error&) {
    throw Error(ErrorCode::InvalidModel, onnx_path + ": implausibly large tensors");
  }
}
}  // namespace

Graph import_onnx(const std::string& onnx_path, const ConvertOptions& options, ConvertReport* report) {
  return import_with(onnx_path, options, report,
                     [&](onnx::ModelProto& model) { onnx_import::load_model_proto(onnx_path, model); });
}

Graph import_onnx_bytes(std::span<const uint8_t> bytes, const std::string& name, const ConvertOptions& options,
                        ConvertReport* report) {
  return import_with(name, options, report,
                     [&](onnx::ModelProto& model) { onnx_import::parse_model_proto(bytes, name, model); });
}

}  // namespace kiln
