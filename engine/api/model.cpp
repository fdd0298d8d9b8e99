#include "engine/core/checked_size.hpp"
#include "engine/core/graph.hpp"
#include "engine/core/op_info.hpp"
#include "engine/format/kiln_file.hpp"
#include "engine/runtime/backend_registry.hpp"
#include "kiln/kiln.hpp"

namespace kiln {

size_t element_size(ElementType type) { return type == ElementType::Float32 ? 4 : 1; }

const char* element_type_name(ElementType type) {
  switch (type) {
    case ElementType::Float32: return "float32";
    case ElementType::UInt8: return "uint8";
    case ElementType::Int8: return "int8";
  }
  return "?";
}

namespace {
// The shape of a tensor the caller makes or wraps: its byte count, or an
// error naming the shape (a negative dimension, or an implausible size).
size_t checked_tensor_bytes(const std::vector<int64_t>& shape, ElementType type) {
  static const SizeSource kSource{"kiln::Tensor", ErrorCode::InvalidArgument};
  return static_cast<size_t>(checked_byte_count(shape, element_size(type), kSource));
}
}  // namespace

Tensor::Tensor(std::vector<int64_t> shape, ElementType type) : shape_(std::move(shape)), type_(type) {
  // Float-aligned whatever the type, and never empty.
  const size_t bytes = std::max<size_t>(checked_tensor_bytes(shape_, type_), 4);
  owned_ = std::shared_ptr<std::byte[]>(new std::byte[(bytes + 3) / 4 * 4]());
  data_ = owned_.get();
}

Tensor Tensor::wrap(float* data, std::vector<int64_t> shape) { return wrap(data, std::move(shape), ElementType::Float32); }

Tensor Tensor::wrap(void* data, std::vector<int64_t> shape, ElementType type) {
  checked_tensor_bytes(shape, type);
  Tensor t;
  t.shape_ = std::move(shape);
  t.type_ = type;
  t.data_ = data;
  return t;
}

void* Tensor::checked(ElementType want) {
  if (data_ != nullptr && type_ != want)
    throw Error(ErrorCode::InvalidArgument, std::string("the tensor holds ") + element_type_name(type_) +
                                                " values, not " + element_type_name(want));
  return data_;
}

int64_t Tensor::size() const { return element_count(shape_); }

Model Model::load(const std::string& path, const LoadOptions& options) {
  ModelFileInfo file;
  auto graph = std::make_shared<Graph>(load_graph(path, options, &file));
  return Model(std::move(graph), std::move(file));
}

Model Model::from_bytes(std::span<const uint8_t> bytes, const std::string& name, const LoadOptions& options) {
  ModelFileInfo file;
  auto graph = std::make_shared<Graph>(parse_graph(nullptr, bytes, name, options, &file));
  return Model(std::move(graph), std::move(file));
}

namespace {
std::vector<TensorDesc> describe(const Graph& g, const std::vector<TensorId>& ids) {
  std::vector<TensorDesc> out;
  for (TensorId t : ids) {
    const TensorInfo& info = g.tensor(t);
    TensorDesc d{info.name, info.shape};
    if (info.dtype == DataType::UInt8) d.type = ElementType::UInt8;
    if (info.dtype == DataType::Int8) d.type = ElementType::Int8;
    if (info.quant && !info.quant->per_axis()) {
      d.scale = info.quant->scale[0];
      d.zero_point = info.quant->zero_point[0];
    }
    out.push_back(std::move(d));
  }
  return out;
}
}  // namespace

std::vector<TensorDesc> Model::inputs() const { return describe(*graph_, graph_->inputs); }
std::vector<TensorDesc> Model::outputs() const { return describe(*graph_, graph_->outputs); }

ModelMetadata Model::metadata() const {
  const fb::ModelInfoT& info = graph_->info;
  ModelMetadata m;
  m.name = info.name;
  m.source_url = info.source_url;
  m.source_sha256 = info.source_sha256;
  m.preprocess = static_cast<Preprocess>(info.preprocess);
  m.resize = static_cast<ResizePolicy>(info.resize);
  m.resize_filter = static_cast<ResizeFilter>(info.resize_filter);
  m.output_kind = static_cast<OutputKind>(info.output_kind);
  m.class_offset = info.class_offset;
  m.labels = info.labels;
  return m;
}

std::vector<NodeInfo> Model::nodes() const {
  const Graph& g = *graph_;
  std::vector<NodeInfo> out;
  for (const Node& n : g.nodes) {
    NodeInfo info;
    info.name = n.name;
    info.op = std::string(op_name(n.op));
    info.attributes = describe_attributes(n);
    for (TensorId t : n.inputs) info.inputs.push_back(g.tensor(t).name);
    for (TensorId t : n.outputs) {
      info.outputs.push_back(g.tensor(t).name);
      info.output_shapes.push_back(g.shape(t));
    }
    if (!n.outputs.empty()) {
      const TensorInfo& y = g.tensor(n.outputs[0]);
      info.dtype = describe_dtype(y.dtype, y.quant);
      if (n.inputs.size() > 1 && (n.op == OpType::Conv || n.op == OpType::Gemm || n.op == OpType::MatMul) &&
          g.tensor(n.inputs[1]).quant) {
        const TensorInfo& w = g.tensor(n.inputs[1]);
        info.dtype += ", w " + describe_dtype(w.dtype, w.quant);
      }
    }
    info.params = node_params(g, n);
    info.flops = node_flops(g, n);
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<std::string> Model::passes_applied() const { return graph_->passes_applied; }
std::string Model::producer() const { return graph_->producer; }

std::vector<std::string> available_backends() { return BackendRegistry::global().names(); }

BackendInfo backend_info(const std::string& name) {
  const std::unique_ptr<Backend> b = BackendRegistry::global().create(name);
  BackendInfo info;
  info.name = std::string(b->name());
  info.description = b->description();
  info.algorithms = b->algorithm_names();
  info.isa_levels = b->isa_levels();
  info.fp16_storage = b->supports_fp16_storage();
  info.portable_determinism = b->supports_portable_determinism();
  return info;
}

std::vector<DeviceDesc> list_devices(const std::string& backend) {
  std::vector<DeviceDesc> out;
  for (const DeviceInfo& d : BackendRegistry::global().create(backend)->devices())
    out.push_back({d.index, d.name, d.detail});
  return out;
}

}  // namespace kiln
