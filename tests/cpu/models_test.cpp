// Real models on backend "cpu" against the reference backend beyond the
// generic tests/backends/models_test.cpp (which runs every model at the best
// ISA level): lower ISA levels, tune with its cache, and fixed convolution
// algorithms end to end, within 1e-4 of the reference's outputs (relative to
// their largest magnitude).
#include <fmt/format.h>

#include <map>

#include "tests/common/test_util.hpp"
#include "tests/cpu/cpu_test_util.hpp"
#include "tests/common/model_util.hpp"

namespace kiln::test {
namespace {

constexpr double kTol = 1e-4;

// Lower ISA levels (--isa avx2, --isa generic) end to end.
TEST(CpuModelsIsa, EveryIsaLevelOnMobileNetV2AndResNet20) {
  for (const ModelCase& c : shared_model_cases()) {
    if (c.id != "mobilenet_v2_1_0_224" && c.id != "resnet20_cifar") continue;
    const Model* model = nullptr;
    Tensor input;
    std::string skip;
    if (!load_model_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;
    const std::vector<Tensor> expected = run_model(*model, reference_options(), {input});
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
  if (!load_model_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;
  const std::vector<Tensor> expected = run_model(*model, reference_options(), {input});
  for (const char* name : {"im2col", "direct", "im2win"}) {
    Session session(*model, cpu_options(2, "", std::string("fixed:") + name));
    const std::vector<Tensor> got = session.run({input});
    const double rel = max_relative_error_of(got, expected);
    fmt::print("[ figures  ] cpu fixed:{} vs reference, {}: max relative error {:.3g}; convs: {}\n", name, c.id, rel,
               conv_algorithm_counts(session));
    EXPECT_TRUE(tensors_close(got[0], expected[0], kTol)) << c.id << " fixed:" << name;
    int used = 0;
    for (const NodeProfile& p : session.profile()) used += p.op == "Conv" && p.detail.rfind(std::string(name) + " [fixed", 0) == 0;
    EXPECT_GT(used, 0) << name << " was used for no layer of " << c.id;
  }
}

// algorithm "tune" on a real model: every layer timed, then read back from the cache.
TEST(CpuModelsTune, MobileNetV2TunedAndFromTheCache) {
  const ModelCase c = shared_model_cases()[2];
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load_model_case(c, &model, &input, &skip)) GTEST_SKIP() << skip;
  const std::vector<Tensor> expected = run_model(*model, reference_options(), {input});
  TempPath cache("kiln_cpu_models_tune", ".tsv");
  SessionOptions o = cpu_options(2, "", "tune");
  o.tuning_cache = cache.str();
  for (int round = 0; round < 2; ++round) {
    Session session(*model, o);
    const std::vector<Tensor> got = session.run({input});
    fmt::print("[ figures  ] cpu tune (round {}) vs reference, {}: max relative error {:.3g}; convs: {}\n", round + 1, c.id,
               max_relative_error_of(got, expected), conv_algorithm_counts(session));
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
  const ModelCase c = torchvision_model_cases().front();
  ASSERT_EQ(c.onnx, "resnet18");
  check_fixed_algorithms(c);
}

TEST(CpuModelsFixed, MobileNetV2) { check_fixed_algorithms(shared_model_cases()[2]); }

}  // namespace
}  // namespace kiln::test
