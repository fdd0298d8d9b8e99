#pragma once
// What every generic suite runs on: each registered backend except the
// reference (the oracle), as in ggml's one harness for every op on every
// backend, in each of its configurations. KILN_TEST_BACKENDS=cpu,vulkan
// narrows the list by backend name.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kiln/kiln.hpp"

namespace kiln::test {

std::vector<std::string> backends_under_test();

// Empty when `backend` can run here; else why not (e.g. "no Vulkan device
// found ..."), for GTEST_SKIP. Asked once per backend and process.
std::string why_backend_cannot_run(const std::string& backend);

// One way of running a backend, compared with the reference within
// `tolerance` (max|a-b| / max|ref|).
struct BackendConfig {
  std::string name;  // the test-name prefix: "cpu", "cpu_avx2", "vulkan_fp16", ...
  SessionOptions options;
  double tolerance = 1e-4;
  // For quantized op cases: 0 (bit for bit) on backends with integer
  // kernels; float backends run the dequantized graph (see backend_test_util.cpp).
  double quantized_tolerance = 0;
};
inline void PrintTo(const BackendConfig& c, std::ostream* os) { *os << c.name; }

// Every configuration of every backend under test, each backend's best first
// and named after the backend:
//   cpu          best ISA level, 2 threads
//   cpu_<isa>    every lower level this CPU has (generic, avx2, ...), 1 thread
//   vulkan       device 0
//   vulkan_fp16  float16 storage (tolerance 1e-2, see backend_test_util.cpp)
//   <other>      device 0, 2 threads: a new backend is tested without editing this list
std::vector<BackendConfig> configurations_under_test();
// Only each backend's best configuration: for real models, too slow to multiply.
std::vector<BackendConfig> best_configurations_under_test();

// Empty when `config` can run here; else why not: its backend cannot, or the
// device lacks a feature the configuration needs (float16 storage).
std::string why_config_cannot_run(const BackendConfig& config);

// gtest parameter names: the configuration's name.
struct ConfigName {
  std::string operator()(const ::testing::TestParamInfo<BackendConfig>& info) const { return info.param.name; }
};

}  // namespace kiln::test
