#include "kernels/cpu/conv/select.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "kiln/error.hpp"

namespace kiln::cpu {

namespace {

std::string join_names() {
  std::string s;
  for (const ConvAlgorithm* a : conv_algorithms()) s += (s.empty() ? "" : ", ") + std::string(a->name());
  return s;
}

bool usable(const ConvAlgorithm* a, const ConvShape& s, bool residual) {
  return a->applicable(s) && (!residual || a->fuses_residual());
}

// Best of three runs after a warm-up, on random input of `in`'s input shape
// into `out`'s output shape.
double time_kernel(const ConvKernel& kernel, const ConvShape& in, const ConvShape& out, bool residual, ThreadPool& pool) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> x(static_cast<size_t>(in.N) * in.H * in.W * in.C), y(static_cast<size_t>(out.output_pixels()) * out.K);
  for (float& v : x) v = dist(rng);
  std::vector<float> res = residual ? y : std::vector<float>{};
  std::vector<float> ws(kernel.workspace_bytes() / sizeof(float) + 1);
  const ConvRun run{x.data(), y.data(), residual ? res.data() : nullptr, ws.data(), &pool};
  kernel.run(run);  // warm-up
  double ms = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    kernel.run(run);
    ms = std::min(ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return ms;
}

// The L2 size per core: $KILN_CPU_L2_BYTES when set (for machines whose sysfs
// is wrong or missing, and for tests that need the cost model to see every
// intermediate as spilled), else CPU 0's from sysfs ("1024K"), else -1.
double l2_cache_bytes() {
  if (const char* env = std::getenv("KILN_CPU_L2_BYTES"); env && *env) return std::atof(env);
  std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index2/size");
  std::string text;
  if (!(in >> text) || text.empty()) return -1;
  double v = std::atof(text.c_str());
  if (text.back() == 'K') v *= 1024;
  if (text.back() == 'M') v *= 1024 * 1024;
  return v;
}

}  // namespace

ConvSelector::ConvSelector(const BackendOptions& options, Isa isa) {
  // Sustained per-thread FMA rates of the kernels at each level (measured
  // orders of magnitude; only their ratios between algorithms matter).
  machine_.gflops_per_thread = isa == Isa::Avx512 ? 110 : isa == Isa::Avx2 ? 60 : 20;
  machine_.bandwidth_gbs = 25;
  if (const double l2 = l2_cache_bytes(); l2 >= 0) machine_.l2_bytes = l2;
  // Deterministic mode must choose the same algorithms for any thread count,
  // so its estimates assume one thread.
  machine_.threads = options.deterministic ? 1 : options.threads;
  signature_ = cpu_signature(isa);
  const std::string& a = options.algorithm;
  if (a.empty() || a == "heuristic") {
    mode_ = Mode::Heuristic;
  } else if (a == "tune") {
    if (options.deterministic)
      throw Error(ErrorCode::InvalidArgument,
                  "--algorithm tune picks algorithms by timing, which can differ between runs; it cannot be combined "
                  "with deterministic mode");
    mode_ = Mode::Tune;
    cache_path_ = options.tuning_cache.empty() ? default_cache_path() : options.tuning_cache;
    load_cache();
  } else if (a.rfind("fixed:", 0) == 0) {
    mode_ = Mode::Fixed;
    fixed_ = find_conv_algorithm(a.substr(6));
    if (!fixed_)
      throw Error(ErrorCode::InvalidArgument,
                  "unknown convolution algorithm '" + a.substr(6) + "' (available: " + join_names() + ")");
  } else {
    throw Error(ErrorCode::InvalidArgument,
                "unknown algorithm mode '" + a + "' (expected heuristic, tune or fixed:NAME with NAME one of " +
                    join_names() + ")");
  }
}

std::string ConvSelector::default_cache_path() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/kiln/cpu-tuning.tsv";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/kiln/cpu-tuning.tsv";
  return "kiln-cpu-tuning.tsv";
}

Selection ConvSelector::heuristic(const ConvShape& s, bool residual) const {
  Selection best;
  for (const ConvAlgorithm* a : conv_algorithms()) {
    if (!usable(a, s, residual)) continue;
    const double ms = a->cost_ms(s, machine_);
    if (!best.algorithm || ms < best.estimated_ms) {
      best.algorithm = a;
      best.estimated_ms = ms;
    }
  }
  best.how = "heuristic";
  return best;
}

Selection ConvSelector::choose(const ConvLayer& layer, bool residual) {
  const ConvShape& s = layer.shape;
  if (mode_ == Mode::Fixed && usable(fixed_, s, residual)) {
    return {fixed_, fixed_->cost_ms(s, machine_), -1, "fixed"};
  }
  if (mode_ == Mode::Tune) return tune(layer, residual);
  Selection h = heuristic(s, residual);
  if (mode_ == Mode::Fixed) h.how = std::string("heuristic (") + fixed_->name() + " does not apply)";
  return h;
}

Selection ConvSelector::tune(const ConvLayer& layer, bool residual) {
  const ConvShape& s = layer.shape;
  const std::string key = fmt::format("{}\t{}\t{}\t{}", signature_, machine_.threads, s.key(), residual ? 1 : 0);
  if (auto it = cache_.find(key); it != cache_.end()) {
    if (const ConvAlgorithm* a = find_conv_algorithm(it->second); a && usable(a, s, residual))
      return {a, a->cost_ms(s, machine_), -1, "tuning cache"};
  }
  // Time every candidate on random data of the layer's shape.
  ThreadPool pool(machine_.threads);
  ++tuned_;
  Selection best;
  std::string line;
  for (const ConvAlgorithm* a : conv_algorithms()) {
    if (!usable(a, s, residual)) continue;
    const double ms = time_kernel(*a->prepare(layer), s, s, residual, pool);
    line += fmt::format(" {} {:.3f} ms,", a->name(), ms);
    if (!best.algorithm || ms < best.measured_ms) best = {a, a->cost_ms(s, machine_), ms, "tuned"};
  }
  pool.release_workers();
  fmt::print(stderr, "tuning conv #{} [{}]:{} -> {}\n", tuned_, s.key(), line, best.algorithm->name());
  cache_[key] = best.algorithm->name();
  append_cache(key, best.algorithm->name(), best.measured_ms);
  return best;
}

std::optional<ConvSelector::ChainVerdict> ConvSelector::tune_chain(const ChainLayers& c) {
  if (mode_ != Mode::Tune) return std::nullopt;
  const ConvShape& first = c.expand ? c.expand->shape : c.depthwise.shape;
  const ConvShape& last = c.project ? c.project->shape : c.depthwise.shape;
  const std::string key = fmt::format("{}\t{}\tchain:{}|{}|{}\t0", signature_, machine_.threads,
                                      c.expand ? c.expand->shape.key() : "-", c.depthwise.shape.key(),
                                      c.project ? c.project->shape.key() : "-");
  if (auto it = cache_.find(key); it != cache_.end() && (it->second == "fused" || it->second == "separate"))
    return ChainVerdict{it->second == "fused", -1, -1, "tuning cache"};
  // The layers apart, each with its tuned algorithm, against the chain.
  ThreadPool pool(machine_.threads);
  ChainVerdict v;
  v.how = "tuned";
  v.separate_ms = 0;
  for (const ConvLayer* l : {c.expand ? &*c.expand : nullptr, &c.depthwise, c.project ? &*c.project : nullptr}) {
    if (!l) continue;
    const Selection sel = tune(*l, false);
    v.separate_ms += time_kernel(*sel.algorithm->prepare(*l), l->shape, l->shape, false, pool);
  }
  v.fused_ms = time_kernel(*prepare_chain(c), first, last, false, pool);
  pool.release_workers();
  v.fuse = v.fused_ms < v.separate_ms;
  fmt::print(stderr, "tuning chain [{}]: fused {:.3f} ms, separate {:.3f} ms -> {}\n", key.substr(key.find("chain:")),
             v.fused_ms, v.separate_ms, v.fuse ? "fused" : "separate");
  cache_[key] = v.fuse ? "fused" : "separate";
  append_cache(key, cache_[key], v.fuse ? v.fused_ms : v.separate_ms);
  return v;
}

void ConvSelector::load_cache() {
  std::ifstream in(cache_path_);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    // signature, threads, shape, residual (the key), algorithm, ms
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, '\t');) fields.push_back(f);
    if (fields.size() < 5) continue;
    cache_[fields[0] + '\t' + fields[1] + '\t' + fields[2] + '\t' + fields[3]] = fields[4];
  }
}

void ConvSelector::append_cache(const std::string& key, const std::string& algorithm, double ms) {
  std::error_code ec;
  const auto dir = std::filesystem::path(cache_path_).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::ofstream out(cache_path_, std::ios::app);
  if (!out) {
    fmt::print(stderr, "warning: cannot write the tuning cache {}; results are kept for this session only\n",
               cache_path_);
    return;
  }
  out << key << '\t' << algorithm << '\t' << fmt::format("{:.4f}", ms) << '\n';
}

}  // namespace kiln::cpu
