// Real models on backend "cpu" against the reference backend: every ONNX
// model of ../shared/models that tests/e2e/real_models_test.cpp uses, and
// every torchvision export of the build tree, within 1e-4 of the reference's
// outputs (relative to their largest magnitude); then lower ISA levels and
// fixed convolution algorithms end to end.
#include <fmt/format.h>

#include <map>

#include "tests/common/test_util.hpp"
#include "tests/cpu/cpu_test_util.hpp"
#include "tests/cpu/model_util.hpp"

namespace kiln::test {
namespace {

constexpr double kTol = 1e-4;

struct ModelCase {
  std::string id;      // test name
  std::string onnx;    // under ../shared/models, or a torchvision name
  std::string input;   // under ../shared/models (a .pb), or "" for the export's .input.npy
  bool torchvision = false;
};

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.id; }

// The same models as tests/e2e/real_models_test.cpp, each with its first reference input.
std::vector<ModelCase> shared_cases() {
  std::vector<ModelCase> v = {
      {"squeezenet1_1", "squeezenet1.1/squeezenet1.1.onnx", "squeezenet1.1/test_data_set_0/input_0.pb"},
      {"squeezenet1_0", "squeezenet1.0/squeezenet1.0_fp32.onnx", "squeezenet1.0/opencv_ref_0/input_0.pb"},
      {"mobilenet_v2_1_0_224", "mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_dequant.onnx",
       "mobilenet_v2_1.0_224/opencv_ref_0/input_0.pb"},
      {"mobilenet_v1_0_75_192", "mobilenet_v1_0.75_192/mobilenet_v1_0.75_192_dequant.onnx",
       "mobilenet_v1_0.75_192/opencv_ref_0/input_0.pb"},
      {"mobilenet_v1_0_25_128", "mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx",
       "mobilenet_v1_0.25_128/opencv_ref_0/input_0.pb"},
  };
  for (const char* depth : {"20", "32", "44", "56"})
    v.push_back({fmt::format("resnet{}_cifar", depth), fmt::format("resnet_cifar/resnet{}.onnx", depth),
                 fmt::format("resnet_cifar/resnet{}/torch_ref_0/input_0.pb", depth)});
  v.push_back({"resnet20_bn_cifar", "resnet_cifar/resnet20_bn.onnx", "resnet_cifar/resnet20/torch_ref_1/input_0.pb"});
  v.push_back({"resnet20_torch_export_raw_cifar", "resnet_cifar/resnet20_torch_export_raw.onnx",
               "resnet_cifar/resnet20/torch_ref_0/input_0.pb"});
  v.push_back({"resnet8_tiny_cifar", "resnet_cifar/resnet8_tiny.onnx", "resnet_cifar/resnet8_tiny/torch_ref_0/input_0.pb"});
  v.push_back({"resnet8_tiny_bn_cifar", "resnet_cifar/resnet8_tiny_bn.onnx",
               "resnet_cifar/resnet8_tiny/torch_ref_1/input_0.pb"});
  return v;
}

// The same list as tests/e2e/torchvision_test.cpp (scripts/export_torchvision.py).
std::vector<ModelCase> torchvision_cases() {
  std::vector<ModelCase> v;
  for (const char* name : {"resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
                           "shufflenet_v2_x1_0", "densenet121"})
    v.push_back({std::string("torchvision_") + name, name, "", true});
  return v;
}

// Loads the case's model and input, or returns false with the reason to skip.
bool load_case(const ModelCase& c, const Model** model, Tensor* input, std::string* skip) {
  if (!have_converter()) {
    *skip = "this build has no ONNX converter (KILN_BUILD_CONVERTER=OFF)";
    return false;
  }
  std::filesystem::path onnx, input_file;
  if (c.torchvision) {
    const auto p = torchvision_model(c.onnx);
    if (!p) {
      *skip = missing_torchvision(c.onnx);
      return false;
    }
    onnx = *p;
    input_file = torchvision_dir() / (c.onnx + ".input.npy");
  } else {
    const auto p = shared_model(c.onnx);
    if (!p) {
      *skip = missing_shared(c.onnx);
      return false;
    }
    onnx = *p;
    input_file = shared_dir() / "models" / c.input;
  }
  *model = &import_model(onnx);
  *input = model_input(**model, input_file);
  return true;
}

// "im2col 12, gemm1x1 8, ..." from the Conv rows of a session's profile
// ("chain": a fused expand/depthwise/project chain, counted once).
std::string algorithm_counts(const Session& s) {
  std::map<std::string, int> counts;
  for (const NodeProfile& p : s.profile()) {
    if (p.op != "Conv" || p.detail.rfind("fused into", 0) == 0) continue;
    ++counts[p.detail.rfind("fused ", 0) == 0 ? "chain" : p.detail.substr(0, p.detail.find(' '))];
  }
  std::string out;
  for (const auto& [name, n] : counts) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", name, n);
  return out;
}

class CpuModels : public ::testing::TestWithParam<ModelCase> {};

TEST_P(CpuModels, MatchesTheReferenceBackend) {
  const ModelCase& c = GetParam();
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;
  const std::vector<Tensor> expected = run_model(*model, SessionOptions{}, {input});
  Session session(*model, cpu_options(2));
  const std::vector<Tensor> got = session.run({input});
  const double rel = max_relative_error_of(got, expected);
  fmt::print("[ figures  ] cpu ({}, 2 threads) vs reference, {}: max relative error {:.3g}; convs: {}\n",
             best_cpu_isa(), c.id, rel, algorithm_counts(session));
  RecordProperty("max_relative_error", fmt::format("{:.3g}", rel));
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(tensors_close(got[i], expected[i], kTol)) << c.id << " output " << i;
}

INSTANTIATE_TEST_SUITE_P(Shared, CpuModels, ::testing::ValuesIn(shared_cases()),
                         [](const auto& info) { return info.param.id; });
INSTANTIATE_TEST_SUITE_P(Torchvision, CpuModels, ::testing::ValuesIn(torchvision_cases()),
                         [](const auto& info) { return info.param.id; });

// Lower ISA levels (--isa avx2, --isa generic) end to end.
TEST(CpuModelsIsa, EveryIsaLevelOnMobileNetV2AndResNet20) {
  for (const ModelCase& c : shared_cases()) {
    if (c.id != "mobilenet_v2_1_0_224" && c.id != "resnet20_cifar") continue;
    const Model* model = nullptr;
    Tensor input;
    std::string skip;
    if (!load_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;
    const std::vector<Tensor> expected = run_model(*model, SessionOptions{}, {input});
    for (const std::string& isa : cpu_isa_names()) {
      const std::vector<Tensor> got = run_model(*model, cpu_options(1, isa), {input});
      const double rel = max_relative_error_of(got, expected);
      fmt::print("[ figures  ] cpu --isa {} vs reference, {}: max relative error {:.3g}\n", isa, c.id, rel);
      EXPECT_TRUE(tensors_close(got[0], expected[0], kTol)) << c.id << " --isa " << isa;
    }
  }
}

// fixed:im2col, fixed:direct and fixed:im2win end to end (the heuristic where
// the algorithm does not apply).
void check_fixed_algorithms(const ModelCase& c) {
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;
  const std::vector<Tensor> expected = run_model(*model, SessionOptions{}, {input});
  for (const char* name : {"im2col", "direct", "im2win"}) {
    Session session(*model, cpu_options(2, "", std::string("fixed:") + name));
    const std::vector<Tensor> got = session.run({input});
    const double rel = max_relative_error_of(got, expected);
    fmt::print("[ figures  ] cpu fixed:{} vs reference, {}: max relative error {:.3g}; convs: {}\n", name, c.id, rel,
               algorithm_counts(session));
    EXPECT_TRUE(tensors_close(got[0], expected[0], kTol)) << c.id << " fixed:" << name;
    int used = 0;
    for (const NodeProfile& p : session.profile()) used += p.op == "Conv" && p.detail.rfind(std::string(name) + " [fixed", 0) == 0;
    EXPECT_GT(used, 0) << name << " was used for no layer of " << c.id;
  }
}

// algorithm "tune" on a real model: every layer timed, then read back from the cache.
TEST(CpuModelsTune, MobileNetV2TunedAndFromTheCache) {
  const ModelCase c = shared_cases()[2];
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;
  const std::vector<Tensor> expected = run_model(*model, SessionOptions{}, {input});
  TempPath cache("kiln_cpu_models_tune", ".tsv");
  SessionOptions o = cpu_options(2, "", "tune");
  o.tuning_cache = cache.str();
  for (int round = 0; round < 2; ++round) {
    Session session(*model, o);
    const std::vector<Tensor> got = session.run({input});
    fmt::print("[ figures  ] cpu tune (round {}) vs reference, {}: max relative error {:.3g}; convs: {}\n", round + 1, c.id,
               max_relative_error_of(got, expected), algorithm_counts(session));
    EXPECT_TRUE(tensors_close(got[0], expected[0], kTol)) << "round " << round + 1;
    if (round == 1) {
      for (const NodeProfile& p : session.profile()) {
        if (p.op != "Conv" || p.detail.rfind("fused", 0) == 0) continue;
        EXPECT_NE(p.detail.find("[tuning cache"), std::string::npos) << p.name << ": " << p.detail;
      }
    }
  }
}

TEST(CpuModelsFixed, ResNet18) {
  const ModelCase c = torchvision_cases().front();
  ASSERT_EQ(c.onnx, "resnet18");
  check_fixed_algorithms(c);
}

TEST(CpuModelsFixed, MobileNetV2) { check_fixed_algorithms(shared_cases()[2]); }

}  // namespace
}  // namespace kiln::test
