// Real models with forced Vulkan convolution algorithms against the reference
// backend (the heuristic choice on every real model is checked by the generic
// harness, tests/backends/models_test.cpp): MobileNetV2 with every applicable
// depthwise+pointwise pair fused, and ResNet-20 with the direct algorithm.
#include <fmt/format.h>

#include "tests/common/model_util.hpp"
#include "tests/common/test_util.hpp"
#include "tests/vulkan/vulkan_test_util.hpp"

namespace kiln::test {
namespace {

constexpr double kTol = 1e-4;

void check_model(const std::string& id, const std::string& algorithm) {
  KILN_SKIP_WITHOUT_VULKAN();
  const ModelCase c = model_case(id);
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load_model_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;
  Session ref(*model, reference_options());
  const std::vector<Tensor> expected = ref.run({input});
  Session session(*model, vulkan_options(algorithm));
  const std::vector<Tensor> got = session.run({input});
  const double rel = max_relative_error_of(got, expected);
  fmt::print("[ figures  ] vulkan ({}) vs reference, {}: max relative error {:.3g}; convs: {}\n", algorithm, c.id, rel,
             conv_algorithm_counts(session));
  ::testing::Test::RecordProperty("max_relative_error", fmt::format("{:.3g}", rel));
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(tensors_close(got[i], expected[i], kTol)) << c.id << " output " << i;
  const std::string name = algorithm.substr(6);
  int used = 0;
  for (const NodeProfile& p : session.profile()) used += p.op == "Conv" && p.detail.rfind(name, 0) == 0;
  EXPECT_GT(used, 0) << name << " was used for no layer of " << c.id;
}

TEST(VulkanModelsFixed, MobileNetV2FusedDepthwisePointwise) { check_model("mobilenet_v2_1_0_224", "fixed:dw_pw_fused"); }
TEST(VulkanModelsFixed, ResNet20Direct) { check_model("resnet20_cifar", "fixed:direct"); }

}  // namespace
}  // namespace kiln::test
