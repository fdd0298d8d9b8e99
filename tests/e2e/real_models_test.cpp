// Real pretrained models from ../shared/models against reference tensors from
// independent engines: the ONNX Model Zoo's own data (gold), OpenCV DNN, and
// PyTorch.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kiln/convert.hpp"
#include "tests/common/test_util.hpp"
#include "tests/e2e/e2e_util.hpp"

namespace kiln::test {
namespace {

struct RefCase {
  std::string onnx;       // under ../shared/models
  std::string ref_dir;    // folder with input_0.pb / output_0.pb
  double abs_tol;         // 0: not checked
  double rel_tol;         // 0: not checked
};

void PrintTo(const RefCase& c, std::ostream* os) { *os << c.ref_dir; }

class ReferenceTensors : public ::testing::TestWithParam<RefCase> {};

TEST_P(ReferenceTensors, MatchesWithinTolerance) {
  const RefCase& c = GetParam();
  const auto onnx = shared_file_or_skip("models/" + c.onnx);
  const auto in_pb = shared_file_or_skip("models/" + c.ref_dir + "/input_0.pb");
  const auto out_pb = shared_file_or_skip("models/" + c.ref_dir + "/output_0.pb");
  if (HasFailure()) return;
  Model model = convert_and_load(onnx);
  Session session(model, reference_options());
  const NamedTensor input = read_tensor_proto(in_pb.string());
  const NamedTensor expected = read_tensor_proto(out_pb.string());
  const std::vector<Tensor> out = session.run({input.tensor});
  ASSERT_EQ(out[0].size(), expected.tensor.size());
  const size_t n = static_cast<size_t>(out[0].size());
  const double abs_err = max_abs_error(out[0].data(), expected.tensor.data(), n);
  const double rel_err = max_relative_error(out[0].data(), expected.tensor.data(), n);
  fmt::print("[ figures  ] {}: max|diff| {:.3g}, relative {:.3g}\n", c.ref_dir, abs_err, rel_err);
  RecordProperty("max_abs_diff", fmt::format("{:.3g}", abs_err));
  if (c.abs_tol > 0) {
    EXPECT_LE(abs_err, c.abs_tol);
  }
  if (c.rel_tol > 0) {
    EXPECT_LE(rel_err, c.rel_tol);
  }
}

std::vector<RefCase> reference_cases() {
  std::vector<RefCase> cases;
  // Gold: the ONNX Model Zoo's squeezenet1.1 reference data.
  for (int k = 0; k < 3; ++k)
    cases.push_back({"squeezenet1.1/squeezenet1.1.onnx", fmt::format("squeezenet1.1/test_data_set_{}", k), 0, 1e-4});
  // OpenCV DNN outputs on two photos.
  for (int k = 0; k < 2; ++k) {
    cases.push_back({"squeezenet1.1/squeezenet1.1.onnx", fmt::format("squeezenet1.1/opencv_ref_{}", k), 1e-3, 0});
    cases.push_back({"squeezenet1.0/squeezenet1.0_fp32.onnx", fmt::format("squeezenet1.0/opencv_ref_{}", k), 1e-3, 0});
    cases.push_back({"mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_dequant.onnx",
                     fmt::format("mobilenet_v2_1.0_224/opencv_ref_{}", k), 1e-3, 0});
    cases.push_back({"mobilenet_v1_0.75_192/mobilenet_v1_0.75_192_dequant.onnx",
                     fmt::format("mobilenet_v1_0.75_192/opencv_ref_{}", k), 1e-3, 0});
    cases.push_back({"mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx",
                     fmt::format("mobilenet_v1_0.25_128/opencv_ref_{}", k), 1e-3, 0});
  }
  // PyTorch outputs of the CIFAR-10 ResNets (every export form of ResNet-20).
  for (int k = 0; k < 2; ++k) {
    for (const char* depth : {"20", "32", "44", "56"})
      cases.push_back({fmt::format("resnet_cifar/resnet{}.onnx", depth),
                       fmt::format("resnet_cifar/resnet{}/torch_ref_{}", depth, k), 0, 1e-4});
    cases.push_back({"resnet_cifar/resnet20_bn.onnx", fmt::format("resnet_cifar/resnet20/torch_ref_{}", k), 0, 1e-4});
    cases.push_back({"resnet_cifar/resnet20_torch_export_raw.onnx",
                     fmt::format("resnet_cifar/resnet20/torch_ref_{}", k), 0, 1e-4});
    cases.push_back({"resnet_cifar/resnet8_tiny.onnx", fmt::format("resnet_cifar/resnet8_tiny/torch_ref_{}", k), 0, 1e-4});
    cases.push_back({"resnet_cifar/resnet8_tiny_bn.onnx", fmt::format("resnet_cifar/resnet8_tiny/torch_ref_{}", k), 0, 1e-4});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(RealModels, ReferenceTensors, ::testing::ValuesIn(reference_cases()),
                         [](const auto& info) {
                           std::string name = info.param.ref_dir + "_" + info.param.onnx;
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

// The unoptimised graph (--no-optimize) gives the same outputs as the optimised one.
TEST(RealModels, OptimisedAndUnoptimisedAgree) {
  for (const char* onnx : {"resnet_cifar/resnet20_bn.onnx", "mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx"}) {
    const auto path = shared_file_or_skip(std::string("models/") + onnx);
    if (HasFailure()) return;
    Model opt = convert_and_load(path, true);
    Model raw = convert_and_load(path, false);
    EXPECT_LT(opt.nodes().size(), raw.nodes().size()) << onnx << ": the passes should remove nodes";
    Session a(opt, reference_options()), b(raw, reference_options());
    const Tensor x = random_tensor(a.inputs()[0].shape, 7);
    EXPECT_TRUE(tensors_close(a.run({x})[0], b.run({x})[0], 1e-5)) << onnx;
  }
}

// Time per inference on the reference backend (reported, not asserted: timing
// belongs to benchmarks, not to unit tests).
TEST(RealModels, ReferenceBackendTimes) {
  const char* models[] = {"mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_dequant.onnx",
                          "mobilenet_v1_0.75_192/mobilenet_v1_0.75_192_dequant.onnx",
                          "mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx",
                          "squeezenet1.1/squeezenet1.1.onnx",
                          "squeezenet1.0/squeezenet1.0_fp32.onnx",
                          "resnet_cifar/resnet56.onnx",
                          "resnet_cifar/resnet8_tiny.onnx"};
  for (const char* onnx : models) {
    const auto path = shared_file_or_skip(std::string("models/") + onnx);
    if (HasFailure()) continue;
    Model model = convert_and_load(path);
    Session session(model, reference_options());
    const Tensor x = random_tensor(session.inputs()[0].shape, 3);
    const double ms = median_run_ms(session, {x}, 3);
    fmt::print("[ figures  ] reference backend {}: {:.1f} ms per inference (median of 3)\n", onnx, ms);
    EXPECT_GT(ms, 0.0);
  }
}

}  // namespace
}  // namespace kiln::test
