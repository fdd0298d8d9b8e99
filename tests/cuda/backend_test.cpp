// Backend "cuda" is registered in every build that compiled it, and without
// a device says so clearly (the listing and a session fail alike). Every op
// against the reference is in the generic harness (tests/backends,
// configuration cuda).
#include <algorithm>

#include "tests/common/graph_builder.hpp"
#include "tests/cuda/cuda_test_util.hpp"

namespace kiln::test {
namespace {

using O = OpType;

TEST(CudaBackend, IsRegisteredAndReportsAMissingDeviceClearly) {
  const auto names = available_backends();
  ASSERT_NE(std::find(names.begin(), names.end(), "cuda"), names.end());
  if (cuda_unavailable_reason().empty()) {
    EXPECT_FALSE(list_devices("cuda").empty());
    return;
  }
  // No device here: the listing and a session both fail with the same clear message.
  EXPECT_EQ(cuda_unavailable_reason().rfind("no CUDA device: ", 0), 0u) << cuda_unavailable_reason();
  EXPECT_NE(cuda_unavailable_reason().find("--backend cpu"), std::string::npos) << cuda_unavailable_reason();
  GraphBuilder b;
  b.output(b.node(O::Relu, {b.input("x", {1, 2})}));
  const Model model(std::make_shared<Graph>(b.build()));
  try {
    Session s(model, cuda_options());
    ADD_FAILURE() << "a cuda session was created without a device";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("no CUDA device: ", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace kiln::test
