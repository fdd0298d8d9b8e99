#include "apps/common/tensor_files.hpp"

#include <filesystem>

#include "apps/common/npy.hpp"
#ifdef KILN_HAVE_CONVERTER
#include "kiln/convert.hpp"
#endif

namespace kiln {

Tensor read_tensor_file(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(ErrorCode::Io, path + ": no such file");
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".npy") return npy::read(path);
  if (ext == ".pb") {
#ifdef KILN_HAVE_CONVERTER
    return read_tensor_proto(path).tensor;
#else
    throw Error(ErrorCode::Unsupported, path + ": this build has no ONNX support to read .pb tensors");
#endif
  }
  throw Error(ErrorCode::InvalidArgument, path + ": unknown tensor file type '" + ext + "' (use .npy or .pb)");
}

}  // namespace kiln
