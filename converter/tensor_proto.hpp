#pragma once
// Decoding ONNX TensorProto messages (initializers, Constant values, .pb test
// files). Every field is treated as hostile: dims, data type, and the length
// of raw_data or the typed value list are checked against each other.
#include <string>
#include <vector>

#include "converter/host_tensor.hpp"
#include "onnx/onnx_pb.h"

namespace kiln::onnx_import {

// The tensor's dims, each checked to be non-negative; `what` names it in errors.
Shape tensor_proto_shape(const onnx::TensorProto& t, const std::string& what);

// Throws Unsupported if the tensor keeps its data in an external file.
void check_not_external(const onnx::TensorProto& t, const std::string& what);

// Any numeric tensor, as a host tensor (bounded by kMaxHostElements).
HostTensor decode_host_tensor(const onnx::TensorProto& t, const std::string& what);

// A floating tensor (FLOAT, DOUBLE, FLOAT16, BFLOAT16) as float32 values, with
// no size bound beyond the data present in the file. Other types: Unsupported.
std::vector<float> decode_floats(const onnx::TensorProto& t, const std::string& what);

}  // namespace kiln::onnx_import
