// Session debug mode (SessionOptions::keep_intermediates, Session::run_all) on
// every backend under test: each kept node output against the reference
// backend's, within the configuration's tolerance, in the same order with the
// same names; and the graph outputs of a run keeping everything against a
// normal run of the same backend.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tests/backends/backend_test_util.hpp"
#include "tests/common/model_util.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

double real_at(const NodeOutput& o, int64_t i) {
  switch (o.value.type()) {
    case ElementType::Float32: return o.value.data()[i];
    case ElementType::UInt8: return o.desc.scale * (static_cast<const uint8_t*>(o.value.raw())[i] - o.desc.zero_point);
    case ElementType::Int8: return o.desc.scale * (static_cast<const int8_t*>(o.value.raw())[i] - o.desc.zero_point);
  }
  return 0;
}

class KeptTensors : public ::testing::TestWithParam<std::tuple<BackendConfig, std::string>> {};

TEST_P(KeptTensors, EveryNodeOutputMatchesTheReference) {
  const auto& [config, id] = GetParam();
  if (const std::string why = why_config_cannot_run(config); !why.empty()) GTEST_SKIP() << why;
  const Model* model = nullptr;
  Tensor input;
  std::string skip;
  if (!load_model_case(model_case(id), &model, &input, &skip)) GTEST_SKIP() << skip;

  SessionOptions ro = reference_options();
  ro.keep_intermediates = true;
  Session reference(*model, ro);
  const std::vector<NodeOutput> want = reference.run_all({input});
  SessionOptions o = config.options;
  o.keep_intermediates = true;
  Session session(*model, o);
  const std::vector<NodeOutput> got = session.run_all({input});

  ASSERT_EQ(got.size(), want.size());
  size_t nodes_with_output = 0;
  for (const Node& n : model->graph().nodes) nodes_with_output += n.outputs.empty() ? 0 : 1;
  EXPECT_GE(got.size(), nodes_with_output) << "every node's output is kept";
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].desc.name, want[i].desc.name);
    ASSERT_EQ(got[i].node, want[i].node);
    ASSERT_EQ(got[i].value.shape(), want[i].value.shape()) << got[i].desc.name;
    ASSERT_EQ(got[i].value.type(), want[i].value.type()) << got[i].desc.name;
    if (i > 0 && !got[i].node.empty() && !got[i - 1].node.empty()) {
      EXPECT_GE(got[i].node_index, got[i - 1].node_index) << "node order";
    }
    double max_ref = 0, max_err = 0;
    for (int64_t k = 0; k < got[i].value.size(); ++k) {
      max_ref = std::max(max_ref, std::abs(real_at(want[i], k)));
      max_err = std::max(max_err, std::abs(real_at(got[i], k) - real_at(want[i], k)));
    }
    // Quantized tensors may differ by one step where float rounding ties break differently.
    const double allowed = got[i].value.type() == ElementType::Float32
                               ? config.tolerance * std::max(max_ref, 1e-6)
                               : std::max(config.quantized_tolerance * max_ref, 1.01 * got[i].desc.scale);
    EXPECT_LE(max_err, allowed) << config.name << " " << id << ": node " << got[i].node << " output "
                                << got[i].desc.name;
    if (max_ref > 0) worst = std::max(worst, max_err / max_ref);
  }

  // The graph outputs of the run that kept everything, against a normal run.
  Session plain(*model, config.options);
  const std::vector<Tensor> outputs = plain.run({input});
  size_t seen = 0;
  for (const NodeOutput& k : got) {
    if (!k.graph_output) continue;
    ++seen;
    const Tensor& out = outputs.at(plain.output_index(k.desc.name));
    if (out.type() == ElementType::Float32) {
      EXPECT_LE(max_relative_error(k.value.data(), out.data(), static_cast<size_t>(out.size())), config.tolerance);
    }
  }
  EXPECT_EQ(seen, outputs.size());
  fmt::print("[ figures  ] {} {}: {} kept tensors, worst relative deviation from the reference {:.3g}\n", config.name,
             id, got.size(), worst);
}

std::vector<std::tuple<BackendConfig, std::string>> params() {
  std::vector<std::tuple<BackendConfig, std::string>> v;
  for (const BackendConfig& config : best_configurations_under_test())
    for (const char* id : {"mobilenet_v1_0_25_128", "resnet8_tiny_bn_cifar", "squeezenet1_1"}) v.emplace_back(config, id);
  return v;
}

INSTANTIATE_TEST_SUITE_P(EveryBackend, KeptTensors, ::testing::ValuesIn(params()), [](const auto& info) {
  return std::get<0>(info.param).name + "_" + std::get<1>(info.param);
});
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(KeptTensors);

}  // namespace
}  // namespace kiln::test
