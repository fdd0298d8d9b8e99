#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/backend.hpp"

namespace kiln {

// Run-time registry of the backends compiled into this build. The build
// generates one call per backend folder (see kiln_add_backend in
// cmake/KilnHelpers.cmake), so adding a backend touches no core file.
class BackendRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Backend>()>;

  // The registry holding every backend of this build.
  static BackendRegistry& global();

  void add(std::string name, Factory factory);
  bool has(std::string_view name) const;
  // Throws kiln::Error listing the available backends if `name` is unknown.
  std::unique_ptr<Backend> create(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  std::vector<std::pair<std::string, Factory>> entries_;
};

// Defined in the generated file: calls register_<name>_backend for each backend.
void register_builtin_backends(BackendRegistry& registry);

}  // namespace kiln
