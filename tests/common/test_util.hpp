#pragma once
// Helpers shared by every test suite.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "gtest/gtest.h"
#include "kiln/kiln.hpp"

namespace kiln::test {

// ../shared beside the repository (override with the KILN_SHARED_DIR env var).
std::filesystem::path shared_dir();
// Returns shared_dir()/relative, or skips the current test with a message
// naming the missing file.
std::filesystem::path shared_file_or_skip(const std::string& relative);
std::filesystem::path source_dir();
std::filesystem::path binary_dir();

// A path in the temp folder, unique to this process and test, removed (with
// anything below it) when the object goes out of scope.
class TempPath {
 public:
  explicit TempPath(const std::string& stem, const std::string& extension = ".kiln");
  ~TempPath();
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Sets an environment variable for its lifetime, then restores the old value.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Uniform random values in [lo, hi) from a fixed seed.
std::vector<float> random_values(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);
Tensor random_tensor(const std::vector<int64_t>& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

// max |a - b| / max(max |b|, tiny): error relative to the reference's scale.
double max_relative_error(const float* a, const float* b, size_t n);
double max_abs_error(const float* a, const float* b, size_t n);
// gtest assertion helper: same size, finite, and within `rel_tol` relative error.
::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected, double rel_tol);

// Largest max_relative_error over all outputs (shapes must agree; non-finite
// values where the reference is finite count as an infinite error).
double max_relative_error_of(const std::vector<Tensor>& actual, const std::vector<Tensor>& expected);

// True when every output has the same shape and the same bits.
::testing::AssertionResult bitwise_equal(const std::vector<Tensor>& a, const std::vector<Tensor>& b);

// The reference backend on one thread: the oracle other backends are compared
// with. Tests name it rather than relying on SessionOptions{}, whose backend is
// "auto" (cpu where built) and whose threads are every core.
inline SessionOptions reference_options() {
  SessionOptions o;
  o.backend = "reference";
  o.threads = 1;
  return o;
}

// Runs a graph on a backend with the given inputs and returns its outputs.
std::vector<Tensor> run_graph(const Graph& graph, const std::vector<Tensor>& inputs,
                              const std::string& backend = "reference");

}  // namespace kiln::test
