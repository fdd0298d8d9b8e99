#pragma once
// Helpers of the CUDA backend suites: whether a CUDA device is usable (tests
// that need one skip with a message naming what is missing), sessions on
// backend "cuda", and comparisons against the reference backend.
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "gtest/gtest.h"
#include "kiln/kiln.hpp"

namespace kiln::test {

// Empty when a CUDA device is usable; else why not ("no CUDA device: ...").
const std::string& cuda_unavailable_reason();

// Skips the current test when there is no CUDA device, naming the reason.
#define KILN_REQUIRE_CUDA_DEVICE()                                                   \
  do {                                                                               \
    if (!::kiln::test::cuda_unavailable_reason().empty())                            \
      GTEST_SKIP() << ::kiln::test::cuda_unavailable_reason();                       \
  } while (0)

SessionOptions cuda_options(const std::string& algorithm = "heuristic", bool deterministic = false);

// Runs `graph` on the reference backend and on "cuda" with `algorithm`;
// expects every output within rel_tol (max|a-b| / max|ref|). Returns the error.
double expect_cuda_matches_reference(const Graph& graph, const std::vector<Tensor>& inputs, double rel_tol = 1e-4,
                                     const std::string& algorithm = "heuristic");

// Graphs collected by a test, each run on the reference backend when added
// (so that the graphs and the reference results are checked on every
// machine), then compared on "cuda" when a device is there.
class CudaCases {
 public:
  // With `detail_prefix`, every Conv node of the cuda session must report a
  // detail starting with it (e.g. the fixed algorithm, or "fused into").
  void add(const Graph& graph, std::vector<Tensor> inputs, const std::string& what,
           const std::string& algorithm = "heuristic", const std::string& detail_prefix = "");
  // Runs each case on "cuda" and expects it within rel_tol of the reference.
  void compare(double rel_tol = 1e-4) const;
  size_t size() const { return cases_.size(); }

 private:
  struct Case {
    std::shared_ptr<Graph> graph;
    std::vector<Tensor> inputs, expected;
    std::string what, algorithm, detail_prefix;
  };
  std::vector<Case> cases_;
};

// Ends a test: skips (naming the missing device) or compares the cases.
#define KILN_CUDA_COMPARE(cases, ...)     \
  do {                                    \
    ASSERT_GT((cases).size(), 0u);        \
    KILN_REQUIRE_CUDA_DEVICE();           \
    (cases).compare(__VA_ARGS__);         \
  } while (0)

// The backend detail of the node called `node_name` in a session's profile.
std::string cuda_node_detail(const Session& session, const std::string& node_name);

}  // namespace kiln::test
