#include "tests/converter/onnx_builder.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "tests/common/test_util.hpp"

namespace kiln::test {

namespace fs = std::filesystem;

onnx::TensorProto make_tensor(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  for (float v : values) t.add_float_data(v);
  return t;
}

onnx::TensorProto make_tensor_i64(const std::string& name, std::vector<int64_t> dims,
                                  const std::vector<int64_t>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) t.add_dims(d);
  for (int64_t v : values) t.add_int64_data(v);
  return t;
}

namespace {
onnx::AttributeProto* add_attr(onnx::NodeProto& n, const std::string& name, onnx::AttributeProto::AttributeType type) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(type);
  return a;
}
}  // namespace

void attr_i(onnx::NodeProto& n, const std::string& name, int64_t v) { add_attr(n, name, onnx::AttributeProto::INT)->set_i(v); }
void attr_f(onnx::NodeProto& n, const std::string& name, float v) { add_attr(n, name, onnx::AttributeProto::FLOAT)->set_f(v); }
void attr_s(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  add_attr(n, name, onnx::AttributeProto::STRING)->set_s(v);
}
void attr_ints(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = add_attr(n, name, onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void attr_floats(onnx::NodeProto& n, const std::string& name, const std::vector<float>& v) {
  auto* a = add_attr(n, name, onnx::AttributeProto::FLOATS);
  for (float x : v) a->add_floats(x);
}
void attr_t(onnx::NodeProto& n, const std::string& name, const onnx::TensorProto& t) {
  *add_attr(n, name, onnx::AttributeProto::TENSOR)->mutable_t() = t;
}

OnnxBuilder::OnnxBuilder(int64_t opset) {
  model_.set_ir_version(7);
  model_.set_producer_name("kiln-test");
  model_.set_producer_version("1.0");
  model_.add_opset_import()->set_version(opset);
  model_.mutable_graph()->set_name("test");
}

OnnxBuilder& OnnxBuilder::input(const std::string& name, std::vector<int64_t> dims, int elem_type) {
  auto* v = graph().add_input();
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem_type);
  auto* shape = t->mutable_shape();
  for (size_t i = 0; i < dims.size(); ++i) {
    auto* d = shape->add_dim();
    if (dims[i] >= 0) d->set_dim_value(dims[i]);
    else d->set_dim_param(i == 0 ? std::string("N") : std::string("D").append(std::to_string(i)));
  }
  return *this;
}

OnnxBuilder& OnnxBuilder::output(const std::string& name, int elem_type) {
  auto* v = graph().add_output();
  v->set_name(name);
  v->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
  return *this;
}

OnnxBuilder& OnnxBuilder::initializer(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& values) {
  *graph().add_initializer() = make_tensor(name, std::move(dims), values);
  return *this;
}

OnnxBuilder& OnnxBuilder::initializer_i64(const std::string& name, std::vector<int64_t> dims,
                                          const std::vector<int64_t>& values) {
  *graph().add_initializer() = make_tensor_i64(name, std::move(dims), values);
  return *this;
}

onnx::NodeProto& OnnxBuilder::node(const std::string& op, std::vector<std::string> inputs,
                                   std::vector<std::string> outputs, const std::string& name) {
  auto* n = graph().add_node();
  n->set_op_type(op);
  if (!name.empty()) n->set_name(name);
  for (auto& i : inputs) n->add_input(i);
  for (auto& o : outputs) n->add_output(o);
  return *n;
}

onnx::NodeProto& OnnxBuilder::constant(const std::string& out, std::vector<int64_t> dims, const std::vector<float>& values) {
  auto& n = node("Constant", {}, {out});
  attr_t(n, "value", make_tensor("", std::move(dims), values));
  return n;
}

onnx::NodeProto& OnnxBuilder::constant_i64(const std::string& out, std::vector<int64_t> dims,
                                           const std::vector<int64_t>& values) {
  auto& n = node("Constant", {}, {out});
  attr_t(n, "value", make_tensor_i64("", std::move(dims), values));
  return n;
}

namespace {
// This process's scratch folder, removed when the test binary exits.
struct TempDir {
  fs::path path;
  TempDir() : path(fs::temp_directory_path() / ("kiln_converter_tests_" + std::to_string(::getpid()))) {
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_path(const std::string& file_name) {
  static const TempDir dir;
  return (dir.path / file_name).string();
}

std::string write_temp_file(const std::string& file_name, const std::string& bytes) {
  const std::string path = temp_path(file_name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string OnnxBuilder::save(const std::string& file_name) const {
  static std::atomic<int> counter{0};
  return write_temp_file(std::to_string(counter++) + "_" + file_name, model_.SerializeAsString());
}

Graph OnnxBuilder::import(const ConvertOptions& options, ConvertReport* report) const {
  return import_onnx(save(), options, report);
}

std::vector<Tensor> run_model(const Graph& graph, const std::vector<Tensor>& inputs) {
  return run_graph(graph, inputs, "reference");
}

Tensor tensor_of(std::vector<int64_t> shape, const std::vector<float>& values) {
  Tensor t(std::move(shape));
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

std::vector<float> values_of(const Tensor& t) { return {t.data(), t.data() + t.size()}; }

}  // namespace kiln::test
