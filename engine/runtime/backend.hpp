#pragma once
// The small interface every backend implements (reference, cpu, vulkan, cuda).
// A backend says which nodes it supports and compiles a whole graph into an
// Executable that owns its memory and runs without allocating.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/graph.hpp"
#include "kiln/kiln.hpp"

namespace kiln {

// Convolution algorithm choice, parsed once from SessionOptions::algorithm
// when a session is created (engine/runtime/algorithm_selection.hpp).
struct SelectionMode {
  enum class Kind { Heuristic, Tune, Fixed };
  Kind kind = Kind::Heuristic;
  std::string fixed_name;  // Fixed only: one of the backend's algorithm_names()

  bool heuristic() const { return kind == Kind::Heuristic; }
  bool tune() const { return kind == Kind::Tune; }
  bool fixed() const { return kind == Kind::Fixed; }
};

struct BackendOptions {
  int threads = 1;
  // Runs of the executable that may overlap, each with its own context; more
  // concurrent callers wait for one to finish (host backends; GPU ones run one at a time).
  int max_concurrent_runs = 1;
  // Bytes the executable may allocate (weights once, plus each run context);
  // compile() throws when even one context does not fit.
  size_t memory_limit = SIZE_MAX;
  SelectionMode selection;
  // Threads: same bits for any thread count; Portable: also for every ISA
  // level, on any CPU (only where supports_portable_determinism()).
  Determinism deterministic = Determinism::Off;
  std::string tuning_cache;  // "" = the backend's default location
  CpuOptions cpu;
  ReferenceOptions reference;  // read by the reference backend only (Session refuses Float64 elsewhere)
  GpuOptions gpu;  // fp16_storage only reaches backends whose supports_fp16_storage() is true
  ProgressCallback progress;  // SessionOptions::progress (LoweringBase::conv_visited reports)
};

struct MemoryStats {
  size_t arena_bytes = 0;    // activations as planned (one arena, reused by lifetime)
  size_t naive_bytes = 0;    // sum of all activation tensors if none shared memory
  size_t weights_bytes = 0;  // constants as held by the backend
};

// Every member may be called from many threads at once. Host backends give
// each concurrent run its own context (engine/runtime/context_pool.hpp) and
// share the compiled weights; a GPU backend with one queue runs one call at a
// time.
class Executable {
 public:
  virtual ~Executable() = default;
  // inputs[i] holds graph input i and outputs[i] has room for graph output i,
  // in the graph's shapes and dtypes (the session checks both; the pointers
  // are to the bytes of float32, uint8 or int8 tensors). Allocates nothing
  // once as many runs have overlapped as ever will.
  virtual void run(std::span<const float* const> inputs, std::span<float* const> outputs) = 0;
  // Milliseconds spent in each graph node during the run that finished last, in node order.
  virtual std::vector<double> node_times_ms() const = 0;
  virtual MemoryStats memory() const = 0;
  // What the backend runs for a node (e.g. the chosen algorithm); may be empty.
  virtual std::string node_detail(size_t node_index) const { return {}; }
  // Milliseconds the device itself spent on the last run (GPU timestamp
  // queries or events), for backends that can measure it; wall time includes
  // submission and synchronisation on top of this.
  virtual std::optional<double> device_time_ms() const { return std::nullopt; }
};

// One device a backend can run on (`--device index`).
struct DeviceInfo {
  int index = 0;
  std::string name;    // e.g. "NVIDIA H100 80GB HBM3", "llvmpipe (LLVM 15.0.6, 256 bits)"
  std::string detail;  // API version, memory, features that matter for Kiln
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual std::string description() const = 0;
  // Whether this backend can run `node` (its op, attributes and shapes).
  virtual bool supports(const Graph& graph, const Node& node) const = 0;
  virtual std::unique_ptr<Executable> compile(std::shared_ptr<const Graph> graph, const BackendOptions& options) = 0;
  // The devices this backend can use. Host backends (reference, cpu) return
  // none: they run on the calling process's CPU. A GPU backend whose driver or
  // devices are missing throws kiln::Error saying what is missing.
  virtual std::vector<DeviceInfo> devices() const { return {}; }
  // Whether compile() honours BackendOptions::fp16_storage. A backend that
  // does may still throw from compile() when the device lacks the feature.
  virtual bool supports_fp16_storage() const { return false; }
  // Whether compile() honours Determinism::Portable (the session refuses it otherwise).
  virtual bool supports_portable_determinism() const { return false; }
  // Whether activations live in host memory, where SessionOptions::memory_limit
  // counts them (false for backends with device memory of their own).
  virtual bool host_memory() const { return true; }
  // Every name --algorithm fixed:NAME accepts; empty for a backend with one
  // way to run each layer (the session then refuses fixed:NAME).
  virtual std::vector<std::string> algorithm_names() const { return {}; }
  // The instruction-set levels CpuOptions::isa may name on this CPU, lowest
  // first; empty for a backend that does not read it.
  virtual std::vector<std::string> isa_levels() const { return {}; }
  // Where `kiln bench --energy` reads this backend's energy: RAPL for the
  // host's CPU package, NVML for an NVIDIA GPU.
  enum class EnergySource { HostRapl, GpuNvml };
  virtual EnergySource energy_source() const { return EnergySource::HostRapl; }
};

}  // namespace kiln
