#pragma once
// The measurements behind `kiln bench` and their JSON form, shared by the CLI
// (apps/kiln/cmd_bench.cpp, which prints the text report) and the Python
// module (python/src/module.cpp, Session.bench), so both give the same fields.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln::bench {

struct Options {
  int runs = 50;           // timed runs (at least 1)
  int warmup = 5;          // untimed runs before them
  uint32_t seed = 42;      // of the random input values
  bool energy = false;     // also measure energy (back-to-back runs between two meter readings)
  double energy_seconds = 1.0;
  // Called after each warmup and timed run (done, total) and during the
  // energy measurement (seconds elapsed, seconds asked); may be empty.
  std::function<void(int, int)> on_run;
  std::function<void(double, double)> on_energy;
};

struct LatencyStats {
  double p50 = 0, p90 = 0, p99 = 0, min = 0, max = 0, mean = 0, stddev = 0;
};
// Percentiles interpolate linearly between the two nearest ranks (numpy's default).
LatencyStats latency_stats(std::vector<double> ms);

struct Layer {
  size_t index = 0;
  NodeProfile profile;  // detail, shape and FLOPs; ms replaced by the median
  double median_ms = 0;
  double gflops = 0;  // GFLOP/s at the median time
  double share = 0;   // of the sum of all layers' medians
};

struct Energy {
  bool measured = false;
  std::string meter, reason;
  double joules = 0, seconds = 0;
  int runs = 0;
};

// Throughput of `callers` threads sharing one session against as many
// threads with a session each (made from `model` with `asked`), every caller
// running `runs` times; the two are alternated over `rounds` rounds and the
// medians kept, as this machine's load drifts.
struct Callers {
  int callers = 0, runs = 0, rounds = 0;
  double shared_runs_per_s = 0;    // one Session, concurrent run() calls
  double separate_runs_per_s = 0;  // one Session per caller
  int64_t shared_rss_growth_kib = -1, separate_rss_growth_kib = -1;  // VmHWM growth while each ran first
};
struct Result {
  std::string model;        // the path, as given
  SessionOptions session;   // the options as asked (backend "auto", threads 0 kept as such)
  std::string backend, backend_choice;  // the backend that ran ("auto" resolved) and why
  int threads = 1;                      // the threads it ran with (0 resolved)
  std::vector<TensorDesc> inputs;
  int64_t batch = 1;
  uint32_t seed = 42;
  double load_ms = 0, session_ms = 0, first_ms = 0;
  int warmup = 0, runs = 0;
  std::vector<double> latencies;  // ms, one per timed run
  LatencyStats latency;
  std::vector<double> device_ms;  // GPU backends: the device's own time per run
  double throughput = 0;          // inferences/s at the mean latency
  bool energy_requested = false;
  Energy energy;
  int64_t flops = 0;  // per inference, summed over the layers
  int64_t peak_rss_kib = -1, vm_hwm_kib = -1;
  MemoryReport memory;
  std::vector<Layer> layers;
  double layer_sum_ms = 0;
  std::vector<size_t> slowest;  // indices into layers, at most 5, slowest first
  std::optional<Callers> callers;  // kiln bench --callers N
};

// Runs `session` on random inputs (uniform [-1, 1) floats, random bytes for
// quantized inputs, from options.seed): one first run, options.warmup untimed
// runs, options.runs timed ones (per-node times read after each, outside the
// timing), then the energy measurement if asked. `asked` are the options the
// session was made with (reported as given; the energy meter follows their
// backend); model path, load_ms and session_ms are filled in by the caller.
Result run(Session& session, const SessionOptions& asked, const Options& options);

Callers measure_callers(Session& shared, const Model& model, const SessionOptions& asked, int callers, int runs,
                        int rounds, uint32_t seed);

// Everything in `r`, as `kiln bench --json` writes it.
nlohmann::json to_json(const Result& r);

// Peak resident set size in KiB: getrusage's ru_maxrss and /proc/self/status's VmHWM (-1 where unavailable).
int64_t ru_maxrss_kib();
int64_t vm_hwm_kib();

}  // namespace kiln::bench
