// Google Benchmark of Model::load with and without checksum verification, on
// the .kiln files named on the command line (after Google Benchmark's flags):
//
//   build/kiln_load_bench --benchmark_repetitions=10 --benchmark_report_aggregates_only build/resnet50.kiln
//
// Every iteration maps the file afresh; its pages stay in the page cache, so
// this is the load of a file read recently, as in a service that restarts.
// Verification reads every byte (page faults plus XXH3); without it Model::load
// touches only the graph section. Counters: the file's MiB and its GB/s.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "kiln/kiln.hpp"

namespace {

void bench_load(benchmark::State& state, const std::string& path, bool verify) {
  const kiln::LoadOptions options{.verify_checksums = verify};
  for (auto _ : state) {
    kiln::Model model = kiln::Model::load(path, options);
    benchmark::DoNotOptimize(model);
  }
  const auto bytes = static_cast<double>(std::filesystem::file_size(path));
  state.counters["MiB"] = bytes / (1024.0 * 1024.0);
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s [benchmark flags] MODEL.kiln...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string path = argv[i];
    try {
      kiln::Model::load(path);  // a damaged or missing file is reported once, not timed
    } catch (const kiln::Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 1;
    }
    const std::string stem = std::filesystem::path(path).stem().string();
    for (const bool verify : {true, false})
      benchmark::RegisterBenchmark(fmt::format("load/{}/{}", stem, verify ? "verify" : "no_verify").c_str(),
                                   bench_load, path, verify)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
