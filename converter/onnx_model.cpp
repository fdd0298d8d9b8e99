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
  return bytes;
}

template <class Message>
bool parse(std::span<const uint8_t> bytes, const std::string& name, Message& message) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) throw_unsupported(name + ": larger than 2 GiB, protobuf's limit");
  google::protobuf::io::CodedInputStream stream(bytes.data(), static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(INT_MAX);
  return message.ParseFromCodedStream(&stream) && stream.ConsumedEntireMessage();
}

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

void load_model_proto(const std::string& path, onnx::ModelProto& model) {
  parse_model_proto(as_bytes(read_file(path, "model")), path, model);
}

void load_tensor_proto(const std::string& path, onnx::TensorProto& tensor) {
  parse_tensor_proto(as_bytes(read_file(path, "tensor (.pb)")), path, tensor);
}

void parse_model_proto(std::span<const uint8_t> bytes, const std::string& name, onnx::ModelProto& model) {
  if (bytes.empty()) throw_invalid(name + ": the file is empty, not an ONNX model");
  if (!parse(bytes, name, model))
    throw_invalid(name + ": not a valid ONNX model (the protobuf does not parse: a truncated or corrupt file, or "
                         "not an .onnx file)");
  if (!model.has_graph())
    throw_invalid(name + ": not a valid ONNX model (it has no graph)");
}

void parse_tensor_proto(std::span<const uint8_t> bytes, const std::string& name, onnx::TensorProto& tensor) {
  if (bytes.empty()) throw_invalid(name + ": the file is empty, not an ONNX tensor (.pb)");
  if (!parse(bytes, name, tensor))
    throw_invalid(name + ": not a valid ONNX TensorProto (the protobuf does not parse)");
}

}  // namespace kiln::onnx_import
