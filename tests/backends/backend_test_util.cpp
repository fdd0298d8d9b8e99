#include "tests/backends/backend_test_util.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>

#include "tests/common/graph_builder.hpp"
#ifdef KILN_TEST_HAVE_CPU_BACKEND
#include "kernels/cpu/isa.hpp"
#endif

namespace kiln::test {
namespace {

// Float16 storage rounds inputs, weights, biases and each intermediate to
// float16 (relative step 2^-11 = 4.9e-4) while the arithmetic stays float32;
// a conv output sums many rounded products and is rounded again, chains of
// layers compound that, and cancellation makes small outputs carry the error
// of the large terms, hence a bound relative to max|ref| of 1e-2 (about 20
// float16 steps). Measured on lavapipe over these cases: at most 1.9e-3
// (Softmax of 1000 logits in [-8, 8]), convolutions 6.6e-4; the margin is for
// devices whose float16 stores round toward zero, which Vulkan allows.
// Indexing or conversion bugs give errors of order 1.
constexpr double kFp16StorageTol = 1e-2;

// Backends without integer kernels run a quantized model in float32
// (engine/passes/dequantize_to_float.cpp): every quantized activation is then
// off by up to half a step of its scale, which the next layer carries on. The
// quantized op cases use steps of about 1/100 of their output range, so a few
// steps stay below 5% of max|ref|; a wrong weight, zero point or scale errs by
// far more.
constexpr double kDequantizedTol = 5e-2;

// Backends whose integer kernels must match the reference exactly.
bool has_integer_kernels(const std::string& backend) { return backend == "reference" || backend == "cpu"; }

BackendConfig config(std::string name, const std::string& backend, int threads) {
  BackendConfig c;
  c.name = std::move(name);
  c.options.backend = backend;
  c.options.threads = threads;
  c.quantized_tolerance = has_integer_kernels(backend) ? 0.0 : kDequantizedTol;
  return c;
}

// The ISA levels below the best one, which backend "cpu" picks by default.
std::vector<std::string> lower_cpu_isas() {
  std::vector<std::string> out;
#ifdef KILN_TEST_HAVE_CPU_BACKEND
  for (cpu::Isa isa : cpu::supported_isas())
    if (isa != cpu::best_isa()) out.emplace_back(cpu::isa_name(isa));
#endif
  return out;
}

std::vector<BackendConfig> configurations_of(const std::string& backend) {
  std::vector<BackendConfig> v{config(backend, backend, 2)};
  if (backend == "cpu") {
    // One thread: the levels differ in their kernels, not in how work is split.
    for (const std::string& isa : lower_cpu_isas()) {
      v.push_back(config("cpu_" + isa, backend, 1));
      v.back().options.cpu.isa = isa;
    }
  } else if (backend == "vulkan") {
    v.push_back(config("vulkan_fp16", backend, 2));
    v.back().options.gpu.fp16_storage = true;
    v.back().tolerance = kFp16StorageTol;
  }
  return v;
}

// Empty, or why a session with `options` is refused for want of float16 storage.
std::string fp16_storage_refusal(const SessionOptions& options) {
  GraphBuilder b;
  b.output(b.node(OpType::Relu, {b.input("x", {1, 4})}));
  try {
    Session s(Model(std::make_shared<Graph>(b.build())), options);
  } catch (const Error& e) {
    // Other errors are for the test itself to report.
    const std::string m = e.what();
    if (m.find("storageBuffer16BitAccess") != std::string::npos) return "this device has no float16 storage: " + m;
  }
  return {};
}

}  // namespace

std::vector<std::string> backends_under_test() {
  std::vector<std::string> wanted;
  if (const char* env = std::getenv("KILN_TEST_BACKENDS"); env && *env) {
    std::stringstream ss(env);
    for (std::string name; std::getline(ss, name, ',');)
      if (!name.empty()) wanted.push_back(name);
  }
  std::vector<std::string> out;
  for (const std::string& name : available_backends()) {
    if (name == "reference") continue;
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
    out.push_back(name);
  }
  return out;
}

std::string why_backend_cannot_run(const std::string& backend) {
  static std::map<std::string, std::string> cache;
  auto it = cache.find(backend);
  if (it != cache.end()) return it->second;
  std::string why;
  try {
    list_devices(backend);  // host backends: empty; device backends throw when none can run
  } catch (const Error& e) {
    why = "backend '" + backend + "' cannot run on this machine: " + e.what();
  }
  return cache.emplace(backend, why).first->second;
}

std::vector<BackendConfig> configurations_under_test() {
  std::vector<BackendConfig> v;
  for (const std::string& backend : backends_under_test())
    for (BackendConfig& c : configurations_of(backend)) v.push_back(std::move(c));
  return v;
}

std::vector<BackendConfig> best_configurations_under_test() {
  std::vector<BackendConfig> v;
  for (const std::string& backend : backends_under_test()) v.push_back(configurations_of(backend).front());
  return v;
}

std::string why_config_cannot_run(const BackendConfig& config) {
  if (std::string why = why_backend_cannot_run(config.options.backend); !why.empty()) return why;
  if (!config.options.gpu.fp16_storage) return {};
  static std::map<std::string, std::string> cache;
  auto it = cache.find(config.name);
  if (it == cache.end()) it = cache.emplace(config.name, fp16_storage_refusal(config.options)).first;
  return it->second.empty() ? std::string() : config.name + ": " + it->second;
}

}  // namespace kiln::test
