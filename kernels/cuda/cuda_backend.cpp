// The CUDA backend. At compile time (session creation) the graph is lowered
// into steps (kernel launches on one stream; fused depthwise/pointwise pairs
// as one step), the steps' tensors are placed in one device arena by the
// memory planner, the weights are uploaded once, and the whole run -- input
// copies from pinned host buffers, every step, output copies -- is captured
// into a CUDA graph. run() copies the caller's inputs into the pinned
// buffers, replays the graph, waits, and copies the outputs back.
//
// If the capture or the instantiation fails (a library call that is not
// capture-safe, say), the session warns once on stderr, naming the error, and
// launches the steps one by one instead.
//
// Environment switches (for tests and profiling; documented in
// docs/ARCHITECTURE.md):
//   KILN_CUDA_GRAPHS=0   launch the steps one by one instead of replaying a graph
//   KILN_CUDA_PROFILE=1  record a CUDA event after every step (inside the graph:
//                        captured as event-record nodes, cudaEventRecordExternal)
//                        so that node_times_ms() has per-node device times;
//                        otherwise node times are 0 and only device_time_ms()
//                        (events around the whole graph) is measured.
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <type_traits>

#include "engine/core/activation.hpp"
#include "engine/core/op_info.hpp"
#include "engine/core/shape_inference.hpp"
#include "engine/core/spatial.hpp"
#include "engine/runtime/backend.hpp"
#include "engine/runtime/memory_planner.hpp"
#include "kernels/cuda/conv_algorithm.hpp"
#include "kernels/cuda/fuse_planner.hpp"
#include "kiln/error.hpp"

namespace kiln::cuda {
namespace {

Act to_act(const fb::FusedActivation& a) { return {static_cast<int>(a.kind()), a.alpha(), a.beta()}; }

Dims8 dims_of(const std::vector<int64_t>& v) {
  if (v.size() > static_cast<size_t>(kMaxDims)) throw Error(ErrorCode::Unsupported, "cuda backend: rank above 8");
  Dims8 d;
  d.n = static_cast<int>(v.size());
  for (size_t i = 0; i < v.size(); ++i) d.v[i] = v[i];
  return d;
}

std::vector<int64_t> row_major(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

// Strides for reading `shape` broadcast to `out` (right-aligned, 0 on broadcast axes).
std::vector<int64_t> broadcast(const Shape& shape, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    const size_t o = out.size() - shape.size() + i;
    st[o] = shape[i] == 1 ? 0 : s;
    s *= shape[i];
  }
  return st;
}

bool env_flag(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::strcmp(v, "0") != 0;
}

class CudaExecutable final : public Executable {
 public:
  CudaExecutable(std::shared_ptr<const Graph> graph, const BackendOptions& options)
      : graph_(std::move(graph)), ctx_(options.device, options.deterministic), selector_(options, ctx_) {
    use_graph_ = env_flag("KILN_CUDA_GRAPHS", true);
    profile_ = env_flag("KILN_CUDA_PROFILE", false);
    lower();
    weights_.upload(ctx_.stream());
    plan_ = plan_memory(lowered_, [&](TensorId t) { return bytes(t); }, PlannerOptions{256, true, true});
    arena_ = DeviceBuffer(plan_.arena_bytes);
    size_t ws = 256;
    for (const auto& k : conv_kernels_) ws = std::max(ws, k->workspace_bytes());
    workspace_ = DeviceBuffer(ws);
    const Graph& g = *graph_;
    for (TensorId t : g.inputs) pinned_in_.emplace_back(bytes(t));
    for (TensorId t : g.outputs) pinned_out_.emplace_back(bytes(t));
    if (profile_) {
      inputs_done_.emplace();
      step_events_.resize(steps_.size());  // each element creates its event
    }
    times_.assign(g.nodes.size(), 0.0);
    // One eager pass first: it surfaces launch errors with the step's name
    // and lets the libraries load their kernels outside the capture.
    enqueue(true, false);
    check(cudaStreamSynchronize(ctx_.stream()), "the first (eager) run");
    if (use_graph_) {
      if (const std::string why = capture(); !why.empty()) {
        fmt::print(stderr, "warning: cuda backend: CUDA graph capture failed ({}); launching the steps one by one\n",
                   why);
        use_graph_ = false;
      }
    }
  }

  // Members clean up after themselves (also when the constructor throws);
  // the device is made current first for the CUDA calls of their destructors.
  ~CudaExecutable() override { (void)cudaSetDevice(ctx_.device()); }

  void run(std::span<const float* const> inputs, std::span<float* const> outputs) override {
    const Graph& g = *graph_;
    ctx_.bind();
    for (size_t i = 0; i < g.inputs.size(); ++i) std::memcpy(pinned_in_[i].get(), inputs[i], bytes(g.inputs[i]));
    check(cudaEventRecord(start_.get(), ctx_.stream()), "cudaEventRecord");
    if (graph_exec_) check(cudaGraphLaunch(graph_exec_.get(), ctx_.stream()), "cudaGraphLaunch");
    else enqueue(false, false);
    check(cudaEventRecord(stop_.get(), ctx_.stream()), "cudaEventRecord");
    check(cudaStreamSynchronize(ctx_.stream()), "running the model");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start_.get(), stop_.get()), "cudaEventElapsedTime");
    device_ms_ = ms;
    if (profile_) {
      std::fill(times_.begin(), times_.end(), 0.0);
      cudaEvent_t prev = inputs_done_->get();  // node times exclude the input copies
      for (size_t k = 0; k < steps_.size(); ++k) {
        float t = 0;
        check(cudaEventElapsedTime(&t, prev, step_events_[k].get()), "cudaEventElapsedTime");
        times_[static_cast<size_t>(steps_[k].node)] += t;
        prev = step_events_[k].get();
      }
    }
    for (size_t i = 0; i < g.outputs.size(); ++i) std::memcpy(outputs[i], pinned_out_[i].get(), bytes(g.outputs[i]));
  }

  std::span<const double> node_times_ms() const override { return times_; }
  std::optional<double> device_time_ms() const override { return device_ms_; }
  std::string node_detail(size_t i) const override { return i < details_.size() ? details_[i] : std::string(); }

  MemoryStats memory() const override {
    MemoryStats s;
    s.arena_bytes = plan_.arena_bytes + workspace_.bytes();
    s.naive_bytes = plan_.naive_bytes;
    s.weights_bytes = weights_.bytes();
    return s;
  }

 private:
  struct Step {
    int node;
    std::string what;
    std::function<void(cudaStream_t)> fn;
  };

  struct GraphDeleter {
    void operator()(cudaGraph_t g) const { cudaGraphDestroy(g); }
  };
  struct GraphExecDeleter {
    void operator()(cudaGraphExec_t g) const { cudaGraphExecDestroy(g); }
  };
  using GraphPtr = std::unique_ptr<std::remove_pointer_t<cudaGraph_t>, GraphDeleter>;
  using GraphExecPtr = std::unique_ptr<std::remove_pointer_t<cudaGraphExec_t>, GraphExecDeleter>;

  // Captures enqueue() into a CUDA graph and instantiates it; returns "" on
  // success, else what failed (the stream is left out of capture mode, and
  // nothing of the attempt is kept).
  std::string capture() {
    cudaStream_t s = ctx_.stream();
    std::string why;
    if (const cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal); e != cudaSuccess) {
      (void)cudaGetLastError();
      return fmt::format("cudaStreamBeginCapture: {}", cudaGetErrorName(e));
    }
    try {
      enqueue(false, true);
    } catch (const std::exception& ex) {
      why = ex.what();
    }
    cudaGraph_t raw = nullptr;
    const cudaError_t end = cudaStreamEndCapture(s, &raw);
    GraphPtr graph(raw);
    if (why.empty() && end != cudaSuccess) why = fmt::format("cudaStreamEndCapture: {}", cudaGetErrorName(end));
    if (why.empty() && !graph) why = "cudaStreamEndCapture returned no graph";
    if (why.empty()) {
      cudaGraphExec_t exec = nullptr;
      if (const cudaError_t e = cudaGraphInstantiate(&exec, graph.get(), 0); e != cudaSuccess)
        why = fmt::format("cudaGraphInstantiate: {}", cudaGetErrorName(e));
      GraphExecPtr owned(exec);
      if (why.empty())
        if (const cudaError_t e = cudaGraphUpload(owned.get(), s); e != cudaSuccess)
          why = fmt::format("cudaGraphUpload: {}", cudaGetErrorName(e));
      if (why.empty())
        if (const cudaError_t e = cudaStreamSynchronize(s); e != cudaSuccess)
          why = fmt::format("cudaGraphUpload: {}", cudaGetErrorName(e));
      if (why.empty()) {
        graph_handle_ = std::move(graph);
        graph_exec_ = std::move(owned);
      }
    }
    if (!why.empty()) {
      cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
      if (cudaStreamIsCapturing(s, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
        cudaGraph_t discard = nullptr;  // still capturing (enqueue threw before its end): end it
        (void)cudaStreamEndCapture(s, &discard);
        if (discard) cudaGraphDestroy(discard);
      }
      (void)cudaGetLastError();  // capture errors are not sticky; clear the last error for later checks
    }
    return why;
  }

  size_t bytes(TensorId t) const { return static_cast<size_t>(element_count(lowered_.shape(t))) * sizeof(float); }
  const Shape& shape(TensorId t) const { return lowered_.shape(t); }
  bool is_const(TensorId t) const { return graph_->tensor(t).is_constant(); }
  const float* host(TensorId t) const { return graph_->tensor(t).constant->floats(); }

  // Device address of a tensor: constants live in the weight store, the rest in the arena.
  float* ptr(TensorId t) const {
    if (is_const(t)) return const_cast<float*>(weights_.ptr(constant_handles_.at(t)));
    const int64_t off = plan_.offsets.at(static_cast<size_t>(t));
    if (off < 0) throw Error(ErrorCode::Internal, "cuda backend: tensor without arena storage");
    return reinterpret_cast<float*>(static_cast<std::byte*>(arena_.get()) + off);
  }
  // Registers the constants among `ins` for upload.
  void need_constants(const std::vector<TensorId>& ins) {
    for (TensorId t : ins)
      if (is_const(t) && !constant_handles_.count(t))
        constant_handles_[t] = weights_.add(host(t), static_cast<size_t>(element_count(graph_->shape(t))));
  }

  // A profiling event after the work enqueued so far. While capturing, a plain
  // cudaEventRecord makes no graph node (replays would never record the
  // event); cudaEventRecordExternal makes an event-record node, and is invalid
  // outside capture.
  static void record(cudaEvent_t e, cudaStream_t s, bool capturing) {
    if (capturing) check(cudaEventRecordWithFlags(e, s, cudaEventRecordExternal), "cudaEventRecordWithFlags");
    else check(cudaEventRecord(e, s), "cudaEventRecord");
  }

  // Enqueues the whole run on the stream: inputs in, steps, outputs out.
  // `capturing`: the stream is being captured into the CUDA graph.
  void enqueue(bool eager_check, bool capturing) {
    const Graph& g = *graph_;
    cudaStream_t s = ctx_.stream();
    for (size_t i = 0; i < g.inputs.size(); ++i)
      if (bytes(g.inputs[i]) > 0)
        check(cudaMemcpyAsync(ptr(g.inputs[i]), pinned_in_[i].get(), bytes(g.inputs[i]), cudaMemcpyHostToDevice, s),
              "cudaMemcpyAsync (input)");
    if (profile_ && inputs_done_) record(inputs_done_->get(), s, capturing);
    for (size_t k = 0; k < steps_.size(); ++k) {
      steps_[k].fn(s);
      if (eager_check) {
        const cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess)
          throw Error(ErrorCode::Internal, fmt::format("cuda backend: launching {} failed: {}", steps_[k].what,
                                                       cudaGetErrorString(e)));
      }
      if (profile_ && !step_events_.empty()) record(step_events_[k].get(), s, capturing);
    }
    for (size_t i = 0; i < g.outputs.size(); ++i)
      if (bytes(g.outputs[i]) > 0)
        check(cudaMemcpyAsync(pinned_out_[i].get(), ptr(g.outputs[i]), bytes(g.outputs[i]), cudaMemcpyDeviceToHost, s),
              "cudaMemcpyAsync (output)");
    check(cudaGetLastError(), "enqueueing the model");
  }

  void add_step(int node, OpType op, std::vector<TensorId> in, std::vector<TensorId> out,
                std::function<void(cudaStream_t)> fn) {
    Node n;
    n.name = graph_->nodes[static_cast<size_t>(node)].name;
    n.op = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    steps_.push_back({node, n.name + " (" + std::string(op_name(op)) + ")", std::move(fn)});
    lowered_.nodes.push_back(std::move(n));
  }

  // ---- lowering ---------------------------------------------------------------------
  void lower();
  std::optional<ConvLayer> conv_layer_of(int i) const;
  void plan_pairs();
  void lower_conv(int i);
  void lower_pair(int first);
  void lower_op(int i);

  std::shared_ptr<const Graph> graph_;
  GpuContext ctx_;
  ConvSelector selector_;
  bool use_graph_ = true, profile_ = false;

  Graph lowered_;
  std::vector<Step> steps_;
  std::vector<std::string> details_;
  std::vector<std::unique_ptr<ConvKernel>> conv_kernels_;
  WeightStore weights_;
  std::map<TensorId, WeightStore::Handle> constant_handles_;
  std::vector<std::vector<int>> consumers_;

  struct Pair {
    bool dw_first;  // dw->pw (true) or pw->dw
    int first, second;
    FcmDwPwTile dw_pw;
    FcmPwDwTile pw_dw;
    std::string why;
  };
  std::vector<Pair> pairs_;
  std::vector<int> pair_of_;  // per node: index in pairs_ or -1

  MemoryPlan plan_;
  DeviceBuffer arena_, workspace_;
  std::vector<PinnedBuffer> pinned_in_, pinned_out_;
  Event start_, stop_;
  std::optional<Event> inputs_done_;  // KILN_CUDA_PROFILE=1 only, like step_events_
  std::vector<Event> step_events_;
  GraphPtr graph_handle_;
  GraphExecPtr graph_exec_;
  std::vector<double> times_;
  std::optional<double> device_ms_;
};

std::optional<ConvLayer> CudaExecutable::conv_layer_of(int i) const {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  if (node.op != OpType::Conv) return std::nullopt;
  if (!g.tensor(node.inputs[1]).is_constant()) return std::nullopt;
  if (node.inputs.size() > 2 && !g.tensor(node.inputs[2]).is_constant()) return std::nullopt;
  const auto& a = attrs_as<fb::ConvAttrsT>(node);
  const Shape& xs = g.shape(node.inputs[0]);
  const Window3d w = make_window(node.name, xs, a.kernel_shape, a.strides, a.dilations, a.pads, false);
  const Shape& ys = g.shape(node.outputs[0]);
  ConvLayer l{};
  ConvShape& s = l.shape;
  s.N = static_cast<int>(xs[0]);
  s.C = static_cast<int>(xs[1]);
  s.K = static_cast<int>(ys[1]);
  s.H = static_cast<int>(w.in[1]), s.W = static_cast<int>(w.in[2]);
  s.OH = static_cast<int>(w.out[1]), s.OW = static_cast<int>(w.out[2]);
  s.KH = static_cast<int>(w.kernel[1]), s.KW = static_cast<int>(w.kernel[2]);
  s.sh = static_cast<int>(w.stride[1]), s.sw = static_cast<int>(w.stride[2]);
  s.dh = static_cast<int>(w.dilation[1]), s.dw = static_cast<int>(w.dilation[2]);
  s.pt = static_cast<int>(w.pad_begin[1]), s.pl = static_cast<int>(w.pad_begin[2]);
  s.pb = static_cast<int>(w.pad_end[1]), s.pr = static_cast<int>(w.pad_end[2]);
  s.group = a.group;
  s.spatial3d = w.rank == 3;
  s.D = static_cast<int>(w.in[0]), s.OD = static_cast<int>(w.out[0]), s.KD = static_cast<int>(w.kernel[0]);
  s.sd = static_cast<int>(w.stride[0]), s.dd = static_cast<int>(w.dilation[0]);
  s.pf = static_cast<int>(w.pad_begin[0]), s.pk = static_cast<int>(w.pad_end[0]);
  ConvGeometry& geo = l.geometry;
  geo.N = s.N, geo.C = s.C, geo.K = s.K, geo.group = s.group;
  for (int ax = 0; ax < 3; ++ax) {
    geo.in[ax] = static_cast<int>(w.in[ax]);
    geo.out[ax] = static_cast<int>(w.out[ax]);
    geo.kernel[ax] = static_cast<int>(w.kernel[ax]);
    geo.stride[ax] = static_cast<int>(w.stride[ax]);
    geo.dilation[ax] = static_cast<int>(w.dilation[ax]);
    geo.pad[ax] = static_cast<int>(w.pad_begin[ax]);
  }
  l.weights = g.tensor(node.inputs[1]).constant->floats();
  l.bias = node.inputs.size() > 2 ? g.tensor(node.inputs[2]).constant->floats() : nullptr;
  l.act = to_act(a.activation);
  return l;
}

void CudaExecutable::lower() {
  const Graph& g = *graph_;
  lowered_.tensors = g.tensors;
  lowered_.inputs = g.inputs;
  lowered_.outputs = g.outputs;
  details_.assign(g.nodes.size(), "");
  consumers_ = g.consumers();
  plan_pairs();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const int n = static_cast<int>(i);
    if (pair_of_[i] >= 0) {
      if (pairs_[static_cast<size_t>(pair_of_[i])].first == n) lower_pair(n);
      continue;
    }
    if (g.nodes[i].op == OpType::Conv && conv_layer_of(n)) lower_conv(n);
    else lower_op(n);
  }
}

// FusePlanner: walks the depthwise convolutions in order and pairs each with
// its pointwise consumer (dw->pw) or producer (pw->dw), whichever the cost
// model says saves more; a node joins at most one pair, and the two nodes must
// be adjacent so that the fused step runs where both did.
void CudaExecutable::plan_pairs() {
  const Graph& g = *graph_;
  pair_of_.assign(g.nodes.size(), -1);
  const std::string& fixed = selector_.fixed_name();
  const bool only_dw_pw = fixed == kFcmDwPw, only_pw_dw = fixed == kFcmPwDw;
  if (selector_.fixed_mode() && !only_dw_pw && !only_pw_dw) return;  // fixed:NAME means that algorithm
  const auto producers = g.producers();
  auto private_reader = [&](TensorId t) {
    const auto& r = consumers_[static_cast<size_t>(t)];
    return r.size() == 1 && !g.is_graph_output(t) ? r[0] : -1;
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const int d = static_cast<int>(i);
    if (pair_of_[i] >= 0) continue;
    const auto dw = conv_layer_of(d);
    if (!dw || !dw->shape.depthwise()) continue;
    Pair best{};
    double best_saving = 0;
    bool have = false;
    // dw -> pw: the depthwise output's only reader is the next node, a 1x1.
    const int p = private_reader(g.nodes[i].outputs[0]);
    if (p == d + 1 && !only_pw_dw) {
      if (const auto pw = conv_layer_of(p)) {
        const DwPwPlan plan = plan_dw_pw(dw->shape, pw->shape, ctx_.model());
        const double saving = plan.separate.ms - plan.fused.ms;
        if (plan.applicable && plan.smem_bytes > 0 && (plan.fuse || only_dw_pw) && (!have || saving > best_saving)) {
          best = Pair{true, d, p, plan.tile, {}, plan.why};
          best_saving = saving;
          have = true;
        }
      }
    }
    // pw -> dw: the depthwise input comes from the previous node, a 1x1 read only here.
    const int e = producers[static_cast<size_t>(g.nodes[i].inputs[0])];
    if (e == d - 1 && e >= 0 && pair_of_[static_cast<size_t>(e)] < 0 && private_reader(g.nodes[i].inputs[0]) == d &&
        !only_dw_pw) {
      if (const auto pw = conv_layer_of(e)) {
        const PwDwPlan plan = plan_pw_dw(pw->shape, dw->shape, ctx_.model());
        const double saving = plan.separate.ms - plan.fused.ms;
        if (plan.applicable && plan.smem_bytes > 0 && (plan.fuse || only_pw_dw) && (!have || saving > best_saving)) {
          best = Pair{false, e, d, {}, plan.tile, plan.why};
          best_saving = saving;
          have = true;
        }
      }
    }
    if (!have) continue;
    const int index = static_cast<int>(pairs_.size());
    pair_of_[static_cast<size_t>(best.first)] = index;
    pair_of_[static_cast<size_t>(best.second)] = index;
    pairs_.push_back(best);
  }
}

void CudaExecutable::lower_pair(int first) {
  const Graph& g = *graph_;
  const Pair& pr = pairs_[static_cast<size_t>(pair_of_[static_cast<size_t>(first)])];
  const ConvLayer a = *conv_layer_of(pr.first), b = *conv_layer_of(pr.second);
  const TensorId x = g.nodes[static_cast<size_t>(pr.first)].inputs[0];
  const TensorId y = g.nodes[static_cast<size_t>(pr.second)].outputs[0];
  const ConvLayer& dw = pr.dw_first ? a : b;
  const ConvLayer& pw = pr.dw_first ? b : a;
  // Depthwise weights in ONNX order; pointwise weights transposed to [C][K].
  const auto w_dw = weights_.add(dw.weights, static_cast<size_t>(dw.shape.weight_elems()));
  const auto b_dw = dw.bias ? weights_.add(dw.bias, static_cast<size_t>(dw.shape.K)) : WeightStore::kNone;
  std::vector<float> wt(static_cast<size_t>(pw.shape.weight_elems()));
  for (int k = 0; k < pw.shape.K; ++k)
    for (int c = 0; c < pw.shape.C; ++c)
      wt[static_cast<size_t>(c) * pw.shape.K + k] = pw.weights[static_cast<size_t>(k) * pw.shape.C + c];
  const auto w_pw = weights_.add(std::move(wt));
  const auto b_pw = pw.bias ? weights_.add(pw.bias, static_cast<size_t>(pw.shape.K)) : WeightStore::kNone;
  const std::string name = pr.dw_first ? kFcmDwPw : kFcmPwDw;
  const std::string how = selector_.fixed_mode() ? "fixed" : "planner";
  details_[static_cast<size_t>(pr.first)] = fmt::format("{} [{}] with {}: {}", name, how,
                                                        g.nodes[static_cast<size_t>(pr.second)].name, pr.why);
  details_[static_cast<size_t>(pr.second)] = "fused into " + g.nodes[static_cast<size_t>(pr.first)].name;
  const ConvGeometry geo = dw.geometry;
  const Act act_dw = dw.act, act_pw = pw.act;
  const int pw_c = pw.shape.C, pw_k = pw.shape.K;
  if (pr.dw_first) {
    const FcmDwPwTile tile = pr.dw_pw;
    add_step(pr.first, OpType::Conv, {x}, {y}, [=, this](cudaStream_t s) {
      launch_fcm_dw_pw(ptr(x), weights_.ptr(w_dw), weights_.ptr(b_dw), act_dw, weights_.ptr(w_pw), weights_.ptr(b_pw),
                       act_pw, ptr(y), geo, pw_k, tile, s);
    });
  } else {
    const FcmPwDwTile tile = pr.pw_dw;
    add_step(pr.first, OpType::Conv, {x}, {y}, [=, this](cudaStream_t s) {
      launch_fcm_pw_dw(ptr(x), weights_.ptr(w_pw), weights_.ptr(b_pw), act_pw, weights_.ptr(w_dw), weights_.ptr(b_dw),
                       act_dw, ptr(y), pw_c, geo, tile, s);
    });
  }
}

void CudaExecutable::lower_conv(int i) {
  const Node& node = graph_->nodes[static_cast<size_t>(i)];
  const ConvLayer layer = *conv_layer_of(i);
  const Selection sel = selector_.choose(layer);
  conv_kernels_.push_back(sel.algorithm->prepare(layer, ctx_, weights_));
  const ConvKernel* kernel = conv_kernels_.back().get();
  std::string detail = fmt::format("{} [{}, est {:.4f} ms", sel.algorithm->name(), sel.how, sel.estimated_ms);
  if (sel.measured_ms >= 0) detail += fmt::format(", measured {:.4f} ms", sel.measured_ms);
  detail += "]";
  if (const std::string d = kernel->detail(); !d.empty()) detail += " " + d;
  details_[static_cast<size_t>(i)] = detail;
  const TensorId x = node.inputs[0], y = node.outputs[0];
  add_step(i, OpType::Conv, {x}, {y}, [this, kernel, x, y](cudaStream_t s) {
    kernel->run({ptr(x), ptr(y), workspace_.get(), s});
  });
}

void CudaExecutable::lower_op(int i) {
  const Graph& g = *graph_;
  const Node& node = g.nodes[static_cast<size_t>(i)];
  const std::vector<TensorId> ins = node.inputs, outs = node.outputs;
  need_constants(ins);
  auto step = [&](std::function<void(cudaStream_t)> fn) { add_step(i, node.op, ins, outs, std::move(fn)); };
  const TensorId x = ins.empty() ? -1 : ins[0];
  const TensorId y = outs[0];
  switch (node.op) {
    case OpType::Conv: {  // weights computed at run time: the direct kernel reads them in place
      const auto& a = attrs_as<fb::ConvAttrsT>(node);
      const Window3d w = make_window(node.name, g.shape(x), a.kernel_shape, a.strides, a.dilations, a.pads, false);
      ConvGeometry geo{};
      geo.N = static_cast<int>(g.shape(x)[0]), geo.C = static_cast<int>(g.shape(x)[1]);
      geo.K = static_cast<int>(g.shape(y)[1]), geo.group = a.group;
      for (int ax = 0; ax < 3; ++ax) {
        geo.in[ax] = static_cast<int>(w.in[ax]), geo.out[ax] = static_cast<int>(w.out[ax]);
        geo.kernel[ax] = static_cast<int>(w.kernel[ax]), geo.stride[ax] = static_cast<int>(w.stride[ax]);
        geo.dilation[ax] = static_cast<int>(w.dilation[ax]), geo.pad[ax] = static_cast<int>(w.pad_begin[ax]);
      }
      const Act act = to_act(a.activation);
      const TensorId wt = ins[1], bt = ins.size() > 2 ? ins[2] : -1;
      details_[static_cast<size_t>(i)] = "direct [weights computed at run time]";
      step([=, this](cudaStream_t s) {
        launch_conv_direct(ptr(x), ptr(wt), bt >= 0 ? ptr(bt) : nullptr, ptr(y), geo, act, s);
      });
      return;
    }
    case OpType::BatchNormalization: {
      const float eps = attrs_as<fb::BatchNormAttrsT>(node).epsilon;
      const Shape& xs = g.shape(x);
      const int64_t N = xs[0], C = xs.size() > 1 ? xs[1] : 1;
      const int64_t inner = element_count(xs) / std::max<int64_t>(N * C, 1);
      bool all_const = true;
      for (size_t k = 1; k < 5; ++k) all_const = all_const && is_const(ins[k]);
      if (all_const) {
        std::vector<float> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
        for (int64_t c = 0; c < C; ++c) {
          const float sc = host(ins[1])[c] / std::sqrt(host(ins[4])[c] + eps);
          scale[static_cast<size_t>(c)] = sc;
          shift[static_cast<size_t>(c)] = host(ins[2])[c] - host(ins[3])[c] * sc;
        }
        const auto hs = weights_.add(std::move(scale)), hb = weights_.add(std::move(shift));
        step([=, this](cudaStream_t s) {
          launch_channel_affine(ptr(x), ptr(y), weights_.ptr(hs), weights_.ptr(hb), N, C, inner, Act{}, s);
        });
      } else {
        step([=, this](cudaStream_t s) {
          launch_batchnorm(ptr(x), ptr(y), ptr(ins[1]), ptr(ins[2]), ptr(ins[3]), ptr(ins[4]), eps, N, C, inner, s);
        });
      }
      return;
    }
    case OpType::Relu:
    case OpType::Clip:
    case OpType::LeakyRelu:
    case OpType::Sigmoid:
    case OpType::HardSigmoid:
    case OpType::HardSwish:
    case OpType::Tanh: {
      const Act act = to_act(fused_form_of(node));
      const int64_t n = element_count(g.shape(x));
      step([=, this](cudaStream_t s) { launch_activation(ptr(x), ptr(y), n, act, s); });
      return;
    }
    case OpType::Add:
    case OpType::Sub:
    case OpType::Mul:
    case OpType::Div: {
      const int op = node.op == OpType::Add ? 0 : node.op == OpType::Sub ? 1 : node.op == OpType::Mul ? 2 : 3;
      const Act act = to_act(attrs_as<fb::BinaryAttrsT>(node).activation);
      const Shape& ys = g.shape(y);
      const Dims8 sa = dims_of(broadcast(g.shape(ins[0]), ys)), sb = dims_of(broadcast(g.shape(ins[1]), ys));
      const Dims8 shape = dims_of(ys);
      const TensorId a = ins[0], b = ins[1];
      step([=, this](cudaStream_t s) { launch_binary(op, ptr(a), sa, ptr(b), sb, ptr(y), shape, act, s); });
      return;
    }
    case OpType::MaxPool:
    case OpType::AveragePool: {
      const auto& a = attrs_as<fb::PoolAttrsT>(node);
      const Shape& xs = g.shape(x);
      const Window3d w = make_window(node.name, xs, a.kernel_shape, a.strides, a.dilations, a.pads, a.ceil_mode);
      PoolGeometry geo{};
      geo.planes = xs[0] * xs[1];
      for (int ax = 0; ax < 3; ++ax) {
        geo.in[ax] = w.in[ax], geo.out[ax] = w.out[ax], geo.kernel[ax] = w.kernel[ax], geo.stride[ax] = w.stride[ax];
        geo.dilation[ax] = w.dilation[ax], geo.pad_begin[ax] = w.pad_begin[ax], geo.pad_end[ax] = w.pad_end[ax];
      }
      geo.count_include_pad = a.count_include_pad;
      const int kind = node.op == OpType::MaxPool ? 0 : 1;
      step([=, this](cudaStream_t s) { launch_pool(kind, ptr(x), ptr(y), geo, s); });
      return;
    }
    case OpType::GlobalAveragePool:
    case OpType::GlobalMaxPool: {
      const Shape& xs = g.shape(x);
      const int64_t planes = xs[0] * xs[1];
      const int64_t plane = element_count(xs) / std::max<int64_t>(planes, 1);
      const int kind = node.op == OpType::GlobalAveragePool ? 0 : 1;
      step([=, this](cudaStream_t s) { launch_global_pool(kind, ptr(x), ptr(y), planes, plane, s); });
      return;
    }
    case OpType::Gemm: {
      const auto& a = attrs_as<fb::GemmAttrsT>(node);
      const Shape& as = g.shape(ins[0]);
      const Shape& bs = g.shape(ins[1]);
      const int M = static_cast<int>(a.trans_a ? as[1] : as[0]);
      const int K = static_cast<int>(a.trans_a ? as[0] : as[1]);
      const int N = static_cast<int>(a.trans_b ? bs[0] : bs[1]);
      const bool ta = a.trans_a, tb = a.trans_b;
      const float alpha = a.alpha, beta = a.beta;
      const Act act = to_act(a.activation);
      int64_t cs0 = 0, cs1 = 0;
      const TensorId c = ins.size() > 2 ? ins[2] : -1;
      if (c >= 0) {
        const auto st = broadcast(g.shape(c), Shape{M, N});
        cs0 = st[0], cs1 = st[1];
      }
      const TensorId A = ins[0], B = ins[1];
      details_[static_cast<size_t>(i)] = "cuBLAS sgemm + epilogue";
      step([=, this](cudaStream_t s) {
        // Row-major Y (M x N) = op(A) op(B) is column-major Y^T = op(B)^T op(A)^T.
        const float zero = 0.0f;
        if (M > 0 && N > 0) {
          if (K > 0) {
            check(cublasSgemm(ctx_.cublas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K,
                              &alpha, ptr(B), tb ? K : N, ptr(A), ta ? M : K, &zero, ptr(y), N),
                  "cublasSgemm (Gemm)");
          } else {
            check(cudaMemsetAsync(ptr(y), 0, sizeof(float) * static_cast<size_t>(M) * N, s), "cudaMemsetAsync");
          }
          launch_gemm_epilogue(ptr(y), M, N, beta, c >= 0 ? ptr(c) : nullptr, cs0, cs1, act, s);
        }
      });
      return;
    }
    case OpType::MatMul: {
      const Shape& as = g.shape(ins[0]);
      const Shape& bs = g.shape(ins[1]);
      const int64_t M = as.size() == 1 ? 1 : as[as.size() - 2];
      const int64_t K = as.back();
      const int64_t N = bs.size() == 1 ? 1 : bs.back();
      // Batch offsets (numpy broadcasting of the leading axes), computed now.
      Shape ba(as.size() > 2 ? as.begin() : as.end(), as.size() > 2 ? as.end() - 2 : as.end());
      Shape bb(bs.size() > 2 ? bs.begin() : bs.end(), bs.size() > 2 ? bs.end() - 2 : bs.end());
      Shape batch(std::max(ba.size(), bb.size()), 1);
      for (size_t d = 0; d < batch.size(); ++d) {
        const int64_t da = d + ba.size() >= batch.size() ? ba[d + ba.size() - batch.size()] : 1;
        const int64_t db = d + bb.size() >= batch.size() ? bb[d + bb.size() - batch.size()] : 1;
        batch[d] = da == 1 ? db : da;
      }
      const auto sa = broadcast(ba, batch), sb = broadcast(bb, batch);
      std::vector<std::array<int64_t, 3>> offsets;  // a, b, y element offsets
      const int64_t count = element_count(batch);
      for (int64_t k = 0; k < count; ++k) {
        int64_t rest = k, oa = 0, ob = 0;
        for (size_t d = batch.size(); d-- > 0;) {
          const int64_t idx = rest % batch[d];
          rest /= batch[d];
          oa += idx * sa[d];
          ob += idx * sb[d];
        }
        offsets.push_back({oa * M * K, ob * K * N, k * M * N});
      }
      const TensorId A = ins[0], B = ins[1];
      details_[static_cast<size_t>(i)] = fmt::format("cuBLAS sgemm x{}", offsets.size());
      step([=, this](cudaStream_t s) {
        const float one = 1.0f, zero = 0.0f;
        if (M == 0 || N == 0) return;
        for (const auto& o : offsets) {
          if (K == 0) {
            check(cudaMemsetAsync(ptr(y) + o[2], 0, sizeof(float) * static_cast<size_t>(M * N), s), "cudaMemsetAsync");
            continue;
          }
          check(cublasSgemm(ctx_.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(M),
                            static_cast<int>(K), &one, ptr(B) + o[1], static_cast<int>(N), ptr(A) + o[0],
                            static_cast<int>(K), &zero, ptr(y) + o[2], static_cast<int>(N)),
                "cublasSgemm (MatMul)");
        }
      });
      return;
    }
    case OpType::Flatten:
    case OpType::Reshape:
    case OpType::Squeeze:
    case OpType::Unsqueeze:
    case OpType::Identity:
    case OpType::Dropout: {
      const size_t n = bytes(x);
      step([=, this](cudaStream_t s) {
        if (ptr(x) != ptr(y) && n > 0) check(cudaMemcpyAsync(ptr(y), ptr(x), n, cudaMemcpyDeviceToDevice, s), "copy");
      });
      return;
    }
    case OpType::Transpose: {
      const auto& perm = attrs_as<fb::TransposeAttrsT>(node).perm;
      const auto in_st = row_major(g.shape(x));
      std::vector<int64_t> src(perm.size());
      for (size_t d = 0; d < perm.size(); ++d) src[d] = in_st[static_cast<size_t>(perm[d])];
      const Dims8 ss = dims_of(src), ds = dims_of(row_major(g.shape(y))), shape = dims_of(g.shape(y));
      step([=, this](cudaStream_t s) { launch_strided_copy(ptr(x), ss, ptr(y), ds, shape, s); });
      return;
    }
    case OpType::Concat:
    case OpType::Split: {
      // Each piece is a strided copy into (or out of) its slab of the whole.
      const bool concat = node.op == OpType::Concat;
      const int64_t axis = concat ? attrs_as<fb::ConcatAttrsT>(node).axis : attrs_as<fb::SplitAttrsT>(node).axis;
      const TensorId whole = concat ? y : x;
      const auto whole_st = row_major(g.shape(whole));
      std::vector<std::tuple<TensorId, int64_t, Dims8, Dims8, Dims8>> pieces;
      int64_t offset = 0;
      for (TensorId t : concat ? ins : outs) {
        const Shape& ps = g.shape(t);
        pieces.emplace_back(t, offset * whole_st[static_cast<size_t>(axis)], dims_of(row_major(ps)), dims_of(whole_st),
                            dims_of(ps));
        offset += ps[static_cast<size_t>(axis)];
      }
      step([=, this](cudaStream_t s) {
        for (const auto& [t, base, piece_st, w_st, shape] : pieces) {
          if (concat) launch_strided_copy(ptr(t), piece_st, ptr(whole) + base, w_st, shape, s);
          else launch_strided_copy(ptr(whole) + base, w_st, ptr(t), piece_st, shape, s);
        }
      });
      return;
    }
    case OpType::Slice: {
      const Shape& xs = g.shape(x);
      const SliceRanges r = slice_ranges(xs, attrs_as<fb::SliceAttrsT>(node), node.name);
      const auto in_st = row_major(xs);
      int64_t base = 0;
      std::vector<int64_t> st(xs.size());
      for (size_t d = 0; d < xs.size(); ++d) {
        base += r[d].start * in_st[d];
        st[d] = r[d].count > 1 ? r[d].step * in_st[d] : 0;
      }
      if (element_count(g.shape(y)) == 0) base = 0;
      const Dims8 ss = dims_of(st), ds = dims_of(row_major(g.shape(y))), shape = dims_of(g.shape(y));
      step([=, this](cudaStream_t s) { launch_strided_copy(ptr(x) + base, ss, ptr(y), ds, shape, s); });
      return;
    }
    case OpType::Pad: {
      const auto& a = attrs_as<fb::PadAttrsT>(node);
      const Shape& xs = g.shape(x);
      const std::vector<int64_t> begin(a.pads.begin(), a.pads.begin() + static_cast<ptrdiff_t>(xs.size()));
      const Dims8 xd = dims_of(xs), yd = dims_of(g.shape(y)), pb = dims_of(begin);
      const float value = a.value;
      step([=, this](cudaStream_t s) { launch_pad(ptr(x), xd, ptr(y), yd, pb, value, s); });
      return;
    }
    case OpType::ReduceMean: {
      const auto& a = attrs_as<fb::ReduceAttrsT>(node);
      const Shape& xs = g.shape(x);
      std::vector<bool> reduced(xs.size(), a.axes.empty());
      for (int32_t ax : a.axes) reduced[static_cast<size_t>(ax)] = true;
      const auto st = row_major(xs);
      std::vector<int64_t> ks(xs.size(), 1), kst(xs.size(), 0), rs(xs.size(), 1), rst(xs.size(), 0);
      for (size_t d = 0; d < xs.size(); ++d) {
        if (reduced[d]) rs[d] = xs[d], rst[d] = st[d];
        else ks[d] = xs[d], kst[d] = st[d];
      }
      const Dims8 k1 = dims_of(ks), k2 = dims_of(kst), r1 = dims_of(rs), r2 = dims_of(rst);
      step([=, this](cudaStream_t s) { launch_reduce_mean(ptr(x), ptr(y), k1, k2, r1, r2, s); });
      return;
    }
    case OpType::Softmax: {
      const auto [outer, n, inner] = softmax_extents(g.shape(x), attrs_as<fb::SoftmaxAttrsT>(node));
      step([=, this](cudaStream_t s) { launch_softmax(ptr(x), ptr(y), outer, n, inner, s); });
      return;
    }
  }
  throw Error(ErrorCode::Unsupported, "cuda backend: no kernel for op " + std::string(op_name(node.op)));
}

class CudaBackend final : public Backend {
 public:
  std::string_view name() const override { return "cuda"; }
  std::string description() const override {
    return "NVIDIA GPUs: own kernels, cuBLAS and cuDNN per layer, FCM fused depthwise/pointwise pairs, CUDA graphs";
  }
  bool supports(const Graph& graph, const Node& node) const override {
    for (TensorId t : node.inputs)
      if (graph.shape(t).size() > static_cast<size_t>(kMaxDims)) return false;
    return true;
  }
  std::unique_ptr<Executable> compile(std::shared_ptr<const Graph> graph, const BackendOptions& options) override {
    return std::make_unique<CudaExecutable>(std::move(graph), options);
  }
  std::vector<DeviceInfo> devices() const override { return list_devices(); }
};

}  // namespace
}  // namespace kiln::cuda

namespace kiln {
// Called by the module's entry point (kiln_add_backend(... MODULE)).
std::unique_ptr<Backend> create_cuda_backend() { return std::make_unique<cuda::CudaBackend>(); }
}  // namespace kiln
