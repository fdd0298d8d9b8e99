#pragma once
// Reading an .onnx file into the protobuf classes of Debian's libonnx-dev.
#include <cstdint>
#include <span>
#include <string>

#include "onnx/onnx_pb.h"

namespace kiln::onnx_import {

// Parses `path` (up to 2 GiB, protobuf's limit). Throws kiln::Error naming the
// file: Io if it cannot be read, InvalidModel if it is empty or not an ONNX
// model, Unsupported if it is too large.
void load_model_proto(const std::string& path, onnx::ModelProto& model);

// Parses a TensorProto (.pb) file.
void load_tensor_proto(const std::string& path, onnx::TensorProto& tensor);

// The same on file contents held in memory; `name` names them in errors.
void parse_model_proto(std::span<const uint8_t> bytes, const std::string& name, onnx::ModelProto& model);
void parse_tensor_proto(std::span<const uint8_t> bytes, const std::string& name, onnx::TensorProto& tensor);

}  // namespace kiln::onnx_import
