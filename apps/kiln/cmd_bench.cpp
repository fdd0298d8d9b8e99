// `kiln bench`: how long a model takes to load, to compile and to run, how much
// memory the process needed, and where the time goes layer by layer.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "apps/kiln/commands.hpp"
#include "apps/kiln/console.hpp"
#include "apps/kiln/session_flags.hpp"
#include "apps/kiln/table.hpp"
#include "kiln/energy.hpp"
#include "kiln/kiln.hpp"

namespace kiln::cli {

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

// Peak resident set size in KiB: getrusage's ru_maxrss (KiB on Linux) and the
// kernel's VmHWM from /proc/self/status (-1 where unavailable).
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

std::string kib_str(int64_t kib) {
  return kib < 0 ? std::string("n/a") : human_bytes(static_cast<double>(kib) * 1024.0);
}

struct LatencyStats {
  double p50 = 0, p90 = 0, p99 = 0, min = 0, max = 0, mean = 0, stddev = 0;
};

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

struct Layer {
  size_t index = 0;
  NodeProfile profile;  // detail, shape and FLOPs; ms replaced by the median
  double median_ms = 0;
  double gflops = 0;  // GFLOP/s at the median time
  double share = 0;   // of the sum of all layers' medians
};

}  // namespace

Command add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Benchmark a model (.kiln or ONNX): load, session and inference times, "
                                          "latency percentiles, peak memory and a per-layer profile");
  struct Args {
    std::string model, json;
    int runs = 50;
    int warmup = 5;
    uint32_t seed = 42;
    bool energy = false;
    double energy_seconds = 1.0;
    SessionOptions session;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Kiln model (.kiln) or ONNX model (.onnx)")->required();
  add_session_flags(cmd, args->session);
  cmd->add_option("--runs", args->runs, "Timed runs")->check(CLI::Range(1, std::numeric_limits<int>::max()))->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Untimed runs before the timed ones")
      ->check(CLI::Range(0, std::numeric_limits<int>::max()))
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the random input values")->capture_default_str();
  cmd->add_flag("--energy", args->energy,
                "Also measure energy: back-to-back runs for at least --energy-seconds, read from NVML (GPU backends) "
                "or RAPL powercap (CPU backends); says so when no meter is available");
  cmd->add_option("--energy-seconds", args->energy_seconds, "Minimum duration of the energy measurement")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--json", args->json, "Also write every result as JSON to this file");
  return [args] {
    // Opened first so that an unwritable path fails before the benchmark runs.
    std::ofstream json_out;
    if (!args->json.empty()) {
      json_out.open(args->json);
      if (!json_out) throw Error(ErrorCode::Io, args->json + ": cannot open for writing the JSON report");
    }
    // Load and compile, each timed on its own.
    Clock::time_point t = Clock::now();
    const Model model = load_model_file(args->model);  // an ONNX file's conversion counts as load
    const double load_ms = ms_since(t);
    t = Clock::now();
    Session session = open_session(model, args->session);
    const double session_ms = ms_since(t);

    // Random inputs in [-1, 1) (random bytes for quantized inputs) from a
    // fixed seed; outputs allocated once.
    std::mt19937 rng(args->seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<Tensor> inputs, outputs;
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
    for (const auto& d : session.outputs()) outputs.emplace_back(d.shape, d.type);
    const auto& first_shape = session.inputs().front().shape;
    const int64_t batch = first_shape.empty() ? 1 : first_shape[0];

    t = Clock::now();
    session.run(inputs, outputs);
    const double first_ms = ms_since(t);
    // A progress line on a terminal when the runs would take over ~2 s.
    ProgressLine progress;
    const int total_runs = args->warmup + args->runs;
    const bool show_runs = first_ms * total_runs > 2000.0;
    auto run_done = [&](int done) {
      if (show_runs) progress.update(fmt::format("kiln: bench run {} of {}", done, total_runs), done == total_runs);
    };
    for (int i = 0; i < args->warmup; ++i) {
      session.run(inputs, outputs);
      run_done(i + 1);
    }

    // Timed runs; the per-node times are read after each run, outside the timing.
    std::vector<double> latencies;
    std::vector<double> device_ms;  // GPU backends: the device's own time per run
    std::vector<std::vector<double>> node_ms;  // [node][run]
    std::vector<NodeProfile> profile;
    latencies.reserve(static_cast<size_t>(args->runs));
    for (int r = 0; r < args->runs; ++r) {
      t = Clock::now();
      session.run(inputs, outputs);
      latencies.push_back(ms_since(t));
      if (const std::optional<double> d = session.device_time_ms()) device_ms.push_back(*d);
      profile = session.profile();
      node_ms.resize(profile.size());
      for (size_t n = 0; n < profile.size(); ++n) node_ms[n].push_back(profile[n].ms);
      run_done(args->warmup + r + 1);
    }
    // Energy: back-to-back runs for at least energy_seconds between two meter readings.
    struct EnergyResult {
      bool measured = false;
      std::string meter, reason;
      double joules = 0, seconds = 0;
      int runs = 0;
    } energy;
    if (args->energy) {
      EnergyMeterOptions eo;
      eo.backend = session.backend();
      eo.device = args->session.gpu.device;
      std::unique_ptr<EnergyMeter> meter = open_energy_meter(eo, &energy.reason);
      if (meter) {
        energy.meter = meter->name();
        const double j0 = meter->joules();
        const Clock::time_point e0 = Clock::now();
        do {
          session.run(inputs, outputs);
          ++energy.runs;
          progress.update(fmt::format("kiln: measuring energy {:.0f} s of {:.0f} s", ms_since(e0) / 1000.0,
                                      args->energy_seconds));
        } while (ms_since(e0) < args->energy_seconds * 1000.0);
        energy.seconds = ms_since(e0) / 1000.0;
        energy.joules = meter->joules() - j0;
        energy.measured = true;
      }
    }
    progress.clear();
    const int64_t maxrss = ru_maxrss_kib();
    const int64_t hwm = vm_hwm_kib();
    const LatencyStats lat = latency_stats(latencies);
    const double throughput = lat.mean > 0 ? static_cast<double>(batch) * 1000.0 / lat.mean : 0.0;
    const MemoryReport mem = session.memory();

    std::vector<Layer> layers(profile.size());
    double layer_sum = 0;
    int64_t total_flops = 0;
    for (size_t n = 0; n < profile.size(); ++n) {
      layers[n].index = n;
      layers[n].profile = profile[n];
      layers[n].median_ms = median(node_ms[n]);
      layers[n].gflops = layers[n].median_ms > 0
                             ? static_cast<double>(profile[n].flops) / (layers[n].median_ms * 1e6)
                             : 0.0;
      layer_sum += layers[n].median_ms;
      total_flops += profile[n].flops;
    }
    for (Layer& l : layers) l.share = layer_sum > 0 ? l.median_ms / layer_sum : 0.0;
    std::vector<size_t> slowest(layers.size());
    std::iota(slowest.begin(), slowest.end(), size_t{0});
    std::stable_sort(slowest.begin(), slowest.end(),
                     [&](size_t a, size_t b) { return layers[a].median_ms > layers[b].median_ms; });
    slowest.resize(std::min<size_t>(5, slowest.size()));

    // Text report.
    fmt::print("model        {}\n", args->model);
    fmt::print("options      {}\n", describe_session(session, args->session));
    for (const auto& d : session.inputs())
      fmt::print("input        {} {} (random uniform [-1,1), seed {})\n", d.name, shape_str(d.shape), args->seed);
    fmt::print("load         {:.3f} ms (Model::load)\n", load_ms);
    fmt::print("session      {:.3f} ms (Session creation)\n", session_ms);
    fmt::print("first run    {:.3f} ms\n", first_ms);
    fmt::print("runs         {} timed after {} warmup\n", args->runs, args->warmup);
    fmt::print("latency      p50 {:.3f} ms  p90 {:.3f} ms  p99 {:.3f} ms  min {:.3f} ms  mean {:.3f} ms\n", lat.p50,
               lat.p90, lat.p99, lat.min, lat.mean);
    if (!device_ms.empty()) {
      const LatencyStats dev = latency_stats(device_ms);
      fmt::print("device time  p50 {:.3f} ms  p90 {:.3f} ms  min {:.3f} ms (timestamps on the device; wall p50 - device p50 = {:.3f} ms of submission and sync)\n",
                 dev.p50, dev.p90, dev.min, lat.p50 - dev.p50);
    }
    fmt::print("throughput   {:.2f} inferences/s (batch {})\n", throughput, batch);
    fmt::print("compute      {} FLOPs per inference, {:.2f} GFLOP/s at p50\n",
               human_count(static_cast<double>(total_flops)),
               lat.p50 > 0 ? static_cast<double>(total_flops) / (lat.p50 * 1e6) : 0.0);
    if (args->energy) {
      if (energy.measured)
        fmt::print("energy       {:.4f} J/inference ({:.5f} J per image), mean {:.1f} W over {} back-to-back runs in {:.2f} s ({})\n",
                   energy.joules / energy.runs, energy.joules / energy.runs / static_cast<double>(std::max<int64_t>(batch, 1)),
                   energy.joules / energy.seconds, energy.runs, energy.seconds, energy.meter);
      else
        fmt::print("energy       {}\n", energy.reason);
    }
    fmt::print("peak RSS     {} (getrusage ru_maxrss), VmHWM {}\n", kib_str(maxrss), kib_str(hwm));
    fmt::print("arena        {}, weights {}\n", human_bytes(static_cast<double>(mem.arena_bytes)),
               human_bytes(static_cast<double>(mem.weights_bytes)));

    auto row = [](const Layer& l) -> std::vector<std::string> {
      return {std::to_string(l.index),
              l.profile.name,
              l.profile.op,
              l.profile.detail,
              shape_str(l.profile.output_shape),
              human_count(static_cast<double>(l.profile.flops)),
              fmt::format("{:.4f}", l.median_ms),
              fmt::format("{:.2f}", l.gflops),
              fmt::format("{:.1f}%", 100.0 * l.share)};
    };
    const std::vector<std::string> header{"#",        "node",      "op",      "detail", "output shape",
                                          "FLOPs",    "median ms", "GFLOP/s", "share"};
    Table table(header);
    for (const Layer& l : layers) table.add(row(l));
    fmt::print("\nper layer (median over {} runs; sum {:.3f} ms, the rest of p50 is run overhead)\n{}", args->runs,
               layer_sum, table.str());
    Table top(header);
    for (size_t i : slowest) top.add(row(layers[i]));
    fmt::print("\nslowest {} layers\n{}", slowest.size(), top.str());

    if (!args->json.empty()) {
      using nlohmann::json;
      json j;
      j["model"] = args->model;
      j["backend"] = session.backend();  // "auto" resolved; "session" holds the options as given
      j["backend_choice"] = session.backend_choice();
      j["threads"] = session.threads();
      const SessionOptions& o = args->session;
      j["session"] = {{"backend", o.backend},
                      {"threads", o.threads},
                      {"isa", o.cpu.isa},
                      {"algorithm", o.algorithm},
                      {"deterministic", o.deterministic},
                      {"tuning_cache", o.tuning_cache},
                      {"device", o.gpu.device},
                      {"fp16_storage", o.gpu.fp16_storage},
                      {"cuda_graphs", o.gpu.graphs},
                      {"node_times", o.gpu.profile_nodes}};
      j["inputs"] = json::array();
      for (const auto& d : session.inputs()) j["inputs"].push_back({{"name", d.name}, {"shape", d.shape}});
      j["batch"] = batch;
      j["seed"] = args->seed;
      j["load_ms"] = load_ms;
      j["session_ms"] = session_ms;
      j["first_inference_ms"] = first_ms;
      j["warmup"] = args->warmup;
      j["runs"] = args->runs;
      j["latency_ms"] = {{"p50", lat.p50}, {"p90", lat.p90},   {"p99", lat.p99},      {"min", lat.min},
                         {"max", lat.max}, {"mean", lat.mean}, {"stddev", lat.stddev}};
      j["latencies_ms"] = latencies;
      if (!device_ms.empty()) {
        const LatencyStats dev = latency_stats(device_ms);
        j["device_time_ms"] = {{"p50", dev.p50}, {"p90", dev.p90}, {"min", dev.min}, {"mean", dev.mean}};
        j["device_times_ms"] = device_ms;
      }
      j["throughput_per_s"] = throughput;
      if (args->energy) {
        if (energy.measured)
          j["energy"] = {{"available", true},
                         {"meter", energy.meter},
                         {"joules", energy.joules},
                         {"seconds", energy.seconds},
                         {"runs", energy.runs},
                         {"joules_per_inference", energy.joules / energy.runs},
                         {"mean_watts", energy.joules / energy.seconds}};
        else
          j["energy"] = {{"available", false}, {"reason", energy.reason}};
      }
      j["flops"] = total_flops;
      j["memory"] = {{"peak_rss_kib", maxrss},
                     {"vm_hwm_kib", hwm},
                     {"arena_bytes", mem.arena_bytes},
                     {"weights_bytes", mem.weights_bytes}};
      j["layers"] = json::array();
      for (const Layer& l : layers)
        j["layers"].push_back({{"index", l.index},
                               {"name", l.profile.name},
                               {"op", l.profile.op},
                               {"detail", l.profile.detail},
                               {"output_shape", l.profile.output_shape},
                               {"flops", l.profile.flops},
                               {"median_ms", l.median_ms},
                               {"gflops", l.gflops},
                               {"share", l.share}});
      j["layer_sum_ms"] = layer_sum;
      j["slowest_layers"] = slowest;
      json_out << j.dump(2) << '\n';
      json_out.close();
      if (!json_out) throw Error(ErrorCode::Io, args->json + ": cannot write the JSON report");
      fmt::print("\nwrote {}\n", args->json);
    }
    return 0;
  };
}

}  // namespace kiln::cli
