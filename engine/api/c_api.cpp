#include <string>

#include "kiln/kiln.h"
#include "kiln/kiln.hpp"

struct kiln_model {
  kiln::Model model;
};

struct kiln_session {
  kiln::Session session;
};

namespace {

thread_local std::string g_last_error;

kiln_status to_status(kiln::ErrorCode code) {
  switch (code) {
    case kiln::ErrorCode::InvalidArgument: return KILN_ERROR_INVALID_ARGUMENT;
    case kiln::ErrorCode::InvalidModel: return KILN_ERROR_INVALID_MODEL;
    case kiln::ErrorCode::Unsupported: return KILN_ERROR_UNSUPPORTED;
    case kiln::ErrorCode::Io: return KILN_ERROR_IO;
    case kiln::ErrorCode::Internal: return KILN_ERROR_INTERNAL;
  }
  return KILN_ERROR_INTERNAL;
}

// Runs `f`, turning any exception into a status and a stored message.
template <class F>
kiln_status guarded(F&& f) {
  try {
    f();
    g_last_error.clear();
    return KILN_OK;
  } catch (const kiln::Error& e) {
    g_last_error = e.what();
    return to_status(e.code());
  } catch (const std::exception& e) {
    g_last_error = e.what();
    return KILN_ERROR_INTERNAL;
  } catch (...) {
    g_last_error = "unknown error";
    return KILN_ERROR_INTERNAL;
  }
}

kiln_status null_arg(const char* what) {
  g_last_error = std::string(what) + " must not be NULL";
  return KILN_ERROR_INVALID_ARGUMENT;
}

kiln_status tensor_info(const std::vector<kiln::TensorDesc>& list, size_t index, const char** name,
                        const int64_t** shape, size_t* rank) {
  if (index >= list.size()) {
    g_last_error = "index " + std::to_string(index) + " is out of range (" + std::to_string(list.size()) + ")";
    return KILN_ERROR_INVALID_ARGUMENT;
  }
  if (name) *name = list[index].name.c_str();
  if (shape) *shape = list[index].shape.data();
  if (rank) *rank = list[index].shape.size();
  return KILN_OK;
}

}  // namespace

extern "C" {

const char* kiln_last_error(void) { return g_last_error.c_str(); }

kiln_status kiln_model_load(const char* path, kiln_model** out_model) {
  return kiln_model_load_with_options(path, nullptr, out_model);
}

kiln_status kiln_model_load_with_options(const char* path, const kiln_load_options* options,
                                         kiln_model** out_model) {
  if (!path) return null_arg("path");
  if (!out_model) return null_arg("out_model");
  *out_model = nullptr;
  kiln::LoadOptions load;
  if (options) load.verify_checksums = options->verify_checksums != 0;
  return guarded([&] { *out_model = new kiln_model{kiln::Model::load(path, load)}; });
}

void kiln_model_free(kiln_model* model) { delete model; }

kiln_status kiln_session_create(const kiln_model* model, const char* backend, int threads,
                                kiln_session** out_session) {
  if (!model) return null_arg("model");
  if (!out_session) return null_arg("out_session");
  *out_session = nullptr;
  return guarded([&] {
    kiln::SessionOptions options;
    options.backend = backend ? backend : "auto";
    options.threads = threads;
    *out_session = new kiln_session{kiln::Session(model->model, options)};
  });
}

void kiln_session_free(kiln_session* session) { delete session; }

const char* kiln_session_backend(const kiln_session* session) {
  return session ? session->session.backend().c_str() : "";
}
const char* kiln_session_backend_choice(const kiln_session* session) {
  return session ? session->session.backend_choice().c_str() : "";
}
int kiln_session_threads(const kiln_session* session) { return session ? session->session.threads() : 0; }

size_t kiln_session_input_count(const kiln_session* session) { return session ? session->session.inputs().size() : 0; }
size_t kiln_session_output_count(const kiln_session* session) {
  return session ? session->session.outputs().size() : 0;
}

kiln_status kiln_session_input_info(const kiln_session* session, size_t index, const char** name,
                                    const int64_t** shape, size_t* rank) {
  if (!session) return null_arg("session");
  return tensor_info(session->session.inputs(), index, name, shape, rank);
}

kiln_status kiln_session_output_info(const kiln_session* session, size_t index, const char** name,
                                     const int64_t** shape, size_t* rank) {
  if (!session) return null_arg("session");
  return tensor_info(session->session.outputs(), index, name, shape, rank);
}

kiln_status kiln_session_run(kiln_session* session, const float* const* inputs, float* const* outputs) {
  if (!session) return null_arg("session");
  if (!inputs && !session->session.inputs().empty()) return null_arg("inputs");
  if (!outputs) return null_arg("outputs");
  return guarded([&] {
    const size_t n_in = session->session.inputs().size(), n_out = session->session.outputs().size();
    session->session.run_buffers({reinterpret_cast<const void* const*>(inputs), n_in},
                                 {reinterpret_cast<void* const*>(outputs), n_out});
  });
}

}  // extern "C"
