// Conv on the CPU: one algorithm per layer (conv/select.hpp), a following
// residual Add taken into the epilogue, and expand -> depthwise -> project
// chains run fused (conv/fused_chain.hpp) where the cost model or tuning says so.
#include <fmt/format.h>

#include <optional>

#include "engine/core/quantized_ops.hpp"
#include "engine/core/residual.hpp"
#include "engine/core/spatial.hpp"
#include "kernels/cpu/conv/conv_common.hpp"
#include "kernels/cpu/conv/fused_chain.hpp"
#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

namespace {

// The layer of a 2-D Conv with constant weights (and bias); nullopt for
// anything the CPU algorithms do not take (the reference kernel runs it).
std::optional<ConvLayer> conv_layer_of(Lowering& l, int i) {
  const Graph& g = l.graph();
  const Node& node = l.node(i);
  if (node.op != OpType::Conv || is_quantized_node(g, node)) return std::nullopt;
  if (g.shape(node.inputs[0]).size() != 4 || !g.tensor(node.inputs[1]).is_constant()) return std::nullopt;
  if (node.inputs.size() > 2 && !g.tensor(node.inputs[2]).is_constant()) return std::nullopt;
  ConvLayer layer;
  layer.shape = conv_geometry(g, node);
  layer.weights = g.tensor(node.inputs[1]).constant->floats();
  layer.bias = node.inputs.size() > 2 ? g.tensor(node.inputs[2]).constant->floats() : nullptr;
  layer.act = to_activation(attrs_as<fb::ConvAttrsT>(node).activation);
  layer.simd = &l.simd();
  layer.threads = l.threads();
  layer.prepare_pool = l.prepare_pool();
  return layer;
}

ResidualAdd residual_after(const Lowering& l, int conv, int first) {
  return kiln::residual_after(l.graph(), l.consumers(), l.producers(), conv, first);
}

void lower_chain(Lowering& l, const Chain& c) {
  const Graph& g = l.graph();
  const int first = c.expand >= 0 ? c.expand : c.dw;
  const int last = c.project >= 0 ? c.project : c.dw;
  ChainLayers layers = c.layers;
  TensorId out = g.nodes[static_cast<size_t>(last)].outputs[0];
  ResidualAdd residual;
  if (c.project >= 0) {
    // The chain runs at its first node's place: the residual must exist by then.
    residual = residual_after(l, last, first);
    if (residual) {
      layers.project->act = to_activation(attrs_as<fb::BinaryAttrsT>(l.node(residual.add)).activation);
      out = l.node(residual.add).outputs[0];
      l.fuse_into(residual.add, last);
    }
  }
  const ConvKernel* kernel = l.keep(prepare_chain(layers));
  const TensorId xin = l.in_layout(l.node(first).inputs[0], Layout::NHWC, first);
  const TensorId rin = residual ? l.in_layout(residual.residual, Layout::NHWC, first) : -1;
  l.set_layout(out, Layout::NHWC);
  std::string names;
  for (int n : {c.expand, c.dw, c.project})
    if (n >= 0) {
      names += (names.empty() ? "" : " + ") + l.node(n).name;
      if (n != first) l.fuse_into(n, first);
    }
  std::string why = fmt::format("est {:.3f} ms vs {:.3f} ms separate", c.cost.fused_ms, c.cost.separate_ms);
  if (c.verdict && c.verdict->fused_ms >= 0)
    why = fmt::format("tuned {:.3f} ms vs {:.3f} ms separate", c.verdict->fused_ms, c.verdict->separate_ms);
  else if (c.verdict)
    why = "tuning cache";
  l.set_detail(first, fmt::format("fused {} [{}, saves {} of intermediates]{} {}", names, why,
                                  human_bytes(static_cast<size_t>(c.cost.intermediate_bytes)),
                                  rin >= 0 ? " +residual" : "", kernel->detail()));
  l.add_conv_step(first, kernel, xin, rin, out);
}

}  // namespace

// Finds expand(1x1) -> depthwise -> project(1x1) chains (either 1x1 may be
// missing) whose intermediates have no other reader, and keeps those the
// cost model says to fuse.
void plan_chains(Lowering& l) {
  const Graph& g = l.graph();
  l.chain_of.assign(g.nodes.size(), -1);
  if (l.selector().fixed_mode()) return;  // fixed:NAME means that algorithm wherever it applies
  auto single_private_reader = [&](TensorId t) {
    const auto& r = l.consumers()[static_cast<size_t>(t)];
    return r.size() == 1 && !g.is_graph_output(t) ? r[0] : -1;
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    std::optional<ConvLayer> dw = conv_layer_of(l, static_cast<int>(i));
    if (!dw || !dw->shape.is_depthwise()) continue;
    Chain c;
    c.layers.depthwise = *dw;
    c.dw = static_cast<int>(i);
    const int e = l.producers()[static_cast<size_t>(g.nodes[i].inputs[0])];
    if (e >= 0 && l.chain_of[static_cast<size_t>(e)] < 0 &&
        single_private_reader(g.nodes[i].inputs[0]) == static_cast<int>(i)) {
      if (auto layer = conv_layer_of(l, e)) {
        c.layers.expand = layer;
        if (!chain_applicable(c.layers))
          c.layers.expand.reset();
        else
          c.expand = e;
      }
    }
    const int p = single_private_reader(g.nodes[i].outputs[0]);
    if (p >= 0) {
      if (auto layer = conv_layer_of(l, p)) {
        c.layers.project = layer;
        if (!chain_applicable(c.layers))
          c.layers.project.reset();
        else
          c.project = p;
      }
    }
    if (!chain_applicable(c.layers)) continue;
    double separate = 0;
    for (int n : {c.expand, c.dw, c.project})
      if (n >= 0) separate += l.selector().choose(*conv_layer_of(l, n), false).estimated_ms;
    const ChainCost cost = chain_cost(c.layers, separate, l.selector().machine());
    // tune: measured fused vs separate; otherwise the cost model.
    c.verdict = l.selector().tune_chain(c.layers);
    for (int n : {c.expand, c.dw, c.project})
      if (n >= 0) l.conv_visited(n);
    if (c.verdict ? !c.verdict->fuse : cost.fused_ms >= cost.separate_ms) continue;
    c.cost = cost;
    const int index = static_cast<int>(l.chains.size());
    for (int n : {c.expand, c.dw, c.project})
      if (n >= 0) l.chain_of[static_cast<size_t>(n)] = index;
    l.chains.push_back(std::move(c));
  }
}

// A quantized Conv on the integer kernels (uint8 NHWC), or the reference kernel.
void lower_qconv(Lowering& l, int i) {
  const Graph& g = l.graph();
  const Node& node = l.node(i);
  QConvLayer layer;
  layer.shape = conv_geometry(g, node);
  layer.x = &g.tensor(node.inputs[0]);
  layer.w = &g.tensor(node.inputs[1]);
  layer.bias = node.inputs.size() > 2 ? &g.tensor(node.inputs[2]) : nullptr;
  layer.y = &g.tensor(node.outputs[0]);
  layer.act = attrs_as<fb::ConvAttrsT>(node).activation;
  layer.kernels = layer.shape.is_depthwise() ? &int8_depthwise_kernels(l.isa(), layer.shape.C) : &l.int8();
  layer.threads = l.threads();
  if (!qconv_supported(layer)) return l.lower_with_reference(i);
  const QSelection sel = l.selector().choose_q(layer);
  // A residual Add of uint8 tensors goes into the epilogue of an algorithm
  // that takes one (the GEMM's: each tile adds while its bytes are in L1),
  // the Add's activation with it; otherwise the Add runs on its own.
  TensorId out = node.outputs[0];
  ResidualAdd residual = sel.algorithm->fuses_residual() ? residual_after(l, i, i) : ResidualAdd{};
  if (residual) {
    const Node& add = l.node(residual.add);
    const TensorInfo& r = g.tensor(residual.residual);
    const TensorInfo& y = g.tensor(add.outputs[0]);
    if (is_quantized_node(g, add) && r.dtype == DataType::UInt8 && y.dtype == DataType::UInt8) {
      const QuantizedAdd q = quantized_add(*layer.y, r, y, attrs_as<fb::BinaryAttrsT>(add).activation);
      layer.residual = qadd_params(q);
      out = add.outputs[0];
      l.fuse_into(residual.add, i);
    } else {
      residual = {};
    }
  }
  std::unique_ptr<QConvKernel> kernel = sel.algorithm->prepare(layer);
  const TensorId xin = l.in_layout(node.inputs[0], Layout::NHWC, i);
  const TensorId rin = residual ? l.in_layout(residual.residual, Layout::NHWC, i) : -1;
  l.set_layout(out, Layout::NHWC);
  std::string detail = fmt::format("{} [{}, est {:.3f} ms", sel.algorithm->name(), sel.how, sel.estimated_ms);
  if (sel.measured_ms >= 0) detail += fmt::format(", measured {:.3f} ms", sel.measured_ms);
  detail += "] ";
  detail += kernel->detail();
  l.set_detail(i, detail);
  l.add_qconv_step(i, std::move(kernel), xin, out, rin);
}

void lower_conv(Lowering& l, int i) {
  if (is_quantized_node(l.graph(), l.node(i))) return lower_qconv(l, i);
  if (const int c = l.chain_of[static_cast<size_t>(i)]; c >= 0) {
    // A chain's later nodes are taken by its first one, so `i` starts it.
    lower_chain(l, l.chains[static_cast<size_t>(c)]);
    return;
  }
  std::optional<ConvLayer> maybe = conv_layer_of(l, i);
  if (!maybe) return l.lower_with_reference(i);
  ConvLayer layer = *maybe;
  const Node& node = l.node(i);
  TensorId out = node.outputs[0];
  ResidualAdd residual = residual_after(l, i, i);
  Selection sel = l.selector().choose(layer, bool(residual));
  if (residual && !sel.algorithm) {
    residual = {};
    sel = l.selector().choose(layer, false);
  }
  if (!sel.algorithm) return l.lower_with_reference(i);
  if (residual) {
    const Node& add = l.node(residual.add);
    layer.act = to_activation(attrs_as<fb::BinaryAttrsT>(add).activation);
    out = add.outputs[0];
    l.fuse_into(residual.add, i);
  }
  const ConvKernel* kernel = l.keep(sel.algorithm->prepare(layer));
  const TensorId xin = l.in_layout(node.inputs[0], Layout::NHWC, i);
  const TensorId rin = residual ? l.in_layout(residual.residual, Layout::NHWC, i) : -1;
  l.set_layout(out, Layout::NHWC);
  std::string detail = fmt::format("{} [{}, est {:.3f} ms", sel.algorithm->name(), sel.how, sel.estimated_ms);
  if (sel.measured_ms >= 0) detail += fmt::format(", measured {:.3f} ms", sel.measured_ms);
  detail += "]";
  if (rin >= 0) detail += " +residual";
  if (const std::string d = kernel->detail(); !d.empty()) detail += " " + d;
  l.set_detail(i, detail);
  l.add_conv_step(i, kernel, xin, rin, out);
}

}  // namespace kiln::cpu
