// Torchvision architectures exported by scripts/export_torchvision.py (random
// fixed-seed weights, random BatchNorm statistics, BatchNormalization kept)
// against PyTorch's own outputs.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "apps/common/npy.hpp"
#include "tests/common/test_util.hpp"
#include "tests/e2e/e2e_util.hpp"

namespace kiln::test {
namespace {

class Torchvision : public ::testing::TestWithParam<std::string> {};

TEST_P(Torchvision, MatchesPyTorch) {
  const std::filesystem::path dir = KILN_TORCHVISION_DIR;
  const std::string name = GetParam();
  const auto onnx = dir / (name + ".onnx");
  if (!std::filesystem::exists(onnx))
    FAIL() << onnx << " is missing: build the export_torchvision target (needs python3-torch, installed by "
                      "scripts/install-deps.sh)";
  Model model = convert_and_load(onnx);
  Session session(model, reference_options());
  const Tensor input = npy::read((dir / (name + ".input.npy")).string());
  const Tensor expected = npy::read((dir / (name + ".output.npy")).string());
  const std::vector<Tensor> out = session.run({input});
  const double rel = max_relative_error(out[0].data(), expected.data(), static_cast<size_t>(expected.size()));
  fmt::print("[ figures  ] torchvision {}: {} nodes after passes, relative error {:.3g}\n", name, model.nodes().size(),
             rel);
  EXPECT_TRUE(tensors_close(out[0], expected, 1e-4));
}

INSTANTIATE_TEST_SUITE_P(E2E, Torchvision,
                         ::testing::Values("resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large",
                                           "efficientnet_b0", "shufflenet_v2_x1_0", "densenet121"));

}  // namespace
}  // namespace kiln::test
