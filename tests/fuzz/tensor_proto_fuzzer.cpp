// The ONNX TensorProto (.pb) reader of `kiln run --input`: a tensor or kiln::Error.
#include "kiln/convert.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const kiln::NamedTensor t = kiln::parse_tensor_proto({data, size}, "fuzz.pb");
    KILN_FUZZ_CHECK(t.tensor.raw() != nullptr);
  } catch (const kiln::Error&) {
  }
  return 0;
}
