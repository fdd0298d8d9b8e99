#pragma once
// `kiln compare`: the numerical-deviation report. One model runs under many
// configurations (backends, CPU instruction-set levels, thread counts,
// convolution algorithms, determinism levels, fp16 storage); configurations
// whose outputs are bitwise identical form an equivalence class (Schlögl,
// Hofer and Böhme, NeurIPS 2023). Each class is measured against the
// reference backend accumulating in float64, and runs that keep every
// intermediate tensor (SessionOptions::keep_intermediates) show in which node
// a class first departs from the most accurate class and how the deviation
// grows along the graph.
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln::compare {

// What to vary. Each list holds values or the single word "all"; an empty
// list means the dimension's default (see the definitions in compare.cpp).
struct Plan {
  std::vector<std::string> backends;       // reference, cpu, vulkan, cuda
  std::vector<std::string> isas;           // cpu: generic, avx2, avx512, ...
  std::vector<std::string> threads;        // cpu: counts
  std::vector<std::string> algorithms;     // heuristic, tune, fixed:NAME
  std::vector<std::string> deterministic;  // off, threads, portable
  std::vector<std::string> fp16_storage;   // off, on (backends that honour it)
  SessionOptions base;                     // everything else (tuning cache, device, memory limit)
  int repeats = 1;                         // runs per configuration; differing runs are flagged
  bool reference_f64 = true;               // the reference run accumulates in float64
};

// One point of the plan.
struct Configuration {
  std::string backend;
  std::string isa;  // cpu only
  int threads = 1;  // cpu only (others run as they run)
  std::string algorithm = "heuristic";
  std::string deterministic = "off";
  bool fp16_storage = false;

  std::string label() const;                  // "cpu isa=avx2 threads=2 algorithm=heuristic"
  std::vector<std::string> run_flags() const;  // the `kiln run` flags that reproduce it
  SessionOptions options(const SessionOptions& base) const;
};

struct Unusable {
  std::string backend;
  std::string reason;
};

// The plan's configurations on this machine, and the backends named (or, for
// "all", built in) that cannot run here, with the reason. Throws kiln::Error
// (InvalidArgument) for a value no backend accepts.
std::vector<Configuration> expand(const Plan& plan, std::vector<Unusable>* unusable);

// One set of inputs for the model (a run), and what it is ("random seed 1", an image path).
struct InputSet {
  std::string what;
  std::vector<Tensor> tensors;
};

// Deviation of outputs from those they are compared with. Relative deviation
// is max|a − b| / max|b| over a tensor (b: the baseline side), the figure the
// tests use; uint8/int8 tensors are compared as real values, their ULPs are
// quantization steps.
struct Deviation {
  double max_abs = 0;
  double max_rel = 0;
  uint64_t max_ulp = 0;
  int64_t nonfinite = 0;  // elements that are NaN or infinite on one side only
  // Classifier outputs ([N, C] scores): rows whose top-1 class, or set of top-5 classes, changed.
  int64_t rows = 0;
  int64_t top1_changes = 0;
  int64_t top5_changes = 0;
  bool classifier = false;
};

struct ConfigResult {
  Configuration config;
  std::string status = "ok";  // ok | failed | not applicable
  std::string error;
  int cls = -1;  // index into Report::classes
  double ms_per_run = 0;  // the first run, per input set (includes first-run costs)
  bool runs_agree = true;  // every repeat gave the same bits
  std::map<std::string, int> conv_algorithms;  // what ran the convolutions, from the session's profile
};

// Where a node's output in one run departs from another run's.
struct NodeDeviation {
  size_t node_index = 0;
  std::string node, op, tensor;
  bool bitwise_equal = true;
  double max_abs = 0;
  double rel = 0;
};

struct EquivalenceClass {
  std::string hash;             // XXH3-64 of every output byte of every input set, hex
  std::vector<size_t> members;  // indices into Report::configurations
  Deviation vs_reference;
  bool baseline = false;  // the class closest to the reference, which the others are traced against
  // Against the baseline class, from runs that keep every intermediate tensor:
  std::optional<NodeDeviation> first_differing;    // first node whose output differs in any bit
  std::optional<NodeDeviation> first_over_1e6;     // first node whose relative deviation exceeds 1e-6
  bool traced = false;
  bool trace_matches_run = true;  // the run keeping intermediates gave this class's final outputs
  std::string trace_error;
};

struct Report {
  std::string model;
  std::vector<std::string> inputs;  // InputSet::what
  std::string reference;            // "reference f64" or the reason there is none
  bool reference_ok = false;
  std::vector<ConfigResult> configurations;
  std::vector<EquivalenceClass> classes;
  std::vector<Unusable> unusable;
  // Node-by-node deviation between the two classes whose final outputs are
  // furthest apart (propagation[i] for node output i; b is the baseline side).
  std::optional<std::pair<size_t, size_t>> propagation_classes;
  std::vector<NodeDeviation> propagation;
  double seconds = 0;
};

// `progress` gets one line per step ("configuration 3 of 12: cpu isa=avx2 ...").
using ProgressFn = std::function<void(const std::string&)>;
Report run(const Model& model, const std::string& model_name, const std::vector<InputSet>& inputs, const Plan& plan,
           const ProgressFn& progress = {});

nlohmann::json to_json(const Report& report);
// The propagation profile as CSV: node_index,node,op,tensor,bitwise_equal,max_abs,rel.
std::string propagation_csv(const Report& report);

// Inputs: a seeded random set (floats uniform in [-1, 1), quantized inputs
// over their whole range), or images with the model's preprocessing, one set
// per batch of the first input.
InputSet random_inputs(const std::vector<TensorDesc>& inputs, uint64_t seed);
std::vector<InputSet> image_inputs(const std::vector<TensorDesc>& inputs, const ModelMetadata& meta,
                                   const std::vector<std::string>& paths);

// Exposed for tests: the deviation of `a` from `b` (same shapes and types).
Deviation deviation(const std::vector<Tensor>& a, const std::vector<Tensor>& b, const std::vector<TensorDesc>& descs,
                    bool classifier);

}  // namespace kiln::compare
