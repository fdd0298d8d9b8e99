#pragma once
// What the fuzz targets share: running a model that an input turned out to
// hold, when it is small enough to run quickly, and an invariant check.
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kiln/kiln.hpp"

namespace kiln::fuzz {

// Runs `model` with made-up inputs on the reference and cpu backends (one
// thread) when its activations and arithmetic are small, so that a large but
// valid model does not slow the fuzzer down to a few executions a second.
// kiln::Error from creating the session or running it is an accepted
// outcome; any other exception escapes and is reported by libFuzzer.
void run_if_small(const Model& model);

// A path to a file that holds `size` bytes of `data` (an in-memory file, one
// per process, rewritten by each call), for readers that take a path only.
std::string as_file(const uint8_t* data, size_t size);

// An invariant that valid input must keep: a violation stops the fuzzer with
// the message, and libFuzzer saves the input as a crash.
#define KILN_FUZZ_CHECK(condition)                                                              \
  do {                                                                                          \
    if (!(condition)) {                                                                         \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

}  // namespace kiln::fuzz
