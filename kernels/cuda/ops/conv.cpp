// Conv on CUDA: one algorithm per layer with constant weights
// (conv/conv_algorithm.hpp), FCM fused depthwise/pointwise pairs where the
// FusePlanner cost model says so (conv/fuse_planner.hpp), and the direct
// kernel for weights computed at run time.
#include <fmt/format.h>

#include <optional>

#include "engine/core/spatial.hpp"
#include "kernels/cuda/conv/fuse_planner.hpp"
#include "kernels/cuda/ops/ops.hpp"

namespace kiln::cuda {

namespace {

std::optional<ConvLayer> conv_layer_of(const Lowering& l, int i) {
  const Graph& g = l.graph();
  const Node& node = l.node(i);
  if (node.op != OpType::Conv) return std::nullopt;
  if (!l.is_const(node.inputs[1])) return std::nullopt;
  if (node.inputs.size() > 2 && !l.is_const(node.inputs[2])) return std::nullopt;
  ConvLayer layer{};
  layer.shape = conv_geometry(g, node);
  layer.weights = l.host(node.inputs[1]);
  layer.bias = node.inputs.size() > 2 ? l.host(node.inputs[2]) : nullptr;
  layer.act = to_act(attrs_as<fb::ConvAttrsT>(node).activation);
  return layer;
}

void lower_pair(Lowering& l, const FusedPair& pr) {
  const Graph& g = l.graph();
  const ConvLayer a = *conv_layer_of(l, pr.first), b = *conv_layer_of(l, pr.second);
  const TensorId x = g.nodes[static_cast<size_t>(pr.first)].inputs[0];
  const TensorId y = g.nodes[static_cast<size_t>(pr.second)].outputs[0];
  const ConvLayer& dw = pr.dw_first ? a : b;
  const ConvLayer& pw = pr.dw_first ? b : a;
  WeightStore& store = l.weights();
  // Depthwise weights in ONNX order; pointwise weights transposed to [C][K].
  const auto w_dw = store.add(dw.weights, static_cast<size_t>(dw.shape.weight_elems()));
  const auto b_dw = dw.bias ? store.add(dw.bias, static_cast<size_t>(dw.shape.K)) : WeightStore::kNone;
  std::vector<float> wt(static_cast<size_t>(pw.shape.weight_elems()));
  for (int k = 0; k < pw.shape.K; ++k)
    for (int c = 0; c < pw.shape.C; ++c)
      wt[static_cast<size_t>(c) * pw.shape.K + k] = pw.weights[static_cast<size_t>(k) * pw.shape.C + c];
  const auto w_pw = store.add(std::move(wt));
  const auto b_pw = pw.bias ? store.add(pw.bias, static_cast<size_t>(pw.shape.K)) : WeightStore::kNone;
  const std::string name = pr.dw_first ? kFcmDwPw : kFcmPwDw;
  const std::string how = l.selector().fixed_mode() ? "fixed" : "planner";
  l.set_detail(pr.first, fmt::format("{} [{}] with {}: {}", name, how, l.node(pr.second).name, pr.why));
  l.fuse_into(pr.second, pr.first);
  const ConvGeometry geo = dw.shape;
  const Act act_dw = dw.act, act_pw = pw.act;
  const int pw_c = pw.shape.C, pw_k = pw.shape.K;
  const WeightStore* w = &store;
  if (pr.dw_first) {
    const FcmDwPwTile tile = pr.dw_pw;
    l.add_step(pr.first, OpType::Conv, {x}, {y}, [=, &l](cudaStream_t s) {
      launch_fcm_dw_pw(l.ptr(x), w->ptr(w_dw), w->ptr(b_dw), act_dw, w->ptr(w_pw), w->ptr(b_pw), act_pw, l.ptr(y), geo,
                       pw_k, tile, s);
    });
  } else {
    const FcmPwDwTile tile = pr.pw_dw;
    l.add_step(pr.first, OpType::Conv, {x}, {y}, [=, &l](cudaStream_t s) {
      launch_fcm_pw_dw(l.ptr(x), w->ptr(w_pw), w->ptr(b_pw), act_pw, w->ptr(w_dw), w->ptr(b_dw), act_dw, l.ptr(y), pw_c,
                       geo, tile, s);
    });
  }
}

void lower_single(Lowering& l, int i, const ConvLayer& layer) {
  const Node& node = l.node(i);
  const Selection sel = l.selector().choose(layer);
  const ConvKernel* kernel = l.keep(sel.algorithm->prepare(layer, l.ctx(), l.weights()));
  std::string detail = fmt::format("{} [{}, est {:.4f} ms", sel.algorithm->name(), sel.how, sel.estimated_ms);
  if (sel.measured_ms >= 0) detail += fmt::format(", measured {:.4f} ms", sel.measured_ms);
  detail += "]";
  if (const std::string d = kernel->detail(); !d.empty()) detail += " " + d;
  l.set_detail(i, detail);
  const TensorId x = node.inputs[0], y = node.outputs[0];
  l.add_step(i, OpType::Conv, {x}, {y}, [&l, kernel, x, y](cudaStream_t s) {
    kernel->run({l.ptr(x), l.ptr(y), l.workspace(), s});
  });
}

// Weights computed at run time: the direct kernel reads them in place.
void lower_runtime_weights(Lowering& l, int i) {
  const Node& node = l.node(i);
  const ConvGeometry geo = conv_geometry(l.graph(), node);
  const Act act = to_act(attrs_as<fb::ConvAttrsT>(node).activation);
  const TensorId x = node.inputs[0], wt = node.inputs[1], bt = node.inputs.size() > 2 ? node.inputs[2] : -1,
                 y = node.outputs[0];
  l.set_detail(i, "direct [weights computed at run time]");
  l.add_node_step(i, [=, &l](cudaStream_t s) {
    launch_conv_direct(l.ptr(x), l.ptr(wt), bt >= 0 ? l.ptr(bt) : nullptr, l.ptr(y), geo, act, s);
  });
}

}  // namespace

// FusePlanner: walks the depthwise convolutions in order and pairs each with
// its pointwise consumer (dw->pw) or producer (pw->dw), whichever the cost
// model says saves more; a node joins at most one pair, and the two nodes must
// be adjacent so that the fused step runs where both did.
void plan_pairs(Lowering& l) {
  const Graph& g = l.graph();
  l.pair_of.assign(g.nodes.size(), -1);
  const std::string& fixed = l.selector().fixed_name();
  const bool only_dw_pw = fixed == kFcmDwPw, only_pw_dw = fixed == kFcmPwDw;
  if (l.selector().fixed_mode() && !only_dw_pw && !only_pw_dw) return;  // fixed:NAME means that algorithm
  auto private_reader = [&](TensorId t) {
    const auto& r = l.consumers()[static_cast<size_t>(t)];
    return r.size() == 1 && !g.is_graph_output(t) ? r[0] : -1;
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const int d = static_cast<int>(i);
    if (l.pair_of[i] >= 0) continue;
    const auto dw = conv_layer_of(l, d);
    if (!dw || !dw->shape.is_depthwise() || !dw->shape.is_planar()) continue;
    FusedPair best{};
    double best_saving = 0;
    bool have = false;
    // dw -> pw: the depthwise output's only reader is the next node, a 1x1.
    const int p = private_reader(g.nodes[i].outputs[0]);
    if (p == d + 1 && !only_pw_dw) {
      if (const auto pw = conv_layer_of(l, p)) {
        const DwPwPlan plan = plan_dw_pw(dw->shape, pw->shape, l.ctx().model());
        const double saving = plan.separate.ms - plan.fused.ms;
        if (plan.applicable && plan.smem_bytes > 0 && (plan.fuse || only_dw_pw) && (!have || saving > best_saving)) {
          best = FusedPair{true, d, p, plan.tile, {}, plan.why};
          best_saving = saving;
          have = true;
        }
      }
    }
    // pw -> dw: the depthwise input comes from the previous node, a 1x1 read only here.
    const int e = l.producers()[static_cast<size_t>(g.nodes[i].inputs[0])];
    if (e == d - 1 && e >= 0 && l.pair_of[static_cast<size_t>(e)] < 0 && private_reader(g.nodes[i].inputs[0]) == d &&
        !only_dw_pw) {
      if (const auto pw = conv_layer_of(l, e)) {
        const PwDwPlan plan = plan_pw_dw(pw->shape, dw->shape, l.ctx().model());
        const double saving = plan.separate.ms - plan.fused.ms;
        if (plan.applicable && plan.smem_bytes > 0 && (plan.fuse || only_pw_dw) && (!have || saving > best_saving)) {
          best = FusedPair{false, e, d, {}, plan.tile, plan.why};
          best_saving = saving;
          have = true;
        }
      }
    }
    if (!have) continue;
    const int index = static_cast<int>(l.pairs.size());
    l.pair_of[static_cast<size_t>(best.first)] = index;
    l.pair_of[static_cast<size_t>(best.second)] = index;
    l.pairs.push_back(best);
  }
}

void lower_conv(Lowering& l, int i) {
  if (const int p = l.pair_of[static_cast<size_t>(i)]; p >= 0) {
    // A pair's second node is taken by its first one, so `i` starts it.
    lower_pair(l, l.pairs[static_cast<size_t>(p)]);
    return;
  }
  if (const auto layer = conv_layer_of(l, i))
    lower_single(l, i, *layer);
  else
    lower_runtime_weights(l, i);
}

}  // namespace kiln::cuda
