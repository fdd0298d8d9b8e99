// Every real model (../shared/models and the torchvision exports of the build
// tree) on each backend under test, in its best configuration only (a model
// takes seconds where an op case takes milliseconds), against the reference
// backend: max|a-b| / max|ref| <= 1e-4 on each output, with the figure printed
// for the notes.
#include <fmt/format.h>

#include "tests/backends/backend_test_util.hpp"
#include "tests/common/model_util.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

class BackendModels : public ::testing::TestWithParam<std::tuple<BackendConfig, ModelCase>> {};

TEST_P(BackendModels, MatchesTheReferenceBackend) {
  const auto& [config, c] = GetParam();
  if (const std::string why = why_config_cannot_run(config); !why.empty()) GTEST_SKIP() << why;
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load_model_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;

  Session reference(*model, reference_options());
  const std::vector<Tensor> expected = reference.run({input});
  Session session(*model, config.options);
  const std::vector<Tensor> got = session.run({input});
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_TRUE(tensors_close(got[i], expected[i], config.tolerance)) << config.name << " " << c.id << " output " << i;
  const double worst = max_relative_error_of(got, expected);
  fmt::print("[ figures  ] {} vs reference, {}: max relative error {:.3g}; convs: {}\n", config.name, c.id, worst,
             conv_algorithm_counts(session));
  RecordProperty("max_relative_error", fmt::format("{:.3g}", worst));
}

std::vector<std::tuple<BackendConfig, ModelCase>> params() {
  std::vector<std::tuple<BackendConfig, ModelCase>> v;
  for (const BackendConfig& config : best_configurations_under_test())
    for (const auto& list : {shared_model_cases(), torchvision_model_cases()})
      for (const ModelCase& c : list) v.emplace_back(config, c);
  return v;
}

INSTANTIATE_TEST_SUITE_P(EveryBackend, BackendModels, ::testing::ValuesIn(params()), [](const auto& info) {
  return std::get<0>(info.param).name + "_" + std::get<1>(info.param).id;
});
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendModels);

}  // namespace
}  // namespace kiln::test
