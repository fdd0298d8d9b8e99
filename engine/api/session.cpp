#include <sched.h>

#include <algorithm>
#include <array>
#include <span>
#include <cstring>
#include <string>
#include <thread>

#include "engine/core/graph.hpp"
#include "engine/core/op_info.hpp"
#include "engine/runtime/algorithm_selection.hpp"
#include "engine/runtime/backend_registry.hpp"
#include "engine/runtime/memory_budget.hpp"
#include "kiln/kiln.hpp"

namespace kiln {

struct Session::Impl {
  std::shared_ptr<const Graph> graph;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Executable> executable;
  std::string backend_name;
  std::string backend_choice;
  int threads = 1;
  std::vector<std::string> warnings;
  std::vector<TensorDesc> inputs, outputs;
  // keep_intermediates: the executable's outputs beyond the model's own, and
  // for every kept tensor (model outputs first) the node that writes it.
  bool keep_intermediates = false;
  std::vector<TensorDesc> extra_outputs;
  std::vector<int> writer;  // per executable output: node index

  // Runs the executable; in debug mode gives it room for the kept tensors,
  // in `extra` when the caller has it, else in a buffer made for this run.
  void execute(std::span<const float* const> in, std::span<float* const> out, std::vector<Tensor>* extra = nullptr);
};

namespace {
// The pointer lists of one run, on the stack for the usual few inputs and
// outputs: concurrent runs cannot share a list kept in the session.
template <class P>
class PointerList {
 public:
  explicit PointerList(size_t n) : n_(n) {
    if (n > kInline) heap_.resize(n);
  }
  P& operator[](size_t i) { return data()[i]; }
  std::span<const P> span() { return {data(), n_}; }

 private:
  static constexpr size_t kInline = 16;
  P* data() { return n_ > kInline ? heap_.data() : inline_.data(); }
  size_t n_;
  std::array<P, kInline> inline_{};
  std::vector<P> heap_;
};

// Refuses a run given the wrong number of inputs or outputs.
void check_counts(const std::vector<TensorDesc>& want_in, const std::vector<TensorDesc>& want_out, size_t inputs,
                  size_t outputs) {
  if (inputs != want_in.size())
    throw Error(ErrorCode::InvalidArgument,
                "the model takes " + std::to_string(want_in.size()) + " inputs, got " + std::to_string(inputs));
  if (outputs != want_out.size())
    throw Error(ErrorCode::InvalidArgument, "the model has " + std::to_string(want_out.size()) +
                                                " outputs, got room for " + std::to_string(outputs));
}

// The first node `backend` cannot run, or null.
const Node* first_unsupported(const Backend& backend, const Graph& g) {
  for (const Node& n : g.nodes)
    if (!backend.supports(g, n)) return &n;
  return nullptr;
}

// The graph with every node output that the API can describe (float32,
// uint8, int8) added to the graph's outputs after the model's own, for
// SessionOptions::keep_intermediates; `writer` gets each output's node.
std::shared_ptr<const Graph> keep_every_node_output(const Graph& model, std::vector<int>* writer) {
  auto g = std::make_shared<Graph>(model);
  const std::vector<int> producer = g->producers();
  for (TensorId t : g->outputs) writer->push_back(producer[static_cast<size_t>(t)]);
  std::vector<char> listed(g->tensors.size(), 0);
  for (TensorId t : g->outputs) listed[static_cast<size_t>(t)] = 1;
  for (TensorId t : g->inputs) listed[static_cast<size_t>(t)] = 1;
  for (size_t i = 0; i < g->nodes.size(); ++i)
    for (TensorId t : g->nodes[i].outputs) {
      const TensorInfo& info = g->tensor(t);
      const bool describable =
          info.dtype == DataType::Float32 || info.dtype == DataType::UInt8 || info.dtype == DataType::Int8;
      if (listed[static_cast<size_t>(t)] || info.is_constant() || !describable) continue;
      listed[static_cast<size_t>(t)] = 1;
      g->outputs.push_back(t);
      writer->push_back(static_cast<int>(i));
    }
  return g;
}

// The backend asked for; "auto": cpu when built and able to run every node, else reference.
std::unique_ptr<Backend> resolve_backend(const std::string& requested, const Graph& g, std::string* name,
                                         std::string* why) {
  auto& registry = BackendRegistry::global();
  if (requested != "auto") {
    *name = requested;
    *why = "asked for";
    return registry.create(requested);
  }
  *name = "reference";
  if (!registry.has("cpu")) {
    *why = "auto: this build has no cpu backend";
    return registry.create(*name);
  }
  std::unique_ptr<Backend> cpu = registry.create("cpu");
  if (const Node* n = first_unsupported(*cpu, g)) {
    *why = "auto: cpu cannot run node '" + n->name + "'";
    return registry.create(*name);
  }
  *name = "cpu";
  *why = "auto: the fastest backend built in that runs this model here (GPU backends only when named)";
  return cpu;
}
}  // namespace

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

Session::Session(const Model& model, const SessionOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->graph = model.graph_ptr();
  if (options.keep_intermediates) {
    impl_->keep_intermediates = true;
    impl_->graph = keep_every_node_output(model.graph(), &impl_->writer);
    const std::vector<TensorDesc> all = Model(impl_->graph).outputs();
    impl_->extra_outputs.assign(all.begin() + static_cast<std::ptrdiff_t>(model.graph().outputs.size()), all.end());
  }
  impl_->backend =
      resolve_backend(options.backend, *impl_->graph, &impl_->backend_name, &impl_->backend_choice);
  // Refused here, once for every backend, rather than silently ignored.
  if (options.gpu.fp16_storage && !impl_->backend->supports_fp16_storage())
    throw Error(ErrorCode::InvalidArgument,
                "--fp16-storage is a Vulkan option; backend '" + impl_->backend_name + "' stores float32");
  if (options.reference.accumulation != ReferencePrecision::Float32 && impl_->backend_name != "reference") {
    std::string m = "float64 accumulation (--reference-precision f64) is a reference-backend setting; backend '";
    m += impl_->backend_name;
    m += "' accumulates in float32";
    throw Error(ErrorCode::InvalidArgument, m);
  }
  if (options.deterministic == Determinism::Portable && !impl_->backend->supports_portable_determinism()) {
    std::string what = "portable determinism is a CPU-backend mode; backend '";
    what += impl_->backend_name;
    what += "' gives the same bits for any thread count at most (use deterministic 'threads', or backend cpu)";
    throw Error(ErrorCode::InvalidArgument, what);
  }
  const Graph& g = *impl_->graph;
  if (const Node* n = first_unsupported(*impl_->backend, g))
    throw Error(ErrorCode::Unsupported, "backend '" + impl_->backend_name + "' cannot run node '" + n->name + "' (" +
                                            std::string(op_name(n->op)) + " " + describe_attributes(*n) + ")");
  if (options.threads < 0)
    throw Error(ErrorCode::InvalidArgument, "threads is " + std::to_string(options.threads) +
                                                ": give a positive count, or 0 for every core this process may use");
  if (options.max_concurrent_runs < 0)
    throw Error(ErrorCode::InvalidArgument, "max_concurrent_runs is " + std::to_string(options.max_concurrent_runs) +
                                                ": give a positive count, or 0 for one per usable core");
  const int cores = available_cores();
  impl_->threads = options.threads == 0 ? cores : options.threads;
  if (impl_->threads > cores) {
    std::string w = "threads " + std::to_string(impl_->threads);
    w += " capped at " + std::to_string(cores);
    w += ", the cores this process may run on: more threads only contend for them";
    impl_->warnings.push_back(std::move(w));
    impl_->threads = cores;
  }
  // Refused before the backend allocates anything: a model whose shapes claim
  // more memory than there is gets both figures, not std::bad_alloc.
  const size_t memory_limit = options.memory_limit ? *options.memory_limit : available_memory();
  if (impl_->backend->host_memory()) {
    const MemoryNeed need = minimum_memory_need(g);
    contexts_within_limit(need.weights, need.activations, memory_limit, 1, "the model");
  }
  BackendOptions bo;
  bo.memory_limit = memory_limit;
  bo.threads = impl_->threads;
  bo.max_concurrent_runs = options.max_concurrent_runs == 0 ? cores : options.max_concurrent_runs;
  bo.selection = parse_selection_mode(options.algorithm, options.deterministic, impl_->backend->algorithm_names(),
                                      impl_->backend_name);
  bo.deterministic = options.deterministic;
  bo.tuning_cache = options.tuning_cache;
  bo.cpu = options.cpu;
  bo.reference = options.reference;
  bo.progress = options.progress;
  bo.gpu = options.gpu;
  impl_->executable = impl_->backend->compile(impl_->graph, bo);
  impl_->inputs = model.inputs();
  impl_->outputs = model.outputs();
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const std::vector<TensorDesc>& Session::inputs() const { return impl_->inputs; }
const std::vector<TensorDesc>& Session::outputs() const { return impl_->outputs; }
const std::string& Session::backend() const { return impl_->backend_name; }
const std::string& Session::backend_choice() const { return impl_->backend_choice; }
int Session::threads() const { return impl_->threads; }
const std::vector<std::string>& Session::warnings() const { return impl_->warnings; }

std::vector<Tensor> Session::run(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> outputs;
  for (const auto& d : impl_->outputs) outputs.emplace_back(d.shape, d.type);
  run(inputs, outputs);
  return outputs;
}

void Session::run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) { run_checked(inputs, outputs, nullptr); }

void Session::run_checked(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs, std::vector<Tensor>* kept) {
  check_counts(impl_->inputs, impl_->outputs, inputs.size(), outputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].shape() != impl_->inputs[i].shape)
      throw Error(ErrorCode::InvalidArgument, "input '" + impl_->inputs[i].name + "' expects shape " +
                                                  shape_to_string(impl_->inputs[i].shape) + ", got " +
                                                  shape_to_string(inputs[i].shape()));
    if (inputs[i].type() != impl_->inputs[i].type)
      throw Error(ErrorCode::InvalidArgument, "input '" + impl_->inputs[i].name + "' takes " +
                                                  element_type_name(impl_->inputs[i].type) + " values, got " +
                                                  element_type_name(inputs[i].type()));
    if (inputs[i].raw() == nullptr && inputs[i].size() > 0)
      throw Error(ErrorCode::InvalidArgument, "input '" + impl_->inputs[i].name + "' has no data");
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].shape() != impl_->outputs[i].shape)
      throw Error(ErrorCode::InvalidArgument, "output '" + impl_->outputs[i].name + "' has shape " +
                                                  shape_to_string(impl_->outputs[i].shape) + ", got room for " +
                                                  shape_to_string(outputs[i].shape()));
    if (outputs[i].type() != impl_->outputs[i].type)
      throw Error(ErrorCode::InvalidArgument, "output '" + impl_->outputs[i].name + "' holds " +
                                                  element_type_name(impl_->outputs[i].type) + " values, got room for " +
                                                  element_type_name(outputs[i].type()));
  }
  // Executables copy each tensor's bytes in its own element type.
  PointerList<const float*> in(inputs.size());
  PointerList<float*> out(outputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) in[i] = static_cast<const float*>(inputs[i].raw());
  for (size_t i = 0; i < outputs.size(); ++i) out[i] = static_cast<float*>(outputs[i].raw());
  impl_->execute(in.span(), out.span(), kept);
}

void Session::Impl::execute(std::span<const float* const> in, std::span<float* const> out, std::vector<Tensor>* kept) {
  if (!keep_intermediates) return executable->run(in, out);
  std::vector<Tensor> own;
  if (!kept) kept = &own;
  kept->clear();
  for (const TensorDesc& d : extra_outputs) kept->emplace_back(d.shape, d.type);
  std::vector<float*> all(out.begin(), out.end());
  for (Tensor& t : *kept) all.push_back(static_cast<float*>(t.raw()));
  executable->run(in, all);
}

std::vector<NodeOutput> Session::run_all(const std::vector<Tensor>& inputs) {
  if (!impl_->keep_intermediates)
    throw Error(ErrorCode::InvalidArgument,
                "run_all needs a session made with SessionOptions::keep_intermediates; this one keeps no "
                "intermediate tensors");
  std::vector<Tensor> outputs;
  for (const auto& d : impl_->outputs) outputs.emplace_back(d.shape, d.type);
  std::vector<Tensor> kept;
  run_checked(inputs, outputs, &kept);

  const Graph& g = *impl_->graph;
  std::vector<NodeOutput> all;
  for (size_t i = 0; i < impl_->writer.size(); ++i) {
    NodeOutput o;
    const bool model_output = i < outputs.size();
    o.node_index = static_cast<size_t>(std::max(impl_->writer[i], 0));
    o.desc = model_output ? impl_->outputs[i] : impl_->extra_outputs[i - outputs.size()];
    o.value = model_output ? std::move(outputs[i]) : std::move(kept[i - outputs.size()]);
    o.graph_output = model_output;
    if (impl_->writer[i] >= 0) {
      const Node& n = g.nodes[o.node_index];
      o.node = n.name;
      o.op = std::string(op_name(n.op));
    }
    all.push_back(std::move(o));
  }
  // Node order; a graph output that is a graph input (no writer) goes first.
  std::stable_sort(all.begin(), all.end(), [&](const NodeOutput& a, const NodeOutput& b) {
    const int wa = a.node.empty() ? -1 : static_cast<int>(a.node_index);
    const int wb = b.node.empty() ? -1 : static_cast<int>(b.node_index);
    return wa < wb;
  });
  return all;
}

void Session::run_buffers(std::span<const void* const> inputs, std::span<void* const> outputs) {
  check_counts(impl_->inputs, impl_->outputs, inputs.size(), outputs.size());
  PointerList<const float*> in(inputs.size());
  PointerList<float*> out(outputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i])
      throw Error(ErrorCode::InvalidArgument, "input " + std::to_string(i) + " ('" + impl_->inputs[i].name + "') is null");
    in[i] = static_cast<const float*>(inputs[i]);
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i])
      throw Error(ErrorCode::InvalidArgument,
                  "output " + std::to_string(i) + " ('" + impl_->outputs[i].name + "') is null");
    out[i] = static_cast<float*>(outputs[i]);
  }
  impl_->execute(in.span(), out.span());
}

size_t Session::input_index(const std::string& name) const {
  for (size_t i = 0; i < impl_->inputs.size(); ++i)
    if (impl_->inputs[i].name == name) return i;
  std::string list;
  for (const auto& d : impl_->inputs) list += (list.empty() ? "" : ", ") + d.name;
  throw Error(ErrorCode::InvalidArgument, "the model has no input '" + name + "' (inputs: " + list + ")");
}

size_t Session::output_index(const std::string& name) const {
  for (size_t i = 0; i < impl_->outputs.size(); ++i)
    if (impl_->outputs[i].name == name) return i;
  throw Error(ErrorCode::InvalidArgument, "the model has no output '" + name + "'");
}

std::vector<NodeProfile> Session::profile() const {
  const Graph& g = *impl_->graph;
  const auto times = impl_->executable->node_times_ms();
  std::vector<NodeProfile> out;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    NodeProfile p;
    p.name = n.name;
    p.op = std::string(op_name(n.op));
    p.detail = impl_->executable->node_detail(i);
    p.output_shape = g.shape(n.outputs[0]);
    p.flops = node_flops(g, n);
    p.ms = i < times.size() ? times[i] : 0.0;
    out.push_back(std::move(p));
  }
  return out;
}

std::optional<double> Session::device_time_ms() const { return impl_->executable->device_time_ms(); }

MemoryReport Session::memory() const {
  const MemoryStats s = impl_->executable->memory();
  return {s.arena_bytes, s.naive_bytes, s.weights_bytes};
}

}  // namespace kiln
