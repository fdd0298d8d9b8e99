// `kiln compare` and `kiln run --dump-all` as a user runs them: bad values,
// unusable backends, the dump's files against a plain run, and the measures
// of deviation (compare_models_test.cpp checks the classes against kiln run).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/common/compare.hpp"
#include "apps/common/npy.hpp"
#include "tests/cli/process.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

fs::path work_dir() { return fs::temp_directory_path() / ("kiln_compare_test_" + std::to_string(::getpid())); }


class Compare : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(work_dir(), ignored);
  }
};

TEST_F(Compare, AnUnusableBackendIsListedWithItsReasonNotFatal) {
  const fs::path onnx = shared_file_or_skip("models/mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
  const ProcessResult r = run_kiln({"compare", onnx.string(), "--backends", "reference,cpu,nosuch", "--threads", "1", "-q"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("not compared: nosuch: not built into this Kiln"));
}

TEST_F(Compare, BadValuesAreRefusedByName) {
  const fs::path onnx = shared_file_or_skip("models/mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
  for (const auto& [flag, value, says] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--isa", "avx9000", "--isa 'avx9000' is not a level this CPU runs"},
           {"--threads", "zero", "--threads 'zero' is not a positive count"},
           {"--algorithms", "fastest", "--algorithms 'fastest' is not heuristic, tune, fixed:NAME or all"},
           {"--deterministic", "mostly", "--deterministic 'mostly' is not off, threads or portable"}}) {
    const ProcessResult r = run_kiln({"compare", onnx.string(), "--backends", "cpu", flag, value, "-q"});
    EXPECT_EQ(r.exit_code, 1) << flag;
    EXPECT_THAT(r.err, HasSubstr(says));
  }
}

TEST_F(Compare, DumpAllWritesEveryNodeOutputAndTheOutputsMatchARun) {
  const fs::path onnx = shared_file_or_skip("models/mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
  const fs::path model = convert_once(onnx, work_dir(), "mobilenet_v1_0.25");
  const fs::path dir = work_dir() / "dump";
  fs::create_directories(dir);
  const fs::path input = dir / "input.npy";
  npy::write(input.string(), random_tensor({1, 3, 128, 128}, 3));
  const ProcessResult r = run_kiln({"run", model.string(), "--input", input.string(), "--backend", "reference",
                                    "--dump-all", (dir / "all").string(), "--output-dir", (dir / "out").string(), "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json index = nlohmann::json::parse(read_file(dir / "all/index.json"));
  size_t node_outputs = 0;
  for (const NodeInfo& n : Model::load(model.string()).nodes()) node_outputs += n.outputs.size();
  EXPECT_EQ(index.size(), node_outputs);
  size_t outputs = 0;
  for (const auto& e : index) {
    EXPECT_TRUE(fs::exists(dir / "all" / e["file"].get<std::string>())) << e.dump();
    if (!e["graph_output"]) continue;
    ++outputs;
    // The plain run's output file is the same array, byte for byte.
    const Tensor kept = npy::read((dir / "all" / e["file"].get<std::string>()).string());
    bool matched = false;
    for (const auto& f : fs::directory_iterator(dir / "out")) {
      const Tensor plain = npy::read(f.path().string());
      matched |= plain.shape() == kept.shape() && std::memcmp(plain.raw(), kept.raw(), kept.size_bytes()) == 0;
    }
    EXPECT_TRUE(matched) << e.dump();
  }
  EXPECT_EQ(outputs, 1u);
  const ProcessResult none = run_kiln({"run", model.string(), "--input", input.string(), "-q"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("--output-dir DIR and/or --dump-all DIR"));
}

// The measures of deviation on small hand-made tensors.
TEST(CompareDeviation, UlpsRelativeDeviationAndTopChanges) {
  Tensor a({1, 12}), b({1, 12});
  for (int i = 0; i < 12; ++i) a.data()[i] = b.data()[i] = static_cast<float>(i);
  a.data()[3] = std::nextafter(3.0f, 10.0f);
  a.data()[3] = std::nextafter(a.data()[3], 10.0f);  // two ULPs up
  std::vector<TensorDesc> descs = {{"y", {1, 12}}};
  compare::Deviation d = compare::deviation({a}, {b}, descs, true);
  EXPECT_EQ(d.max_ulp, 2u);
  EXPECT_DOUBLE_EQ(d.max_abs, static_cast<double>(a.data()[3]) - 3.0);
  EXPECT_DOUBLE_EQ(d.max_rel, d.max_abs / 11.0);
  EXPECT_EQ(d.top1_changes, 0);
  EXPECT_EQ(d.top5_changes, 0);
  a.data()[0] = 20.0f;  // a new top-1, and class 0 enters the top 5
  d = compare::deviation({a}, {b}, descs, true);
  EXPECT_EQ(d.rows, 1);
  EXPECT_EQ(d.top1_changes, 1);
  EXPECT_EQ(d.top5_changes, 1);
  a.data()[0] = std::nanf("");
  d = compare::deviation({a}, {b}, descs, true);
  EXPECT_EQ(d.nonfinite, 1);
}

}  // namespace
}  // namespace kiln::test
