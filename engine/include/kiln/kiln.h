/* Kiln's C API: a thin layer over the C++ API for embedding from C and other
 * languages. Every call returns a kiln_status; on failure kiln_last_error()
 * gives a message naming the problem (per thread, valid until the next call).
 *
 *   kiln_model* model; kiln_session* session;
 *   if (kiln_model_load("m.kiln", &model) != KILN_OK) puts(kiln_last_error());
 *   kiln_session_create(model, NULL, 0, &session);   // auto backend, every core
 *   kiln_session_run(session, inputs, outputs);   // arrays of float pointers
 */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kiln_model kiln_model;
typedef struct kiln_session kiln_session;

typedef enum kiln_status {
  KILN_OK = 0,
  KILN_ERROR_INVALID_ARGUMENT = 1,
  KILN_ERROR_INVALID_MODEL = 2,
  KILN_ERROR_UNSUPPORTED = 3,
  KILN_ERROR_IO = 4,
  KILN_ERROR_INTERNAL = 5
} kiln_status;

const char* kiln_last_error(void);

kiln_status kiln_model_load(const char* path, kiln_model** out_model);

/* Options of kiln_model_load_with_options (kiln::LoadOptions). */
typedef struct kiln_load_options {
  /* Nonzero: check the checksums of the graph and weights (files of format 1.2
   * on carry them), reading the whole file; a mismatch is
   * KILN_ERROR_INVALID_MODEL. 0: trust the file. kiln_model_load checks them. */
  int verify_checksums;
} kiln_load_options;

/* kiln_model_load with options; NULL options are kiln_model_load's. */
kiln_status kiln_model_load_with_options(const char* path, const kiln_load_options* options,
                                         kiln_model** out_model);
void kiln_model_free(kiln_model* model);

/* backend: a backend name such as "reference", "cpu", "vulkan" or "cuda", or
 * NULL / "auto": cpu when it is built and runs every node of the model, else
 * reference (GPU backends only when named). threads: a positive count, or 0
 * for every core this process may run on (its CPU affinity); negative is
 * KILN_ERROR_INVALID_ARGUMENT; more than the usable cores is capped to them.
 * kiln_session_backend and kiln_session_threads
 * say what was picked. */
kiln_status kiln_session_create(const kiln_model* model, const char* backend, int threads,
                                kiln_session** out_session);
void kiln_session_free(kiln_session* session);

/* The backend running the session ("auto" resolved, e.g. "cpu"), valid while
 * the session lives; "" for NULL. */
const char* kiln_session_backend(const kiln_session* session);
/* Why that backend was picked, e.g. "asked for" or "auto: ..."; "" for NULL. */
const char* kiln_session_backend_choice(const kiln_session* session);
/* The worker threads (0 resolved to the core count); 0 for NULL. */
int kiln_session_threads(const kiln_session* session);

size_t kiln_session_input_count(const kiln_session* session);
size_t kiln_session_output_count(const kiln_session* session);
/* The name and shape stay valid while the session lives. */
kiln_status kiln_session_input_info(const kiln_session* session, size_t index, const char** name,
                                    const int64_t** shape, size_t* rank);
kiln_status kiln_session_output_info(const kiln_session* session, size_t index, const char** name,
                                     const int64_t** shape, size_t* rank);

/* inputs[i] points to input i (float32, row-major, its full shape); outputs[i]
 * to room for output i. Allocates nothing. Thread-safe: many threads may run
 * one session at once (each concurrent run gets its own activation memory and
 * scratch; the weights are shared), and a model may back many sessions. */
kiln_status kiln_session_run(kiln_session* session, const float* const* inputs, float* const* outputs);

#ifdef __cplusplus
}
#endif

#endif /* KILN_H */
