// `kiln bench`: how long a model takes to load, to compile and to run, how much
// memory the process needed, and where the time goes layer by layer.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "apps/common/bench.hpp"
#include "apps/kiln/commands.hpp"
#include "apps/kiln/console.hpp"
#include "apps/kiln/session_flags.hpp"
#include "apps/kiln/table.hpp"
#include "kiln/kiln.hpp"

namespace kiln::cli {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string kib_str(int64_t kib) {
  return kib < 0 ? std::string("n/a") : human_bytes(static_cast<double>(kib) * 1024.0);
}

// What the load time includes: reading the whole file for its checksums or not.
std::string checksum_state(const ModelFileInfo& file) {
  if (file.checksums_verified) return ", checksums verified";
  if (file.has_checksums) return ", checksums not verified";
  return "";
}

}  // namespace

Command add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Benchmark a model (.kiln or ONNX): load, session and inference times, "
                                          "latency percentiles, peak memory and a per-layer profile");
  struct Args {
    std::string model, json;
    int runs = 50;
    int warmup = 5;
    int callers = 0;  // 0: no concurrency measurement
    uint32_t seed = 42;
    bool energy = false;
    double energy_seconds = 1.0;
    SessionOptions session;
    LoadOptions load;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Kiln model (.kiln) or ONNX model (.onnx)")->required();
  add_session_flags(cmd, args->session);
  add_load_flags(cmd, args->load);
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
  cmd->add_option("--callers", args->callers,
                  "Also measure throughput of N threads calling run() on this one session against N threads with a "
                  "session each (--runs runs per caller, 5 alternating rounds, medians)")
      ->check(CLI::Range(1, 1024));
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
    const Model model = load_model_file(args->model, args->load);  // an ONNX file's conversion counts as load
    const double load_ms = ms_since(t);
    t = Clock::now();
    Session session = open_session(model, args->session);
    const double session_ms = ms_since(t);

    bench::Options bench_options;
    bench_options.runs = args->runs;
    bench_options.warmup = args->warmup;
    bench_options.seed = args->seed;
    bench_options.energy = args->energy;
    bench_options.energy_seconds = args->energy_seconds;
    // A progress line on a terminal once the runs have taken over ~2 s.
    ProgressLine progress;
    const Clock::time_point runs_start = Clock::now();
    bench_options.on_run = [&](int done, int total) {
      if (ms_since(runs_start) > 2000.0) progress.update(fmt::format("kiln: bench run {} of {}", done, total));
    };
    bench_options.on_energy = [&](double elapsed, double asked) {
      progress.update(fmt::format("kiln: measuring energy {:.0f} s of {:.0f} s", elapsed, asked));
    };
    bench::Result r = bench::run(session, args->session, bench_options);
    progress.clear();
    if (args->callers > 0) {
      progress.update(fmt::format("kiln: measuring {} concurrent callers", args->callers));
      r.callers = bench::measure_callers(session, model, args->session, args->callers, args->runs, 5, args->seed);
      progress.clear();
    }
    r.model = args->model;
    r.load_ms = load_ms;
    r.session_ms = session_ms;
    // The names the text report below uses.
    using bench::latency_stats;
    using bench::LatencyStats;
    using bench::Layer;
    const LatencyStats& lat = r.latency;
    const bench::Energy& energy = r.energy;
    const int64_t batch = r.batch;
    const double first_ms = r.first_ms, throughput = r.throughput, layer_sum = r.layer_sum_ms;
    const std::vector<double>& device_ms = r.device_ms;
    const int64_t total_flops = r.flops, maxrss = r.peak_rss_kib, hwm = r.vm_hwm_kib;
    const MemoryReport& mem = r.memory;
    const std::vector<Layer>& layers = r.layers;
    const std::vector<size_t>& slowest = r.slowest;

    // Text report.
    fmt::print("model        {}\n", args->model);
    fmt::print("options      {}\n", describe_session(session, args->session));
    for (const auto& d : session.inputs())
      fmt::print("input        {} {} (random uniform [-1,1), seed {})\n", d.name, shape_str(d.shape), args->seed);
    fmt::print("load         {:.3f} ms (Model::load{})\n", load_ms, checksum_state(model.file_info()));
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

    if (r.callers) {
      const bench::Callers& c = *r.callers;
      fmt::print("callers      {} threads: one shared session {:.1f} runs/s, a session each {:.1f} runs/s ({:.2f}x; "
                 "median of {} rounds of {} runs per caller); VmHWM growth {} shared vs {} separate\n",
                 c.callers, c.shared_runs_per_s, c.separate_runs_per_s,
                 c.separate_runs_per_s > 0 ? c.shared_runs_per_s / c.separate_runs_per_s : 0.0, c.rounds, c.runs,
                 kib_str(c.shared_rss_growth_kib), kib_str(c.separate_rss_growth_kib));
    }

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
      const nlohmann::json j = bench::to_json(r);
      json_out << j.dump(2) << '\n';
      json_out.close();
      if (!json_out) throw Error(ErrorCode::Io, args->json + ": cannot write the JSON report");
      fmt::print("\nwrote {}\n", args->json);
    }
    return 0;
  };
}

}  // namespace kiln::cli
