#include "kernels/cpu/conv/select.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>

#include "engine/runtime/memory_planner.hpp"
#include "kiln/error.hpp"

namespace kiln::cpu {

namespace {

bool usable(const ConvAlgorithm* a, const ConvGeometry& s, bool residual) {
  return a->applicable(s) && (!residual || a->fuses_residual());
}

// Best of three runs after a warm-up, on random input of `in`'s input shape
// into `out`'s output shape.
double time_kernel(const ConvKernel& kernel, const ConvGeometry& in, const ConvGeometry& out, bool residual, ThreadPool& pool) {
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

// The L2 size per core: CpuOptions::l2_bytes when set (for machines whose
// sysfs is wrong or missing, and for tests that need the cost model to see
// every intermediate as spilled), else CPU 0's from sysfs ("1024K"), else -1.
double l2_cache_bytes(const CpuOptions& options) {
  if (options.l2_bytes) return static_cast<double>(*options.l2_bytes);
  std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index2/size");
  std::string text;
  if (!(in >> text) || text.empty()) return -1;
  double v = std::atof(text.c_str());
  if (text.back() == 'K') v *= 1024;
  if (text.back() == 'M') v *= 1024 * 1024;
  return v;
}

// Best of three runs after a warm-up, on random uint8 input.
double time_qkernel(const QConvKernel& kernel, const ConvGeometry& s, ThreadPool& pool) {
  std::mt19937 rng(1);
  std::vector<uint8_t> x(static_cast<size_t>(s.N) * s.H * s.W * s.C), y(static_cast<size_t>(s.output_pixels()) * s.K);
  for (uint8_t& v : x) v = static_cast<uint8_t>(rng());
  AlignedBytes ws = allocate_aligned(kernel.workspace_bytes());
  kernel.run(x.data(), y.data(), ws.get(), pool);  // warm-up
  double ms = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    kernel.run(x.data(), y.data(), ws.get(), pool);
    ms = std::min(ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return ms;
}

}  // namespace

std::vector<std::string> algorithm_names() {
  std::vector<std::string> names = names_of(conv_algorithms());
  for (const QConvAlgorithm* a : qconv_algorithms())
    if (std::find(names.begin(), names.end(), a->name()) == names.end()) names.emplace_back(a->name());
  return names;
}

ConvSelector::ConvSelector(const BackendOptions& options, Isa isa) {
  // Sustained per-thread FMA rates of the GEMM at each level (1×1 layers of
  // ResNet-50 on a Sapphire Rapids-class Xeon: 200 GFLOP/s with AVX-512,
  // 110 at --isa avx2); they set the balance against the memory terms.
  // The VNNI level runs the same float kernels as avx512.
  machine_.gflops_per_thread = isa == Isa::Avx512 || isa == Isa::Avx512Vnni ? 200 : isa == Isa::Avx2 ? 110 : 30;
  machine_.bandwidth_gbs = 25;
  if (const double l2 = l2_cache_bytes(options.cpu); l2 >= 0) machine_.l2_bytes = l2;
  // Deterministic modes must choose the same algorithms for any thread count,
  // so their estimates assume one thread.
  machine_.threads = options.deterministic != Determinism::Off ? 1 : options.threads;
  if (options.deterministic == Determinism::Portable) {
    // Different algorithms round differently: portable mode chooses as on a
    // nominal machine (avx512's rates, 1 MiB of L2 unless CpuOptions says),
    // whatever the level and the CPU.
    machine_.gflops_per_thread = 110;
    machine_.l2_bytes = options.cpu.l2_bytes ? static_cast<double>(*options.cpu.l2_bytes) : double{1 << 20};
  }
  signature_ = cpu_signature(isa);
  mode_ = options.selection;
  if (mode_.fixed()) fixed_ = find_conv_algorithm(mode_.fixed_name);
  if (mode_.fixed()) fixed_q_ = find_qconv_algorithm(mode_.fixed_name);
  // Integer rates per level (int8_registry.cpp), from kiln_qconv_bench on
  // ResNet-18's 3×3 layers (one thread, 2-vCPU Xeon with AVX-512 VNNI).
  // vpdpbusd multiplies 4 u8×s8 per int32 lane where vpdpwssd multiplies 2
  // int16, so with VNNI im2col runs at ~2.3 times the fast algorithms' rate
  // and they do not win; avx512 and avx2 need three instructions for 4 u8×s8
  // and two for an int16 pair (vpmaddwd + vpaddd), and Winograd/SFC win.
  switch (isa) {
    case Isa::Avx512Vnni:
      machine_.int8_gemm_macs_per_ns = 350, machine_.int16_gemm_macs_per_ns = 150, machine_.int8_dw_macs_per_ns = 20;
      break;
    case Isa::Avx512:
      machine_.int8_gemm_macs_per_ns = 75, machine_.int16_gemm_macs_per_ns = 100, machine_.int8_dw_macs_per_ns = 20;
      break;
    case Isa::Avx2:
      machine_.int8_gemm_macs_per_ns = 64, machine_.int16_gemm_macs_per_ns = 60, machine_.int8_dw_macs_per_ns = 10;
      break;
    default:
      machine_.int8_gemm_macs_per_ns = 5, machine_.int16_gemm_macs_per_ns = 2.4, machine_.int8_dw_macs_per_ns = 2;
      break;
  }
  // Key: CPU signature, threads, shape, residual (4 fields, then the algorithm or chain verdict).
  if (mode_.tune()) cache_.emplace(TuningCache::path_for(options, "cpu"), 4);
}

TuningCache::Key ConvSelector::key(std::string shape, bool residual) const {
  return {signature_, std::to_string(machine_.threads), std::move(shape), residual ? "1" : "0"};
}

Selection ConvSelector::heuristic(const ConvGeometry& s, bool residual) const {
  const auto best = cheapest(
      conv_algorithms(), [&](const ConvAlgorithm& a) { return usable(&a, s, residual); },
      [&](const ConvAlgorithm& a) { return a.cost_ms(s, machine_); });
  return {best.algorithm, best.ms, -1, "heuristic"};
}

Selection ConvSelector::choose(const ConvLayer& layer, bool residual) {
  const ConvGeometry& s = layer.shape;
  if (mode_.fixed() && fixed_ && usable(fixed_, s, residual)) {
    return {fixed_, fixed_->cost_ms(s, machine_), -1, "fixed"};
  }
  if (mode_.tune()) return tune(layer, residual);
  Selection h = heuristic(s, residual);
  if (mode_.fixed()) h.how = "heuristic (" + mode_.fixed_name + " does not apply)";
  return h;
}

QSelection ConvSelector::choose_q(const QConvLayer& layer) {
  const ConvGeometry& s = layer.shape;
  if (fixed_q_ && fixed_q_->applicable(s)) return {fixed_q_, fixed_q_->cost_ms(s, machine_), -1, "fixed"};
  auto applicable = [&](const QConvAlgorithm& a) { return a.applicable(s); };
  if (mode_.tune()) {
    // Keys share the float layers' file with "int8:" before the shape.
    return tune_among(qconv_algorithms(), key("int8:" + s.key(), false), s, applicable,
                      [&](const QConvAlgorithm& a, ThreadPool& pool) { return time_qkernel(*a.prepare(layer), s, pool); });
  }
  const auto best = cheapest(qconv_algorithms(), applicable, [&](const QConvAlgorithm& a) { return a.cost_ms(s, machine_); });
  QSelection h{best.algorithm, best.ms, -1, "heuristic"};
  if (mode_.fixed()) h.how = "heuristic (" + mode_.fixed_name + " does not apply)";
  return h;
}

Selection ConvSelector::tune(const ConvLayer& layer, bool residual) {
  const ConvGeometry& s = layer.shape;
  return tune_among(
      conv_algorithms(), key(s.key(), residual), s, [&](const ConvAlgorithm& a) { return usable(&a, s, residual); },
      [&](const ConvAlgorithm& a, ThreadPool& pool) { return time_kernel(*a.prepare(layer), s, s, residual, pool); });
}

// The tuning cache's choice for key `k`, or else every usable algorithm timed
// once on random data of the layer's shape and the fastest recorded.
template <class Algorithm, class Usable, class Time>
kiln::Selection<Algorithm> ConvSelector::tune_among(const std::vector<const Algorithm*>& algorithms,
                                                    const TuningCache::Key& k, const ConvGeometry& s, Usable usable,
                                                    Time time) {
  if (const std::string* cached = cache_->find(k)) {
    if (const Algorithm* a = find_by_name(algorithms, *cached); a && usable(*a))
      return {a, a->cost_ms(s, machine_), -1, "tuning cache"};
  }
  ThreadPool pool(machine_.threads);
  ++tuned_;
  std::string line;
  const auto best = cheapest(algorithms, usable, [&](const Algorithm& a) {
    const double ms = time(a, pool);
    line += fmt::format(" {} {:.3f} ms,", a.name(), ms);
    return ms;
  });
  pool.release_workers();
  // Every candidate's time goes into the node's detail (kiln inspect / bench),
  // not onto stderr: a library prints nothing of its own.
  if (!line.empty()) line.pop_back();
  cache_->record(k, best.algorithm->name(), best.ms);
  return {best.algorithm, best.algorithm->cost_ms(s, machine_), best.ms, "tuned:" + line};
}

std::optional<ConvSelector::ChainVerdict> ConvSelector::tune_chain(const ChainLayers& c) {
  if (!mode_.tune()) return std::nullopt;
  const ConvGeometry& first = c.expand ? c.expand->shape : c.depthwise.shape;
  const ConvGeometry& last = c.project ? c.project->shape : c.depthwise.shape;
  // A chain's verdict shares the layers' file and key layout: "chain:" and
  // the layers' shapes in the shape field, never residual.
  const std::string chain = fmt::format("chain:{}|{}|{}", c.expand ? c.expand->shape.key() : "-",
                                        c.depthwise.shape.key(), c.project ? c.project->shape.key() : "-");
  const TuningCache::Key k = key(chain, false);
  if (const std::string* cached = cache_->find(k); cached && (*cached == "fused" || *cached == "separate"))
    return ChainVerdict{*cached == "fused", -1, -1, "tuning cache"};
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
  // Both times go into the chain's detail (kiln inspect / bench), not onto stderr.
  cache_->record(k, v.fuse ? "fused" : "separate", v.fuse ? v.fused_ms : v.separate_ms);
  return v;
}

}  // namespace kiln::cpu
