// `kiln quantize` as a child process on a small model: calibration from .npy
// files and random inputs (with its warning), the written model quantized and
// loadable, the JSON report, --keep-float, and bad input named in the error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/common/npy.hpp"
#include "engine/format/kiln_file.hpp"
#include "tests/cli/process.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

fs::path work_dir() {
  const fs::path d = fs::temp_directory_path() / ("kiln_quantize_cli_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// x [1,3,8,8] -> Conv (Relu) -> Conv -> y, saved as .kiln.
fs::path small_model() {
  const fs::path p = work_dir() / "small.kiln";
  if (fs::exists(p)) return p;
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 3, 8, 8});
  const TensorId c1 = b.node(OpType::Conv, {x, b.random_constant("w1", {4, 3, 3, 3}, 1), b.random_constant("b1", {4}, 2)},
                             conv_attrs({3, 3}, {}, {1, 1, 1, 1}, {}, 1, act(fb::ActivationKind::Relu)), "conv1");
  b.output(b.node(OpType::Conv, {c1, b.random_constant("w2", {2, 4, 1, 1}, 3)}, conv_attrs({1, 1}), "conv2"));
  save_graph(b.build(), p.string());
  return p;
}

std::vector<std::string> npy_inputs(int count, const std::vector<int64_t>& shape) {
  std::vector<std::string> files;
  for (int i = 0; i < count; ++i) {
    const fs::path p = work_dir() / numbered("in", i).append(".npy");
    npy::write(p.string(), random_tensor(shape, static_cast<uint32_t>(100 + i)));
    files.push_back(p.string());
  }
  return files;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}

void expect_error(const std::vector<std::string>& args, const std::string& part) {
  const ProcessResult r = run_kiln(args);
  EXPECT_FALSE(r.signaled);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(part));
}

TEST(QuantizeCli, NpyCalibrationWritesAnInt8ModelAndAReport) {
  const fs::path out = work_dir() / "small_int8.kiln";
  const fs::path report = work_dir() / "report.json";
  std::vector<std::string> args = {"quantize", small_model().string(), out.string(), "--report", report.string(),
                                   "--calibration"};
  for (const auto& f : npy_inputs(3, {1, 3, 8, 8})) args.push_back(f);
  const ProcessResult r = run_kiln(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("2 of 2 nodes int8"));
  EXPECT_THAT(r.out, HasSubstr("per-layer SQNR"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("warning")));

  const Model m = Model::load(out.string());
  int int8_convs = 0;
  for (const NodeInfo& n : m.nodes())
    if (n.op == "Conv" && n.dtype.find("u8") == 0 && n.dtype.find("w i8 per-axis(0)") != std::string::npos)
      ++int8_convs;
  EXPECT_EQ(int8_convs, 2);

  const nlohmann::json j = read_json(report);
  EXPECT_EQ(j["method"], "minmax");
  EXPECT_EQ(j["weights"], "per-channel");
  EXPECT_EQ(j["calibration_sets"], 3);
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["layers"][0]["node"], "conv1");
  EXPECT_GT(j["layers"][0]["sqnr_db"].get<double>(), 15.0);
  EXPECT_TRUE(j["top1"].is_null());
}

TEST(QuantizeCli, RandomCalibrationWarnsAndKeepFloatAndPerTensorApply) {
  const fs::path out = work_dir() / "small_random.kiln";
  const fs::path report = work_dir() / "random.json";
  const ProcessResult r = run_kiln({"quantize", small_model().string(), out.string(), "--calibration", "random",
                                    "--keep-float", "conv2", "--per-tensor", "--method", "percentile", "--report",
                                    report.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("warning: calibrating on random inputs"));
  EXPECT_THAT(r.out, HasSubstr("1 of 2 nodes int8"));
  EXPECT_THAT(r.out, HasSubstr("kept float by request (--keep-float): conv2"));
  const nlohmann::json j = read_json(report);
  EXPECT_EQ(j["weights"], "per-tensor");
  EXPECT_EQ(j["method"], "percentile");
  ASSERT_EQ(j["kept_float"].size(), 1u);
  EXPECT_EQ(j["kept_float"][0]["node"], "conv2");
  for (const NodeInfo& n : Model::load(out.string()).nodes())
    if (n.name == "conv2") {
      EXPECT_EQ(n.dtype, "f32");
    }
}

// --qdq-onnx writes the same quantization as ONNX: kiln run on it gives the
// bits of the .kiln. Calibration says where it is on stderr, one line per
// input, also when stderr is not a terminal (as here); -q silences it.
TEST(QuantizeCli, QdqOnnxRunsLikeTheKilnFileAndCalibrationReportsProgress) {
  const fs::path out = work_dir() / "small_qdq.kiln";
  const fs::path onnx = work_dir() / "small_qdq.onnx";
  const std::vector<std::string> inputs = npy_inputs(3, {1, 3, 8, 8});
  std::vector<std::string> args = {"quantize", small_model().string(), out.string(), "--qdq-onnx", onnx.string(),
                                   "--method", "entropy", "--calibration"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  const ProcessResult r = run_kiln(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("kiln: calibrating 1/3 (" + inputs[0] + ")"));
  EXPECT_THAT(r.err, HasSubstr("kiln: calibrating 3/3"));
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
  EXPECT_THAT(r.out, HasSubstr("method entropy"));
  EXPECT_THAT(r.out, HasSubstr("wrote " + onnx.string()));
  for (const fs::path& model : {out, onnx}) {
    const ProcessResult run = run_kiln({"run", "-q", model.string(), "--input", inputs[1], "--output-dir",
                                        (work_dir() / ("out_" + model.extension().string().substr(1))).string()});
    ASSERT_EQ(run.exit_code, 0) << run.err;
  }
  // The one output, whatever the builder named it.
  auto only_output = [](const fs::path& dir) { return npy::read(fs::directory_iterator(dir)->path().string()); };
  const Tensor a = only_output(work_dir() / "out_kiln");
  const Tensor b = only_output(work_dir() / "out_onnx");
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_TRUE(std::equal(a.data(), a.data() + a.size(), b.data(), [](float x, float y) {
    return std::memcmp(&x, &y, sizeof x) == 0;
  }));

  args.insert(args.begin() + 1, "-q");
  const ProcessResult quiet = run_kiln(args);
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
}

TEST(QuantizeCli, BadInputIsNamed) {
  const std::string model = small_model().string();
  const std::string out = (work_dir() / "bad.kiln").string();
  expect_error({"quantize", model, out, "--calibration", "/no/such/folder"}, "/no/such/folder");
  const fs::path empty = work_dir() / "empty_dir";
  fs::create_directories(empty);
  expect_error({"quantize", model, out, "--calibration", empty.string()}, "holds no .jpg");
  const std::vector<std::string> wrong = npy_inputs(1, {1, 3, 4, 4});
  expect_error({"quantize", model, out, "--calibration", wrong[0]}, "takes float32 [1,3,8,8]");
  expect_error({"quantize", model, out, "--calibration", "random", "--keep-float", "conv9"}, "'conv9'");
  // Images need a preprocessing preset, which this made-up model lacks.
  const fs::path img = shared_file_or_skip("images/owl.jpg");
  expect_error({"quantize", model, out, "--calibration", img.string()}, "--preprocess");
  // A model that does not take an image.
  const fs::path flat = work_dir() / "flat.kiln";
  {
    GraphBuilder b;
    const TensorId x = b.input("x", {1, 4});
    b.output(b.node(OpType::Gemm, {x, b.random_constant("w", {4, 2}, 1)}, gemm_attrs(), "gemm"));
    save_graph(b.build(), flat.string());
  }
  expect_error({"quantize", flat.string(), out, "--calibration", img.string()}, "--calibration with images needs");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace kiln::test
