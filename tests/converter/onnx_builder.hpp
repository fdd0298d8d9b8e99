#pragma once
// A tiny builder for ONNX models in tests: graph inputs/outputs, initializers,
// Constant nodes and nodes with attributes, saved to a temporary .onnx file and
// imported with kiln::import_onnx.
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/convert.hpp"
#include "onnx/onnx_pb.h"

namespace kiln::test {

onnx::TensorProto make_tensor(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& values);
onnx::TensorProto make_tensor_i64(const std::string& name, std::vector<int64_t> dims,
                                  const std::vector<int64_t>& values);

void attr_i(onnx::NodeProto& n, const std::string& name, int64_t v);
void attr_f(onnx::NodeProto& n, const std::string& name, float v);
void attr_s(onnx::NodeProto& n, const std::string& name, const std::string& v);
void attr_ints(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v);
void attr_floats(onnx::NodeProto& n, const std::string& name, const std::vector<float>& v);
void attr_t(onnx::NodeProto& n, const std::string& name, const onnx::TensorProto& t);

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int64_t opset = 13);

  // A graph input; a negative dim is symbolic (named "N" for axis 0, "D<i>" otherwise).
  OnnxBuilder& input(const std::string& name, std::vector<int64_t> dims, int elem_type = onnx::TensorProto::FLOAT);
  OnnxBuilder& output(const std::string& name, int elem_type = onnx::TensorProto::FLOAT);
  OnnxBuilder& initializer(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& values);
  OnnxBuilder& initializer_i64(const std::string& name, std::vector<int64_t> dims, const std::vector<int64_t>& values);
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                        const std::string& name = "");
  // Constant nodes.
  onnx::NodeProto& constant(const std::string& out, std::vector<int64_t> dims, const std::vector<float>& values);
  onnx::NodeProto& constant_i64(const std::string& out, std::vector<int64_t> dims, const std::vector<int64_t>& values);

  onnx::ModelProto& model() { return model_; }
  onnx::GraphProto& graph() { return *model_.mutable_graph(); }

  // Writes the model to a fresh file in a temporary folder; returns its path.
  std::string save(const std::string& file_name = "model.onnx") const;
  Graph import(const ConvertOptions& options = {}, ConvertReport* report = nullptr) const;

 private:
  onnx::ModelProto model_;
};

// A temporary folder for this test binary's files.
std::string temp_path(const std::string& file_name);
// Writes raw bytes to a temporary file; returns its path.
std::string write_temp_file(const std::string& file_name, const std::string& bytes);

// Imports with default options and runs on the reference backend.
std::vector<Tensor> run_model(const Graph& graph, const std::vector<Tensor>& inputs);
Tensor tensor_of(std::vector<int64_t> shape, const std::vector<float>& values);
std::vector<float> values_of(const Tensor& t);

}  // namespace kiln::test
