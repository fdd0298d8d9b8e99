// End to end on a real PyTorch export: resnet20_torch_export_raw.onnx is
// ResNet-20 for CIFAR-10 exported by torch 1.13 without simplification, so
// its option-A shortcuts are shape sub-graphs (Constant, ConstantOfShape,
// Concat, Reshape, Slice with step -1, Transpose, Cast) feeding Pad on the
// channel axis, plus strided Slices with INT64_MAX ends. It must give the same
// outputs as the clean export resnet20.onnx and match PyTorch's own outputs.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/core/op_info.hpp"
#include "engine/passes/passes.hpp"
#include "kiln/convert.hpp"
#include "tests/common/test_util.hpp"
#include "tests/converter/onnx_builder.hpp"

namespace kiln::test {
namespace {

const char* kRaw = "models/resnet_cifar/resnet20_torch_export_raw.onnx";
const char* kClean = "models/resnet_cifar/resnet20.onnx";

int count_ops(const Graph& g, OpType op) {
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.op == op; }));
}

TEST(ConverterRealModel, TorchExportRawMatchesCleanExportAndPyTorch) {
  const auto raw = shared_file_or_skip(kRaw);
  const auto clean = shared_file_or_skip(kClean);
  std::vector<std::filesystem::path> ins, outs;
  for (int k = 0; k < 2; ++k) {
    const std::string dir = "models/resnet_cifar/resnet20/torch_ref_" + std::to_string(k);
    ins.push_back(shared_file_or_skip(dir + "/input_0.pb"));
    outs.push_back(shared_file_or_skip(dir + "/output_0.pb"));
  }
  if (HasFailure()) return;

  ConvertReport report;
  const Graph g_raw = import_onnx(raw.string(), {}, &report);
  EXPECT_EQ(report.opset, 13);
  EXPECT_EQ(report.onnx_producer, "pytorch 1.13.0");
  EXPECT_EQ(g_raw.producer, "kiln-convert from pytorch 1.13.0");
  EXPECT_GT(report.folded_by_importer, 30) << "the Constant nodes and pad-amount sub-graphs fold on the host";
  EXPECT_EQ(report.kiln_nodes, static_cast<int>(g_raw.nodes.size()));
  EXPECT_EQ(report.passes.size(), convert_time_passes().size());

  ConvertOptions raw_options;
  raw_options.optimize = false;
  const Graph g_unopt = import_onnx(raw.string(), raw_options);
  EXPECT_TRUE(g_unopt.passes_applied.empty());
  // As imported: the two option-A shortcuts are strided Slices and a Pad on
  // the channel axis, whose amounts the importer computed.
  EXPECT_EQ(count_ops(g_unopt, OpType::Pad), 2);
  EXPECT_EQ(count_ops(g_unopt, OpType::Slice), 4) << "the two step -1 Slices of pad amounts fold on the host";
  for (const Node& n : g_unopt.nodes) {
    if (n.op != OpType::Pad) continue;
    const auto& pads = attrs_as<fb::PadAttrsT>(n).pads;
    ASSERT_EQ(pads.size(), 8u);
    EXPECT_GT(pads[1], 0) << "channel padding at the start";
    EXPECT_GT(pads[5], 0) << "channel padding at the end";
  }

  const Graph g_clean = import_onnx(clean.string(), {});
  for (size_t k = 0; k < ins.size(); ++k) {
    const NamedTensor input = read_tensor_proto(ins[k].string());
    const NamedTensor expected = read_tensor_proto(outs[k].string());
    const Tensor a = run_model(g_raw, {input.tensor})[0];
    const Tensor b = run_model(g_unopt, {input.tensor})[0];
    const Tensor c = run_model(g_clean, {input.tensor})[0];
    EXPECT_TRUE(tensors_close(a, expected.tensor, 1e-4)) << "torch_ref_" << k;
    EXPECT_TRUE(tensors_close(b, expected.tensor, 1e-4)) << "torch_ref_" << k << " unoptimised";
    EXPECT_TRUE(tensors_close(a, c, 1e-5)) << "raw vs clean export, torch_ref_" << k;
  }
}

// --batch on a real model: each row of a batch-2 run equals a batch-1 run.
// load_model takes either file: an ONNX file converted in memory is the same
// model as the .kiln file `kiln convert` writes (metadata included), with the
// same outputs bit for bit on the default session (auto backend, every core)
// and on the reference.
TEST(ConverterRealModel, LoadModelOnnxAndKilnGiveIdenticalOutputs) {
  const auto onnx = shared_file_or_skip("models/mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
  if (HasFailure()) return;
  const TempPath kiln_path("load_model_mobilenet");
  convert_onnx_file(onnx.string(), kiln_path.str(), {});
  EXPECT_TRUE(is_kiln_file(kiln_path.str()));
  EXPECT_FALSE(is_kiln_file(onnx.string()));
  ConvertReport from_kiln_report, from_onnx_report;
  const Model from_kiln = load_model(kiln_path.str(), {}, &from_kiln_report);
  const Model from_onnx = load_model(onnx.string(), {}, &from_onnx_report);
  EXPECT_EQ(from_kiln_report.onnx_nodes, 0);  // left empty for a .kiln file
  EXPECT_GT(from_onnx_report.onnx_nodes, 0);
  EXPECT_EQ(from_onnx_report.known_model, "mobilenet_v1_0.25_128");
  EXPECT_EQ(from_onnx.metadata().name, from_kiln.metadata().name);
  EXPECT_EQ(from_onnx.metadata().labels, from_kiln.metadata().labels);
  EXPECT_EQ(from_onnx.nodes().size(), from_kiln.nodes().size());
  EXPECT_EQ(from_onnx.passes_applied(), from_kiln.passes_applied());
  const Tensor x = random_tensor(from_kiln.inputs()[0].shape, 5);
  for (const SessionOptions& options : {SessionOptions{}, reference_options()}) {
    Session a(from_kiln, options), b(from_onnx, options);
    EXPECT_EQ(a.backend(), b.backend());
    EXPECT_TRUE(bitwise_equal(a.run({x}), b.run({x}))) << a.backend();
  }
}

TEST(ConverterRealModel, BatchOverrideOnTorchExport) {
  const auto raw = shared_file_or_skip(kRaw);
  if (HasFailure()) return;
  ConvertOptions options;
  options.batch = 2;
  const Graph g2 = import_onnx(raw.string(), options);
  ASSERT_EQ(g2.shape(g2.inputs[0]), (Shape{2, 3, 32, 32}));
  EXPECT_EQ(g2.shape(g2.outputs[0]), (Shape{2, 10}));
  const Graph g1 = import_onnx(raw.string(), {});
  const Tensor x = random_tensor({2, 3, 32, 32}, 11);
  const Tensor y = run_model(g2, {x})[0];
  for (int64_t b = 0; b < 2; ++b) {
    Tensor xb({1, 3, 32, 32});
    std::copy(x.data() + b * 3 * 32 * 32, x.data() + (b + 1) * 3 * 32 * 32, xb.data());
    const Tensor yb = run_model(g1, {xb})[0];
    Tensor row({1, 10});
    std::copy(y.data() + b * 10, y.data() + (b + 1) * 10, row.data());
    EXPECT_TRUE(tensors_close(row, yb, 1e-5)) << "batch row " << b;
  }
}

}  // namespace
}  // namespace kiln::test
