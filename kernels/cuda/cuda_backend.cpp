// The CUDA backend. At compile time (session creation) the graph is lowered
// into steps (lowering.hpp, one file per op family under ops/: kernel
// launches on one stream, fused depthwise/pointwise pairs as one step), the
// steps' tensors are placed in one device arena by the memory planner, the
// weights are uploaded once, and the whole run -- input copies from pinned
// host buffers, every step, output copies -- is captured into a CUDA graph.
// run() copies the caller's inputs into the pinned buffers, replays the
// graph, waits, and copies the outputs back.
//
// If the capture or the instantiation fails (a library call that is not
// capture-safe, say), the session warns once on stderr, naming the error, and
// launches the steps one by one instead.
//
// GpuOptions (SessionOptions::gpu):
//   graphs = false       launch the steps one by one instead of replaying a graph
//   profile_nodes = true record a CUDA event after every step (inside the graph:
//                        captured as event-record nodes, cudaEventRecordExternal)
//                        so that node_times_ms() has per-node device times;
//                        otherwise node times are 0 and only device_time_ms()
//                        (events around the whole graph) is measured.
#include <fmt/format.h>

#include <cstring>
#include <mutex>
#include <memory>
#include <optional>
#include <type_traits>

#include "engine/core/op_info.hpp"
#include "engine/passes/passes.hpp"
#include "engine/runtime/backend.hpp"
#include "kernels/cuda/ops/ops.hpp"
#include "kiln/error.hpp"

namespace kiln::cuda {
namespace {

constexpr auto kLowerings = lowering_table<Lowering>();

class CudaExecutable final : public Executable {
 public:
  CudaExecutable(std::shared_ptr<const Graph> graph, const BackendOptions& options)
      : graph_(graph),
        l_(std::move(graph), options),
        use_graph_(options.gpu.graphs),
        profile_(options.gpu.profile_nodes) {
    const Graph& g = *graph_;
    plan_pairs(l_);
    lower_graph(l_, kLowerings);
    l_.finish();
    for (TensorId t : g.inputs) pinned_in_.emplace_back(bytes(t));
    for (TensorId t : g.outputs) pinned_out_.emplace_back(bytes(t));
    if (profile_) {
      inputs_done_.emplace();
      step_events_.resize(l_.steps.size());  // each element creates its event
    }
    times_.assign(g.nodes.size(), 0.0);
    // One eager pass first: it surfaces launch errors with the step's name
    // and lets the libraries load their kernels outside the capture.
    enqueue(true, false);
    check(cudaStreamSynchronize(l_.ctx().stream()), "the first (eager) run");
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
  ~CudaExecutable() override { (void)cudaSetDevice(l_.ctx().device()); }

  void run(std::span<const float* const> inputs, std::span<float* const> outputs) override {
    // One command buffer, one set of device buffers: concurrent calls take turns.
    std::lock_guard lock(run_mutex_);
    const Graph& g = *graph_;
    l_.ctx().bind();
    for (size_t i = 0; i < g.inputs.size(); ++i) std::memcpy(pinned_in_[i].get(), inputs[i], bytes(g.inputs[i]));
    check(cudaEventRecord(start_.get(), l_.ctx().stream()), "cudaEventRecord");
    if (graph_exec_)
      check(cudaGraphLaunch(graph_exec_.get(), l_.ctx().stream()), "cudaGraphLaunch");
    else
      enqueue(false, false);
    check(cudaEventRecord(stop_.get(), l_.ctx().stream()), "cudaEventRecord");
    check(cudaStreamSynchronize(l_.ctx().stream()), "running the model");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start_.get(), stop_.get()), "cudaEventElapsedTime");
    device_ms_ = ms;
    if (profile_) {
      std::fill(times_.begin(), times_.end(), 0.0);
      cudaEvent_t prev = inputs_done_->get();  // node times exclude the input copies
      for (size_t k = 0; k < l_.steps.size(); ++k) {
        float t = 0;
        check(cudaEventElapsedTime(&t, prev, step_events_[k].get()), "cudaEventElapsedTime");
        times_[static_cast<size_t>(l_.steps[k].node)] += t;
        prev = step_events_[k].get();
      }
    }
    for (size_t i = 0; i < g.outputs.size(); ++i) std::memcpy(outputs[i], pinned_out_[i].get(), bytes(g.outputs[i]));
  }

  std::vector<double> node_times_ms() const override {
    std::lock_guard lock(run_mutex_);
    return times_;
  }
  std::optional<double> device_time_ms() const override {
    std::lock_guard lock(run_mutex_);
    return device_ms_;
  }
  std::string node_detail(size_t i) const override { return i < l_.details.size() ? l_.details[i] : std::string(); }

  MemoryStats memory() const override {
    MemoryStats s;
    s.arena_bytes = l_.plan().arena_bytes + l_.workspace_bytes();
    s.naive_bytes = l_.plan().naive_bytes;
    s.weights_bytes = l_.weights().bytes();
    return s;
  }

 private:
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
    cudaStream_t s = l_.ctx().stream();
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

  size_t bytes(TensorId t) const { return l_.device_bytes(t); }
  float* ptr(TensorId t) const { return l_.ptr(t); }

  // A profiling event after the work enqueued so far. While capturing, a plain
  // cudaEventRecord makes no graph node (replays would never record the
  // event); cudaEventRecordExternal makes an event-record node, and is invalid
  // outside capture.
  static void record(cudaEvent_t e, cudaStream_t s, bool capturing) {
    if (capturing)
      check(cudaEventRecordWithFlags(e, s, cudaEventRecordExternal), "cudaEventRecordWithFlags");
    else
      check(cudaEventRecord(e, s), "cudaEventRecord");
  }

  // Enqueues the whole run on the stream: inputs in, steps, outputs out.
  // `capturing`: the stream is being captured into the CUDA graph.
  void enqueue(bool eager_check, bool capturing) {
    const Graph& g = *graph_;
    cudaStream_t s = l_.ctx().stream();
    for (size_t i = 0; i < g.inputs.size(); ++i)
      if (bytes(g.inputs[i]) > 0)
        check(cudaMemcpyAsync(ptr(g.inputs[i]), pinned_in_[i].get(), bytes(g.inputs[i]), cudaMemcpyHostToDevice, s),
              "cudaMemcpyAsync (input)");
    if (profile_ && inputs_done_) record(inputs_done_->get(), s, capturing);
    for (size_t k = 0; k < l_.steps.size(); ++k) {
      l_.steps[k].fn(s);
      if (eager_check) {
        const cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess)
          throw Error(ErrorCode::Internal,
                      fmt::format("cuda backend: launching {} failed: {}", l_.steps[k].what, cudaGetErrorString(e)));
      }
      if (profile_ && !step_events_.empty()) record(step_events_[k].get(), s, capturing);
    }
    for (size_t i = 0; i < g.outputs.size(); ++i)
      if (bytes(g.outputs[i]) > 0)
        check(cudaMemcpyAsync(pinned_out_[i].get(), ptr(g.outputs[i]), bytes(g.outputs[i]), cudaMemcpyDeviceToHost, s),
              "cudaMemcpyAsync (output)");
    check(cudaGetLastError(), "enqueueing the model");
  }

  std::shared_ptr<const Graph> graph_;
  Lowering l_;
  bool use_graph_ = true, profile_ = false;

  std::vector<PinnedBuffer> pinned_in_, pinned_out_;
  Event start_, stop_;
  std::optional<Event> inputs_done_;  // profile_nodes only, like step_events_
  std::vector<Event> step_events_;
  GraphPtr graph_handle_;
  GraphExecPtr graph_exec_;
  std::vector<double> times_;
  std::optional<double> device_ms_;
  mutable std::mutex run_mutex_;
};

class CudaBackend final : public Backend {
 public:
  std::string_view name() const override { return "cuda"; }
  bool host_memory() const override { return false; }
  std::string description() const override {
    return "NVIDIA GPUs: own kernels, cuBLAS and cuDNN per layer, FCM fused depthwise/pointwise pairs, CUDA graphs";
  }
  bool supports(const Graph& graph, const Node& node) const override {
    for (TensorId t : node.inputs)
      if (graph.shape(t).size() > kMaxRank) return false;
    return true;
  }
  std::unique_ptr<Executable> compile(std::shared_ptr<const Graph> graph, const BackendOptions& options) override {
    // No integer kernels: a quantized model runs in float32 with its dequantized weights.
    if (has_quantized_tensors(*graph)) {
      auto dequantized = std::make_shared<Graph>(*graph);
      dequantize_to_float(*dequantized);
      graph = std::move(dequantized);
    }
    return std::make_unique<CudaExecutable>(std::move(graph), options);
  }
  std::vector<DeviceInfo> devices() const override { return list_devices(); }
  std::vector<std::string> algorithm_names() const override { return conv_algorithm_names(); }
  EnergySource energy_source() const override { return EnergySource::GpuNvml; }
};

}  // namespace
}  // namespace kiln::cuda

namespace kiln {
// Called by the module's entry point (kiln_add_backend(... MODULE)).
std::unique_ptr<Backend> create_cuda_backend() { return std::make_unique<cuda::CudaBackend>(); }
}  // namespace kiln
