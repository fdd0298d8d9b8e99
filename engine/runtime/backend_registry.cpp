#include "engine/runtime/backend_registry.hpp"

#include <mutex>

namespace kiln {

BackendRegistry& BackendRegistry::global() {
  static BackendRegistry registry;
  static std::once_flag once;
  std::call_once(once, [] { register_builtin_backends(registry); });
  return registry;
}

void BackendRegistry::add(std::string name, Factory factory) {
  for (auto& [n, f] : entries_)
    if (n == name) {
      f = std::move(factory);
      return;
    }
  entries_.emplace_back(std::move(name), std::move(factory));
}

bool BackendRegistry::has(std::string_view name) const {
  for (const auto& [n, f] : entries_)
    if (n == name) return true;
  return false;
}

std::unique_ptr<Backend> BackendRegistry::create(std::string_view name) const {
  for (const auto& [n, f] : entries_)
    if (n == name) return f();
  std::string list;
  for (const auto& [n, f] : entries_) list += (list.empty() ? "" : ", ") + n;
  throw Error(ErrorCode::InvalidArgument,
              "unknown backend '" + std::string(name) + "'; this build has: " + list);
}

std::vector<std::string> BackendRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [n, f] : entries_) out.push_back(n);
  return out;
}

}  // namespace kiln
