// `kiln quantize` on the real-weight ImageNet models (issue 12's target):
// calibrated on the 14 photos, per channel, the int8 model's top-1 must equal
// the float model's on at least 13 of them. The agreement is counted here from
// two `kiln classify` runs, and must also be what the report says. Label
// `quantize`: a minute of calibration and SQNR runs, the normal suite only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/cli/process.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

fs::path work_dir() {
  const fs::path d = fs::temp_directory_path() / ("kiln_quantize_models_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// `kiln classify --top 1` prints each image's path, then "  1. p  label (class)".
std::vector<std::string> top1_lines(const ProcessResult& r) {
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("  1. ", 0) == 0) lines.push_back(line.substr(line.find("  ", 5)));  // the label, not the score
  return lines;
}

class QuantizeModels : public ::testing::TestWithParam<const char*> {};

TEST_P(QuantizeModels, Int8TopOneMatchesFloatOnAtLeast13Of14Photos) {
  const fs::path onnx = shared_file_or_skip(std::string("models/") + GetParam());
  const fs::path images = shared_file_or_skip("images");
  const fs::path out = work_dir() / (onnx.stem().string() + "_int8.kiln");
  const fs::path report = work_dir() / (onnx.stem().string() + ".json");
  const ProcessResult q = run_kiln({"quantize", onnx.string(), out.string(), "--calibration", images.string(),
                                    "--per-channel", "--eval", images.string(), "--report", report.string()});
  ASSERT_EQ(q.exit_code, 0) << q.err;

  std::vector<std::string> photos;
  for (const auto& e : fs::directory_iterator(images)) photos.push_back(e.path().string());
  std::sort(photos.begin(), photos.end());
  ASSERT_EQ(photos.size(), 14u);
  std::vector<std::string> float_args = {"classify", onnx.string(), "--top", "1"}, int8_args = float_args;
  int8_args[1] = out.string();
  float_args.insert(float_args.end(), photos.begin(), photos.end());
  int8_args.insert(int8_args.end(), photos.begin(), photos.end());
  const std::vector<std::string> want = top1_lines(run_kiln(float_args));
  const std::vector<std::string> got = top1_lines(run_kiln(int8_args));
  ASSERT_EQ(want.size(), 14u);
  ASSERT_EQ(got.size(), 14u);
  int agree = 0;
  std::string differing;
  for (size_t i = 0; i < 14; ++i) {
    agree += want[i] == got[i] ? 1 : 0;
    if (want[i] != got[i]) differing += photos[i] + ": float" + want[i] + ", int8" + got[i] + "\n";
  }
  std::ifstream f(report);
  const nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["top1"]["agree"], agree);
  EXPECT_EQ(j["top1"]["total"], 14);
  EXPECT_GE(agree, 13) << differing << q.out;
  RecordProperty("top1_agree", agree);
}

INSTANTIATE_TEST_SUITE_P(Shared, QuantizeModels,
                         ::testing::Values("squeezenet1.1/squeezenet1.1.onnx", "squeezenet1.0/squeezenet1.0_fp32.onnx",
                                           "mobilenet_v1_0.75_192/mobilenet_v1_0.75_192_dequant.onnx",
                                           "mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_dequant.onnx"));

}  // namespace
}  // namespace kiln::test
