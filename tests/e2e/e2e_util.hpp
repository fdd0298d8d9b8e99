#pragma once
#include <filesystem>
#include <string>

#include "kiln/kiln.hpp"

namespace kiln::test {

// Converts an ONNX file to .kiln in a temp folder (once per path and options
// in this process) and loads it back, so every e2e test exercises the file path.
Model convert_and_load(const std::filesystem::path& onnx, bool optimize = true);

// Median wall time of `runs` inferences (after one warm-up), in milliseconds.
double median_run_ms(Session& session, const std::vector<Tensor>& inputs, int runs);

}  // namespace kiln::test
