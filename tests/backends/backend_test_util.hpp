#pragma once
// The backends every generic suite runs on: each registered backend except the
// reference (the oracle), as in ggml's one harness for every op on every
// backend. KILN_TEST_BACKENDS=cpu,vulkan narrows the list.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kiln/kiln.hpp"

namespace kiln::test {

std::vector<std::string> backends_under_test();

// Empty when `backend` can run here; else why not (e.g. "no Vulkan device
// found ..."), for GTEST_SKIP. Asked once per backend and process.
std::string why_backend_cannot_run(const std::string& backend);

// Options for a backend under test: 2 threads for host backends, device 0.
SessionOptions options_for(const std::string& backend);

// gtest parameter names: "cpu", "vulkan", ...
struct BackendName {
  std::string operator()(const ::testing::TestParamInfo<std::string>& info) const { return info.param; }
};

}  // namespace kiln::test
