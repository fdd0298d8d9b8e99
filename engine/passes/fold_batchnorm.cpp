#include <algorithm>
#include <cmath>

#include "engine/passes/passes.hpp"

namespace kiln {

namespace {

bool is_const(const Graph& g, TensorId t) { return g.tensor(t).is_constant(); }

std::vector<float> values_of(const Graph& g, TensorId t) {
  const auto& c = *g.tensor(t).constant;
  const float* p = c.floats();
  return std::vector<float>(p, p + element_count(g.shape(t)));
}

// Per-channel BN as y = x * scale + shift.
struct ChannelAffine {
  std::vector<double> scale, shift;
};

ChannelAffine bn_affine(const Graph& g, const Node& bn) {
  const float eps = attrs_as<fb::BatchNormAttrsT>(bn).epsilon;
  const auto gamma = values_of(g, bn.inputs[1]);
  const auto beta = values_of(g, bn.inputs[2]);
  const auto mean = values_of(g, bn.inputs[3]);
  const auto var = values_of(g, bn.inputs[4]);
  ChannelAffine a;
  for (size_t c = 0; c < gamma.size(); ++c) {
    const double s = gamma[c] / std::sqrt(static_cast<double>(var[c]) + eps);
    a.scale.push_back(s);
    a.shift.push_back(beta[c] - mean[c] * s);
  }
  return a;
}

bool fold_into_conv(Graph& g, Node& conv, const ChannelAffine& a) {
  const TensorId w = conv.inputs[1];
  if (!is_const(g, w) || (conv.inputs.size() > 2 && !is_const(g, conv.inputs[2]))) return false;
  const Shape wshape = g.shape(w);
  const int64_t out_ch = wshape[0];
  if (static_cast<int64_t>(a.scale.size()) != out_ch) return false;
  std::vector<float> weights = values_of(g, w);
  const int64_t per_channel = element_count(wshape) / std::max<int64_t>(out_ch, 1);
  for (int64_t o = 0; o < out_ch; ++o)
    for (int64_t k = 0; k < per_channel; ++k)
      weights[o * per_channel + k] = static_cast<float>(weights[o * per_channel + k] * a.scale[o]);
  std::vector<float> bias(out_ch, 0.f);
  if (conv.inputs.size() > 2) bias = values_of(g, conv.inputs[2]);
  for (int64_t o = 0; o < out_ch; ++o) bias[o] = static_cast<float>(bias[o] * a.scale[o] + a.shift[o]);

  const std::string base = g.tensor(w).name;
  conv.inputs[1] = g.add_constant(g.unique_tensor_name(base + "_bnfold"), wshape, ConstantData::from_floats(weights));
  const TensorId b = g.add_constant(g.unique_tensor_name(base + "_bnfold_bias"), {out_ch}, ConstantData::from_floats(bias));
  if (conv.inputs.size() > 2) conv.inputs[2] = b;
  else conv.inputs.push_back(b);
  return true;
}

bool fold_into_gemm(Graph& g, Node& gemm, const ChannelAffine& a) {
  auto& attrs = attrs_as<fb::GemmAttrsT>(gemm);
  const TensorId bt = gemm.inputs[1];
  if (!is_const(g, bt) || (gemm.inputs.size() > 2 && !is_const(g, gemm.inputs[2]))) return false;
  const Shape bshape = g.shape(bt);
  const int64_t n = attrs.trans_b ? bshape[0] : bshape[1];
  const int64_t k = attrs.trans_b ? bshape[1] : bshape[0];
  if (static_cast<int64_t>(a.scale.size()) != n) return false;
  // y = s*(alpha*A*B + beta*C) + shift  ==  alpha*A*(B*s) + (s*beta*C + shift)
  std::vector<float> b = values_of(g, bt);
  for (int64_t r = 0; r < k; ++r)
    for (int64_t c = 0; c < n; ++c) {
      float& v = attrs.trans_b ? b[c * k + r] : b[r * n + c];
      v = static_cast<float>(v * a.scale[c]);
    }
  Shape cshape{n};
  std::vector<float> c(n, 0.f);
  if (gemm.inputs.size() > 2) {
    const Shape& old = g.shape(gemm.inputs[2]);
    const auto old_c = values_of(g, gemm.inputs[2]);
    const int64_t m = g.shape(gemm.outputs[0])[0];
    // C broadcasts to [M, N]: right-align its shape to read it at (i, j).
    const int64_t c_rows = old.size() == 2 ? old[0] : 1;
    const int64_t c_cols = old.empty() ? 1 : old.back();
    const bool per_row = c_rows == m && m != 1;
    // M comes from the input's shape, not from bytes in the model.
    const auto c_bytes = static_cast<uint64_t>(m) * static_cast<uint64_t>(n) * sizeof(float);
    if (per_row && c_bytes > std::max<uint64_t>(kMaxFoldGrowthBytes, (old_c.size() + b.size()) * sizeof(float)))
      return false;
    cshape = per_row ? Shape{m, n} : Shape{n};
    c.assign(per_row ? m * n : n, 0.f);
    for (int64_t i = 0; i < (per_row ? m : 1); ++i)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t src = (c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j);
        c[i * n + j] = static_cast<float>(a.scale[j] * attrs.beta * old_c[src] + a.shift[j]);
      }
  } else {
    for (int64_t j = 0; j < n; ++j) c[j] = static_cast<float>(a.shift[j]);
  }
  const std::string base = g.tensor(bt).name;
  gemm.inputs[1] = g.add_constant(g.unique_tensor_name(base + "_bnfold"), bshape, ConstantData::from_floats(b));
  const TensorId ct = g.add_constant(g.unique_tensor_name(base + "_bnfold_bias"), cshape, ConstantData::from_floats(c));
  if (gemm.inputs.size() > 2) gemm.inputs[2] = ct;
  else gemm.inputs.push_back(ct);
  attrs.beta = 1.0f;
  return true;
}

}  // namespace

int fold_batchnorm(Graph& graph) {
  int folded = 0;
  const std::vector<int> producer = graph.producers();
  const std::vector<std::vector<int>> consumers = graph.consumers();
  std::vector<char> removed(graph.nodes.size(), 0);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& bn = graph.nodes[i];
    if (bn.op != OpType::BatchNormalization) continue;
    bool params_const = true;
    for (int k = 1; k < 5; ++k) params_const = params_const && is_const(graph, bn.inputs[k]);
    const TensorId mid = bn.inputs[0];
    const int p = producer[mid];
    if (!params_const || p < 0 || removed[p] || consumers[mid].size() != 1 || graph.is_graph_output(mid)) continue;
    Node& prod = graph.nodes[p];
    const ChannelAffine affine = bn_affine(graph, bn);
    bool ok = false;
    if (prod.op == OpType::Conv && attrs_as<fb::ConvAttrsT>(prod).activation.kind() == fb::ActivationKind::None)
      ok = fold_into_conv(graph, prod, affine);
    else if (prod.op == OpType::Gemm && attrs_as<fb::GemmAttrsT>(prod).activation.kind() == fb::ActivationKind::None)
      ok = fold_into_gemm(graph, prod, affine);
    if (!ok) continue;
    prod.outputs[0] = bn.outputs[0];
    removed[i] = 1;
    ++folded;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (!removed[i]) kept.push_back(std::move(graph.nodes[i]));
  graph.nodes = std::move(kept);
  return folded;
}

}  // namespace kiln
