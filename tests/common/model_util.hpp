#pragma once
// Real models for the backend suites: ONNX files from ../shared/models and
// the torchvision exports the build makes, imported in memory (once per path
// and process) with the default convert-time passes, and the list of model
// cases every backend is checked on.
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln::test {

// Whether this build has the ONNX converter (else every model test skips).
bool have_converter();

// shared_dir()/models/relative, or nullopt when it is missing.
std::optional<std::filesystem::path> shared_model(const std::string& relative);
// The folder with the torchvision exports of this build tree.
std::filesystem::path torchvision_dir();
// torchvision_dir()/name.onnx, or nullopt when it is missing.
std::optional<std::filesystem::path> torchvision_model(const std::string& name);
// A message for GTEST_SKIP naming what is missing and how to get it.
std::string missing_shared(const std::string& relative);
std::string missing_torchvision(const std::string& name);

// Imports an ONNX file (with the passes) and keeps it for the rest of the process.
const Model& import_model(const std::filesystem::path& onnx);

// An input for a real model: the .pb beside it (shared) or the .input.npy
// (torchvision); random values of the input's shape when there is none.
Tensor model_input(const Model& model, const std::filesystem::path& input_file);

struct ModelCase {
  std::string id;     // test name
  std::string onnx;   // under ../shared/models, or a torchvision name
  std::string input;  // under ../shared/models (a .pb), or "" for the export's .input.npy
  bool torchvision = false;
};
void PrintTo(const ModelCase& c, std::ostream* os);

// The models of tests/e2e/real_models_test.cpp, each with its first reference input.
std::vector<ModelCase> shared_model_cases();
// The exports of scripts/export_torchvision.py (as tests/e2e/torchvision_test.cpp).
std::vector<ModelCase> torchvision_model_cases();
// The case called `id` (throws if there is none).
ModelCase model_case(const std::string& id);

// Loads the case's model and input, or returns false with the reason to skip.
bool load_model_case(const ModelCase& c, const Model** model, Tensor* input, std::string* skip);

// "im2col 12, gemm1x1 8, ..." from the Conv rows of a session's profile: the
// first word of each backend detail ("chain" for a fused chain, counted once;
// convolutions fused into another node are not counted).
std::string conv_algorithm_counts(const Session& session);

}  // namespace kiln::test
