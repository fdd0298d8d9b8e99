#pragma once
// The one exception type Kiln throws. Every message names what was wrong
// (the file, node or tensor) so callers can print it as is.
#include <stdexcept>
#include <string>

namespace kiln {

enum class ErrorCode {
  InvalidArgument,  // the caller passed something wrong (shape, name, option)
  InvalidModel,     // a .kiln or ONNX file is corrupt or inconsistent
  Unsupported,      // valid input that this build cannot handle (op, attribute, dtype)
  Io,               // a file could not be read or written
  Internal,         // a bug in Kiln
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace kiln
