// The reference backend's float64 accumulation on real models: the same
// network as the float32 reference up to float32 rounding (max|a-b| / max|ref|
// <= 1e-4), yet not bit for bit — otherwise the option would not be reaching
// the kernels that sum. The figure is printed for the notes: it is how far the
// float32 oracle itself is from the double-precision one.
#include <fmt/format.h>

#include "tests/common/model_util.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

class ReferenceFloat64 : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ReferenceFloat64, IsCloseToTheFloat32ReferenceButNotEqual) {
  const ModelCase& c = GetParam();
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load_model_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;

  SessionOptions f64 = reference_options();
  f64.reference.accumulation = ReferencePrecision::Float64;
  const std::vector<Tensor> expected = Session(*model, reference_options()).run({input});
  const std::vector<Tensor> got = Session(*model, f64).run({input});
  ASSERT_EQ(got.size(), expected.size());
  bool all_equal = true;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(tensors_close(got[i], expected[i], 1e-4)) << c.id << " output " << i;
    for (int64_t j = 0; j < got[i].size(); ++j) all_equal = all_equal && got[i].data()[j] == expected[i].data()[j];
  }
  EXPECT_FALSE(all_equal) << c.id << ": float64 accumulation changed no output bit";
  const double worst = max_relative_error_of(expected, got);
  fmt::print("[ figures  ] reference float32 vs float64 accumulation, {}: max relative error {:.3g}\n", c.id, worst);
  RecordProperty("max_relative_error", fmt::format("{:.3g}", worst));
}

std::vector<ModelCase> cases() {
  std::vector<ModelCase> v = shared_model_cases();
  for (const ModelCase& c : torchvision_model_cases()) v.push_back(c);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Models, ReferenceFloat64, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.id; });

}  // namespace
}  // namespace kiln::test
