#include "apps/common/quantize.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "engine/core/graph.hpp"
#include "engine/core/op_info.hpp"
#include "engine/passes/passes.hpp"

namespace kiln::ptq {

namespace {

SessionOptions tracing(SessionOptions s) {
  s.keep_intermediates = true;
  return s;
}

std::vector<float> real_values(const Tensor& t, const TensorDesc& d) {
  std::vector<float> v(static_cast<size_t>(t.size()));
  if (t.type() == ElementType::Float32) {
    std::copy(t.data(), t.data() + t.size(), v.begin());
  } else if (t.type() == ElementType::UInt8) {
    const auto* p = static_cast<const uint8_t*>(t.raw());
    for (size_t i = 0; i < v.size(); ++i) v[i] = d.scale * static_cast<float>(int32_t{p[i]} - d.zero_point);
  } else {
    const auto* p = static_cast<const int8_t*>(t.raw());
    for (size_t i = 0; i < v.size(); ++i) v[i] = d.scale * static_cast<float>(int32_t{p[i]} - d.zero_point);
  }
  return v;
}

// (node name, index among that node's outputs): how the same output is found
// in the float and the int8 model, whose tensors are named differently.
using OutputKey = std::pair<std::string, int>;

std::map<OutputKey, const NodeOutput*> by_node(const std::vector<NodeOutput>& outs) {
  std::map<OutputKey, const NodeOutput*> m;
  std::map<std::string, int> seen;
  for (const NodeOutput& o : outs) m[{o.node, seen[o.node]++}] = &o;
  return m;
}

// Ops between a network's last computing layer and its outputs in a
// classifier head: they reorder nothing that decides the arg-max.
bool head_op(OpType op) {
  return op == OpType::Softmax || is_reshape_like(op) || op == OpType::GlobalAveragePool ||
         op == OpType::AveragePool || op == OpType::MaxPool || op == OpType::GlobalMaxPool || op == OpType::Relu ||
         op == OpType::Clip;
}

size_t argmax_row(const float* row, int64_t n) { return static_cast<size_t>(std::max_element(row, row + n) - row); }

}  // namespace

std::string describe(const Progress& p) {
  const char* stage = p.stage == Progress::Stage::Calibrating     ? "calibrating"
                      : p.stage == Progress::Stage::MeasuringSqnr ? "measuring SQNR"
                                                                  : "evaluating top-1";
  // A stage that runs as one piece has no count of its own.
  std::string s = p.done ? fmt::format("{} {}/{}", stage, p.done, p.total)
                         : fmt::format("{} on {} input{}", stage, p.total, p.total == 1 ? "" : "s");
  if (!p.what.empty()) s += fmt::format(" ({})", p.what);
  return s;
}

std::set<std::string> head_tensors(const Graph& g) {
  std::set<std::string> head;
  const std::vector<int> producer = g.producers();
  std::vector<TensorId> todo(g.outputs.begin(), g.outputs.end());
  while (!todo.empty()) {
    const TensorId t = todo.back();
    todo.pop_back();
    if (!head.insert(g.tensor(t).name).second) continue;
    const int p = producer[static_cast<size_t>(t)];
    if (p < 0) continue;
    const Node& n = g.nodes[static_cast<size_t>(p)];
    // The last computing layer's output is part of the head; its inputs are not.
    if (head_op(n.op))
      for (TensorId in : n.inputs)
        if (!g.tensor(in).is_constant()) todo.push_back(in);
  }
  return head;
}

Model prepared_float_model(const Model& model) {
  if (!model.graph().passes_applied.empty()) return model;
  auto g = std::make_shared<Graph>(model.graph());
  run_passes(*g, convert_time_passes());
  return Model(std::move(g));
}

quantize::Calibration calibrate(const Model& model, const std::vector<InputSet>& inputs,
                                const SessionOptions& session, const ProgressFn& progress) {
  Session s(model, tracing(session));
  quantize::Calibration cal;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (progress) progress({Progress::Stage::Calibrating, i + 1, inputs.size(), inputs[i].what});
    const std::vector<TensorDesc>& in = s.inputs();
    for (size_t k = 0; k < in.size() && k < inputs[i].tensors.size(); ++k)
      if (in[k].type == ElementType::Float32) cal.add(in[k].name, inputs[i].tensors[k].values());
    for (const NodeOutput& o : s.run_all(inputs[i].tensors))
      if (o.desc.type == ElementType::Float32) cal.add(o.desc.name, o.value.values());
  }
  return cal;
}

std::vector<LayerSqnr> layer_sqnr(const Model& float_model, const Model& int8_model,
                                  const std::vector<std::string>& quantized_nodes, const std::vector<InputSet>& inputs,
                                  const SessionOptions& session, const ProgressFn& progress) {
  Session fs(float_model, tracing(session));
  Session qs(int8_model, tracing(session));
  const std::set<std::string> wanted(quantized_nodes.begin(), quantized_nodes.end());
  struct Sums {
    std::string op;
    double signal = 0, noise = 0;
  };
  std::map<OutputKey, Sums> sums;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (progress) progress({Progress::Stage::MeasuringSqnr, i + 1, inputs.size(), inputs[i].what});
    const std::vector<NodeOutput> f = fs.run_all(inputs[i].tensors);
    const std::vector<NodeOutput> q = qs.run_all(inputs[i].tensors);
    const auto fmap = by_node(f);
    for (const auto& [key, out] : by_node(q)) {
      if (!wanted.count(key.first) || out->desc.type == ElementType::Float32) continue;
      const auto it = fmap.find(key);
      if (it == fmap.end() || it->second->value.shape() != out->value.shape()) continue;
      const std::vector<float> qv = real_values(out->value, out->desc);
      const float* fv = it->second->value.data();
      Sums& s = sums[key];
      s.op = out->op;
      for (size_t k = 0; k < qv.size(); ++k) {
        const double d = double{fv[k]} - qv[k];
        s.signal += double{fv[k]} * fv[k];
        s.noise += d * d;
      }
    }
  }
  // In the int8 model's node order, as a reader follows the network.
  std::vector<LayerSqnr> layers;
  for (const std::string& node : quantized_nodes)
    for (int k = 0;; ++k) {
      const auto it = sums.find({node, k});
      if (it == sums.end()) break;
      const Sums& s = it->second;
      const double db = s.noise > 0 ? 10.0 * std::log10(s.signal / s.noise) : std::numeric_limits<double>::infinity();
      layers.push_back({node, s.op, db});
    }
  return layers;
}

Agreement top1_agreement(const Model& float_model, const Model& int8_model, const std::vector<InputSet>& inputs,
                         const SessionOptions& session) {
  Session fs(float_model, session);
  Session qs(int8_model, session);
  Agreement a;
  for (const InputSet& set : inputs) {
    const std::vector<Tensor> f = fs.run(set.tensors);
    const std::vector<Tensor> q = qs.run(set.tensors);
    const TensorDesc& fd = fs.outputs()[0];
    const TensorDesc& qd = qs.outputs()[0];
    const std::vector<float> fv = real_values(f[0], fd), qv = real_values(q[0], qd);
    const int64_t rows = f[0].shape().empty() ? 1 : f[0].shape()[0];
    const int64_t cols = f[0].size() / std::max<int64_t>(rows, 1);
    for (int64_t r = 0; r < rows; ++r) {
      a.total += 1;
      a.agree += argmax_row(fv.data() + r * cols, cols) == argmax_row(qv.data() + r * cols, cols) ? 1 : 0;
    }
  }
  return a;
}

Report run(const Model& float_model, const std::vector<InputSet>& calibration, const std::vector<InputSet>& eval,
           const Options& options, const ProgressFn& progress) {
  if (calibration.empty()) throw Error(ErrorCode::InvalidArgument, "no calibration inputs");
  Report rep;
  rep.calibration_sets = static_cast<int>(calibration.size());
  const quantize::Calibration cal = calibrate(float_model, calibration, options.session, progress);
  quantize::Ranges ranges = cal.ranges(options.method, options.percentile);
  if (options.method == quantize::Method::Entropy)
    for (const std::string& name : head_tensors(float_model.graph()))
      if (const auto it = cal.tensors().find(name); it != cal.tensors().end() && it->second.count() > 0)
        ranges[name] = it->second.range(quantize::Method::MinMax);

  quantize::QuantizeOptions qopt = options.graph;
  // Each fallback can change what the layers after it see, so the check is
  // repeated on the re-quantized model, a bounded number of times.
  constexpr int kMaxRounds = 4;
  for (int round = 1;; ++round) {
    rep.result = quantize::quantize_graph(float_model.graph(), ranges, qopt);
    rep.model = Model(std::make_shared<const Graph>(rep.result.graph));
    rep.layers = layer_sqnr(float_model, rep.model, rep.result.quantized, calibration, options.session, progress);
    if (!options.min_sqnr_db || round == kMaxRounds) break;
    bool changed = false;
    for (const LayerSqnr& l : rep.layers)
      if (l.sqnr_db < *options.min_sqnr_db && !qopt.keep_float.count(l.node)) {
        qopt.keep_float.insert(l.node);
        rep.fell_back.push_back({l.node, l.op, l.sqnr_db, round});
        changed = true;
      }
    if (!changed) break;
  }
  // The plan names the layers the threshold sent back as kept by request; say why instead.
  for (quantize::FloatNode& f : rep.result.plan.kept_float)
    for (const FellBack& b : rep.fell_back)
      if (f.node == b.node) f.reason = fmt::format("SQNR {:.1f} dB below --min-sqnr (round {})", b.sqnr_db, b.round);
  if (!eval.empty()) {
    if (progress) progress({Progress::Stage::Evaluating, 0, eval.size(), {}});
    rep.top1 = top1_agreement(float_model, rep.model, eval, options.session);
  }
  return rep;
}

nlohmann::json to_json(const Report& rep, const Options& options) {
  nlohmann::json j;
  j["method"] = quantize::method_name(options.method);
  if (options.method == quantize::Method::Percentile) j["percentile"] = options.percentile;
  j["weights"] = options.graph.weights == quantize::WeightGranularity::PerChannel ? "per-channel" : "per-tensor";
  j["calibration_sets"] = rep.calibration_sets;
  j["min_sqnr_db"] = options.min_sqnr_db ? nlohmann::json(*options.min_sqnr_db) : nlohmann::json(nullptr);
  j["quantized"] = rep.result.quantized;
  auto finite = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); };
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerSqnr& l : rep.layers) layers.push_back({{"node", l.node}, {"op", l.op}, {"sqnr_db", finite(l.sqnr_db)}});
  j["layers"] = layers;
  nlohmann::json kept = nlohmann::json::array();
  for (const quantize::FloatNode& f : rep.result.plan.kept_float)
    kept.push_back({{"node", f.node}, {"op", f.op}, {"reason", f.reason}});
  j["kept_float"] = kept;
  nlohmann::json back = nlohmann::json::array();
  for (const FellBack& b : rep.fell_back)
    back.push_back({{"node", b.node}, {"op", b.op}, {"sqnr_db", finite(b.sqnr_db)}, {"round", b.round}});
  j["fell_back"] = back;
  // What one quantization step of each output is worth, for comparing the
  // int8 model's outputs with another engine's run of the same quantization:
  // the scale of the int8 tensor that reaches the output through a
  // DequantizeLinear and reshape-like ops, and whether a float Softmax stands
  // between (then the step is one of the logits, which log-probabilities give back).
  nlohmann::json outputs = nlohmann::json::array();
  const Graph& g = rep.result.graph;
  const std::vector<int> producer = g.producers();
  for (TensorId t : g.outputs) {
    nlohmann::json o = {{"name", g.tensor(t).name}, {"scale", nullptr}, {"softmax", false}};
    for (TensorId cur = t;;) {
      const int p = producer[static_cast<size_t>(cur)];
      if (p < 0) break;
      const Node& n = g.nodes[static_cast<size_t>(p)];
      if (n.op == OpType::DequantizeLinear) {
        const TensorInfo& q = g.tensor(n.inputs[0]);
        if (q.quant && !q.quant->per_axis()) o["scale"] = q.quant->scale[0];
        break;
      }
      if (n.op == OpType::Softmax && !o["softmax"].get<bool>()) o["softmax"] = true;
      else if (!is_reshape_like(n.op)) break;
      cur = n.inputs[0];
    }
    if (o["scale"].is_null()) o["softmax"] = false;
    outputs.push_back(o);
  }
  j["outputs"] = outputs;
  if (rep.top1) j["top1"] = {{"agree", rep.top1->agree}, {"total", rep.top1->total}};
  else j["top1"] = nullptr;
  return j;
}

}  // namespace kiln::ptq
