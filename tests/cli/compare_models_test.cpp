// `kiln compare` against `kiln run`: the equivalence classes compare reports
// are exactly the groups of configurations whose `kiln run` outputs (.npy
// files, one process per configuration, with the flags the JSON gives for it)
// are bitwise identical, on MobileNetV2 (every ISA level, 1 and 2 threads,
// every algorithm) and ResNet-50. Label `compare`: minutes under sanitizers,
// so it runs in the normal suite only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/common/npy.hpp"
#include "tests/cli/process.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

fs::path work_dir() { return fs::temp_directory_path() / ("kiln_compare_models_test_" + std::to_string(::getpid())); }


// Runs compare with `flags`, then `kiln run` for every configuration it ran,
// and checks that the classes are the groups of identical output files.
nlohmann::json expect_classes_match_kiln_run(const fs::path& model, const std::vector<int64_t>& input_shape,
                                             const std::vector<std::string>& flags) {
  const fs::path dir = work_dir() / model.stem();
  fs::create_directories(dir);
  const fs::path input = dir / "input.npy";
  npy::write(input.string(), random_tensor(input_shape, 7));
  const fs::path json_path = dir / "compare.json";
  const fs::path cache = dir / "tuning.cache";
  std::vector<std::string> args = {"compare", model.string(), "--input", input.string(), "--json", json_path.string(),
                                   "--tuning-cache", cache.string()};
  args.insert(args.end(), flags.begin(), flags.end());
  const ProcessResult r = run_kiln(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("equivalence class"));
  std::cout << r.out;
  const nlohmann::json j = nlohmann::json::parse(read_file(json_path));

  // One `kiln run` per configuration that ran.
  std::map<std::string, std::vector<size_t>> by_bytes;
  std::map<size_t, int> class_of;
  size_t ran = 0;
  for (const auto& c : j["configurations"]) {
    if (c["status"] != "ok") continue;
    ++ran;
    const size_t index = c["index"];
    const fs::path out = dir / ("run_" + std::to_string(index));
    std::vector<std::string> run_args = {"run", model.string(), "--input", input.string(), "--output-dir", out.string(),
                                         "--tuning-cache", cache.string(), "-q"};
    for (const auto& f : c["run_flags"]) run_args.push_back(f.get<std::string>());
    const ProcessResult rr = run_kiln(run_args);
    EXPECT_EQ(rr.exit_code, 0) << c["label"] << ": " << rr.err;
    std::string bytes;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(out)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) bytes += read_file(f);
    EXPECT_FALSE(bytes.empty());
    by_bytes[bytes].push_back(index);
    class_of[index] = c["class"].get<int>();
  }
  EXPECT_GT(ran, 0u);

  // The same partition: each group of identical files is one whole class.
  EXPECT_EQ(by_bytes.size(), j["classes"].size());
  for (const auto& [bytes, group] : by_bytes) {
    const int cls = class_of[group[0]];
    for (size_t i : group) EXPECT_EQ(class_of[i], cls) << "configuration " << i << " ran like " << group[0];
    EXPECT_EQ(j["classes"][static_cast<size_t>(cls)]["configuration_indices"].size(), group.size()) << "class " << cls;
  }
  // Every class but the baseline names where it starts to differ.
  for (const auto& c : j["classes"]) {
    if (c["baseline"]) continue;
    EXPECT_TRUE(c["traced"].get<bool>()) << c.dump();
    EXPECT_FALSE(c["first_differing_node"].is_null()) << c.dump();
  }
  return j;
}


class CompareModels : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(work_dir(), ignored);
  }
};

TEST_F(CompareModels, MobileNetV2EveryIsaThreadsAndAlgorithmAgreesWithKilnRunPerConfiguration) {
  const fs::path onnx = shared_file_or_skip("models/mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_dequant.onnx");
  const fs::path model = convert_once(onnx, work_dir(), "mobilenet_v2");
  const nlohmann::json j = expect_classes_match_kiln_run(
      model, {1, 3, 224, 224},
      {"--backends", "reference,cpu", "--isa", "all", "--threads", "1,2", "--algorithms", "all", "-q"});
  // More than one algorithm, so more than one class: the report has something to trace.
  EXPECT_GE(j["classes"].size(), 2u);
  ASSERT_FALSE(j["propagation"].is_null());
  EXPECT_THAT(j["propagation"]["csv"].get<std::string>(), HasSubstr("node_index,node,op,tensor"));
}

TEST_F(CompareModels, ResNet50EveryIsaAndThreadsAgreesWithKilnRunPerConfiguration) {
  const fs::path onnx = binary_dir() / "models/torchvision/resnet50.onnx";
  if (!fs::exists(onnx)) GTEST_SKIP() << "missing " << onnx << ": build the export_torchvision target";
  const fs::path model = convert_once(onnx, work_dir(), "resnet50");
  expect_classes_match_kiln_run(model, {1, 3, 224, 224}, {"--backends", "cpu", "--isa", "all", "--threads", "1,2", "-q"});
}

}  // namespace
}  // namespace kiln::test
