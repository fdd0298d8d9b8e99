#pragma once
// The ONNX converter: ONNX file -> Kiln graph -> .kiln file.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln {

struct ConvertOptions {
  std::optional<int64_t> batch;                // override the batch (first) dimension of every input
  bool optimize = true;                        // run the convert-time passes (engine/passes)
  std::vector<std::string> label_search_dirs;  // extra folders to look for a known model's labels file
};

struct ConvertReport {
  int64_t opset = 0;
  std::string onnx_producer;
  int onnx_nodes = 0;
  int folded_by_importer = 0;  // Constant nodes and shape sub-graphs evaluated during import
  int kiln_nodes = 0;
  std::vector<std::string> passes;  // "name: N rewrites", in order
  std::string known_model;          // manifest name if the file is a known model
  std::vector<std::string> warnings;
};

// Imports and (unless disabled) optimises an ONNX model. Throws kiln::Error:
// ErrorCode::Unsupported lists every unsupported op type (with the first node
// that uses it) or attribute; ErrorCode::InvalidModel names malformed content.
Graph import_onnx(const std::string& onnx_path, const ConvertOptions& options, ConvertReport* report = nullptr);
// The same on an ONNX file's contents held in memory; `name` names it in errors.
Graph import_onnx_bytes(std::span<const uint8_t> bytes, const std::string& name, const ConvertOptions& options,
                        ConvertReport* report = nullptr);

// import_onnx + attach the known-model metadata + save as .kiln.
ConvertReport convert_onnx_file(const std::string& onnx_path, const std::string& kiln_path,
                                const ConvertOptions& options);

// A model from a .kiln file (memory-mapped, as Model::load) or an ONNX file
// (imported, optimised and given its known-model metadata in memory, as
// `kiln convert` would write it). The kind is told by the file's contents, not
// its name. `report`, if given, is filled for an ONNX file (and left empty for
// a .kiln file). The runtime library alone (without the converter) reads .kiln
// files only.
Model load_model(const std::string& path, const ConvertOptions& options = {}, ConvertReport* report = nullptr);
// Whether the file at `path` is a .kiln file (its identifier), else ONNX is assumed.
bool is_kiln_file(const std::string& path);

// Writes `graph` as an ONNX model (opset 14) that ONNX Runtime and Kiln's own
// importer read: Kiln's fused activations become explicit nodes after their
// op, constants become initializers, and quantized tensors' parameters the
// scale and zero-point inputs of QuantizeLinear/DequantizeLinear. The graph
// must be in QDQ form (float ops between Q/DQ pairs, as kiln quantize makes
// it before the passes fold them): a node left in its quantized form, or an
// attribute value no ONNX op of that opset can say, is an Unsupported error
// naming the node, and no file is written.
void export_onnx(const Graph& graph, const std::string& onnx_path);
std::string export_onnx_bytes(const Graph& graph);

// An ONNX TensorProto file (.pb), as float32.
struct NamedTensor {
  std::string name;
  Tensor tensor;
};
NamedTensor read_tensor_proto(const std::string& path);
// The same on a .pb file's contents held in memory; `name` names it in errors.
NamedTensor parse_tensor_proto(std::span<const uint8_t> bytes, const std::string& name);

}  // namespace kiln
