#pragma once
// Error helpers shared by the ONNX importer. Every message names what was
// wrong; import_onnx prefixes the file name.
#include <string>

#include "kiln/error.hpp"

namespace kiln::onnx_import {

// Malformed content: missing inputs, undefined names, inconsistent sizes.
[[noreturn]] inline void throw_invalid(const std::string& message) {
  throw Error(ErrorCode::InvalidModel, message);
}

// Valid ONNX that Kiln cannot run: an op, attribute value or data type.
[[noreturn]] inline void throw_unsupported(const std::string& message) {
  throw Error(ErrorCode::Unsupported, message);
}

}  // namespace kiln::onnx_import
