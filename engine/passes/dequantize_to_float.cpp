// A quantized graph as float32, for backends without integer kernels (vulkan,
// cuda): quantized constants are dequantized once, quantized activations
// become float32 clamped to the range their dtype could hold (a QuantizeLinear
// becomes a Clip, a quantized Conv/Gemm/Add clamps in its epilogue, other
// quantized ops that requantize get a Clip), and DequantizeLinear nodes
// disappear. Saturation is kept; the rounding of each activation to its
// scale's step is not (an error of at most half a step per layer). Quantized
// graph inputs and outputs keep their dtype, behind a DequantizeLinear or
// QuantizeLinear.
#include <map>

#include "engine/core/op_info.hpp"
#include "engine/core/quantization.hpp"
#include "engine/core/quantized_ops.hpp"
#include "engine/passes/passes.hpp"

namespace kiln {

namespace {

fb::AttributesUnion clip_to(float lo, float hi) {
  fb::ClipAttrsT clip;
  clip.min = lo;
  clip.max = hi;
  return make_attrs(clip);
}

// The real values a per-tensor quantized tensor can hold.
std::pair<float, float> representable(const TensorInfo& t) {
  const quant::Range r = dtype_range(t.dtype);
  return {quant::dequantize(r.lo, t.quant->scale[0], t.quant->zero_point[0]),
          quant::dequantize(r.hi, t.quant->scale[0], t.quant->zero_point[0])};
}

fb::FusedActivation* epilogue(Node& n) {
  switch (n.op) {
    case OpType::Conv:
      return &attrs_as<fb::ConvAttrsT>(n).activation;
    case OpType::Gemm:
      return &attrs_as<fb::GemmAttrsT>(n).activation;
    case OpType::Add:
      return &attrs_as<fb::BinaryAttrsT>(n).activation;
    default:
      return nullptr;
  }
}

}  // namespace

bool has_quantized_tensors(const Graph& graph) {
  for (const TensorInfo& t : graph.tensors)
    if (t.dtype != DataType::Float32) return true;
  return false;
}

int dequantize_to_float(Graph& g) {
  int rewrites = 0;
  const size_t original_tensors = g.tensors.size();
  std::vector<char> border(original_tensors, 0);  // graph inputs and outputs keep their dtype
  for (TensorId t : g.inputs) border[static_cast<size_t>(t)] = 1;
  for (TensorId t : g.outputs) border[static_cast<size_t>(t)] = 1;

  // The float tensors made below for quantized graph inputs and outputs, and
  // the quantized tensor each stands for (whose range its readers and writer keep).
  std::map<TensorId, TensorId> stands_for;
  auto quantized = [&](TensorId t) -> const TensorInfo& {
    const auto it = stands_for.find(t);
    return g.tensor(it == stands_for.end() ? t : it->second);
  };

  std::vector<Node> nodes;
  // A quantized graph input read by anything but a DequantizeLinear: dequantized first.
  for (TensorId t : g.inputs) {
    if (g.tensor(t).dtype == DataType::Float32) continue;
    const TensorId f = g.add_tensor(g.unique_tensor_name(g.tensor(t).name + "_float"), g.shape(t));
    bool used = false;
    for (Node& n : g.nodes) {
      if (n.op == OpType::DequantizeLinear) continue;
      for (TensorId& in : n.inputs)
        if (in == t) in = f, used = true;
    }
    if (!used) continue;
    stands_for[f] = t;
    Node dq;
    dq.name = g.tensor(t).name + "_dequantize";
    dq.op = OpType::DequantizeLinear;
    dq.inputs = {t};
    dq.outputs = {f};
    nodes.push_back(std::move(dq));
    ++rewrites;
  }
  std::vector<Node> tail;
  // Computed once: renaming one output below leaves the others' producers as they were.
  const std::vector<int> producers = g.producers();
  for (TensorId t : g.outputs) {
    const int p = producers[static_cast<size_t>(t)];
    if (g.tensor(t).dtype == DataType::Float32 || p < 0 || g.nodes[static_cast<size_t>(p)].op == OpType::QuantizeLinear)
      continue;
    // A quantized graph output made by a quantized op: the op writes float, a QuantizeLinear the output.
    const TensorId f = g.add_tensor(g.unique_tensor_name(g.tensor(t).name + "_float"), g.shape(t));
    stands_for[f] = t;
    for (Node& n : g.nodes) {
      for (TensorId& o : n.outputs)
        if (o == t) o = f;
      for (TensorId& in : n.inputs)
        if (in == t) in = f;
    }
    Node q;
    q.name = g.tensor(t).name + "_quantize";
    q.op = OpType::QuantizeLinear;
    q.inputs = {f};
    q.outputs = {t};
    tail.push_back(std::move(q));
    ++rewrites;
  }

  auto internal = [&](TensorId t) {
    return static_cast<size_t>(t) < original_tensors && !border[static_cast<size_t>(t)];
  };
  for (Node& n : g.nodes) {
    const bool q = n.op == OpType::QuantizeLinear, dq = n.op == OpType::DequantizeLinear;
    const TensorId out = n.outputs.empty() ? -1 : n.outputs[0];
    // The quantized tensor the node writes (for a quantized graph output: the one its float output stands for).
    const bool writes_quantized = out >= 0 && (internal(out) || stands_for.count(out));
    const TensorInfo* y =
        writes_quantized && is_quantized_dtype(quantized(out).dtype) && !quantized(out).quant->per_axis()
            ? &quantized(out)
            : nullptr;
    if (q && internal(out)) {
      // Quantizing saturates at the dtype's range: a Clip to it.
      if (y) {
        const auto [lo, hi] = representable(*y);
        n.op = OpType::Clip;
        n.attrs = clip_to(lo, hi);
      } else {
        n.op = OpType::Identity;
        n.attrs = {};
      }
      ++rewrites;
    } else if (dq && internal(n.inputs[0])) {
      n.op = OpType::Identity;
      n.attrs = {};
      ++rewrites;
    } else if (y && !q && !dq) {
      const auto [lo, hi] = representable(*y);
      if (fb::FusedActivation* act = epilogue(n)) {
        // Relu, Clip or none (the only epilogues of quantized ops) narrowed to the range.
        float a = lo, b = hi;
        if (act->kind() == fb::ActivationKind::Relu) a = std::max(a, 0.0f);
        if (act->kind() == fb::ActivationKind::Clip) a = std::max(a, act->alpha()), b = std::min(b, act->beta());
        *act = fb::FusedActivation(fb::ActivationKind::Clip, a, b);
      } else if (!is_reshape_like(n.op) &&
                 !(n.inputs.size() == 1 && requantization(quantized(n.inputs[0]), *y).identity)) {
        // Requantizing into another range may saturate: a Clip after the op.
        const TensorId f = g.add_tensor(g.unique_tensor_name(g.tensor(out).name + "_unclamped"), g.shape(out));
        for (TensorId& o : n.outputs)
          if (o == out) o = f;
        Node c;
        c.name = n.name + "_saturate";
        c.op = OpType::Clip;
        c.inputs = {f};
        c.outputs = {out};
        c.attrs = clip_to(lo, hi);
        nodes.push_back(std::move(n));
        nodes.push_back(std::move(c));
        ++rewrites;
        continue;
      }
    }
    nodes.push_back(std::move(n));
  }
  for (Node& n : tail) nodes.push_back(std::move(n));
  g.nodes = std::move(nodes);

  for (size_t i = 0; i < original_tensors; ++i) {
    TensorInfo& t = g.tensors[i];
    if (t.dtype == DataType::Float32 || border[i]) continue;
    if (t.constant) t.constant = dequantized_constant(t);
    t.dtype = DataType::Float32;
    t.quant.reset();
  }
  eliminate_identity(g);
  g.remove_unused_tensors();
  return rewrites;
}

}  // namespace kiln
