// convert_onnx_file and read_tensor_proto: the converter's file-level entry points.
#include <fstream>

#include "converter/errors.hpp"
#include "converter/onnx_model.hpp"
#include "converter/tensor_proto.hpp"
#include "engine/format/kiln_file.hpp"
#include "kiln/convert.hpp"
#include "models/manifest.hpp"

namespace kiln {

ConvertReport convert_onnx_file(const std::string& onnx_path, const std::string& kiln_path,
                                const ConvertOptions& options) {
  ConvertReport report;
  Graph graph = import_onnx(onnx_path, options, &report);
  report.known_model = models::attach_model_metadata(graph, onnx_path, options.label_search_dirs, report.warnings);
  save_graph(graph, kiln_path);
  return report;
}

bool is_kiln_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::Io, path + ": cannot open: no such file or not readable");
  char head[12] = {};
  in.read(head, sizeof head);
  // A size-prefixed FlatBuffer: u32 size, u32 root offset, then the "KILN" identifier.
  return in.gcount() == 12 && std::string(head + 8, 4) == "KILN";
}

Model load_model(const std::string& path, const ConvertOptions& options, ConvertReport* report) {
  if (is_kiln_file(path)) return Model::load(path);
  ConvertReport local;
  ConvertReport& r = report ? *report : local;
  Graph graph = import_onnx(path, options, &r);
  r.known_model = models::attach_model_metadata(graph, path, options.label_search_dirs, r.warnings);
  return Model(std::make_shared<const Graph>(std::move(graph)));
}

namespace {
// `proto` as a Kiln tensor; `path` names the file in errors.
NamedTensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& path) {
  NamedTensor out;
  out.name = proto.name();
  try {
    const std::string what = "tensor '" + proto.name() + "'";
    const Shape shape = onnx_import::tensor_proto_shape(proto, what);
    const auto type = proto.data_type();
    if (type == onnx_import::dtype::kUInt8 || type == onnx_import::dtype::kInt8) {
      // The input of a model whose graph input is quantized.
      const onnx_import::HostTensor h = onnx_import::decode_host_tensor(proto, what);
      out.tensor = Tensor(shape, type == onnx_import::dtype::kUInt8 ? ElementType::UInt8 : ElementType::Int8);
      auto* bytes = static_cast<uint8_t*>(out.tensor.raw());
      for (size_t i = 0; i < h.size(); ++i) bytes[i] = static_cast<uint8_t>(h.get_int(i));
      return out;
    }
    if (!onnx_import::is_floating(type))
      throw Error(ErrorCode::Unsupported, what + " has data type " + onnx_import::dtype_name(type) +
                                              "; Kiln's tensors are float32, uint8 or int8");
    std::vector<float> values = onnx_import::decode_floats(proto, what);
    out.tensor = Tensor(shape);
    std::copy(values.begin(), values.end(), out.tensor.data());
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
  return out;
}
}  // namespace

NamedTensor read_tensor_proto(const std::string& path) {
  onnx::TensorProto proto;
  onnx_import::load_tensor_proto(path, proto);
  return tensor_from_proto(proto, path);
}

NamedTensor parse_tensor_proto(std::span<const uint8_t> bytes, const std::string& name) {
  onnx::TensorProto proto;
  onnx_import::parse_tensor_proto(bytes, name, proto);
  return tensor_from_proto(proto, name);
}

}  // namespace kiln
