#include "apps/common/bench.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>
#include <numeric>
#include <random>

#include "kiln/energy.hpp"

namespace kiln::bench {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The q-quantile (0..1) of sorted values, interpolating linearly between the
// two nearest ranks (numpy's default), so p50 is the usual median.
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0.0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return quantile(v, 0.5);
}

}  // namespace

int64_t ru_maxrss_kib() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return -1;
  return static_cast<int64_t>(u.ru_maxrss);
}

int64_t vm_hwm_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) {
      try {
        return std::stoll(line.substr(6));  // "VmHWM:     12345 kB"
      } catch (const std::exception&) {
        return -1;
      }
    }
  return -1;
}

LatencyStats latency_stats(std::vector<double> ms) {
  LatencyStats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  s.p50 = quantile(ms, 0.50);
  s.p90 = quantile(ms, 0.90);
  s.p99 = quantile(ms, 0.99);
  s.min = ms.front();
  s.max = ms.back();
  s.mean = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  double var = 0;
  for (double x : ms) var += (x - s.mean) * (x - s.mean);
  s.stddev = ms.size() > 1 ? std::sqrt(var / static_cast<double>(ms.size() - 1)) : 0.0;
  return s;
}

namespace {
// Random inputs of `session`'s shapes and types from `seed` (uniform [-1, 1)
// floats, random bytes for quantized inputs).
std::vector<Tensor> random_inputs(const Session& session, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<Tensor> inputs;
  for (const auto& d : session.inputs()) {
    Tensor x(d.shape, d.type);
    if (d.type == ElementType::Float32) {
      for (float& v : x.values()) v = dist(rng);
    } else {
      auto* bytes = static_cast<uint8_t*>(x.raw());
      for (size_t i = 0; i < x.size_bytes(); ++i) bytes[i] = static_cast<uint8_t>(rng());
    }
    inputs.push_back(std::move(x));
  }
  return inputs;
}

}  // namespace

Result run(Session& session, const SessionOptions& asked, const Options& options) {
  if (options.runs < 1) throw Error(ErrorCode::InvalidArgument, "bench: runs must be at least 1");
  if (options.warmup < 0) throw Error(ErrorCode::InvalidArgument, "bench: warmup must not be negative");
  Result r;
  r.session = asked;
  r.inputs = session.inputs();
  r.seed = options.seed;
  r.backend = session.backend();
  r.backend_choice = session.backend_choice();
  r.threads = session.threads();
  r.warmup = options.warmup;
  r.runs = options.runs;
  r.energy_requested = options.energy;

  // Random inputs from a fixed seed; outputs allocated once.
  const std::vector<Tensor> inputs = random_inputs(session, options.seed);
  std::vector<Tensor> outputs;
  for (const auto& d : session.outputs()) outputs.emplace_back(d.shape, d.type);
  const auto& first_shape = session.inputs().front().shape;
  r.batch = first_shape.empty() ? 1 : first_shape[0];

  Clock::time_point t = Clock::now();
  session.run(inputs, outputs);
  r.first_ms = ms_since(t);
  const int total_runs = options.warmup + options.runs;
  for (int i = 0; i < options.warmup; ++i) {
    session.run(inputs, outputs);
    if (options.on_run) options.on_run(i + 1, total_runs);
  }

  // Timed runs; the per-node times are read after each run, outside the timing.
  std::vector<std::vector<double>> node_ms;  // [node][run]
  std::vector<NodeProfile> profile;
  r.latencies.reserve(static_cast<size_t>(options.runs));
  for (int i = 0; i < options.runs; ++i) {
    t = Clock::now();
    session.run(inputs, outputs);
    r.latencies.push_back(ms_since(t));
    if (const std::optional<double> d = session.device_time_ms()) r.device_ms.push_back(*d);
    profile = session.profile();
    node_ms.resize(profile.size());
    for (size_t n = 0; n < profile.size(); ++n) node_ms[n].push_back(profile[n].ms);
    if (options.on_run) options.on_run(options.warmup + i + 1, total_runs);
  }
  // Energy: back-to-back runs for at least energy_seconds between two meter readings.
  if (options.energy) {
    EnergyMeterOptions eo;
    eo.backend = session.backend();  // "auto" resolved
    eo.device = asked.gpu.device;
    std::unique_ptr<EnergyMeter> meter = open_energy_meter(eo, &r.energy.reason);
    if (meter) {
      r.energy.meter = meter->name();
      const double j0 = meter->joules();
      const Clock::time_point e0 = Clock::now();
      do {
        session.run(inputs, outputs);
        ++r.energy.runs;
        if (options.on_energy) options.on_energy(ms_since(e0) / 1000.0, options.energy_seconds);
      } while (ms_since(e0) < options.energy_seconds * 1000.0);
      r.energy.seconds = ms_since(e0) / 1000.0;
      r.energy.joules = meter->joules() - j0;
      r.energy.measured = true;
    }
  }
  r.peak_rss_kib = ru_maxrss_kib();
  r.vm_hwm_kib = vm_hwm_kib();
  r.latency = latency_stats(r.latencies);
  r.throughput = r.latency.mean > 0 ? static_cast<double>(r.batch) * 1000.0 / r.latency.mean : 0.0;
  r.memory = session.memory();

  r.layers.resize(profile.size());
  for (size_t n = 0; n < profile.size(); ++n) {
    Layer& l = r.layers[n];
    l.index = n;
    l.profile = profile[n];
    l.median_ms = median(node_ms[n]);
    l.gflops = l.median_ms > 0 ? static_cast<double>(profile[n].flops) / (l.median_ms * 1e6) : 0.0;
    r.layer_sum_ms += l.median_ms;
    r.flops += profile[n].flops;
  }
  for (Layer& l : r.layers) l.share = r.layer_sum_ms > 0 ? l.median_ms / r.layer_sum_ms : 0.0;
  r.slowest.resize(r.layers.size());
  std::iota(r.slowest.begin(), r.slowest.end(), size_t{0});
  std::stable_sort(r.slowest.begin(), r.slowest.end(),
                   [&](size_t a, size_t b) { return r.layers[a].median_ms > r.layers[b].median_ms; });
  r.slowest.resize(std::min<size_t>(5, r.slowest.size()));
  return r;
}

namespace {
// Runs per second of `callers` threads, caller i running `runs` times on sessions[i].
double concurrent_runs_per_s(const std::vector<Session*>& sessions, const std::vector<Tensor>& inputs, int runs) {
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  std::exception_ptr failure;
  std::mutex failure_mutex;
  for (Session* s : sessions)
    threads.emplace_back([&, s] {
      try {
        std::vector<Tensor> outputs;
        for (const auto& d : s->outputs()) outputs.emplace_back(d.shape, d.type);
        for (int i = 0; i < runs; ++i) s->run(inputs, outputs);
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        failure = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
  return static_cast<double>(sessions.size()) * runs / (ms_since(start) / 1000.0);
}
}  // namespace

Callers measure_callers(Session& shared, const Model& model, const SessionOptions& asked, int callers, int runs,
                        int rounds, uint32_t seed) {
  if (callers < 1) throw Error(ErrorCode::InvalidArgument, "bench: callers must be at least 1");
  if (runs < 1 || rounds < 1) throw Error(ErrorCode::InvalidArgument, "bench: runs and rounds must be at least 1");
  Callers c;
  c.callers = callers;
  c.runs = runs;
  c.rounds = rounds;
  const std::vector<Tensor> inputs = random_inputs(shared, seed);
  const std::vector<Session*> one(static_cast<size_t>(callers), &shared);
  // The shared session first: its extra run contexts are the memory it adds.
  int64_t before = vm_hwm_kib();
  concurrent_runs_per_s(one, inputs, 1);  // makes the contexts
  if (before >= 0) c.shared_rss_growth_kib = vm_hwm_kib() - before;
  before = vm_hwm_kib();
  std::vector<std::unique_ptr<Session>> own;
  std::vector<Session*> each;
  for (int i = 0; i < callers; ++i) {
    own.push_back(std::make_unique<Session>(model, asked));
    each.push_back(own.back().get());
  }
  concurrent_runs_per_s(each, inputs, 1);
  if (before >= 0) c.separate_rss_growth_kib = vm_hwm_kib() - before;
  std::vector<double> shared_rate, separate_rate;
  for (int r = 0; r < rounds; ++r) {
    shared_rate.push_back(concurrent_runs_per_s(one, inputs, runs));
    separate_rate.push_back(concurrent_runs_per_s(each, inputs, runs));
  }
  c.shared_runs_per_s = median(shared_rate);
  c.separate_runs_per_s = median(separate_rate);
  return c;
}

nlohmann::json to_json(const Result& r) {
  using nlohmann::json;
  json j;
  j["model"] = r.model;
  j["backend"] = r.backend;  // "auto" resolved; "session" holds the options as given
  j["backend_choice"] = r.backend_choice;
  j["threads"] = r.threads;
  const SessionOptions& o = r.session;
  j["session"] = {{"backend", o.backend},
                  {"threads", o.threads},
                  {"isa", o.cpu.isa},
                  {"algorithm", o.algorithm},
                  {"deterministic", determinism_name(o.deterministic)},
                  {"tuning_cache", o.tuning_cache},
                  {"device", o.gpu.device},
                  {"fp16_storage", o.gpu.fp16_storage},
                  {"cuda_graphs", o.gpu.graphs},
                  {"node_times", o.gpu.profile_nodes}};
  j["inputs"] = json::array();
  for (const auto& d : r.inputs) j["inputs"].push_back({{"name", d.name}, {"shape", d.shape}});
  j["batch"] = r.batch;
  j["seed"] = r.seed;
  j["load_ms"] = r.load_ms;
  j["session_ms"] = r.session_ms;
  j["first_inference_ms"] = r.first_ms;
  j["warmup"] = r.warmup;
  j["runs"] = r.runs;
  const LatencyStats& lat = r.latency;
  j["latency_ms"] = {{"p50", lat.p50}, {"p90", lat.p90},   {"p99", lat.p99},      {"min", lat.min},
                     {"max", lat.max}, {"mean", lat.mean}, {"stddev", lat.stddev}};
  j["latencies_ms"] = r.latencies;
  if (!r.device_ms.empty()) {
    const LatencyStats dev = latency_stats(r.device_ms);
    j["device_time_ms"] = {{"p50", dev.p50}, {"p90", dev.p90}, {"min", dev.min}, {"mean", dev.mean}};
    j["device_times_ms"] = r.device_ms;
  }
  j["throughput_per_s"] = r.throughput;
  if (r.energy_requested) {
    const Energy& e = r.energy;
    if (e.measured)
      j["energy"] = {{"available", true},
                     {"meter", e.meter},
                     {"joules", e.joules},
                     {"seconds", e.seconds},
                     {"runs", e.runs},
                     {"joules_per_inference", e.joules / e.runs},
                     {"mean_watts", e.joules / e.seconds}};
    else
      j["energy"] = {{"available", false}, {"reason", e.reason}};
  }
  j["flops"] = r.flops;
  j["memory"] = {{"peak_rss_kib", r.peak_rss_kib},
                 {"vm_hwm_kib", r.vm_hwm_kib},
                 {"arena_bytes", r.memory.arena_bytes},
                 {"weights_bytes", r.memory.weights_bytes}};
  j["layers"] = json::array();
  for (const Layer& l : r.layers)
    j["layers"].push_back({{"index", l.index},
                           {"name", l.profile.name},
                           {"op", l.profile.op},
                           {"detail", l.profile.detail},
                           {"output_shape", l.profile.output_shape},
                           {"flops", l.profile.flops},
                           {"median_ms", l.median_ms},
                           {"gflops", l.gflops},
                           {"share", l.share}});
  j["layer_sum_ms"] = r.layer_sum_ms;
  j["slowest_layers"] = r.slowest;
  if (r.callers) {
    const Callers& c = *r.callers;
    j["callers"] = {{"callers", c.callers},
                    {"runs_per_caller", c.runs},
                    {"rounds", c.rounds},
                    {"shared_session_runs_per_s", c.shared_runs_per_s},
                    {"separate_sessions_runs_per_s", c.separate_runs_per_s},
                    {"shared_session_vm_hwm_growth_kib", c.shared_rss_growth_kib},
                    {"separate_sessions_vm_hwm_growth_kib", c.separate_rss_growth_kib}};
  }
  return j;
}

}  // namespace kiln::bench
