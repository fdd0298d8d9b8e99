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

// ---- Sizes claimed by input files -------------------------------------------------

// A .npy file whose header says `shape_tuple` (as Python writes it) of `descr`,
// followed by `data`.
fs::path write_npy(const std::string& name, const std::string& shape_tuple, const std::string& data,
                   const std::string& descr = "<f4") {
  std::string header = "{'descr': '";
  header += descr;
  header += "', 'fortran_order': False, 'shape': ";
  header += shape_tuple;
  header += ", }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY\x01";
  bytes += '\0';
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  return write_file(name, bytes + header + data);
}

constexpr long kMaxRssKib = 512 * 1024;  // far below the gigabytes the files claim

TEST(BadInput, NpyClaimingMoreDataThanItHoldsFailsWithoutAllocatingIt) {
  // 144 bytes claiming 600M float32 values (2.4 GB).
  const fs::path model = tiny_model();
  const fs::path p = write_npy("huge_claim.npy", "(600000000,)", std::string(16, '\0'));
  ASSERT_EQ(fs::file_size(p), 144u);
  expect_error({"run", model.string(), "-i", "x=" + p.string(), "-o", work_dir().string()},
               {p.string(), "truncated", "2400000000 data bytes", "the file has 16"});
  const ProcessResult r = run_kiln({"run", model.string(), "-i", "x=" + p.string(), "-o", work_dir().string()});
  EXPECT_LT(r.max_rss_kib, kMaxRssKib) << "the claimed size was allocated";
}

TEST(BadInput, NpyShapeQuirksAreNamedErrors) {
  const fs::path model = tiny_model();
  auto run_with = [&](const fs::path& npy) {
    return std::vector<std::string>{"run", model.string(), "-i", "x=" + npy.string(), "-o", work_dir().string()};
  };
  const std::string one_input(4 * 192, '\0');  // [1,3,8,8] float32
  // Trailing bytes after the data were silently ignored.
  const fs::path trailing = write_npy("trailing.npy", "(1, 3, 8, 8)", one_input + "junk");
  expect_error(run_with(trailing), {trailing.string(), "4 bytes after", "768 data bytes"});
  // -1 was read as 1 (the minus sign was skipped).
  const fs::path negative = write_npy("negative.npy", "(1, -1, 8, 8)", one_input);
  expect_error(run_with(negative), {negative.string(), "'shape' entry '-1'", "negative"});
  // Too large for int64: was "kiln: error: stoll".
  const fs::path bigint = write_npy("bigint.npy", "(99999999999999999999, 3)", one_input);
  expect_error(run_with(bigint), {bigint.string(), "'shape' entry '99999999999999999999'", "too large"});
  // A product that overflows int64 (2^32 * 2^32 wraps to 0).
  const fs::path overflow = write_npy("overflow.npy", "(4294967296, 4294967296)", one_input);
  expect_error(run_with(overflow), {overflow.string(), "[4294967296,4294967296]", "implausibly large"});
  // Still read: a well-formed file, and Python 2's "L" suffix.
  const fs::path good = write_npy("good.npy", "(1L, 3L, 8L, 8L)", one_input);
  EXPECT_EQ(run_kiln(run_with(good)).exit_code, 0) << run_kiln(run_with(good)).err;
}

TEST(BadInput, PbTensorClaimingMoreDataThanItHoldsFailsWithoutAllocatingIt) {
  onnx::TensorProto t;
  t.set_name("x");
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(600000000);
  t.set_raw_data(std::string(16, '\0'));
  const fs::path p = write_file("huge_claim.pb", t.SerializeAsString());
  const fs::path model = tiny_model();
  const std::vector<std::string> args{"run", model.string(), "-i", "x=" + p.string(), "-o", work_dir().string()};
  expect_error(args, {p.string(), "16 bytes of raw_data", "needs 2400000000"});
  EXPECT_LT(run_kiln(args).max_rss_kib, kMaxRssKib);
}

// A 132-byte PNG of 1 x 12000 pixels, all (128, 64, 32).
const unsigned char kTallPng[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x2e, 0xe0, 0x08, 0x02, 0x00, 0x00, 0x00, 0xd2, 0xed, 0xd9, 0x38, 0x00, 0x00, 0x00,
    0x4b, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xed, 0xc3, 0x31, 0x0d, 0x00, 0x00, 0x08, 0x03, 0xb0, 0x49, 0x41,
    0x0a, 0xd2, 0x26, 0x9d, 0x07, 0x19, 0x6d, 0xd2, 0x74, 0x27, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xfa, 0x0f, 0xab, 0xf6, 0x06, 0x68, 0x8b, 0x30, 0x32, 0xff, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

TEST(BadInput, ATinyTallPngIsClassifiedWithoutResizingAllOfIt) {
  // Resized whole for a 224 crop it was 256 x 3072000 pixels: 2.4 GB, 25 s.
  const fs::path onnx = shared_file_or_skip("models/squeezenet1.1/squeezenet1.1.onnx");
  const fs::path model = work_dir() / "squeezenet_tall.kiln";
  ASSERT_EQ(run_kiln({"convert", onnx.string(), model.string()}).exit_code, 0);
  const fs::path png = write_file("tall.png", std::string(reinterpret_cast<const char*>(kTallPng), sizeof kTallPng));
  const ProcessResult r = run_kiln({"classify", model.string(), png.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("tall.png"));
  EXPECT_LT(r.max_rss_kib, kMaxRssKib);
}

TEST(BadInput, AnImageAboveThePixelLimitIsRefusedByItsHeader) {
  const fs::path onnx = shared_file_or_skip("models/resnet_cifar/resnet8_tiny.onnx");
  const fs::path model = work_dir() / "resnet8_huge_png.kiln";
  ASSERT_EQ(run_kiln({"convert", onnx.string(), model.string()}).exit_code, 0);
  // Signature and IHDR of a 20000 x 20000 RGB PNG; no pixel data at all.
  const std::string header("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x4e\x20\0\0\x4e\x20\x08\x02\0\0\0\0\0\0\0", 33);
  const fs::path png = write_file("huge.png", header);
  expect_error({"classify", model.string(), png.string()}, {png.string(), "20000x20000", "100000000"});
}

}  // namespace
}  // namespace kiln::test
