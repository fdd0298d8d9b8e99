#include "tests/backends/backend_test_util.hpp"

#include <cstdlib>
#include <map>
#include <sstream>

namespace kiln::test {

std::vector<std::string> backends_under_test() {
  std::vector<std::string> wanted;
  if (const char* env = std::getenv("KILN_TEST_BACKENDS"); env && *env) {
    std::stringstream ss(env);
    for (std::string name; std::getline(ss, name, ',');)
      if (!name.empty()) wanted.push_back(name);
  }
  std::vector<std::string> out;
  for (const std::string& name : available_backends()) {
    if (name == "reference") continue;
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
    out.push_back(name);
  }
  return out;
}

std::string why_backend_cannot_run(const std::string& backend) {
  static std::map<std::string, std::string> cache;
  auto it = cache.find(backend);
  if (it != cache.end()) return it->second;
  std::string why;
  try {
    list_devices(backend);  // host backends: empty; device backends throw when none can run
  } catch (const Error& e) {
    why = "backend '" + backend + "' cannot run on this machine: " + e.what();
  }
  return cache.emplace(backend, why).first->second;
}

SessionOptions options_for(const std::string& backend) {
  SessionOptions o;
  o.backend = backend;
  o.threads = 2;
  return o;
}

}  // namespace kiln::test
