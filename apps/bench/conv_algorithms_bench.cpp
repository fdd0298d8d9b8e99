// Google Benchmark of every convolution algorithm of the CPU backend on the
// distinct conv layer shapes of MobileNetV2 and ResNet-50 (224×224, batch 1).
// Each benchmark prepares its layer once (random weights, bias and input,
// fixed seed) and times ConvKernel::run alone.
//
//   KILN_ISA=avx2|avx512|generic  instruction-set level (default: the best)
//   KILN_THREADS=N                threads of the layer's pool (default 1)
//
// Names read model/layer/algorithm, e.g. mbv2/dw3x3_s2_c96_112/depthwise.
// Counters: GFLOP/s (2·MACs per run) and the kernel's workspace bytes.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/isa.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "kiln/error.hpp"

namespace {

using kiln::ConvGeometry;

enum class Kind { Conv, Depthwise, Pointwise };

// One distinct layer shape: a k×k convolution with padding k/2 ("same" for
// stride 1), a depthwise 3×3 (K = C = group) or a 1×1 without padding.
struct LayerRow {
  const char* model;
  Kind kind;
  int k, stride, C, K, H;  // H: input height = width
  int count;               // how many layers of the model have this shape
};

// Derived from the architectures (torchvision's mobilenet_v2 and resnet50,
// the latter with its stride on the 3×3 of each bottleneck, "v1.5").
constexpr LayerRow kLayers[] = {
    // MobileNetV2: stem, then per inverted-residual block expand 1×1 (t=6),
    // depthwise 3×3, project 1×1; channels 16,24,32,64,96,160,320; final 1×1 to 1280.
    {"mbv2", Kind::Conv, 3, 2, 3, 32, 224, 1},
    {"mbv2", Kind::Depthwise, 3, 1, 32, 32, 112, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 32, 16, 112, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 16, 96, 112, 1},
    {"mbv2", Kind::Depthwise, 3, 2, 96, 96, 112, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 96, 24, 56, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 24, 144, 56, 2},
    {"mbv2", Kind::Depthwise, 3, 1, 144, 144, 56, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 144, 24, 56, 1},
    {"mbv2", Kind::Depthwise, 3, 2, 144, 144, 56, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 144, 32, 28, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 32, 192, 28, 3},
    {"mbv2", Kind::Depthwise, 3, 1, 192, 192, 28, 2},
    {"mbv2", Kind::Pointwise, 1, 1, 192, 32, 28, 2},
    {"mbv2", Kind::Depthwise, 3, 2, 192, 192, 28, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 192, 64, 14, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 64, 384, 14, 4},
    {"mbv2", Kind::Depthwise, 3, 1, 384, 384, 14, 4},
    {"mbv2", Kind::Pointwise, 1, 1, 384, 64, 14, 3},
    {"mbv2", Kind::Pointwise, 1, 1, 384, 96, 14, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 96, 576, 14, 3},
    {"mbv2", Kind::Depthwise, 3, 1, 576, 576, 14, 2},
    {"mbv2", Kind::Pointwise, 1, 1, 576, 96, 14, 2},
    {"mbv2", Kind::Depthwise, 3, 2, 576, 576, 14, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 576, 160, 7, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 160, 960, 7, 3},
    {"mbv2", Kind::Depthwise, 3, 1, 960, 960, 7, 3},
    {"mbv2", Kind::Pointwise, 1, 1, 960, 160, 7, 2},
    {"mbv2", Kind::Pointwise, 1, 1, 960, 320, 7, 1},
    {"mbv2", Kind::Pointwise, 1, 1, 320, 1280, 7, 1},
    // ResNet-50: 7×7 s2 stem; stages of bottlenecks (1×1 reduce, 3×3, 1×1
    // expand ×4) at 56, 28, 14, 7 with widths 64..512; the first block of
    // stages 2-4 has the 3×3 and the 1×1 downsample at stride 2.
    {"resnet50", Kind::Conv, 7, 2, 3, 64, 224, 1},
    {"resnet50", Kind::Pointwise, 1, 1, 64, 64, 56, 1},
    {"resnet50", Kind::Conv, 3, 1, 64, 64, 56, 3},
    {"resnet50", Kind::Pointwise, 1, 1, 64, 256, 56, 4},
    {"resnet50", Kind::Pointwise, 1, 1, 256, 64, 56, 2},
    {"resnet50", Kind::Pointwise, 1, 1, 256, 128, 56, 1},
    {"resnet50", Kind::Conv, 3, 2, 128, 128, 56, 1},
    {"resnet50", Kind::Pointwise, 1, 2, 256, 512, 56, 1},
    {"resnet50", Kind::Pointwise, 1, 1, 128, 512, 28, 4},
    {"resnet50", Kind::Pointwise, 1, 1, 512, 128, 28, 3},
    {"resnet50", Kind::Conv, 3, 1, 128, 128, 28, 3},
    {"resnet50", Kind::Pointwise, 1, 1, 512, 256, 28, 1},
    {"resnet50", Kind::Conv, 3, 2, 256, 256, 28, 1},
    {"resnet50", Kind::Pointwise, 1, 2, 512, 1024, 28, 1},
    {"resnet50", Kind::Pointwise, 1, 1, 256, 1024, 14, 6},
    {"resnet50", Kind::Pointwise, 1, 1, 1024, 256, 14, 5},
    {"resnet50", Kind::Conv, 3, 1, 256, 256, 14, 5},
    {"resnet50", Kind::Pointwise, 1, 1, 1024, 512, 14, 1},
    {"resnet50", Kind::Conv, 3, 2, 512, 512, 14, 1},
    {"resnet50", Kind::Pointwise, 1, 2, 1024, 2048, 14, 1},
    {"resnet50", Kind::Pointwise, 1, 1, 512, 2048, 7, 3},
    {"resnet50", Kind::Pointwise, 1, 1, 2048, 512, 7, 2},
    {"resnet50", Kind::Conv, 3, 1, 512, 512, 7, 2},
};

ConvGeometry shape_of(const LayerRow& row) {
  ConvGeometry s;
  s.N = 1;
  s.H = s.W = row.H;
  s.C = row.C;
  s.K = row.K;
  s.KH = s.KW = row.k;
  s.sh = s.sw = row.stride;
  s.pt = s.pl = s.pb = s.pr = row.k / 2;
  s.group = row.kind == Kind::Depthwise ? row.C : 1;
  s.OH = (s.H + s.pt + s.pb - s.KH) / s.sh + 1;
  s.OW = (s.W + s.pl + s.pr - s.KW) / s.sw + 1;
  return s;
}

std::string layer_name(const LayerRow& row) {
  switch (row.kind) {
    case Kind::Depthwise:
      return fmt::format("dw{}x{}_s{}_c{}_{}", row.k, row.k, row.stride, row.C, row.H);
    case Kind::Pointwise:
      return row.stride == 1 ? fmt::format("pw_c{}_k{}_{}", row.C, row.K, row.H)
                             : fmt::format("pw_s{}_c{}_k{}_{}", row.stride, row.C, row.K, row.H);
    case Kind::Conv:
      break;
  }
  return fmt::format("conv{}x{}_s{}_c{}_k{}_{}", row.k, row.k, row.stride, row.C, row.K, row.H);
}

struct Settings {
  const kiln::cpu::SimdKernels* simd = nullptr;
  int threads = 1;
};
Settings g_settings;

// One layer prepared for one algorithm, with its buffers.
struct Prepared {
  std::vector<float> weights, bias, x, y, workspace;
  std::unique_ptr<kiln::cpu::ConvKernel> kernel;
  std::unique_ptr<kiln::cpu::ThreadPool> pool;
};

std::unique_ptr<Prepared> prepare(const ConvGeometry& s, const kiln::cpu::ConvAlgorithm& algorithm) {
  auto p = std::make_unique<Prepared>();
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  auto fill = [&](std::vector<float>& v, size_t n) {
    v.resize(n);
    for (float& f : v) f = dist(rng);
  };
  fill(p->weights, static_cast<size_t>(s.K) * s.cin_per_group() * s.KH * s.KW);
  fill(p->bias, static_cast<size_t>(s.K));
  fill(p->x, static_cast<size_t>(s.N) * s.H * s.W * s.C);
  p->y.assign(static_cast<size_t>(s.output_pixels()) * s.K, 0.f);
  // No fused activation: the models' ReLU/ReLU6 is a cheap epilogue.
  kiln::cpu::ConvLayer layer{s, p->weights.data(), p->bias.data(), kiln::cpu::Activation{}, g_settings.simd,
                             g_settings.threads};
  p->kernel = algorithm.prepare(layer);
  p->workspace.assign(p->kernel->workspace_bytes() / sizeof(float) + 1, 0.f);
  p->pool = std::make_unique<kiln::cpu::ThreadPool>(g_settings.threads);
  return p;
}

// Google Benchmark calls a benchmark's function several times while it finds
// the iteration count; the layer is prepared on the first call and kept until
// the next benchmark starts (they run one after another).
struct Current {
  std::string key;
  std::unique_ptr<Prepared> prepared;
};
Current g_current;

void bench_layer(benchmark::State& state, ConvGeometry s, const kiln::cpu::ConvAlgorithm* algorithm, int count) {
  const std::string key = s.key() + "/" + algorithm->name();
  if (!g_current.prepared || g_current.key != key) {
    g_current.prepared.reset();  // free the previous layer first
    g_current.prepared = prepare(s, *algorithm);
    g_current.key = key;
  }
  Prepared& p = *g_current.prepared;
  const kiln::cpu::ConvRun run{p.x.data(), p.y.data(), nullptr, p.workspace.data(), p.pool.get()};
  p.kernel->run(run);  // warm-up: first touch of the output and workspace
  for (auto _ : state) {
    p.kernel->run(run);
    benchmark::DoNotOptimize(p.y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * static_cast<double>(s.macs()) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["workspace"] = benchmark::Counter(static_cast<double>(p.kernel->workspace_bytes()),
                                                   benchmark::Counter::kDefaults, benchmark::Counter::kIs1024);
  state.counters["layers"] = count;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 1 || n > 1024) {
    std::fprintf(stderr, "%s=%s: expected a positive integer\n", name, v);
    std::exit(2);
  }
  return static_cast<int>(n);
}

}  // namespace

int main(int argc, char** argv) {
  kiln::cpu::Isa isa;
  try {
    const char* cap = std::getenv("KILN_ISA");
    isa = kiln::cpu::choose_isa(cap ? cap : "");
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "KILN_ISA: %s\n", e.what());
    return 2;
  }
  g_settings.simd = &kiln::cpu::simd_kernels(isa);
  g_settings.threads = env_int("KILN_THREADS", 1);
  benchmark::AddCustomContext("kiln_isa", kiln::cpu::isa_name(isa));
  benchmark::AddCustomContext("kiln_threads", std::to_string(g_settings.threads));

  for (const LayerRow& row : kLayers) {
    const ConvGeometry s = shape_of(row);
    for (const kiln::cpu::ConvAlgorithm* a : kiln::cpu::conv_algorithms()) {
      if (!a->applicable(s)) continue;
      const std::string name = fmt::format("{}/{}/{}", row.model, layer_name(row), a->name());
      benchmark::RegisterBenchmark(name.c_str(), bench_layer, s, a, row.count)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
