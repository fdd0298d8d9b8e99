#pragma once
#include <string>

#include "kiln/kiln.hpp"

namespace kiln {

// Reads an input tensor from .npy or an ONNX TensorProto .pb file (chosen by
// the file's extension).
Tensor read_tensor_file(const std::string& path);

}  // namespace kiln
