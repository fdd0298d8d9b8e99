#include "engine/runtime/backend_module.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>

#include "kiln/error.hpp"

namespace kiln {
namespace {

using Entry = Backend* (*)(const char* build_id);

struct ModuleState {
  BackendModuleSpec spec;
  std::mutex mutex;
  Entry entry = nullptr;  // set once the module is loaded; never unloaded
};

std::string dl_error() {
  const char* e = dlerror();
  return e ? e : "unknown dlopen error";
}

// Loads the module (under state.mutex) or throws saying where it looked.
Entry load(ModuleState& state) {
  const BackendModuleSpec& spec = state.spec;
  const std::string file = "libkiln_backend_" + spec.name + ".so";
  const std::string symbol = "kiln_create_backend_" + spec.name;

  std::vector<std::pair<std::string, std::string>> dirs;  // (folder, how it was found)
  if (const char* env = std::getenv("KILN_BACKEND_DIR"); env && *env) dirs.emplace_back(env, "$KILN_BACKEND_DIR");
  for (const std::string& d : spec.search_dirs) dirs.emplace_back(d, "");

  // The first folder that has the file decides: a module there that fails to
  // load is reported, not silently replaced by another copy further down.
  std::string tried;
  for (const auto& [dir, origin] : dirs) {
    const std::filesystem::path path = std::filesystem::path(dir) / file;
    const std::string where = "\n  " + path.string() + (origin.empty() ? "" : " (" + origin + ")") + ": ";
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      tried += where + "no such file";
      continue;
    }
    std::string reason;
    if (void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      dlerror();
      if (auto entry = reinterpret_cast<Entry>(dlsym(handle, symbol.c_str()))) return entry;
      reason = "no symbol " + symbol + " (" + dl_error() + ")";
      // The handle stays open: code that ran at load time (CUDA registers its
      // kernels then) is not worth the risk of unloading.
    } else {
      reason = dl_error();
    }
    tried += where + reason;
    break;
  }
  throw Error(ErrorCode::Unsupported, "backend '" + spec.name + "' is not available: could not load its module " +
                                          file + "; tried:" + tried + "\nuse --backend cpu");
}

}  // namespace

BackendRegistry::Factory backend_module_factory(BackendModuleSpec spec) {
  auto state = std::make_shared<ModuleState>();
  state->spec = std::move(spec);
  return [state]() -> std::unique_ptr<Backend> {
    Entry entry;
    {
      std::lock_guard lock(state->mutex);
      if (!state->entry) state->entry = load(*state);
      entry = state->entry;
    }
    Backend* backend = entry(state->spec.build_id.c_str());
    if (!backend)
      throw Error(ErrorCode::Unsupported,
                  "backend '" + state->spec.name + "': its module libkiln_backend_" + state->spec.name +
                      ".so was built from another Kiln version or compiler than this program (" +
                      state->spec.build_id + "); rebuild or reinstall both together, or use --backend cpu");
    return std::unique_ptr<Backend>(backend);
  };
}

}  // namespace kiln
