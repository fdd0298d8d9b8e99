// Real models end to end on backend "vulkan" against the reference backend:
// every ONNX model of ../shared/models that tests/cpu/models_test.cpp uses and
// every torchvision export of the build tree, within 1e-4 of the reference's
// outputs (relative to their largest magnitude); then forced algorithms on
// MobileNetV2 (the fused depthwise+pointwise pair) and ResNet-20 (direct).
#include <fmt/format.h>

#include <map>

#include "tests/common/test_util.hpp"
#include "tests/cpu/model_util.hpp"
#include "tests/vulkan/vulkan_test_util.hpp"

namespace kiln::test {
namespace {

constexpr double kTol = 1e-4;

struct ModelCase {
  std::string id;
  std::string onnx;   // under ../shared/models, or a torchvision name
  std::string input;  // under ../shared/models (a .pb), or "" for the export's .input.npy
  bool torchvision = false;
};

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.id; }

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

std::vector<ModelCase> torchvision_cases() {
  std::vector<ModelCase> v;
  for (const char* name : {"resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
                           "shufflenet_v2_x1_0", "densenet121"})
    v.push_back({std::string("torchvision_") + name, name, "", true});
  return v;
}

bool load_case(const ModelCase& c, const Model** model, Tensor* input, std::string* skip) {
  if (!have_converter()) {
    *skip = "this build has no ONNX converter (KILN_BUILD_CONVERTER=OFF)";
    return false;
  }
  std::filesystem::path onnx, input_file;
  if (c.torchvision) {
    const auto p = torchvision_model(c.onnx);
    if (!p) return *skip = missing_torchvision(c.onnx), false;
    onnx = *p;
    input_file = torchvision_dir() / (c.onnx + ".input.npy");
  } else {
    const auto p = shared_model(c.onnx);
    if (!p) return *skip = missing_shared(c.onnx), false;
    onnx = *p;
    input_file = shared_dir() / "models" / c.input;
  }
  *model = &import_model(onnx);
  *input = model_input(**model, input_file);
  return true;
}

// "implicit_gemm 12, gemm1x1 8, ..." from the Conv rows of a session's profile.
std::string algorithm_counts(const Session& s) {
  std::map<std::string, int> counts;
  for (const NodeProfile& p : s.profile()) {
    if (p.op != "Conv" || p.detail.rfind("fused into", 0) == 0) continue;
    ++counts[p.detail.substr(0, p.detail.find(' '))];
  }
  std::string out;
  for (const auto& [name, n] : counts) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", name, n);
  return out;
}

void check_model(const ModelCase& c, const std::string& algorithm) {
  KILN_SKIP_WITHOUT_VULKAN();
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;
  Session ref(*model, SessionOptions{});
  const std::vector<Tensor> expected = ref.run({input});
  Session session(*model, vulkan_options(algorithm));
  const std::vector<Tensor> got = session.run({input});
  const double rel = max_relative_error_over(got, expected);
  fmt::print("[ figures  ] vulkan ({}) vs reference, {}: max relative error {:.3g}; device time {:.2f} ms; convs: {}\n",
             algorithm, c.id, rel, session.device_time_ms().value_or(-1), algorithm_counts(session));
  RecordProperty("max_relative_error", fmt::format("{:.3g}", rel));
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(tensors_close(got[i], expected[i], kTol)) << c.id << " output " << i;
  if (algorithm.rfind("fixed:", 0) == 0) {
    const std::string name = algorithm.substr(6);
    int used = 0;
    for (const NodeProfile& p : session.profile()) used += p.op == "Conv" && p.detail.rfind(name, 0) == 0;
    EXPECT_GT(used, 0) << name << " was used for no layer of " << c.id;
  }
}

class VulkanModels : public ::testing::TestWithParam<ModelCase> {};

TEST_P(VulkanModels, MatchesTheReferenceBackend) { check_model(GetParam(), "heuristic"); }

INSTANTIATE_TEST_SUITE_P(Shared, VulkanModels, ::testing::ValuesIn(shared_cases()),
                         [](const auto& info) { return info.param.id; });
INSTANTIATE_TEST_SUITE_P(Torchvision, VulkanModels, ::testing::ValuesIn(torchvision_cases()),
                         [](const auto& info) { return info.param.id; });

TEST(VulkanModelsFixed, MobileNetV2FusedDepthwisePointwise) { check_model(shared_cases()[2], "fixed:dw_pw_fused"); }
TEST(VulkanModelsFixed, ResNet20Direct) { check_model(shared_cases()[5], "fixed:direct"); }

}  // namespace
}  // namespace kiln::test
