// DequantizeLinear -> op -> QuantizeLinear becomes the op's quantized form
// (engine/core/quantized_ops.hpp): the op reads the quantized tensors the
// DequantizeLinear nodes read and writes the tensor the QuantizeLinear wrote.
// Runs after fuse_activations, so a Relu or Clip between the op and the
// QuantizeLinear is already in the op's epilogue. An op whose neighbours are
// not all Q/DQ stays float, with its Q/DQ nodes kept at the border; a
// DequantizeLinear of a constant left over at the end becomes a float constant.
#include <cmath>

#include "engine/core/op_info.hpp"
#include "engine/core/quantized_ops.hpp"
#include "engine/passes/passes.hpp"

namespace kiln {

namespace {

bool weight_ok(const TensorInfo& w, int axis) {
  return is_quantized_dtype(w.dtype) && w.is_constant() && (!w.quant->per_axis() || w.quant->axis == axis);
}

bool activation_ok(const fb::FusedActivation& act) {
  return act.kind() == fb::ActivationKind::None || act.kind() == fb::ActivationKind::Relu ||
         act.kind() == fb::ActivationKind::Clip;
}

// Which inputs of a foldable op are activations (per-tensor quantized),
// which the weight, which the bias; -1 when the op cannot fold.
struct Roles {
  int weight = -1, bias = -1;
  int weight_axis = 0;
};

std::optional<Roles> roles_of(const Graph& g, const Node& n) {
  if (!has_quantized_form(n.op) || n.op == OpType::QuantizeLinear || n.op == OpType::DequantizeLinear)
    return std::nullopt;
  Roles r;
  switch (n.op) {
    case OpType::Conv:
      if (!activation_ok(attrs_as<fb::ConvAttrsT>(n).activation)) return std::nullopt;
      r.weight = 1;
      r.bias = n.inputs.size() > 2 ? 2 : -1;
      break;
    case OpType::Gemm: {
      const auto& a = attrs_as<fb::GemmAttrsT>(n);
      if (a.trans_a || a.alpha != 1.0f || a.beta != 1.0f || !activation_ok(a.activation)) return std::nullopt;
      if (n.inputs.size() > 2 && g.shape(n.inputs[2]).size() != 1) return std::nullopt;
      r.weight = 1;
      r.bias = n.inputs.size() > 2 ? 2 : -1;
      r.weight_axis = a.trans_b ? 0 : 1;
      break;
    }
    case OpType::MatMul:
      if (g.shape(n.inputs[1]).size() != 2) return std::nullopt;
      r.weight = 1;
      r.weight_axis = 1;
      break;
    case OpType::Add:
      if (!activation_ok(attrs_as<fb::BinaryAttrsT>(n).activation)) return std::nullopt;
      if (g.shape(n.inputs[0]) != g.shape(n.inputs[1])) return std::nullopt;
      break;
    default:
      break;
  }
  return r;
}

// The int32 bias in units of sx·sw[n] (what the integer accumulator counts),
// from a bias quantized with any scale: round(sb·(b − zb) / (sx·sw[n])).
ConstantData rescaled_bias(const TensorInfo& b, const TensorInfo& x, const TensorInfo& w, int64_t n_out,
                           QuantParams* params) {
  std::vector<int32_t> out(static_cast<size_t>(n_out));
  const auto* in = reinterpret_cast<const int32_t*>(b.constant->bytes());
  params->axis = w.quant->per_axis() ? 0 : -1;
  params->scale.clear();
  params->zero_point.clear();
  for (int64_t n = 0; n < n_out; ++n) {
    const double unit = double{x.quant->scale[0]} * w.quant->scale_at(n);
    const double real = double{b.quant->scale_at(n)} * (int64_t{in[n]} - b.quant->zero_point_at(n));
    const double q = std::nearbyint(real / unit);
    out[static_cast<size_t>(n)] = static_cast<int32_t>(std::clamp(q, -2147483648.0, 2147483647.0));
    if (!w.quant->per_axis() && n > 0) continue;
    params->scale.push_back(static_cast<float>(unit));
    params->zero_point.push_back(0);
  }
  return ConstantData::copy_of(out.data(), out.size() * sizeof(int32_t));
}

bool same_bias_units(const TensorInfo& b, const TensorInfo& x, const TensorInfo& w, int64_t n_out) {
  for (int64_t n = 0; n < n_out; ++n) {
    const double unit = double{x.quant->scale[0]} * w.quant->scale_at(n);
    if (b.quant->zero_point_at(n) != 0 || std::abs(b.quant->scale_at(n) - unit) > 1e-6 * unit) return false;
  }
  return true;
}

}  // namespace

int fold_qdq(Graph& g) {
  int folded = 0;
  const std::vector<int> producer = g.producers();
  const std::vector<std::vector<int>> consumers = g.consumers();
  std::vector<char> removed(g.nodes.size(), 0);

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const std::optional<Roles> roles = roles_of(g, n);
    if (!roles) continue;
    // Every input comes from a DequantizeLinear.
    std::vector<TensorId> q_inputs;
    bool ok = true;
    for (size_t k = 0; k < n.inputs.size() && ok; ++k) {
      const int p = producer[n.inputs[k]];
      ok = p >= 0 && !removed[p] && g.nodes[p].op == OpType::DequantizeLinear;
      if (!ok) break;
      const TensorId q = g.nodes[p].inputs[0];
      const TensorInfo& t = g.tensor(q);
      if (static_cast<int>(k) == roles->weight)
        ok = weight_ok(t, roles->weight_axis);
      else if (static_cast<int>(k) == roles->bias)
        ok = t.dtype == DataType::Int32 && t.is_constant();
      else
        ok = is_quantized_dtype(t.dtype) && !t.quant->per_axis() && !t.is_constant();
      q_inputs.push_back(q);
    }
    if (!ok) continue;
    // Every output is read by one QuantizeLinear only.
    std::vector<TensorId> q_outputs;
    std::vector<int> q_nodes;
    for (TensorId out : n.outputs) {
      const auto& readers = consumers[out];
      ok = ok && readers.size() == 1 && !g.is_graph_output(out) && g.nodes[readers[0]].op == OpType::QuantizeLinear &&
           !removed[readers[0]] && !g.tensor(g.nodes[readers[0]].outputs[0]).quant->per_axis();
      if (!ok) break;
      q_nodes.push_back(readers[0]);
      q_outputs.push_back(g.nodes[readers[0]].outputs[0]);
    }
    if (!ok) continue;

    Node& node = g.nodes[i];
    if (roles->bias >= 0) {
      const TensorInfo& x = g.tensor(q_inputs[0]);
      const TensorInfo& w = g.tensor(q_inputs[static_cast<size_t>(roles->weight)]);
      const TensorId b_id = q_inputs[static_cast<size_t>(roles->bias)];
      const int64_t n_out = g.shape(b_id)[0];
      if (!same_bias_units(g.tensor(b_id), x, w, n_out)) {
        QuantParams params;
        ConstantData data = rescaled_bias(g.tensor(b_id), x, w, n_out, &params);
        const Shape shape = g.shape(b_id);
        const std::string name = g.unique_tensor_name(g.tensor(b_id).name + "_rescaled");
        q_inputs[static_cast<size_t>(roles->bias)] =
            g.add_constant(name, shape, DataType::Int32, std::move(data), std::move(params));
      }
    }
    node.inputs = q_inputs;
    node.outputs = q_outputs;
    for (int q : q_nodes) removed[static_cast<size_t>(q)] = 1;
    ++folded;
  }

  // Leftover DequantizeLinear of constants: float constants.
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (removed[i] || n.op != OpType::DequantizeLinear || !g.tensor(n.inputs[0]).is_constant() ||
        g.is_graph_output(n.outputs[0]))
      continue;
    g.tensor(n.outputs[0]).constant = dequantized_constant(g.tensor(n.inputs[0]));
    removed[i] = 1;
  }

  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!removed[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
  return folded;
}

}  // namespace kiln
