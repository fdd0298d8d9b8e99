// The ONNX writer's driver: a Kiln graph -> ModelProto -> file.
#include <fstream>

#include "converter/export_context.hpp"
#include "kiln/convert.hpp"

namespace kiln {

std::string export_onnx_bytes(const Graph& graph) {
  onnx::ModelProto model;
  // IR 8 is what ONNX 1.10 to 1.12 write for opset 14; every runtime of that age reads it.
  model.set_ir_version(8);
  model.set_producer_name("kiln");
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(onnx_export::kOpset);
  onnx::GraphProto* g = model.mutable_graph();
  g->set_name(graph.info.name.empty() ? "kiln" : graph.info.name);
  onnx_export::Exporter(graph, *g).run();
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw Error(ErrorCode::Unsupported, "the ONNX model is too large for protobuf (2 GiB at most)");
  return bytes;
}

void export_onnx(const Graph& graph, const std::string& onnx_path) {
  // Serialised before the file is opened, so that an unsupported op leaves no file behind.
  const std::string bytes = export_onnx_bytes(graph);
  std::ofstream f(onnx_path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) throw Error(ErrorCode::Io, "cannot write " + onnx_path);
}

}  // namespace kiln
