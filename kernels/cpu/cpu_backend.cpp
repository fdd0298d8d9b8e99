// The CPU backend: NHWC SIMD kernels, per-layer convolution algorithms and a
// thread pool. Lowering (see lowering.hpp) happens once, at compile time;
// run() only calls the bound steps.
#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <new>

#include "engine/core/activation.hpp"
#include "engine/core/op_info.hpp"
#include "engine/core/shape_inference.hpp"
#include "engine/core/spatial.hpp"
#include "engine/runtime/backend_registry.hpp"
#include "kernels/cpu/conv/conv_common.hpp"
#include "kernels/cpu/conv/fused_chain.hpp"
#include "kernels/cpu/conv/gemm_driver.hpp"
#include "kernels/cpu/conv/select.hpp"
#include "kernels/cpu/lowering.hpp"
#include "kernels/reference/kernels.hpp"
#include "kiln/error.hpp"

namespace kiln::cpu {
namespace {

Activation to_activation(const fb::FusedActivation& a) {
  return {static_cast<uint8_t>(a.kind()), a.alpha(), a.beta()};
}

// NCHW and NHWC hold the same bytes when there is one channel or one pixel.
bool layouts_coincide(const Shape& s) { return s.size() != 4 || s[1] == 1 || s[2] * s[3] == 1; }

// [N][C][HW] <-> [N][HW][C]
void nchw_to_nhwc(const float* x, float* y, int64_t N, int64_t C, int64_t HW) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < HW; ++p) y[(n * HW + p) * C + c] = x[(n * C + c) * HW + p];
}
void nhwc_to_nchw(const float* x, float* y, int64_t N, int64_t C, int64_t HW) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < HW; ++p)
      for (int64_t c = 0; c < C; ++c) y[(n * C + c) * HW + p] = x[(n * HW + p) * C + c];
}

class CpuExecutable final : public Executable {
 public:
  CpuExecutable(std::shared_ptr<const Graph> graph, const BackendOptions& options)
      : graph_(std::move(graph)),
        isa_(choose_isa(options.isa)),
        simd_(&simd_kernels(isa_)),
        pool_(options.threads),
        selector_(options, isa_) {
    lower();
    plan_ = plan_memory(
        lowered_, [&](TensorId t) { return static_cast<size_t>(element_count(lowered_.shape(t))) * sizeof(float); });
    arena_ = allocate_aligned(plan_.arena_bytes);
    size_t ws = 64;
    for (const auto& k : conv_kernels_) ws = std::max(ws, k->workspace_bytes());
    workspace_ = allocate_aligned(ws);
    workspace_bytes_ = ws;
    times_.assign(graph_->nodes.size(), 0.0);
  }

  void run(std::span<const float* const> inputs, std::span<float* const> outputs) override {
    const Graph& g = *graph_;
    for (size_t i = 0; i < g.inputs.size(); ++i)
      std::memcpy(ptr(g.inputs[i]), inputs[i], bytes(g.inputs[i]));
    std::fill(times_.begin(), times_.end(), 0.0);
    for (const Step& s : steps_) {
      const auto t0 = std::chrono::steady_clock::now();
      s.fn();
      times_[static_cast<size_t>(s.node)] +=
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    for (size_t i = 0; i < g.outputs.size(); ++i) std::memcpy(outputs[i], ptr(final_outputs_[i]), bytes(g.outputs[i]));
    pool_.release_workers();
  }

  std::span<const double> node_times_ms() const override { return times_; }

  MemoryStats memory() const override {
    MemoryStats s;
    s.arena_bytes = plan_.arena_bytes + workspace_bytes_;
    s.naive_bytes = plan_.naive_bytes;
    s.weights_bytes = packed_weight_bytes_;
    return s;
  }

  std::string node_detail(size_t i) const override { return i < details_.size() ? details_[i] : std::string(); }

 private:
  struct Step {
    int node;
    std::function<void()> fn;
  };

  float* ptr(TensorId t) const {
    const TensorInfo& info = lowered_.tensor(t);
    if (info.constant) return const_cast<float*>(info.constant->floats());
    return reinterpret_cast<float*>(arena_.get() + plan_.offsets[static_cast<size_t>(t)]);
  }
  size_t bytes(TensorId t) const { return static_cast<size_t>(element_count(lowered_.shape(t))) * sizeof(float); }
  const Shape& shape(TensorId t) const { return lowered_.shape(t); }
  bool is_const(TensorId t) const { return lowered_.tensor(t).is_constant(); }

  // ---- lowering ---------------------------------------------------------------------
  void lower();
  TensorId in_layout(TensorId t, Layout want, int node);
  void add_node(int node, OpType op, std::vector<TensorId> in, std::vector<TensorId> out, std::function<void()> fn) {
    Node n;
    n.name = graph_->nodes[static_cast<size_t>(node)].name;
    n.op = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    lowered_.nodes.push_back(std::move(n));
    steps_.push_back({node, std::move(fn)});
  }
  struct Chain {
    ChainLayers layers;
    int expand = -1, dw = -1, project = -1;  // node indices
    ChainCost cost;
    std::optional<ConvSelector::ChainVerdict> verdict;  // tune mode
  };
  void lower_fallback(int i);
  std::optional<ConvLayer> conv_layer_of(int i) const;
  std::pair<TensorId, int> residual_after(int i) const;
  bool lower_conv(int i, std::vector<char>& skip);
  void add_conv_step(int i, const ConvKernel* kernel, TensorId xin, TensorId rin, TensorId out);
  void plan_chains();
  void lower_chain(const Chain& c, std::vector<char>& skip);
  bool lower_pool(int i);
  bool lower_global_pool(int i);
  bool lower_unary(int i);
  bool lower_softmax(int i);
  bool lower_binary(int i);
  bool lower_concat(int i);
  bool lower_gemm(int i);

  std::shared_ptr<const Graph> graph_;
  Isa isa_;
  const SimdKernels* simd_;
  ThreadPool pool_;
  ConvSelector selector_;

  std::vector<std::vector<int>> consumers_;
  std::vector<int> producers_;
  std::vector<Chain> chains_;
  std::vector<int> chain_of_;  // per node: its chain, or -1
  Graph lowered_;  // the graph the planner sees: tensors as stored, nodes as steps
  std::vector<Layout> layout_;
  std::map<std::pair<TensorId, Layout>, TensorId> converted_;
  std::vector<Step> steps_;
  std::vector<TensorId> final_outputs_;
  std::vector<std::unique_ptr<ConvKernel>> conv_kernels_;
  std::vector<std::vector<float>> owned_;  // packed weights of non-convolution ops
  std::vector<PackedB> packed_;
  size_t packed_weight_bytes_ = 0;
  std::vector<std::string> details_;

  MemoryPlan plan_;
  AlignedBytes arena_;
  AlignedBytes workspace_;
  size_t workspace_bytes_ = 0;
  std::vector<double> times_;
};

TensorId CpuExecutable::in_layout(TensorId t, Layout want, int node) {
  if (layout_[static_cast<size_t>(t)] == want || layouts_coincide(shape(t)) || is_const(t)) return t;
  const auto key = std::make_pair(t, want);
  if (auto it = converted_.find(key); it != converted_.end()) return it->second;
  const TensorId c = lowered_.add_tensor(lowered_.unique_tensor_name(lowered_.tensor(t).name + "/" +
                                                                     (want == Layout::NHWC ? "nhwc" : "nchw")),
                                         shape(t));
  layout_.push_back(want);
  converted_[key] = c;
  const Shape s = shape(t);
  add_node(node, OpType::Transpose, {t}, {c}, [this, t, c, want, s] {
    if (want == Layout::NHWC) nchw_to_nhwc(ptr(t), ptr(c), s[0], s[1], s[2] * s[3]);
    else nhwc_to_nchw(ptr(t), ptr(c), s[0], s[1], s[2] * s[3]);
  });
  return c;
}

void CpuExecutable::lower() {
  const Graph& g = *graph_;
  lowered_.tensors = g.tensors;
  lowered_.inputs = g.inputs;
  layout_.assign(g.tensors.size(), Layout::NCHW);
  details_.assign(g.nodes.size(), "");
  consumers_ = g.consumers();
  producers_ = g.producers();
  plan_chains();
  std::vector<char> skip(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (skip[i]) continue;
    const int n = static_cast<int>(i);
    if (chain_of_[i] >= 0) {
      lower_chain(chains_[static_cast<size_t>(chain_of_[i])], skip);
      continue;
    }
    bool done = false;
    switch (g.nodes[i].op) {
      case OpType::Conv: done = lower_conv(n, skip); break;
      case OpType::MaxPool:
      case OpType::AveragePool: done = lower_pool(n); break;
      case OpType::GlobalAveragePool:
      case OpType::GlobalMaxPool: done = lower_global_pool(n); break;
      case OpType::Relu:
      case OpType::Clip:
      case OpType::LeakyRelu:
      case OpType::Sigmoid:
      case OpType::HardSigmoid:
      case OpType::HardSwish:
      case OpType::Tanh: done = lower_unary(n); break;
      case OpType::Add:
      case OpType::Sub:
      case OpType::Mul:
      case OpType::Div: done = lower_binary(n); break;
      case OpType::Concat: done = lower_concat(n); break;
      case OpType::Gemm: done = lower_gemm(n); break;
      case OpType::Softmax: done = lower_softmax(n); break;
      default: break;
    }
    if (!done) lower_fallback(n);
  }
  for (TensorId t : g.outputs) final_outputs_.push_back(in_layout(t, Layout::NCHW, static_cast<int>(g.nodes.size()) - 1));
  lowered_.outputs = final_outputs_;
}

// Any op without a SIMD kernel: the reference kernel on NCHW tensors.
void CpuExecutable::lower_fallback(int i) {
  const Node& node = graph_->nodes[static_cast<size_t>(i)];
  std::vector<TensorId> in;
  for (TensorId t : node.inputs) in.push_back(in_layout(t, Layout::NCHW, i));
  for (TensorId t : node.outputs) layout_[static_cast<size_t>(t)] = Layout::NCHW;
  const reference::KernelFn fn = reference::kernel_for(node.op);
  details_[static_cast<size_t>(i)] = "reference kernel";
  // Views are built at run time from the plan; their vectors are sized now.
  auto views_in = std::make_shared<std::vector<reference::InputView>>(in.size());
  auto views_out = std::make_shared<std::vector<reference::OutputView>>(node.outputs.size());
  const std::vector<TensorId> outs = node.outputs;
  add_node(i, node.op, in, outs, [this, &node, fn, in, outs, views_in, views_out] {
    for (size_t k = 0; k < in.size(); ++k) (*views_in)[k] = {ptr(in[k]), &shape(in[k])};
    for (size_t k = 0; k < outs.size(); ++k) (*views_out)[k] = {ptr(outs[k]), &shape(outs[k])};
    fn(reference::KernelArgs{&node, *views_in, *views_out});
  });
}

std::optional<ConvLayer> CpuExecutable::conv_layer_of(int i) const {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  if (node.op != OpType::Conv) return std::nullopt;
  const auto& a = attrs_as<fb::ConvAttrsT>(node);
  const TensorId x = node.inputs[0];
  if (g.shape(x).size() != 4 || !g.tensor(node.inputs[1]).is_constant()) return std::nullopt;
  if (node.inputs.size() > 2 && !g.tensor(node.inputs[2]).is_constant()) return std::nullopt;
  const Window3d w = make_window(node.name, g.shape(x), a.kernel_shape, a.strides, a.dilations, a.pads, false);
  const Shape& ys = g.shape(node.outputs[0]);
  ConvLayer layer;
  ConvShape& s = layer.shape;
  s.N = static_cast<int>(ys[0]);
  s.C = static_cast<int>(g.shape(x)[1]);
  s.H = static_cast<int>(w.in[1]), s.W = static_cast<int>(w.in[2]);
  s.K = static_cast<int>(ys[1]), s.OH = static_cast<int>(w.out[1]), s.OW = static_cast<int>(w.out[2]);
  s.KH = static_cast<int>(w.kernel[1]), s.KW = static_cast<int>(w.kernel[2]);
  s.sh = static_cast<int>(w.stride[1]), s.sw = static_cast<int>(w.stride[2]);
  s.dh = static_cast<int>(w.dilation[1]), s.dw = static_cast<int>(w.dilation[2]);
  s.pt = static_cast<int>(w.pad_begin[1]), s.pl = static_cast<int>(w.pad_begin[2]);
  s.pb = static_cast<int>(w.pad_end[1]), s.pr = static_cast<int>(w.pad_end[2]);
  s.group = a.group;
  layer.weights = g.tensor(node.inputs[1]).constant->floats();
  layer.bias = node.inputs.size() > 2 ? g.tensor(node.inputs[2]).constant->floats() : nullptr;
  layer.act = to_activation(a.activation);
  layer.simd = simd_;
  layer.threads = pool_.threads();
  return layer;
}

// A following Add of a tensor computed before node `i` (a residual
// connection) can move into node i's epilogue: returns {residual, add node}.
std::pair<TensorId, int> CpuExecutable::residual_after(int i) const {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  const TensorId out = node.outputs[0];
  const auto& readers = consumers_[static_cast<size_t>(out)];
  if (attrs_as<fb::ConvAttrsT>(node).activation.kind() != fb::ActivationKind::None || readers.size() != 1 ||
      g.is_graph_output(out))
    return {-1, -1};
  const Node& add = g.nodes[static_cast<size_t>(readers[0])];
  if (add.op != OpType::Add || add.inputs.size() != 2) return {-1, -1};
  const TensorId other = add.inputs[0] == out ? add.inputs[1] : add.inputs[0];
  if (other == out || g.tensor(other).is_constant() || g.shape(other) != g.shape(out)) return {-1, -1};
  if (producers_[static_cast<size_t>(other)] >= i) return {-1, -1};
  // The chain's own input may be read here too; it is produced before the chain.
  return {other, readers[0]};
}

bool CpuExecutable::lower_conv(int i, std::vector<char>& skip) {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  std::optional<ConvLayer> maybe = conv_layer_of(i);
  if (!maybe) return false;
  ConvLayer layer = *maybe;
  const TensorId x = node.inputs[0];
  TensorId out = node.outputs[0];
  auto [residual, add_node_index] = residual_after(i);
  Selection sel = selector_.choose(layer, residual >= 0);
  if (residual >= 0 && !sel.algorithm) {
    residual = -1;
    add_node_index = -1;
    sel = selector_.choose(layer, false);
  }
  if (!sel.algorithm) return false;
  if (add_node_index >= 0) {
    const Node& add = g.nodes[static_cast<size_t>(add_node_index)];
    layer.act = to_activation(attrs_as<fb::BinaryAttrsT>(add).activation);
    out = add.outputs[0];
    skip[static_cast<size_t>(add_node_index)] = 1;
    details_[static_cast<size_t>(add_node_index)] = "fused into " + node.name;
  }
  conv_kernels_.push_back(sel.algorithm->prepare(layer));
  const ConvKernel* kernel = conv_kernels_.back().get();
  const TensorId xin = in_layout(x, Layout::NHWC, i);
  const TensorId rin = residual >= 0 ? in_layout(residual, Layout::NHWC, i) : -1;
  layout_[static_cast<size_t>(out)] = Layout::NHWC;
  std::string detail = fmt::format("{} [{}, est {:.3f} ms", sel.algorithm->name(), sel.how, sel.estimated_ms);
  if (sel.measured_ms >= 0) detail += fmt::format(", measured {:.3f} ms", sel.measured_ms);
  detail += "]";
  if (rin >= 0) detail += " +residual";
  if (const std::string d = kernel->detail(); !d.empty()) detail += " " + d;
  details_[static_cast<size_t>(i)] = detail;
  add_conv_step(i, kernel, xin, rin, out);
  return true;
}

void CpuExecutable::add_conv_step(int i, const ConvKernel* kernel, TensorId xin, TensorId rin, TensorId out) {
  packed_weight_bytes_ += kernel->weight_bytes();
  std::vector<TensorId> ins{xin};
  if (rin >= 0) ins.push_back(rin);
  add_node(i, OpType::Conv, ins, {out}, [this, kernel, xin, rin, out] {
    kernel->run({ptr(xin), ptr(out), rin >= 0 ? ptr(rin) : nullptr, reinterpret_cast<float*>(workspace_.get()), &pool_});
  });
}

// Finds expand(1x1) -> depthwise -> project(1x1) chains (either 1x1 may be
// missing) whose intermediates have no other reader, and keeps those the
// cost model says to fuse.
void CpuExecutable::plan_chains() {
  const Graph& g = *graph_;
  chain_of_.assign(g.nodes.size(), -1);
  if (selector_.fixed_mode()) return;  // fixed:NAME means that algorithm wherever it applies
  auto single_private_reader = [&](TensorId t) {
    const auto& r = consumers_[static_cast<size_t>(t)];
    return r.size() == 1 && !g.is_graph_output(t) ? r[0] : -1;
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    std::optional<ConvLayer> dw = conv_layer_of(static_cast<int>(i));
    if (!dw || !dw->shape.depthwise()) continue;
    Chain c;
    c.layers.depthwise = *dw;
    c.dw = static_cast<int>(i);
    const int e = producers_[static_cast<size_t>(g.nodes[i].inputs[0])];
    if (e >= 0 && chain_of_[static_cast<size_t>(e)] < 0 &&
        single_private_reader(g.nodes[i].inputs[0]) == static_cast<int>(i)) {
      if (auto layer = conv_layer_of(e)) {
        c.layers.expand = layer;
        if (!chain_applicable(c.layers)) c.layers.expand.reset();
        else c.expand = e;
      }
    }
    const int p = single_private_reader(g.nodes[i].outputs[0]);
    if (p >= 0) {
      if (auto layer = conv_layer_of(p)) {
        c.layers.project = layer;
        if (!chain_applicable(c.layers)) c.layers.project.reset();
        else c.project = p;
      }
    }
    if (!chain_applicable(c.layers)) continue;
    double separate = 0;
    for (int n : {c.expand, c.dw, c.project})
      if (n >= 0) separate += selector_.choose(*conv_layer_of(n), false).estimated_ms;
    const ChainCost cost = chain_cost(c.layers, separate, selector_.machine());
    // tune: measured fused vs separate; otherwise the cost model.
    c.verdict = selector_.tune_chain(c.layers);
    if (c.verdict ? !c.verdict->fuse : cost.fused_ms >= cost.separate_ms) continue;
    c.cost = cost;
    const int index = static_cast<int>(chains_.size());
    for (int n : {c.expand, c.dw, c.project})
      if (n >= 0) chain_of_[static_cast<size_t>(n)] = index;
    chains_.push_back(std::move(c));
  }
}

void CpuExecutable::lower_chain(const Chain& c, std::vector<char>& skip) {
  const Graph& g = *graph_;
  const int first = c.expand >= 0 ? c.expand : c.dw;
  const int last = c.project >= 0 ? c.project : c.dw;
  ChainLayers layers = c.layers;
  TensorId out = g.nodes[static_cast<size_t>(last)].outputs[0];
  TensorId residual = -1;
  if (c.project >= 0) {
    auto [r, add] = residual_after(last);
    // The chain runs at its first node's place: the residual must exist by then.
    if (add >= 0 && producers_[static_cast<size_t>(r)] < first) {
      residual = r;
      layers.project->act = to_activation(attrs_as<fb::BinaryAttrsT>(g.nodes[static_cast<size_t>(add)]).activation);
      out = g.nodes[static_cast<size_t>(add)].outputs[0];
      skip[static_cast<size_t>(add)] = 1;
      details_[static_cast<size_t>(add)] = "fused into " + g.nodes[static_cast<size_t>(last)].name;
    }
  }
  conv_kernels_.push_back(prepare_chain(layers));
  const ConvKernel* kernel = conv_kernels_.back().get();
  const TensorId xin = in_layout(g.nodes[static_cast<size_t>(first)].inputs[0], Layout::NHWC, first);
  const TensorId rin = residual >= 0 ? in_layout(residual, Layout::NHWC, first) : -1;
  layout_[static_cast<size_t>(out)] = Layout::NHWC;
  std::string names;
  for (int n : {c.expand, c.dw, c.project})
    if (n >= 0) {
      names += (names.empty() ? "" : " + ") + g.nodes[static_cast<size_t>(n)].name;
      if (n != first) {
        skip[static_cast<size_t>(n)] = 1;
        details_[static_cast<size_t>(n)] = "fused into " + g.nodes[static_cast<size_t>(first)].name;
      }
    }
  std::string why = fmt::format("est {:.3f} ms vs {:.3f} ms separate", c.cost.fused_ms, c.cost.separate_ms);
  if (c.verdict && c.verdict->fused_ms >= 0)
    why = fmt::format("tuned {:.3f} ms vs {:.3f} ms separate", c.verdict->fused_ms, c.verdict->separate_ms);
  else if (c.verdict)
    why = "tuning cache";
  details_[static_cast<size_t>(first)] =
      fmt::format("fused {} [{}, saves {} of intermediates]{} {}", names, why,
                  human_bytes(static_cast<size_t>(c.cost.intermediate_bytes)), rin >= 0 ? " +residual" : "",
                  kernel->detail());
  add_conv_step(first, kernel, xin, rin, out);
}

bool CpuExecutable::lower_pool(int i) {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  const auto& a = attrs_as<fb::PoolAttrsT>(node);
  const TensorId x = node.inputs[0];
  if (g.shape(x).size() != 4 || node.outputs.size() != 1) return false;
  const Window3d w = make_window(node.name, g.shape(x), a.kernel_shape, a.strides, a.dilations, a.pads, a.ceil_mode);
  PoolArgs p{};
  p.H = static_cast<int>(w.in[1]), p.W = static_cast<int>(w.in[2]), p.C = static_cast<int>(g.shape(x)[1]);
  p.OH = static_cast<int>(w.out[1]), p.OW = static_cast<int>(w.out[2]);
  p.KH = static_cast<int>(w.kernel[1]), p.KW = static_cast<int>(w.kernel[2]);
  p.sh = static_cast<int>(w.stride[1]), p.sw = static_cast<int>(w.stride[2]);
  p.dh = static_cast<int>(w.dilation[1]), p.dw = static_cast<int>(w.dilation[2]);
  p.pt = static_cast<int>(w.pad_begin[1]), p.pl = static_cast<int>(w.pad_begin[2]);
  p.pb = static_cast<int>(w.pad_end[1]), p.pr = static_cast<int>(w.pad_end[2]);
  p.is_max = node.op == OpType::MaxPool;
  p.count_include_pad = a.count_include_pad;
  const int N = static_cast<int>(g.shape(x)[0]);
  const TensorId xin = in_layout(x, Layout::NHWC, i);
  const TensorId out = node.outputs[0];
  layout_[static_cast<size_t>(out)] = Layout::NHWC;
  details_[static_cast<size_t>(i)] = "simd nhwc";
  add_node(i, node.op, {xin}, {out}, [this, p, N, xin, out] {
    const size_t in_image = static_cast<size_t>(p.H) * p.W * p.C, out_image = static_cast<size_t>(p.OH) * p.OW * p.C;
    auto task = [&](size_t t) {
      PoolArgs q = p;
      q.x = ptr(xin) + (t / static_cast<size_t>(p.OH)) * in_image;
      q.y = ptr(out) + (t / static_cast<size_t>(p.OH)) * out_image;
      q.oh_begin = static_cast<int>(t % static_cast<size_t>(p.OH));
      q.oh_end = q.oh_begin + 1;
      simd_->pool(q);
    };
    pool_.parallel_for(static_cast<size_t>(N) * p.OH, task);
  });
  return true;
}

bool CpuExecutable::lower_global_pool(int i) {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  const TensorId x = node.inputs[0];
  const Shape& xs = g.shape(x);
  if (xs.size() != 4) return false;
  const TensorId xin = in_layout(x, Layout::NHWC, i);
  const TensorId out = node.outputs[0];  // [N, C, 1, 1]: the same bytes in both layouts
  const bool is_max = node.op == OpType::GlobalMaxPool;
  details_[static_cast<size_t>(i)] = "simd nhwc";
  add_node(i, node.op, {xin}, {out}, [this, xs, is_max, xin, out] {
    const size_t C = static_cast<size_t>(xs[1]), HW = static_cast<size_t>(xs[2] * xs[3]);
    for (int64_t n = 0; n < xs[0]; ++n)
      simd_->global_pool(ptr(out) + static_cast<size_t>(n) * C, ptr(xin) + static_cast<size_t>(n) * HW * C, HW, C,
                         is_max);
  });
  return true;
}

bool CpuExecutable::lower_unary(int i) {
  const Node& node = graph_->nodes[static_cast<size_t>(i)];
  const TensorId x = node.inputs[0], out = node.outputs[0];
  const Activation act = to_activation(fused_form_of(node));
  layout_[static_cast<size_t>(out)] = layout_[static_cast<size_t>(x)];  // any layout will do
  details_[static_cast<size_t>(i)] = "simd";
  const size_t n = static_cast<size_t>(element_count(graph_->shape(x)));
  add_node(i, node.op, {x}, {out}, [this, x, out, n, act] { simd_->activation(ptr(out), ptr(x), n, act); });
  return true;
}

// Softmax on the logical (NCHW) form: outer × len × inner as the reference.
bool CpuExecutable::lower_softmax(int i) {
  const Node& node = graph_->nodes[static_cast<size_t>(i)];
  const auto& attrs = attrs_as<fb::SoftmaxAttrsT>(node);
  const TensorId x = in_layout(node.inputs[0], Layout::NCHW, i), out = node.outputs[0];
  layout_[static_cast<size_t>(out)] = Layout::NCHW;
  const SoftmaxExtents e = softmax_extents(graph_->shape(node.inputs[0]), attrs);
  details_[static_cast<size_t>(i)] = "simd";
  add_node(i, node.op, {x}, {out}, [this, x, out, e] {
    simd_->softmax(ptr(out), ptr(x), static_cast<size_t>(e.outer), static_cast<size_t>(e.len),
                   static_cast<size_t>(e.inner));
  });
  return true;
}

BinaryOp binary_op(OpType op) {
  switch (op) {
    case OpType::Sub: return BinaryOp::Sub;
    case OpType::Mul: return BinaryOp::Mul;
    case OpType::Div: return BinaryOp::Div;
    default: return BinaryOp::Add;
  }
}

// Per-channel operand of a 4-D tensor: [C], [C,1,1] or [1,C,1,1] (or one value).
bool is_channel_vector(const Shape& s, int64_t C) {
  const int64_t n = element_count(s);
  if (n != C && n != 1) return false;
  // A rank-1 operand broadcasts along the last axis (W), not along channels.
  if (s.size() == 1) return n == 1;
  if (s.size() == 3) return s[1] == 1 && s[2] == 1;
  if (s.size() == 4) return s[0] == 1 && s[2] == 1 && s[3] == 1;
  return n == 1;
}

bool CpuExecutable::lower_binary(int i) {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  const TensorId a = node.inputs[0], b = node.inputs[1], out = node.outputs[0];
  const Shape& os = g.shape(out);
  const Activation act = to_activation(attrs_as<fb::BinaryAttrsT>(node).activation);
  const BinaryOp op = binary_op(node.op);
  const size_t n = static_cast<size_t>(element_count(os));
  if (g.shape(a) == os && g.shape(b) == os) {
    // Same shapes: elementwise in whichever layout the first operand has.
    const Layout l = is_const(a) ? layout_[static_cast<size_t>(b)] : layout_[static_cast<size_t>(a)];
    if ((is_const(a) || is_const(b)) && l == Layout::NHWC && !layouts_coincide(os)) return false;
    const TensorId ai = in_layout(a, l, i), bi = in_layout(b, l, i);
    layout_[static_cast<size_t>(out)] = l;
    details_[static_cast<size_t>(i)] = "simd";
    add_node(i, node.op, {ai, bi}, {out}, [this, ai, bi, out, n, op, act] {
      simd_->binary(ptr(out), ptr(ai), ptr(bi), n, op, act);
    });
    return true;
  }
  // A 4-D NHWC activation with a per-channel constant.
  if (os.size() != 4) return false;
  const bool a_full = g.shape(a) == os, b_full = g.shape(b) == os;
  if (a_full == b_full) return false;
  const TensorId full = a_full ? a : b, vec = a_full ? b : a;
  if (!is_const(vec) || !is_channel_vector(g.shape(vec), os[1]) || element_count(g.shape(vec)) != os[1]) return false;
  const TensorId fi = in_layout(full, Layout::NHWC, i);
  layout_[static_cast<size_t>(out)] = Layout::NHWC;
  details_[static_cast<size_t>(i)] = "simd per-channel nhwc";
  const bool vec_first = !a_full;
  add_node(i, node.op, {fi}, {out}, [this, fi, vec, out, os, op, act, vec_first] {
    simd_->binary_channel(ptr(out), ptr(fi), ptr(vec), static_cast<size_t>(os[0] * os[2] * os[3]),
                          static_cast<size_t>(os[1]), op, vec_first, act);
  });
  return true;
}

bool CpuExecutable::lower_concat(int i) {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  const Shape& os = g.shape(node.outputs[0]);
  int axis = attrs_as<fb::ConcatAttrsT>(node).axis;
  if (axis < 0) axis += static_cast<int>(os.size());
  if (os.size() != 4 || axis != 1) return false;
  std::vector<TensorId> ins;
  std::vector<int64_t> channels;
  for (TensorId t : node.inputs) {
    if (is_const(t)) return false;
    ins.push_back(in_layout(t, Layout::NHWC, i));
    channels.push_back(g.shape(t)[1]);
  }
  const TensorId out = node.outputs[0];
  layout_[static_cast<size_t>(out)] = Layout::NHWC;
  details_[static_cast<size_t>(i)] = "nhwc";
  add_node(i, node.op, ins, {out}, [this, ins, channels, out, os] {
    const int64_t pixels = os[0] * os[2] * os[3], C = os[1];
    float* y = ptr(out);
    int64_t c0 = 0;
    for (size_t k = 0; k < ins.size(); ++k) {
      const float* x = ptr(ins[k]);
      const int64_t ck = channels[k];
      for (int64_t p = 0; p < pixels; ++p) std::memcpy(y + p * C + c0, x + p * ck, sizeof(float) * ck);
      c0 += ck;
    }
  });
  return true;
}

// Gemm with constant B and bias (a fully connected layer) on the packed GEMM.
bool CpuExecutable::lower_gemm(int i) {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  const auto& a = attrs_as<fb::GemmAttrsT>(node);
  const TensorId x = node.inputs[0], w = node.inputs[1], out = node.outputs[0];
  if (a.trans_a || a.alpha != 1.0f || !is_const(w)) return false;
  const Shape& ws = g.shape(w);
  const int64_t K = a.trans_b ? ws[1] : ws[0], N = a.trans_b ? ws[0] : ws[1];
  const int64_t M = g.shape(x)[0];
  const float* bias = nullptr;
  if (node.inputs.size() > 2) {
    const TensorId c = node.inputs[2];
    if (!is_const(c) || a.beta != 1.0f || element_count(g.shape(c)) != N || (g.shape(c).size() == 2 && g.shape(c)[0] != 1))
      return false;
    bias = g.tensor(c).constant->floats();
  }
  const float* wd = g.tensor(w).constant->floats();
  const bool tb = a.trans_b;
  packed_.emplace_back(static_cast<int>(K), static_cast<int>(N), simd_->nr, [&](int k, int j) {
    return tb ? wd[static_cast<size_t>(j) * K + k] : wd[static_cast<size_t>(k) * N + j];
  });
  packed_weight_bytes_ += packed_.back().bytes();
  const size_t index = packed_.size() - 1;
  const Activation act = to_activation(a.activation);
  details_[static_cast<size_t>(i)] = "packed gemm";
  add_node(i, node.op, {x}, {out}, [this, index, x, out, bias, act, K, N, M] {
    const PackedB& b = packed_[index];
    GemmProblem p;
    p.seg_len = static_cast<int>(K);
    p.b = &b;
    p.bias = bias;
    p.act = act;
    p.c = ptr(out);
    p.ldc = static_cast<size_t>(N);
    const float* xa = ptr(x);
    auto task = [&](size_t t) {
      gemm_rows(*simd_, p, 0, static_cast<int>(M), static_cast<int>(t), static_cast<int>(t) + 1,
                [&](int m, int) { return xa + static_cast<size_t>(m) * K; });
    };
    pool_.parallel_for(static_cast<size_t>(b.panels()), task);
  });
  return true;
}

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }
  std::string description() const override {
    return std::string("float32 SIMD (best here: ") + isa_name(best_isa()) + "), NHWC, per-layer convolution algorithms, threads";
  }
  bool supports(const Graph&, const Node&) const override { return true; }
  std::unique_ptr<Executable> compile(std::shared_ptr<const Graph> graph, const BackendOptions& options) override {
    return std::make_unique<CpuExecutable>(std::move(graph), options);
  }
};

}  // namespace
}  // namespace kiln::cpu

namespace kiln {
void register_cpu_backend(BackendRegistry& registry) {
  registry.add("cpu", [] { return std::make_unique<cpu::CpuBackend>(); });
}
}  // namespace kiln
