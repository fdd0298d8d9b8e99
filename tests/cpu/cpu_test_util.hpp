#pragma once
// Helpers shared by the CPU backend suites: the ISA levels to sweep, sessions
// on backend "cpu" with given options, comparison against the reference
// backend, and access to per-node details.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "gtest/gtest.h"
#include "kiln/kiln.hpp"

namespace kiln::test {

// Names of every ISA level this build and CPU can run (kiln::cpu::supported_isas()), lowest first.
std::vector<std::string> cpu_isa_names();
// The best level ("" asks the backend for the same).
std::string best_cpu_isa();
// Names of every registered convolution algorithm (kiln::cpu::conv_algorithms()).
std::vector<std::string> conv_algorithm_names();

SessionOptions cpu_options(int threads = 1, const std::string& isa = "", const std::string& algorithm = "heuristic",
                           Determinism deterministic = Determinism::Off);

// Runs `model` once with `options` and returns the outputs.
std::vector<Tensor> run_model(const Model& model, const SessionOptions& options, const std::vector<Tensor>& inputs);

// Runs `graph` on the reference backend, then on "cpu" at every ISA level with
// 1 and 2 threads (and `algorithm`), and checks each output against the
// reference within `rel_tol` (max|a-b| / max|ref|). Fails with the ISA,
// thread count, output index and error. Returns the largest error seen.
// `cpu.l2_bytes` is passed on (the ISA is swept).
double expect_cpu_matches_reference(const Graph& graph, const std::vector<Tensor>& inputs, double rel_tol = 1e-4,
                                    const std::string& algorithm = "heuristic", const CpuOptions& cpu = {});

// The backend detail string of the node called `node_name` (Session::profile()).
std::string node_detail(const Session& session, const std::string& node_name);

}  // namespace kiln::test
