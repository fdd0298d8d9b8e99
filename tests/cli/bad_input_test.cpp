// Bad input to the CLI gives a clear message naming the problem and exit code
// 1 — never a crash, a hang or silent garbage.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "apps/common/npy.hpp"
#include "engine/format/kiln_file.hpp"
#include "tests/cli/process.hpp"
#include "tests/common/kiln_file_edit.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

fs::path work_dir() {
  const fs::path d = fs::temp_directory_path() / ("kiln_bad_input_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

fs::path write_file(const std::string& name, const std::string& bytes) {
  const fs::path p = work_dir() / name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs kiln and checks: exit code 1, no signal, and stderr naming the problem.
void expect_error(const std::vector<std::string>& args, const std::vector<std::string>& message_parts) {
  const ProcessResult r = run_kiln(args);
  EXPECT_FALSE(r.signaled) << "killed by signal " << r.signal;
  EXPECT_EQ(r.exit_code, 1) << ::testing::PrintToString(args) << "\nstderr: " << r.err;
  for (const auto& part : message_parts) EXPECT_THAT(r.err, HasSubstr(part)) << ::testing::PrintToString(args);
}

// A small valid model: input [1,3,8,8] -> Relu -> output.
Graph tiny_graph() {
  Graph g;
  const TensorId x = g.add_tensor("x", {1, 3, 8, 8});
  const TensorId y = g.add_tensor("y", {1, 3, 8, 8});
  g.inputs = {x};
  g.outputs = {y};
  Node n;
  n.name = "relu";
  n.op = OpType::Relu;
  n.inputs = {x};
  n.outputs = {y};
  g.nodes.push_back(std::move(n));
  return g;
}

fs::path tiny_model() {
  const fs::path p = work_dir() / "tiny.kiln";
  save_graph(tiny_graph(), p.string());
  return p;
}

TEST(BadInput, EmptyKilnFile) {
  const fs::path p = write_file("empty.kiln", "");
  expect_error({"inspect", p.string()}, {p.string(), "empty"});
  expect_error({"run", p.string(), "-i", "x.npy", "-o", work_dir().string()}, {"empty"});
}

TEST(BadInput, RandomBytes) {
  const auto bytes = random_values(4096, 11);
  const fs::path p = write_file("random.kiln", std::string(reinterpret_cast<const char*>(bytes.data()), 4096 * 4));
  expect_error({"inspect", p.string()}, {p.string(), "not a .kiln file"});
}

TEST(BadInput, TruncatedKiln) {
  const fs::path onnx = shared_file_or_skip("models/resnet_cifar/resnet8_tiny.onnx");
  const fs::path full = work_dir() / "resnet8.kiln";
  ASSERT_EQ(run_kiln({"convert", onnx.string(), full.string()}).exit_code, 0);
  const std::string bytes = read_file(full);
  // Cut inside the weights region and inside the graph section.
  for (size_t keep : {bytes.size() - 1, bytes.size() / 2, size_t{200}, size_t{12}}) {
    const fs::path p = write_file("truncated.kiln", bytes.substr(0, keep));
    expect_error({"inspect", p.string()}, {p.string()});
    const ProcessResult r = run_kiln({"inspect", p.string()});
    EXPECT_TRUE(r.err.find("truncated") != std::string::npos || r.err.find("verification") != std::string::npos)
        << "cut at " << keep << ": " << r.err;
  }
}

TEST(BadInput, OutOfRangeTensorIndex) {
  Graph g = tiny_graph();
  g.nodes[0].inputs[0] = 999;  // serialize_graph does not check; the loader must
  const fs::path p = work_dir() / "bad_index.kiln";
  save_graph(g, p.string());
  expect_error({"inspect", p.string()}, {p.string(), "tensor index 999"});
}

// x + c, c a constant: a model with a weights region.
std::vector<uint8_t> tiny_file_with_weights() {
  Graph g;
  const TensorId x = g.add_tensor("x", {1, 3, 8, 8});
  const TensorId c = g.add_constant("c", {1, 3, 8, 8}, ConstantData::from_floats(random_values(192, 3)));
  const TensorId y = g.add_tensor("y", {1, 3, 8, 8});
  g.inputs = {x};
  g.outputs = {y};
  g.nodes.push_back(Node{"add", OpType::Add, {x, c}, {y}, make_attrs(fb::BinaryAttrsT{})});
  return serialize_graph(g);
}

fs::path write_bytes(const std::string& name, const std::vector<uint8_t>& bytes) {
  return write_file(name, std::string(bytes.begin(), bytes.end()));
}

TEST(BadInput, DamagedWeightsAreRefusedUnlessVerificationIsOff) {
  std::vector<uint8_t> bytes = tiny_file_with_weights();
  bytes[kiln_layout(bytes).weights_start + 17] ^= 0x04;
  const fs::path p = write_bytes("damaged.kiln", bytes);
  expect_error({"inspect", p.string()}, {p.string(), "checksum mismatch in weights"});
  expect_error({"run", p.string(), "-i", "x.npy", "-o", work_dir().string()}, {"checksum mismatch in weights"});
  const ProcessResult r = run_kiln({"inspect", p.string(), "--no-verify"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("format    1.2, checksums not verified (--no-verify)"));
}

TEST(BadInput, OldFormatLoadsWithANote) {
  const fs::path p = write_bytes("format_1_1.kiln", without_checksums(tiny_file_with_weights()));
  const ProcessResult r = run_kiln({"inspect", p.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string note = "kiln: note: ";
  note += p.string();
  note += ": the file has no checksums (format 1.1)";
  EXPECT_THAT(r.err, HasSubstr(note));
  EXPECT_THAT(r.out, HasSubstr("format    1.1, no checksums (convert it again to get them)"));
  const ProcessResult quiet = run_kiln({"inspect", p.string(), "--quiet"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_THAT(quiet.err, ::testing::Not(HasSubstr("note")));
}

TEST(BadInput, OnnxWithUnsupportedOpsListsEveryOne) {
  onnx::ModelProto model;
  model.set_ir_version(7);
  model.add_opset_import()->set_version(13);
  auto* graph = model.mutable_graph();
  graph->set_name("unsupported");
  auto add_value = [](onnx::ValueInfoProto* v, const std::string& name) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (int d : {1, 3, 8, 8}) t->mutable_shape()->add_dim()->set_dim_value(d);
  };
  add_value(graph->add_input(), "x");
  add_value(graph->add_output(), "z");
  auto add_node = [&](const std::string& op, const std::string& name, const std::string& in, const std::string& out) {
    auto* n = graph->add_node();
    n->set_op_type(op);
    n->set_name(name);
    n->add_input(in);
    n->add_output(out);
  };
  add_node("Relu", "relu_ok", "x", "a");
  add_node("Erf", "erf_first", "a", "b");
  add_node("Erf", "erf_second", "b", "c");
  add_node("Elu", "elu_first", "c", "z");
  const fs::path p = work_dir() / "unsupported.onnx";
  std::ofstream(p, std::ios::binary) << model.SerializeAsString();
  expect_error({"convert", p.string(), (work_dir() / "out.kiln").string()},
               {"Erf", "erf_first", "Elu", "elu_first"});
  EXPECT_THAT(run_kiln({"convert", p.string(), (work_dir() / "out.kiln").string()}).err,
              ::testing::Not(HasSubstr("erf_second")));  // the first node per op type
}

TEST(BadInput, NotAnOnnxFile) {
  const fs::path p = write_file("garbage.onnx", "this is not a protobuf \x01\x02\x03");
  expect_error({"convert", p.string(), (work_dir() / "o.kiln").string()}, {p.string()});
  expect_error({"convert", (work_dir() / "missing.onnx").string(), (work_dir() / "o.kiln").string()},
               {"missing.onnx"});
}

TEST(BadInput, TruncatedJpeg) {
  const fs::path jpeg = shared_file_or_skip("images/hot_dog.jpg");
  const std::string bytes = read_file(jpeg);
  const fs::path cut = write_file("truncated.jpg", bytes.substr(0, bytes.size() * 6 / 10));
  const fs::path onnx = shared_file_or_skip("models/resnet_cifar/resnet8_tiny.onnx");
  const fs::path model = work_dir() / "resnet8_classify.kiln";
  ASSERT_EQ(run_kiln({"convert", onnx.string(), model.string()}).exit_code, 0);
  expect_error({"classify", model.string(), cut.string()}, {cut.string(), "truncated JPEG"});
}

TEST(BadInput, NotAnImageAndMissingImage) {
  const fs::path onnx = shared_file_or_skip("models/resnet_cifar/resnet8_tiny.onnx");
  const fs::path model = work_dir() / "resnet8_classify2.kiln";
  ASSERT_EQ(run_kiln({"convert", onnx.string(), model.string()}).exit_code, 0);
  const fs::path text = write_file("notes.jpg", "hello");
  expect_error({"classify", model.string(), text.string()}, {text.string(), "not a JPEG, PNG or BMP"});
  const fs::path missing = work_dir() / "no_such_photo.jpg";
  expect_error({"classify", model.string(), missing.string()}, {missing.string(), "cannot open"});
  // A good image next to a missing one: the good one is still classified.
  const fs::path bird = shared_file_or_skip("images/bird.bmp");
  const ProcessResult r = run_kiln({"classify", model.string(), missing.string(), bird.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("bird (2)"));
}

TEST(BadInput, WrongInputShapeToRun) {
  const fs::path model = tiny_model();
  const fs::path in = work_dir() / "wrong_shape.npy";
  npy::write(in.string(), random_tensor({1, 3, 4, 4}, 5));
  expect_error({"run", model.string(), "--input", "x=" + in.string(), "-o", work_dir().string()},
               {"[1,3,4,4]", "expects [1,3,8,8]"});
  expect_error({"run", model.string(), "--input", "nope=" + in.string(), "-o", work_dir().string()},
               {"no input 'nope'"});
  const fs::path not_npy = write_file("bad.npy", "\x93NUMPY garbage");
  expect_error({"run", model.string(), "--input", "x=" + not_npy.string(), "-o", work_dir().string()},
               {not_npy.string()});
}

}  // namespace
}  // namespace kiln::test
