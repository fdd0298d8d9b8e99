// `--deterministic portable` seen through the deviation report itself: for
// every real model and torchvision export of the tests, compare over every ISA
// level this CPU has and 1 and 2 threads finds one equivalence class.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "apps/common/compare.hpp"
#include "tests/common/model_util.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

class PortableCompare : public ::testing::TestWithParam<ModelCase> {};

TEST_P(PortableCompare, EveryIsaLevelAndThreadCountIsOneClass) {
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load_model_case(GetParam(), &model, &input, &skip)) GTEST_SKIP() << skip;
  compare::Plan plan;
  plan.backends = {"cpu"};
  plan.isas = {"all"};
  plan.threads = {"1", "2"};
  plan.deterministic = {"portable"};
  plan.reference_f64 = false;  // the classes are the point here, not the distance
  const compare::Report rep = compare::run(*model, GetParam().id, {{"test input", {input}}}, plan);
  size_t ok = 0;
  for (const auto& c : rep.configurations) {
    EXPECT_EQ(c.status, "ok") << c.config.label() << ": " << c.error;
    ok += c.status == "ok" ? 1 : 0;
  }
  EXPECT_GE(ok, 2u);
  ASSERT_EQ(rep.classes.size(), 1u) << [&] {
    std::string s;
    for (const auto& c : rep.configurations) s += fmt::format("{} -> class {}\n", c.config.label(), c.cls);
    return s;
  }();
  fmt::print("[ figures  ] {}: {} portable configurations, one class {}\n", GetParam().id, ok, rep.classes[0].hash);
}

std::vector<ModelCase> cases() {
  std::vector<ModelCase> v = shared_model_cases();
  for (const ModelCase& c : torchvision_model_cases()) v.push_back(c);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Models, PortableCompare, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.id; });

}  // namespace
}  // namespace kiln::test
