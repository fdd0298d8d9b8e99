// Real models on backend "cuda" beyond the generic harness (tests/backends,
// which checks every model on every backend with the heuristic): every fixed
// algorithm end to end against the reference (1e-4 of the largest reference
// magnitude), bitwise determinism, CUDA-graph replay against step-by-step
// launches, and per-node profiling. Needs a CUDA device (and the models: ../shared/models and the
// torchvision exports of the build tree); skips naming what is missing.
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>

#include "kernels/cuda/conv/conv_algorithm.hpp"
#include "tests/common/test_util.hpp"
#include "tests/common/model_util.hpp"
#include "tests/cuda/cuda_test_util.hpp"

namespace kiln::test {
namespace {

constexpr double kTol = 1e-4;

// The model and input of a case of tests/common/model_util, or false with the reason to skip.
bool load(const std::string& id, const Model** model, Tensor* input, std::string* skip) {
  return load_model_case(model_case(id), model, input, skip);
}

std::vector<Tensor> run(const Model& m, const SessionOptions& o, const Tensor& input) {
  Session s(m, o);
  return s.run({input});
}

::testing::AssertionResult close(const std::vector<Tensor>& a, const std::vector<Tensor>& b, double tol) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " outputs vs " << b.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (auto r = tensors_close(a[i], b[i], tol); !r) return r << " (output " << i << ")";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult same_bits(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " outputs vs " << b.size();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape()) return ::testing::AssertionFailure() << "output " << i << " shapes differ";
    if (std::memcmp(a[i].data(), b[i].data(), static_cast<size_t>(a[i].size()) * sizeof(float)) != 0)
      return ::testing::AssertionFailure() << "output " << i << " differs in its bits";
  }
  return ::testing::AssertionSuccess();
}

// Every algorithm fixed, end to end, on the two models whose layers cover them.
TEST(CudaModelsFixed, EveryAlgorithmOnMobileNetV2AndResNet18) {
  KILN_REQUIRE_CUDA_DEVICE();
  for (const std::string id : {"mobilenet_v2_1_0_224", "torchvision_resnet18"}) {
    const Model* model = nullptr;
    Tensor input;
    std::string skip;
    if (!load(id, &model, &input, &skip)) GTEST_SKIP() << skip;
    const auto expected = run(*model, reference_options(), input);
    for (const std::string& name : cuda::conv_algorithm_names())
      EXPECT_TRUE(close(run(*model, cuda_options("fixed:" + name), input), expected, kTol)) << id << " fixed:" << name;
  }
}

TEST(CudaModelsDeterminism, SameBitsAcrossRunsAndSessions) {
  KILN_REQUIRE_CUDA_DEVICE();
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load("mobilenet_v2_1_0_224", &model, &input, &skip)) GTEST_SKIP() << skip;
  Session a(*model, cuda_options("heuristic", true));
  const auto first = a.run({input});
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(same_bits(a.run({input}), first)) << "run " << i;
  EXPECT_TRUE(same_bits(run(*model, cuda_options("heuristic", true), input), first)) << "second session";
}

TEST(CudaModelsGraph, ReplayEqualsStepByStepLaunches) {
  KILN_REQUIRE_CUDA_DEVICE();
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load("mobilenet_v2_1_0_224", &model, &input, &skip)) GTEST_SKIP() << skip;
  Session graphed(*model, cuda_options("heuristic", true));
  SessionOptions step_by_step = cuda_options("heuristic", true);
  step_by_step.gpu.graphs = false;
  const std::vector<Tensor> eager = run(*model, step_by_step, input);
  const auto g1 = graphed.run({input});
  EXPECT_TRUE(same_bits(g1, eager));
  // A replay with other inputs gives other outputs (the graph reads the new input).
  Tensor other = random_tensor(input.shape(), 99);
  const auto g2 = graphed.run({other});
  EXPECT_FALSE(same_bits(g2, g1));
  EXPECT_TRUE(close(g2, run(*model, reference_options(), other), kTol));
  ASSERT_TRUE(graphed.device_time_ms().has_value());
  EXPECT_GT(*graphed.device_time_ms(), 0.0);
}

TEST(CudaModelsGraph, ProfilingGivesPerNodeDeviceTimes) {
  KILN_REQUIRE_CUDA_DEVICE();
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load("mobilenet_v2_1_0_224", &model, &input, &skip)) GTEST_SKIP() << skip;
  SessionOptions o = cuda_options();
  o.gpu.profile_nodes = true;
  Session s(*model, o);
  s.run({input});
  double sum = 0;
  int timed_convs = 0;
  for (const NodeProfile& p : s.profile()) {
    sum += p.ms;
    if (p.op == "Conv" && p.ms > 0) ++timed_convs;
  }
  EXPECT_GT(timed_convs, 10);
  ASSERT_TRUE(s.device_time_ms().has_value());
  EXPECT_LE(sum, *s.device_time_ms() * 1.01 + 1e-3);
}

}  // namespace
}  // namespace kiln::test
