#pragma once
// Real models for the CPU backend suites: ONNX files from ../shared/models and
// the torchvision exports the build makes, imported in memory (once per path
// and process) with the default convert-time passes.
#include <filesystem>
#include <optional>
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

}  // namespace kiln::test
