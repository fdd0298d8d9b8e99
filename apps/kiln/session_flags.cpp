#include "apps/kiln/session_flags.hpp"

#include <fmt/format.h>

#include <limits>

#include "apps/kiln/console.hpp"

namespace kiln::cli {

namespace {
// heuristic | tune | fixed:NAME; anything else is a usage error (exit 2).
std::string check_algorithm(const std::string& value) {
  if (value == "heuristic" || value == "tune") return {};
  if (value.rfind("fixed:", 0) == 0 && value.size() > 6) return {};
  return "'" + value + "' is not heuristic, tune or fixed:NAME";
}

// f32 | f64 (ReferencePrecision); anything else is a usage error (exit 2).
std::string check_reference_precision(const std::string& value) {
  if (value == "f32" || value == "f64") return {};
  std::string m = "'";
  m += value;
  m += "' is not f32 or f64";
  return m;
}

// off | threads | portable, or nothing (threads).
std::string check_determinism(const std::string& value) {
  try {
    parse_determinism(value);
    return {};
  } catch (const Error& e) {
    // CLI11 gives the flag the next word when one follows: `--deterministic model.kiln`.
    std::string what = e.what();
    what += "; a bare --deterministic goes after the positional arguments";
    return what;
  }
}
}  // namespace

void add_session_flags(CLI::App* cmd, SessionOptions& options) {
  cmd->add_option("--backend", options.backend,
                  "Backend to run on: auto (cpu when it can run the model, else reference; GPU backends only when "
                  "named), reference, cpu, vulkan, cuda")
      ->capture_default_str();
  cmd->add_option("--threads", options.threads, "Worker threads; 0 = every core this process may use")
      ->check(CLI::Range(0, std::numeric_limits<int>::max()))
      ->capture_default_str();
  cmd->add_option("--isa", options.cpu.isa,
                  "Highest instruction set a CPU backend may use, e.g. avx512, avx2, generic "
                  "(default: the best this CPU has)");
  cmd->add_option("--algorithm", options.algorithm, "Convolution algorithm choice: heuristic | tune | fixed:NAME")
      ->check(CLI::Validator(check_algorithm, "heuristic|tune|fixed:NAME"))
      ->capture_default_str();
  // An optional value: a bare --deterministic keeps its first meaning (threads).
  cmd->add_option_function<std::string>(
         "--deterministic",
         [&options](const std::string& level) { options.deterministic = parse_determinism(level); },
         "Reproducible bits: threads (the default level: the same for any thread count), portable (also for every "
         "--isa level, on any x86-64 CPU; cpu and reference backends) or off")
      ->expected(0, 1)
      ->check(CLI::Validator(check_determinism, "off|threads|portable"));
  cmd->add_flag("--fp16-storage", options.gpu.fp16_storage,
                "Store activations and weights as float16 on devices that support it; arithmetic stays float32 "
                "(backend vulkan)");
  cmd->add_option("--tuning-cache", options.tuning_cache,
                  "File where --algorithm tune stores and finds its measurements (default: the backend's)");
  cmd->add_option("--device", options.gpu.device, "Device index for GPU backends")
      ->check(CLI::Range(0, std::numeric_limits<int>::max()))
      ->capture_default_str();
  cmd->add_flag("!--no-cuda-graphs", options.gpu.graphs,
                "Launch the steps one by one instead of replaying them as one CUDA graph (backend cuda)");
  cmd->add_flag("--node-times", options.gpu.profile_nodes,
                "Per-node device times, from an event after every step, about a microsecond each (backend cuda; "
                "host and Vulkan backends always have them)");
  cmd->add_option_function<size_t>(
         "--memory-limit", [&options](const size_t& bytes) { options.memory_limit = bytes; },
         "Memory the session may take, e.g. 512M or 4G (default: the memory available now); a model that needs "
         "more is refused")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option_function<std::string>(
         "--reference-precision",
         [&options](const std::string& v) {
           options.reference.accumulation = v == "f64" ? ReferencePrecision::Float64 : ReferencePrecision::Float32;
         },
         "Accumulation of the reference backend: f32 (default) or f64, every sum in double and each output "
         "rounded once (a yardstick for other configurations; backend reference only)")
      ->check(CLI::Validator(check_reference_precision, "f32|f64"));
  add_quiet_flag(cmd);
}

std::string describe_session_options(const SessionOptions& o) {
  std::string s = fmt::format("{}, threads {}, algorithm {}", o.backend, o.threads, o.algorithm);
  if (!o.cpu.isa.empty()) s += ", isa " + o.cpu.isa;
  if (o.deterministic != Determinism::Off) {
    s += ", deterministic ";
    s += determinism_name(o.deterministic);
  }
  if (o.gpu.fp16_storage) s += ", fp16 storage";
  if (o.reference.accumulation == ReferencePrecision::Float64) s += ", float64 accumulation";
  if (!o.tuning_cache.empty()) s += ", tuning cache " + o.tuning_cache;
  if (o.gpu.device != 0) s += fmt::format(", device {}", o.gpu.device);
  if (!o.gpu.graphs) s += ", no CUDA graphs";
  if (o.gpu.profile_nodes) s += ", node times";
  if (o.memory_limit) s += fmt::format(", memory limit {} bytes", *o.memory_limit);
  return s;
}

}  // namespace kiln::cli
