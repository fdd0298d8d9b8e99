#pragma once
// Kiln's public C++ API.
//
//   kiln::Model model = kiln::Model::load("mobilenet.kiln");
//   kiln::Session session(model, {.backend = "reference"});
//   kiln::Tensor input(session.inputs()[0].shape);       // fill input.data()
//   std::vector<kiln::Tensor> outputs = session.run({input});
//
// All errors are kiln::Error exceptions whose message names the problem.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/error.hpp"
#include "kiln/model_file.hpp"

namespace kiln {

class Graph;

// The element type of a graph input or output. Most models take and return
// float32; a quantized model may take or return uint8/int8 values (real value
// = scale · (q − zero_point), see TensorDesc).
enum class ElementType { Float32, UInt8, Int8 };
size_t element_size(ElementType type);
const char* element_type_name(ElementType type);  // "float32", "uint8", "int8"

struct TensorDesc {
  std::string name;
  std::vector<int64_t> shape;
  ElementType type = ElementType::Float32;
  // For uint8/int8 tensors: real value = scale · (q − zero_point).
  float scale = 0.0f;
  int32_t zero_point = 0;
};

// A dense tensor in row-major (NCHW for images) order, float32 unless made
// with another element type. Either owns its storage or wraps memory the
// caller keeps alive.
class Tensor {
 public:
  Tensor() = default;
  // Owned, zero-filled storage.
  explicit Tensor(std::vector<int64_t> shape, ElementType type = ElementType::Float32);
  // Wraps caller memory (no copy); `data` must hold element_count(shape) floats.
  static Tensor wrap(float* data, std::vector<int64_t> shape);
  // Wraps caller memory of any element type (element_count(shape) elements).
  static Tensor wrap(void* data, std::vector<int64_t> shape, ElementType type);

  const std::vector<int64_t>& shape() const { return shape_; }
  ElementType type() const { return type_; }
  int64_t size() const;
  size_t size_bytes() const { return static_cast<size_t>(size()) * element_size(type_); }
  // The float32 values; throws kiln::Error (InvalidArgument) for another element type.
  float* data() { return static_cast<float*>(checked_float()); }
  const float* data() const { return static_cast<const float*>(const_cast<Tensor*>(this)->checked_float()); }
  std::span<float> values() { return {data(), static_cast<size_t>(size())}; }
  std::span<const float> values() const { return {data(), static_cast<size_t>(size())}; }
  // The bytes, whatever the element type.
  void* raw() { return data_; }
  const void* raw() const { return data_; }
  std::span<uint8_t> u8() { return {static_cast<uint8_t*>(checked(ElementType::UInt8)), static_cast<size_t>(size())}; }
  std::span<int8_t> i8() { return {static_cast<int8_t*>(checked(ElementType::Int8)), static_cast<size_t>(size())}; }

 private:
  void* checked_float() { return checked(ElementType::Float32); }
  void* checked(ElementType want);

  std::vector<int64_t> shape_;
  ElementType type_ = ElementType::Float32;
  std::shared_ptr<std::byte[]> owned_;
  void* data_ = nullptr;
};

enum class Preprocess { Unknown, Imagenet, Inception, Caffe, Raw, Centered128 };
enum class ResizePolicy { ShorterSide, SquareCrop };
enum class ResizeFilter { Bilinear, AntialiasedBilinear };
enum class OutputKind { Unknown, Logits, Probabilities };

// What the converter learned about a known model (from the models/ manifest).
struct ModelMetadata {
  std::string name;
  std::string source_url;
  std::string source_sha256;
  Preprocess preprocess = Preprocess::Unknown;
  ResizePolicy resize = ResizePolicy::ShorterSide;
  ResizeFilter resize_filter = ResizeFilter::Bilinear;
  OutputKind output_kind = OutputKind::Unknown;
  int class_offset = 0;  // 1 for 1001-class models whose class 0 is "background"
  std::vector<std::string> labels;
};

// One node of a model, as `kiln inspect` shows it.
struct NodeInfo {
  std::string name;
  std::string op;
  std::string attributes;  // e.g. "k=3x3 s=2x2 p=0,0,1,1 g=32 act=Clip(0,6)"
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<std::vector<int64_t>> output_shapes;
  // What the node computes on: "f32", or for a quantized node its output and
  // weight, e.g. "u8 s=0.0235 z=0, w u8 per-axis(0) s=[0.001..0.02] z=[90..160]".
  std::string dtype;
  int64_t params = 0;  // constant values the node reads
  int64_t flops = 0;   // a multiply-add counts 2
};

class Model {
 public:
  // Memory-maps and verifies a .kiln file (weights are used in place).
  static Model load(const std::string& path, const LoadOptions& options = {});
  // Parses a .kiln file held in memory (copied).
  static Model from_bytes(std::span<const uint8_t> bytes, const std::string& name = "<memory>",
                          const LoadOptions& options = {});

  std::vector<TensorDesc> inputs() const;
  std::vector<TensorDesc> outputs() const;
  ModelMetadata metadata() const;
  std::vector<NodeInfo> nodes() const;
  // Convert-time passes, as "name: N rewrites"; empty for an unoptimised model.
  std::vector<std::string> passes_applied() const;
  std::string producer() const;
  // The file's format and checksums, and notes for the user (model_file.hpp).
  const ModelFileInfo& file_info() const { return file_; }

  // The in-memory graph, for tools inside this project (engine/core/graph.hpp).
  const Graph& graph() const { return *graph_; }
  std::shared_ptr<const Graph> graph_ptr() const { return graph_; }
  explicit Model(std::shared_ptr<const Graph> graph, ModelFileInfo file = {})
      : graph_(std::move(graph)), file_(std::move(file)) {}

 private:
  std::shared_ptr<const Graph> graph_;
  ModelFileInfo file_;
};

// Settings only the CPU backend reads.
struct CpuOptions {
  // Highest instruction set the kernels may use: "" (the best this CPU has),
  // or e.g. "avx512_vnni", "avx512", "avx2", "generic".
  std::string isa;
  // Per-core L2 size the fused-chain cost model assumes; empty = read it from
  // sysfs (1 MiB when unknown). 0 makes every intermediate count as memory
  // traffic, so that even small chains fuse (tests use it).
  std::optional<size_t> l2_bytes;
};

// How the reference backend accumulates.
enum class ReferencePrecision {
  // float32 sums (convolution and Gemm/MatMul in float, pooling, ReduceMean
  // and softmax already in double): the oracle every backend is tested against.
  Float32,
  // Every reduction and multiply-accumulate (convolution, Gemm, MatMul,
  // average and global average pooling, ReduceMean, softmax's sum of
  // exponentials, BatchNormalization's scale) runs in double, and each output
  // element is rounded to float once, after its fused activation, which is
  // evaluated in double too (sigmoid, tanh, exp: one rounding instead of
  // float's several). Elementwise Add/Sub/Mul/Div are single correctly rounded
  // float operations already and stay so. Slow; a yardstick for measuring how
  // far float32 configurations drift (`kiln compare`), not for serving.
  Float64,
};

// Settings only the reference backend reads.
struct ReferenceOptions {
  // Float64 on any other backend is refused (kiln::Error, InvalidArgument).
  ReferencePrecision accumulation = ReferencePrecision::Float32;
};

// Progress of the work a session does while it is created: its backend
// compiling the model, convolution layer by convolution layer (the slow part
// with algorithm "tune", which times every candidate). Reported on the thread
// that creates the session.
struct Progress {
  const char* what = "";  // e.g. "convolution layers"
  int done = 0;
  int total = 0;
};
using ProgressCallback = std::function<void(const Progress&)>;

// Settings of the GPU backends (vulkan, cuda); host backends ignore them.
struct GpuOptions {
  int device = 0;  // index into list_devices(backend)
  // Store activations and weights as float16; arithmetic stays float32,
  // inputs and outputs stay float32 at the API. Vulkan only: other backends
  // refuse it (kiln::Error, InvalidArgument).
  bool fp16_storage = false;
  // CUDA: replay the whole run as one CUDA graph (false: launch the steps one by one).
  bool graphs = true;
  // CUDA: record an event after every step so that profile() has per-node
  // device times (about a microsecond per node per run); otherwise node times
  // are 0 and only device_time_ms() is measured.
  bool profile_nodes = false;
};

// How far results are reproducible (SessionOptions::deterministic).
//   Off:      the fastest kernels; bits may change with the thread count.
//   Threads:  the same bits for any thread count (on one machine, one ISA level).
//   Portable: the same bits for any thread count and every ISA level the CPU
//             backend dispatches to (--isa), on any x86-64 CPU; backends other
//             than cpu and reference refuse it.
enum class Determinism { Off, Threads, Portable };
// "off", "threads", "portable".
const char* determinism_name(Determinism d);
// The inverse of determinism_name; "" is Threads (a bare --deterministic).
// Throws kiln::Error (InvalidArgument) naming the levels.
Determinism parse_determinism(std::string_view text);

struct SessionOptions {
  // A backend name, or "auto": the fastest backend built in that can run the
  // model on this machine without being asked for a device — cpu when it is
  // built and supports every node, else reference. GPU backends are used only
  // when named (a small-batch CNN is not always faster there, and a Vulkan
  // device may be a CPU emulation); Session::backend_choice() says what was picked and why.
  std::string backend = "auto";
  // Worker threads per run; 0 = every core this process may run on
  // (sched_getaffinity). More than that is capped to it, with a warning
  // (Session::warnings()): extra threads only contend for the same cores.
  int threads = 0;
  // Runs that may execute at the same time when several threads call
  // Session::run on this session, each with its own activation memory and
  // scratch; further callers wait. 0 = the cores this process may run on.
  int max_concurrent_runs = 0;
  // Bytes the session may allocate: activations and scratch per concurrent
  // run plus the weights the backend holds. Creation refuses a model that
  // needs more, naming both; concurrent runs beyond what fits wait instead.
  // Empty = the memory available when the session is created (available_memory()).
  std::optional<size_t> memory_limit;
  // Convolution algorithm choice: "heuristic" (lowest cost estimate), "tune"
  // (time the candidates, remember the winner) or "fixed:NAME". Checked once
  // against the backend's algorithms when the session is created.
  std::string algorithm = "heuristic";
  Determinism deterministic = Determinism::Off;
  // Where `tune` stores and finds its measurements ("" = the default cache file).
  std::string tuning_cache;
  CpuOptions cpu;
  GpuOptions gpu;
  ReferenceOptions reference;
  // Called as the backend compiles the model (see Progress); empty: no reports.
  ProgressCallback progress;
  // Debug mode (`kiln compare`, `kiln run --dump-all`): every node's output
  // becomes a result of the run, so that Session::run_all can return it. It
  // costs the memory of every intermediate tensor, and a backend may then not
  // fuse nodes across a tensor it must keep, so the final outputs can differ
  // in the last bits from a session without it (kiln compare checks them).
  bool keep_intermediates = false;
};

struct NodeProfile {
  std::string name;
  std::string op;
  std::string detail;  // backend-specific, e.g. the convolution algorithm
  std::vector<int64_t> output_shape;
  int64_t flops = 0;
  double ms = 0;  // in the last run
};

// One tensor written during a run of a session with
// SessionOptions::keep_intermediates (Session::run_all).
struct NodeOutput {
  std::string node;  // the node that wrote it
  std::string op;    // its operator, e.g. "Conv"
  size_t node_index = 0;
  TensorDesc desc;   // the tensor's name, shape and element type
  bool graph_output = false;
  Tensor value;
};

struct MemoryReport {
  size_t arena_bytes = 0;
  size_t naive_bytes = 0;
  size_t weights_bytes = 0;
};

// A Session is safe to share between threads: run() may be called from many
// threads at once. Concurrent calls on host backends (reference, cpu) each
// get their own execution context — activation arena, kernel scratch, worker
// threads — from a small pool (SessionOptions::max_concurrent_runs), while
// sharing the packed weights; GPU backends run one call at a time. Every run
// gives the same bits as it would alone. A Model is immutable and may back
// many Sessions on many threads.
class Session {
 public:
  Session(const Model& model, const SessionOptions& options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  const std::vector<TensorDesc>& inputs() const;
  const std::vector<TensorDesc>& outputs() const;
  // The backend running the model ("auto" resolved), and why it was picked.
  const std::string& backend() const;
  const std::string& backend_choice() const;
  // The worker threads per run (0 resolved, capped at the usable cores).
  int threads() const;
  // What was adjusted while the session was created (e.g. threads capped),
  // one sentence each; tools print them, the library does not.
  const std::vector<std::string>& warnings() const;

  // Runs the model; allocates the output tensors. Thread-safe (see above).
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  // Runs the model into caller-provided outputs of the right shapes; allocates nothing.
  void run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs);
  // Runs on caller memory without Tensor wrappers (for bindings such as the C
  // API): inputs[i] points at input i's values in its shape and element type,
  // outputs[i] at room for output i. Only the counts and null pointers can be
  // checked; allocates nothing.
  void run_buffers(std::span<const void* const> inputs, std::span<void* const> outputs);
  // With SessionOptions::keep_intermediates: runs the model and returns every
  // output of every node, in node order (the graph's outputs among them;
  // tensors of element types the API has no name for, such as int32, are
  // left out). Throws kiln::Error (InvalidArgument) for a session made without it.
  std::vector<NodeOutput> run_all(const std::vector<Tensor>& inputs);
  // Index of the input or output called `name`; throws if there is none.
  size_t input_index(const std::string& name) const;
  size_t output_index(const std::string& name) const;

  // Node times are those of the run that finished last.
  std::vector<NodeProfile> profile() const;
  // Arena bytes are per execution context (one per concurrent run).
  MemoryReport memory() const;
  // Device time of the last run (GPU backends measure it with timestamp
  // queries or events); empty for backends that run on the host.
  std::optional<double> device_time_ms() const;

 private:
  void run_checked(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs, std::vector<Tensor>* kept);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Backends compiled into this build, e.g. {"reference", "cpu"}.
std::vector<std::string> available_backends();

// What a backend built into this library lets a session choose.
struct BackendInfo {
  std::string name;
  std::string description;
  std::vector<std::string> algorithms;  // the NAMEs SessionOptions::algorithm "fixed:NAME" accepts
  std::vector<std::string> isa_levels;  // CpuOptions::isa values this CPU runs, lowest first (cpu)
  bool fp16_storage = false;            // GpuOptions::fp16_storage is honoured
  bool portable_determinism = false;    // Determinism::Portable is honoured
};
// Throws kiln::Error (InvalidArgument) naming the built-in backends for an unknown name.
BackendInfo backend_info(const std::string& backend);
// The cores this process may run on (sched_getaffinity; at least 1).
int available_cores();
// Bytes this process may still allocate: MemAvailable (/proc/meminfo), or the
// cgroup's remaining memory.max when that is lower.
size_t available_memory();

struct DeviceDesc {
  int index = 0;
  std::string name;
  std::string detail;
};
// The devices `backend` can run on (`SessionOptions::device` indexes them).
// Empty for host backends; throws kiln::Error naming what is missing when a GPU
// backend finds no driver or device.
std::vector<DeviceDesc> list_devices(const std::string& backend);

int64_t element_count(const std::vector<int64_t>& shape);

}  // namespace kiln
