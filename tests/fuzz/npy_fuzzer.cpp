// The .npy reader of `kiln run --input` (apps/common/npy.cpp): a tensor or
// kiln::Error. Through a path (an in-memory file), the reader's only entry.
#include "apps/common/npy.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const kiln::Tensor t = kiln::npy::read(kiln::fuzz::as_file(data, size));
    KILN_FUZZ_CHECK(t.raw() != nullptr);
  } catch (const kiln::Error&) {
  }
  return 0;
}
