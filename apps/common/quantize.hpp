#pragma once
// `kiln quantize` without the command line: calibration runs of the float
// model, the graph quantizer (engine/quantize), the per-layer SQNR of the
// int8 model against the float one, the automatic fallback of layers below
// a threshold, and top-1 agreement on evaluation inputs.
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "apps/common/compare.hpp"
#include "engine/quantize/calibration.hpp"
#include "engine/quantize/quantize_graph.hpp"
#include "kiln/kiln.hpp"

namespace kiln::ptq {

using compare::InputSet;
// Where a long run stands: input `done` of `total` (1-based; 0 for a stage
// that runs as one piece) of a stage, and what that input is (a file name)
// when known.
struct Progress {
  enum class Stage { Calibrating, MeasuringSqnr, Evaluating };
  Stage stage;
  size_t done = 0, total = 0;
  std::string what;
};
// "calibrating 3/14 (photos/owl.jpg)".
std::string describe(const Progress& p);
using ProgressFn = std::function<void(const Progress&)>;

// The float graph the quantizer works on: the model's own when it went
// through the convert-time passes, else a copy that has (so that Relu and
// Clip sit in their Conv's epilogue and calibrate as its output).
Model prepared_float_model(const Model& model);

// Runs `model` (float32) on every input set with keep_intermediates and
// gathers every float32 tensor's values, the graph inputs included.
quantize::Calibration calibrate(const Model& model, const std::vector<InputSet>& inputs,
                                const SessionOptions& session, const ProgressFn& progress = {});

struct LayerSqnr {
  std::string node, op;
  double sqnr_db = 0;  // +inf when the int8 output equals the float one
};
// For every quantized node of `int8_model` (matched by node name), the
// signal-to-quantization-noise ratio of its output, dequantized, against the
// same node's output in `float_model`, over all input sets:
// 10·log10(Σ f² / Σ (f − q)²). The error includes what earlier layers passed
// on: it is the layer's output as the int8 model computes it.
std::vector<LayerSqnr> layer_sqnr(const Model& float_model, const Model& int8_model,
                                  const std::vector<std::string>& quantized_nodes, const std::vector<InputSet>& inputs,
                                  const SessionOptions& session, const ProgressFn& progress = {});

struct Agreement {
  int agree = 0, total = 0;
};
// Rows of the first output (a classifier's scores) whose arg-max is the same
// (every row of every set: a partial last batch of images repeats its last one).
Agreement top1_agreement(const Model& float_model, const Model& int8_model, const std::vector<InputSet>& inputs,
                         const SessionOptions& session);

// The tensors of a classifier's head: the graph outputs and, walking back
// through Softmax, reshape-like ops, pools and Relu/Clip, everything up to and
// including the output of the last layer that computes (Conv, Gemm, Add, ...).
// The entropy method calibrates them by min/max: in a head the tail of the
// distribution is the answer (the largest scores decide the arg-max), and
// clipping it would make the top classes tie.
std::set<std::string> head_tensors(const Graph& graph);

struct Options {
  quantize::QuantizeOptions graph;
  quantize::Method method = quantize::Method::MinMax;
  double percentile = 99.99;
  // Layers whose SQNR is below this go back to float32, and the model is
  // quantized again without them (a few rounds, as a fallback can change the
  // layers after it).
  std::optional<double> min_sqnr_db;
  SessionOptions session;  // how the float and int8 models are run
};

struct FellBack {
  std::string node, op;
  double sqnr_db = 0;
  int round = 0;
};

struct Report {
  Model model{nullptr};  // the int8 model (result.graph); result.qdq is the same before folding
  quantize::Result result;
  std::vector<LayerSqnr> layers;  // of the final model
  std::vector<FellBack> fell_back;
  int calibration_sets = 0;
  std::optional<Agreement> top1;
};

Report run(const Model& float_model, const std::vector<InputSet>& calibration, const std::vector<InputSet>& eval,
           const Options& options, const ProgressFn& progress = {});

nlohmann::json to_json(const Report& report, const Options& options);

}  // namespace kiln::ptq
