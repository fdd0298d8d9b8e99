#include "converter/onnx_model.hpp"

#include <google/protobuf/io/coded_stream.h>

#include <climits>
#include <fstream>
#include <sstream>

#include "converter/errors.hpp"

namespace kiln::onnx_import {

namespace {

std::string read_file(const std::string& path, const char* kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::Io, path + ": cannot open the " + std::string(kind) + " file");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw Error(ErrorCode::Io, path + ": cannot read the file");
  if (size > INT_MAX)
    throw_unsupported(path + ": the file is larger than 2 GiB, protobuf's limit; models that large keep their "
                             "weights in external data files, which Kiln does not read");
  in.seekg(0, std::ios::beg);
  std::string bytes(static_cast<size_t>(size), '\0');
  if (size > 0 && !in.read(bytes.data(), size)) throw Error(ErrorCode::Io, path + ": cannot read the file");
  if (bytes.empty()) throw_invalid(path + ": the file is empty, not an ONNX " + std::string(kind));
  return bytes;
}

template <class Message>
bool parse(const std::string& bytes, Message& message) {
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(INT_MAX);
  return message.ParseFromCodedStream(&stream) && stream.ConsumedEntireMessage();
}

}  // namespace

void load_model_proto(const std::string& path, onnx::ModelProto& model) {
  const std::string bytes = read_file(path, "model");
  if (!parse(bytes, model))
    throw_invalid(path + ": not a valid ONNX model (the protobuf does not parse: a truncated or corrupt file, or "
                         "not an .onnx file)");
  if (!model.has_graph())
    throw_invalid(path + ": not a valid ONNX model (it has no graph)");
}

void load_tensor_proto(const std::string& path, onnx::TensorProto& tensor) {
  const std::string bytes = read_file(path, "tensor (.pb)");
  if (!parse(bytes, tensor))
    throw_invalid(path + ": not a valid ONNX TensorProto (the protobuf does not parse)");
}

}  // namespace kiln::onnx_import
