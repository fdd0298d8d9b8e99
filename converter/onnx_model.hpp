#pragma once
// Reading an .onnx file into the protobuf classes of Debian's libonnx-dev.
#include <string>

#include "onnx/onnx_pb.h"

namespace kiln::onnx_import {

// Parses `path` (up to 2 GiB, protobuf's limit). Throws kiln::Error naming the
// file: Io if it cannot be read, InvalidModel if it is empty or not an ONNX
// model, Unsupported if it is too large.
void load_model_proto(const std::string& path, onnx::ModelProto& model);

// Parses a TensorProto (.pb) file.
void load_tensor_proto(const std::string& path, onnx::TensorProto& tensor);

}  // namespace kiln::onnx_import
