#pragma once
// The session options every `kiln` command that runs a model accepts, so that
// run, classify, inspect and bench take the same flags with the same meaning:
//
//   --backend NAME      backend to run on (default auto: cpu when it runs the model, else reference)
//   --threads N         worker threads (default 0 = every core this process may use)
//   --isa NAME          highest instruction set a CPU backend may use (default: the best this CPU has)
//   --algorithm A       heuristic | tune | fixed:NAME (convolution algorithm choice)
//   --deterministic [L] off | threads (the default level) | portable (also every --isa, any CPU)
//   --tuning-cache FILE where `--algorithm tune` keeps its measurements
//   --device N          device index for GPU backends (default 0)
//   --fp16-storage      float16 activations and weights (vulkan)
//   --no-cuda-graphs    launch the steps one by one (cuda)
//   --node-times        per-node device times (cuda)
//   --reference-precision f32|f64  accumulation of the reference backend (f64: every sum in double)
//   --quiet, -q         no progress lines or notes on stderr (console.hpp)
//   --no-verify         skip the checksums of a .kiln file (console.hpp: add_load_flags)
#include <CLI/CLI.hpp>
#include <string>

#include "kiln/kiln.hpp"

namespace kiln::cli {

// Registers the flags on `cmd`; they write into `options`, which must outlive
// the parse (keep it in the command's shared argument struct).
void add_session_flags(CLI::App* cmd, SessionOptions& options);

// "auto, threads 0, algorithm heuristic" — the options as given, as one line
// (console.hpp's describe_session says what they resolved to).
std::string describe_session_options(const SessionOptions& options);

}  // namespace kiln::cli
