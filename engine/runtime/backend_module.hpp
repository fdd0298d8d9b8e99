#pragma once
// Backends loaded at run time from a shared module (kiln_add_backend(... MODULE)
// in cmake/KilnHelpers.cmake): the GPU vendor backends, whose libraries (CUDA
// runtime, cuBLAS, cuDNN: ~150 MiB mapped) must not be loaded by every
// program that links Kiln, nor be needed for it to start.
//
// A module `libkiln_backend_<name>.so` exports one function,
//   extern "C" kiln::Backend* kiln_create_backend_<name>(const char* build_id);
// which returns a new backend (owned by the caller, deleted through its virtual
// destructor) or null when `build_id` is not the module's own. ABI rule: host
// and module must come from the same Kiln version and the same compiler (they
// share C++ types: Backend, Graph, std::string, kiln::Error); the build id says
// so and is checked. A loaded module is never unloaded (its code backs every
// object it created), and it keeps a private copy of kiln_core whose symbols
// are local to it.
//
// Search order; the first folder that has the file is used, and if the module
// there fails to load (e.g. libcudart.so.13 missing) that error is reported
// rather than another copy tried:
//   1. $KILN_BACKEND_DIR, if set and not empty;
//   2. the build tree's module folder (<build>/lib/kiln), baked in at configure time;
//   3. the install folder (<prefix>/<libdir>/kiln), baked in at configure time.
// $KILN_BACKEND_DIR adds a folder in front; it does not hide the other two (a
// build-tree program still finds its own module when the variable names a
// folder without one). An installed program whose build tree still exists
// loads the build tree's module; set $KILN_BACKEND_DIR to choose.
#include <string>
#include <vector>

#include "engine/runtime/backend_registry.hpp"

namespace kiln {

struct BackendModuleSpec {
  std::string name;                      // backend name, e.g. "cuda"
  std::vector<std::string> search_dirs;  // baked-in folders, after $KILN_BACKEND_DIR
  std::string build_id;                  // the host's build id, passed to the module
};

// A registry factory that loads the module on first use (dlopen with
// RTLD_NOW | RTLD_LOCAL; the handle is kept for the life of the process) and
// calls its entry point. When no module can be loaded it throws
// kiln::Error(ErrorCode::Unsupported) naming the file, each folder searched
// and the loader's reason; it tries again on the next call.
BackendRegistry::Factory backend_module_factory(BackendModuleSpec spec);

}  // namespace kiln
