// Every real model (../shared/models and the torchvision exports of the build
// tree) on every backend under test against the reference backend: max|a-b| /
// max|ref| <= 1e-4 on each output, with the figure printed for the notes.
#include <fmt/format.h>

#include "tests/backends/backend_test_util.hpp"
#include "tests/common/model_util.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

constexpr double kTol = 1e-4;

class BackendModels : public ::testing::TestWithParam<std::tuple<std::string, ModelCase>> {};

TEST_P(BackendModels, MatchesTheReferenceBackend) {
  const auto& [backend, c] = GetParam();
  if (const std::string why = why_backend_cannot_run(backend); !why.empty()) GTEST_SKIP() << why;
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load_model_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;

  Session reference(*model, SessionOptions{});
  const std::vector<Tensor> expected = reference.run({input});
  Session session(*model, options_for(backend));
  const std::vector<Tensor> got = session.run({input});
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_TRUE(tensors_close(got[i], expected[i], kTol)) << backend << " " << c.id << " output " << i;
  const double worst = max_relative_error_of(got, expected);
  fmt::print("[ figures  ] {} vs reference, {}: max relative error {:.3g}; convs: {}\n", backend, c.id, worst,
             conv_algorithm_counts(session));
  RecordProperty("max_relative_error", fmt::format("{:.3g}", worst));
}

std::vector<std::tuple<std::string, ModelCase>> params() {
  std::vector<std::tuple<std::string, ModelCase>> v;
  for (const std::string& backend : backends_under_test())
    for (const auto& list : {shared_model_cases(), torchvision_model_cases()})
      for (const ModelCase& c : list) v.emplace_back(backend, c);
  return v;
}

INSTANTIATE_TEST_SUITE_P(EveryBackend, BackendModels, ::testing::ValuesIn(params()), [](const auto& info) {
  return std::get<0>(info.param) + "_" + std::get<1>(info.param).id;
});
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendModels);

}  // namespace
}  // namespace kiln::test
