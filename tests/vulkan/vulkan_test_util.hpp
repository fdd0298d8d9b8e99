#pragma once
// Helpers for the Vulkan backend suites: whether a Vulkan device exists (tests
// skip with the reason when not — never pass silently), sessions on backend
// "vulkan", and comparison against the reference backend.
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "gtest/gtest.h"
#include "kiln/kiln.hpp"

namespace kiln::test {

// "" when backend vulkan is built and has a device; else why not.
std::string vulkan_missing();

#define KILN_SKIP_WITHOUT_VULKAN()                                      \
  do {                                                                  \
    if (const std::string why = ::kiln::test::vulkan_missing(); !why.empty()) \
      GTEST_SKIP() << "no Vulkan device: " << why;                      \
  } while (0)

// Backend vulkan with `algorithm`; with float16 storage in the targets built
// with KILN_VULKAN_TEST_FP16_STORAGE.
SessionOptions vulkan_options(const std::string& algorithm = "heuristic");

// Runs `graph` on the reference backend and on vulkan with `algorithm`;
// expects every output within `rel_tol`. Returns the error.
double expect_vulkan_matches_reference(const Graph& graph, const std::vector<Tensor>& inputs, double rel_tol = 1e-4,
                                       const std::string& algorithm = "heuristic");

// The backend detail string of node `name` in a vulkan session of `graph`.
std::string vulkan_node_detail(const Graph& graph, const std::string& name, const std::string& algorithm = "heuristic");

}  // namespace kiln::test
