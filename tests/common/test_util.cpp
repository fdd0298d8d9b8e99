#include "tests/common/test_util.hpp"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <cstdlib>
#include <sstream>

namespace kiln::test {

TempPath::TempPath(const std::string& stem, const std::string& extension) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  path_ = std::filesystem::temp_directory_path() /
          (stem + "_" + std::to_string(::getpid()) + "_" + (info ? info->name() : "x") + extension);
}

TempPath::~TempPath() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("KILN_SHARED_DIR")) return env;
  return KILN_SHARED_DIR;
}

std::filesystem::path shared_file_or_skip(const std::string& relative) {
  std::filesystem::path p = shared_dir() / relative;
  if (!std::filesystem::exists(p)) {
    ADD_FAILURE() << "missing test data " << p << " (set KILN_SHARED_DIR to the shared data folder)";
  }
  return p;
}

std::filesystem::path source_dir() { return KILN_SOURCE_DIR; }
std::filesystem::path binary_dir() { return KILN_BINARY_DIR; }

std::vector<float> random_values(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

Tensor random_tensor(const std::vector<int64_t>& shape, uint32_t seed, float lo, float hi) {
  Tensor t(shape);
  const auto v = random_values(static_cast<size_t>(t.size()), seed, lo, hi);
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

double max_abs_error(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
  return m;
}

double max_relative_error(const float* a, const float* b, size_t n) {
  double scale = 0;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  return max_abs_error(a, b, n) / std::max(scale, 1e-30);
}

::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected, double rel_tol) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << shape_to_string(actual.shape()) << " != expected "
                                         << shape_to_string(expected.shape());
  const size_t n = static_cast<size_t>(actual.size());
  for (size_t i = 0; i < n; ++i)
    if (std::isfinite(expected.data()[i]) && !std::isfinite(actual.data()[i]))
      return ::testing::AssertionFailure() << "non-finite value " << actual.data()[i] << " at " << i;
  const double rel = max_relative_error(actual.data(), expected.data(), n);
  if (rel > rel_tol)
    return ::testing::AssertionFailure() << "max relative error " << rel << " > " << rel_tol
                                         << " (max abs error " << max_abs_error(actual.data(), expected.data(), n)
                                         << ")";
  return ::testing::AssertionSuccess() << "max relative error " << rel;
}

double max_relative_error_of(const std::vector<Tensor>& actual, const std::vector<Tensor>& expected) {
  if (actual.size() != expected.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (actual[i].shape() != expected[i].shape()) return INFINITY;
    const size_t n = static_cast<size_t>(actual[i].size());
    for (size_t k = 0; k < n; ++k)
      if (std::isfinite(expected[i].data()[k]) && !std::isfinite(actual[i].data()[k])) return INFINITY;
    worst = std::max(worst, max_relative_error(actual[i].data(), expected[i].data(), n));
  }
  return worst;
}

::testing::AssertionResult bitwise_equal(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " outputs vs " << b.size();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape())
      return ::testing::AssertionFailure() << "output " << i << ": shape " << shape_to_string(a[i].shape()) << " vs "
                                           << shape_to_string(b[i].shape());
    const size_t n = static_cast<size_t>(a[i].size());
    for (size_t k = 0; k < n; ++k)
      if (std::memcmp(&a[i].data()[k], &b[i].data()[k], sizeof(float)) != 0)
        return ::testing::AssertionFailure() << "output " << i << " differs first at element " << k << ": "
                                             << a[i].data()[k] << " vs " << b[i].data()[k] << " (max relative error "
                                             << max_relative_error(a[i].data(), b[i].data(), n) << ")";
  }
  return ::testing::AssertionSuccess();
}

std::vector<Tensor> run_graph(const Graph& graph, const std::vector<Tensor>& inputs, const std::string& backend) {
  Model model(std::make_shared<Graph>(graph));
  SessionOptions options;
  options.backend = backend;
  Session session(model, options);
  return session.run(inputs);
}

ScopedEnv::ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) old_ = old;
  ::setenv(name_.c_str(), value.c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
  if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
  else ::unsetenv(name_.c_str());
}

}  // namespace kiln::test
