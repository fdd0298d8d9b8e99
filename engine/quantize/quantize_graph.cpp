#include "engine/quantize/quantize_graph.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/op_info.hpp"
#include "engine/core/quantized_ops.hpp"
#include "engine/passes/passes.hpp"

namespace kiln::quantize {

namespace {

bool fusable_activation(const fb::FusedActivation& act) {
  return act.kind() == fb::ActivationKind::None || act.kind() == fb::ActivationKind::Relu ||
         act.kind() == fb::ActivationKind::Clip;
}

// Ops whose int8 form does arithmetic: they always get quantized when they can.
bool computes(OpType op) {
  return op == OpType::Conv || op == OpType::Gemm || op == OpType::MatMul || op == OpType::Add ||
         op == OpType::AveragePool || op == OpType::GlobalAveragePool;
}

// Ops whose output values are some of their input values: the output keeps
// the input's parameters, so the int8 form only copies bytes.
bool moves_values(OpType op) {
  return op == OpType::MaxPool || op == OpType::GlobalMaxPool || op == OpType::Transpose || op == OpType::Slice ||
         op == OpType::Split || op == OpType::Pad || is_reshape_like(op);
}

// The weight's output-channel axis as fold_qdq and the int8 kernels read it
// (-1: the op has no weight).
int weight_axis(const Node& n) {
  switch (n.op) {
    case OpType::Conv:
      return 0;
    case OpType::Gemm:
      return attrs_as<fb::GemmAttrsT>(n).trans_b ? 0 : 1;
    case OpType::MatMul:
      return 1;
    default:
      return -1;
  }
}

// Why a node that computes cannot take its int8 form, or "" when it can
// (the conditions fold_qdq and check_node_dtypes put on it).
std::string compute_obstacle(const Graph& g, const Node& n) {
  auto constant_float = [&](size_t k) {
    return k < n.inputs.size() && g.tensor(n.inputs[k]).is_constant() &&
           g.tensor(n.inputs[k]).dtype == DataType::Float32;
  };
  switch (n.op) {
    case OpType::Conv:
      if (!fusable_activation(attrs_as<fb::ConvAttrsT>(n).activation))
        return std::string("its fused ") + fb::EnumNameActivationKind(attrs_as<fb::ConvAttrsT>(n).activation.kind()) +
               " has no int8 form";
      if (!constant_float(1)) return "its weight is not a float constant";
      if (n.inputs.size() > 2 && !constant_float(2)) return "its bias is not a float constant";
      return "";
    case OpType::Gemm: {
      const auto& a = attrs_as<fb::GemmAttrsT>(n);
      if (a.trans_a || a.alpha != 1.0f || a.beta != 1.0f) return "an int8 Gemm needs alpha = beta = 1 and no transA";
      if (!fusable_activation(a.activation))
        return std::string("its fused ") + fb::EnumNameActivationKind(a.activation.kind()) + " has no int8 form";
      if (!constant_float(1)) return "its weight is not a float constant";
      if (n.inputs.size() > 2 && (!constant_float(2) || g.shape(n.inputs[2]).size() != 1))
        return "its bias is not a 1-D float constant";
      // The int32 bias holds one value per output channel; a broadcast one would need expanding first.
      if (n.inputs.size() > 2 && g.shape(n.inputs[2])[0] != g.shape(n.inputs[1])[a.trans_b ? 0 : 1])
        return "its bias is broadcast, not one value per output";
      return "";
    }
    case OpType::MatMul:
      if (!constant_float(1) || g.shape(n.inputs[1]).size() != 2) return "an int8 MatMul needs a 2-D constant weight";
      return "";
    case OpType::Add:
      if (!fusable_activation(attrs_as<fb::BinaryAttrsT>(n).activation))
        return std::string("its fused ") + fb::EnumNameActivationKind(attrs_as<fb::BinaryAttrsT>(n).activation.kind()) +
               " has no int8 form";
      if (g.shape(n.inputs[0]) != g.shape(n.inputs[1])) return "an int8 Add takes no broadcasting";
      return "";
    default:
      return "";
  }
}

// The inputs that are activations (not the weight or bias).
std::vector<size_t> activation_inputs(const Node& n) {
  std::vector<size_t> k;
  const size_t count = weight_axis(n) >= 0 ? 1 : n.inputs.size();
  for (size_t i = 0; i < count; ++i) k.push_back(i);
  return k;
}

}  // namespace

QuantParams activation_params(Range range) {
  if (!std::isfinite(range.lo) || !std::isfinite(range.hi) || range.lo > range.hi)
    throw Error(ErrorCode::InvalidArgument, "calibrated range [" + std::to_string(range.lo) + ", " +
                                                std::to_string(range.hi) + "] is not a finite interval");
  const double lo = std::min<double>(range.lo, 0.0), hi = std::max<double>(range.hi, 0.0);
  // A tensor that was always 0 still needs a positive scale; any will do.
  const double scale = hi - lo > 0 ? (hi - lo) / 255.0 : 1.0;
  const auto zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / scale), 0.0, 255.0));
  return QuantParams{{static_cast<float>(scale)}, {zero_point}, -1};
}

Plan plan_quantization(const Graph& g, const Ranges& ranges, const QuantizeOptions& options) {
  if (has_quantized_tensors(g))
    throw Error(ErrorCode::InvalidArgument, "the model is quantized already; kiln quantize takes a float32 model");
  for (const std::string& name : options.keep_float) {
    const bool found = std::any_of(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.name == name; });
    if (!found) throw Error(ErrorCode::InvalidArgument, "--keep-float names node '" + name + "', which the model lacks");
  }
  Plan plan;
  const std::vector<int> producer = g.producers();
  std::vector<char> quantized(g.nodes.size(), 0);
  auto range_of = [&](TensorId t) -> const Range* {
    const auto it = ranges.find(g.tensor(t).name);
    return it == ranges.end() ? nullptr : &it->second;
  };

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    auto keep = [&](std::string reason) { plan.kept_float.push_back({n.name, std::string(op_name(n.op)), std::move(reason)}); };
    if (options.keep_float.count(n.name)) {
      keep("kept float by request (--keep-float)");
      continue;
    }
    if (!has_quantized_form(n.op) || n.op == OpType::QuantizeLinear || n.op == OpType::DequantizeLinear) {
      keep(std::string(op_name(n.op)) + " has no int8 form in Kiln");
      continue;
    }
    if (!computes(n.op)) {
      // A lone data-movement node between float nodes gains nothing from int8.
      bool fed = true;
      for (TensorId t : n.inputs) {
        const int p = producer[t];
        fed = fed && p >= 0 && quantized[static_cast<size_t>(p)];
      }
      if (!fed) {
        keep("its inputs are not all quantized");
        continue;
      }
      if (n.op == OpType::Pad && attrs_as<fb::PadAttrsT>(n).value != 0.0f) {
        keep("an int8 Pad keeps its input's parameters, so only a pad value of 0 is exact");
        continue;
      }
    } else if (std::string why = compute_obstacle(g, n); !why.empty()) {
      keep(why);
      continue;
    }
    // Every activation needs a range, unless the output inherits its input's.
    std::string missing;
    for (size_t k : activation_inputs(n)) {
      const TensorId t = n.inputs[k];
      if (g.tensor(t).is_constant()) missing = "input '" + g.tensor(t).name + "' is a constant";
      else if (!plan.activations.count(t) && !range_of(t)) missing = "no calibrated range for '" + g.tensor(t).name + "'";
    }
    if (!moves_values(n.op))
      for (TensorId t : n.outputs)
        if (!range_of(t)) missing = "no calibrated range for '" + g.tensor(t).name + "'";
    if (!missing.empty()) {
      keep(missing);
      continue;
    }

    quantized[i] = 1;
    plan.nodes.push_back(i);
    for (size_t k : activation_inputs(n)) {
      const TensorId t = n.inputs[k];
      if (!plan.activations.count(t)) plan.activations[t] = activation_params(*range_of(t));
    }
    for (TensorId t : n.outputs)
      plan.activations[t] = moves_values(n.op) ? plan.activations.at(n.inputs[0]) : activation_params(*range_of(t));
  }
  return plan;
}

TensorInfo quantize_weight(const TensorInfo& w, int axis) {
  if (!w.is_constant() || w.dtype != DataType::Float32)
    throw Error(ErrorCode::InvalidArgument, "weight '" + w.name + "' is not a float32 constant");
  if (axis >= static_cast<int>(w.shape.size()))
    throw Error(ErrorCode::InvalidArgument, "weight '" + w.name + "' has no axis " + std::to_string(axis));
  const int64_t count = element_count(w.shape);
  const float* v = w.constant->floats();
  const int64_t channels = axis >= 0 ? w.shape[static_cast<size_t>(axis)] : 1;
  int64_t inner = 1;
  if (axis >= 0)
    for (size_t d = static_cast<size_t>(axis) + 1; d < w.shape.size(); ++d) inner *= w.shape[d];
  auto channel_of = [&](int64_t i) { return axis >= 0 ? (i / inner) % channels : 0; };

  std::vector<float> max_abs(static_cast<size_t>(channels), 0.0f);
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(v[i]))
      throw Error(ErrorCode::InvalidArgument, "weight '" + w.name + "' holds a value that is not finite");
    float& m = max_abs[static_cast<size_t>(channel_of(i))];
    m = std::max(m, std::fabs(v[i]));
  }
  QuantParams q;
  q.axis = axis;
  for (float m : max_abs) {
    // An all-zero channel quantizes to zeros under any scale.
    q.scale.push_back(m > 0 ? m / 127.0f : 1.0f);
    q.zero_point.push_back(0);
  }
  std::vector<int8_t> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i)
    out[static_cast<size_t>(i)] =
        static_cast<int8_t>(quant::quantize(v[i], q.scale[static_cast<size_t>(channel_of(i))], 0, -127, 127));

  TensorInfo t;
  t.name = w.name;
  t.dtype = DataType::Int8;
  t.shape = w.shape;
  t.constant = ConstantData::copy_of(out.data(), out.size());
  t.quant = std::move(q);
  return t;
}

TensorInfo quantize_bias(const TensorInfo& b, float x_scale, const QuantParams& w_quant) {
  if (!b.is_constant() || b.dtype != DataType::Float32 || b.shape.size() != 1)
    throw Error(ErrorCode::InvalidArgument, "bias '" + b.name + "' is not a 1-D float32 constant");
  const int64_t n_out = b.shape[0];
  if (w_quant.per_axis() && static_cast<int64_t>(w_quant.scale.size()) != n_out)
    throw Error(ErrorCode::InvalidArgument, "bias '" + b.name + "' has " + std::to_string(n_out) +
                                                " values but the weight " + std::to_string(w_quant.scale.size()) +
                                                " output channels");
  QuantParams q;
  q.axis = w_quant.per_axis() ? 0 : -1;
  std::vector<int32_t> out(static_cast<size_t>(n_out));
  for (int64_t n = 0; n < n_out; ++n) {
    const double unit = double{x_scale} * w_quant.scale_at(n);
    const double v = std::nearbyint(double{b.constant->floats()[n]} / unit);
    // Saturating: a bias beyond 2^31 units would swamp every product anyway.
    out[static_cast<size_t>(n)] = static_cast<int32_t>(std::clamp(v, -2147483648.0, 2147483647.0));
    if (q.per_axis() || n == 0) {
      q.scale.push_back(static_cast<float>(unit));
      q.zero_point.push_back(0);
    }
  }
  TensorInfo t;
  t.name = b.name;
  t.dtype = DataType::Int32;
  t.shape = b.shape;
  t.constant = ConstantData::copy_of(out.data(), out.size() * sizeof(int32_t));
  t.quant = std::move(q);
  return t;
}

Graph insert_qdq(const Graph& graph, const Plan& plan, const QuantizeOptions& options) {
  Graph g = graph;
  std::vector<Node> old_nodes = std::move(g.nodes);
  g.nodes.clear();

  // Each planned activation: its quantized tensor and the float tensor readers get.
  struct Pair {
    TensorId q, dq;
  };
  std::map<TensorId, Pair> pairs;
  for (const auto& [t, params] : plan.activations) {
    const std::string base = g.tensor(t).name;
    const Shape shape = g.shape(t);
    const TensorId q = g.add_tensor(g.unique_tensor_name(base + "_quantized"), shape);
    g.tensor(q).dtype = DataType::UInt8;
    g.tensor(q).quant = params;
    const TensorId dq = g.add_tensor(g.unique_tensor_name(base + "_dequantized"), shape);
    pairs[t] = {q, dq};
  }
  auto emit_pair = [&](TensorId t) {
    const auto it = pairs.find(t);
    if (it == pairs.end()) return;
    const std::string& base = g.tensor(t).name;
    g.nodes.push_back(Node{base + "_quantize", OpType::QuantizeLinear, {t}, {it->second.q}, {}});
    g.nodes.push_back(Node{base + "_dequantize", OpType::DequantizeLinear, {it->second.q}, {it->second.dq}, {}});
  };
  // A constant of the node, made int8/int32, behind a DequantizeLinear.
  auto dequantized_constant = [&](TensorInfo q, const std::string& node_name) {
    const Shape shape = q.shape;
    const std::string base = q.name;
    q.name = g.unique_tensor_name(base + "_quantized");
    g.tensors.push_back(std::move(q));
    const auto qid = static_cast<TensorId>(g.tensors.size() - 1);
    const TensorId dq = g.add_tensor(g.unique_tensor_name(base + "_dequantized"), shape);
    g.nodes.push_back(Node{node_name + "_" + base + "_dequantize", OpType::DequantizeLinear, {qid}, {dq}, {}});
    return dq;
  };

  for (TensorId t : g.inputs) emit_pair(t);
  std::vector<char> planned(old_nodes.size(), 0);
  for (size_t i : plan.nodes) planned[i] = 1;
  for (size_t i = 0; i < old_nodes.size(); ++i) {
    Node n = std::move(old_nodes[i]);
    if (planned[i] && weight_axis(n) >= 0) {
      const int axis = options.weights == WeightGranularity::PerChannel ? weight_axis(n) : -1;
      TensorInfo w = quantize_weight(g.tensor(n.inputs[1]), axis);
      const QuantParams w_quant = *w.quant;
      n.inputs[1] = dequantized_constant(std::move(w), n.name);
      if (n.inputs.size() > 2) {
        const float sx = plan.activations.at(n.inputs[0]).scale[0];
        n.inputs[2] = dequantized_constant(quantize_bias(g.tensor(n.inputs[2]), sx, w_quant), n.name);
      }
    }
    for (TensorId& t : n.inputs)
      if (const auto it = pairs.find(t); it != pairs.end()) t = it->second.dq;
    const std::vector<TensorId> outputs = n.outputs;
    g.nodes.push_back(std::move(n));
    for (TensorId t : outputs) emit_pair(t);
  }
  for (TensorId& t : g.outputs) {
    const auto it = pairs.find(t);
    if (it == pairs.end()) continue;
    // The model's outputs keep their names: the float tensor before the pair takes the other one.
    std::swap(g.tensor(t).name, g.tensor(it->second.dq).name);
    t = it->second.dq;
  }
  return g;
}

Result quantize_graph(const Graph& graph, const Ranges& ranges, const QuantizeOptions& options) {
  Result r;
  r.plan = plan_quantization(graph, ranges, options);
  r.qdq = insert_qdq(graph, r.plan, options);
  r.graph = r.qdq;
  run_passes(r.graph, convert_time_passes());
  for (const Node& n : r.graph.nodes)
    if (n.op != OpType::QuantizeLinear && n.op != OpType::DequantizeLinear && is_quantized_node(r.graph, n))
      r.quantized.push_back(n.name);
  r.graph.passes_applied.push_back("quantize: " + std::to_string(r.quantized.size()) + " nodes int8, weights " +
                                   (options.weights == WeightGranularity::PerChannel ? "per channel" : "per tensor"));
  return r;
}

}  // namespace kiln::quantize
