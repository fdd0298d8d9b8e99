// convert_onnx_file and read_tensor_proto: the converter's file-level entry points.
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

NamedTensor read_tensor_proto(const std::string& path) {
  onnx::TensorProto proto;
  onnx_import::load_tensor_proto(path, proto);
  NamedTensor out;
  out.name = proto.name();
  try {
    const std::string what = "tensor '" + proto.name() + "'";
    if (!onnx_import::is_floating(proto.data_type()))
      throw Error(ErrorCode::Unsupported, what + " has data type " + onnx_import::dtype_name(proto.data_type()) +
                                              ", not float; Kiln tensors are float32");
    const Shape shape = onnx_import::tensor_proto_shape(proto, what);
    std::vector<float> values = onnx_import::decode_floats(proto, what);
    out.tensor = Tensor(shape);
    std::copy(values.begin(), values.end(), out.tensor.data());
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
  return out;
}

}  // namespace kiln
