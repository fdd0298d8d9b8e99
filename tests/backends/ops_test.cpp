// Every op case (op_cases.hpp: one list per op family under cases/, plus
// multi-op blocks) on every configuration of every backend under test
// (backend_test_util.hpp) against the reference backend, on random inputs.
// Tests are named <configuration>_<case>. A backend-specific suite (tests/cpu,
// tests/vulkan, tests/cuda) keeps only what the harness cannot ask through a
// Session: forced algorithms, fusion details, tuning, devices.
#include <fmt/format.h>

#include <map>
#include <set>

#include "engine/runtime/backend_registry.hpp"
#include "tests/backends/backend_test_util.hpp"
#include "tests/backends/op_cases.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

class BackendOps : public ::testing::TestWithParam<std::tuple<BackendConfig, OpCase>> {
 protected:
  void SetUp() override {
    if (const std::string why = why_config_cannot_run(config()); !why.empty()) GTEST_SKIP() << why;
  }
  const BackendConfig& config() const { return std::get<0>(GetParam()); }
  const OpCase& op_case() const { return std::get<1>(GetParam()); }
};

TEST_P(BackendOps, MatchesTheReferenceBackend) {
  const Graph g = op_case().build();
  const std::string& backend = config().options.backend;
  // Every node must run on the backend itself: a backend claims every op of the reference.
  const std::unique_ptr<Backend> be = BackendRegistry::global().create(backend);
  for (const Node& n : g.nodes)
    ASSERT_TRUE(be->supports(g, n)) << backend << " does not support " << n.name << " (" << op_name(n.op) << ")";

  const Model model(std::make_shared<Graph>(g));
  Session session(model, config().options);
  // Two runs with different inputs: each must match its own reference (a
  // backend that kept stale results or ignored its inputs fails the second).
  for (uint32_t seed : {1u, 2u}) {
    const std::vector<Tensor> inputs = random_inputs(g, seed, op_case().lo, op_case().hi);
    const std::vector<Tensor> expected = run_graph(g, inputs, "reference");
    const std::vector<Tensor> got = session.run(inputs);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(tensors_close(got[i], expected[i],
                                op_case().quantized ? config().quantized_tolerance : config().tolerance))
          << config().name << " output " << i << " (seed " << seed << ")";
  }
}

std::vector<std::tuple<BackendConfig, OpCase>> params() {
  std::vector<std::tuple<BackendConfig, OpCase>> v;
  const std::vector<OpCase> cases = all_op_cases();
  for (const BackendConfig& config : configurations_under_test())
    for (const OpCase& c : cases) v.emplace_back(config, c);
  return v;
}

INSTANTIATE_TEST_SUITE_P(EveryConfiguration, BackendOps, ::testing::ValuesIn(params()), [](const auto& info) {
  return std::get<0>(info.param).name + "_" + std::get<1>(info.param).name;
});
// A build with only the reference backend has nothing to instantiate.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendOps);

// ---- the harness itself -----------------------------------------------------------

std::set<OpType> ops_used(const std::vector<OpCase>& cases) {
  std::set<OpType> ops;
  for (const OpCase& c : cases)
    for (const Node& n : c.build().nodes) ops.insert(n.op);
  return ops;
}

// Counted per family, without the blocks (the every-op graph would hide an
// emptied list): each op is exercised by its own family's cases.
TEST(BackendOpsHarness, EveryOpHasACase) {
  std::map<OpFamily, std::set<OpType>> used;
  for (size_t f = 0; f < kOpFamilyCount; ++f)
    used[static_cast<OpFamily>(f)] = ops_used(cases_of(static_cast<OpFamily>(f)));
  for (const OpInfo& info : all_ops())
    EXPECT_TRUE(used[op_family(info.op)].count(info.op))
        << "no case of tests/backends/cases/" << family_name(op_family(info.op)) << ".cpp uses " << info.name;
}

// all_ops_graph() (the case Graph_every_op, and the graph of many unit tests)
// keeps its promise as ops are added.
TEST(BackendOpsHarness, EveryOpGraphHasEveryOp) {
  const std::set<OpType> used = ops_used({{"Graph_every_op", all_ops_graph}});
  for (const OpInfo& info : all_ops()) EXPECT_TRUE(used.count(info.op)) << "all_ops_graph() lacks " << info.name;
}

// The conv sweep covers what it claims to.
TEST(BackendOpsHarness, ConvSweepCoversTheShapeSpace) {
  std::mt19937 rng(kConvSweepSeed);
  bool depthwise = false, grouped = false, dilated = false, strided = false, asym = false, odd_channels = false;
  std::set<int> kernels;
  for (int i = 0; i < kConvSweepCases; ++i) {
    const ConvSpec s = random_conv(rng);
    depthwise |= s.group == s.cin && s.group > 1;
    grouped |= s.group > 1 && s.group != s.cin;
    dilated |= s.dh == 2 || s.dw == 2;
    strided |= s.sh == 2 || s.sw == 2;
    asym |= s.pads[0] != s.pads[2] || s.pads[1] != s.pads[3];
    odd_channels |= s.cin % 4 != 0 && s.cin > 4;
    kernels.insert(s.kh);
  }
  EXPECT_TRUE(depthwise && grouped && dilated && strided && asym && odd_channels);
  EXPECT_EQ(kernels, (std::set<int>{1, 3, 5, 7}));
}

// supports() answers from the graph alone, so this runs without a device:
// a machine without the GPU still learns that a backend dropped an op.
class BackendSupport : public ::testing::TestWithParam<std::string> {};

TEST_P(BackendSupport, EveryNodeOfEveryCase) {
  const std::unique_ptr<Backend> be = BackendRegistry::global().create(GetParam());
  std::set<OpType> seen;
  for (const OpCase& c : all_op_cases()) {
    const Graph g = c.build();
    for (const Node& n : g.nodes) {
      seen.insert(n.op);
      EXPECT_TRUE(be->supports(g, n)) << c.name << ": " << n.name << " (" << op_name(n.op) << ")";
    }
  }
  EXPECT_EQ(seen.size(), all_ops().size());
}

INSTANTIATE_TEST_SUITE_P(EveryBackend, BackendSupport, ::testing::ValuesIn(backends_under_test()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendSupport);

}  // namespace
}  // namespace kiln::test
