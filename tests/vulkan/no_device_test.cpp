// With no Vulkan driver the backend says so (naming what to install and
// suggesting --backend cpu) instead of crashing. The loader is pointed at a
// driver list that does not exist before anything touches Vulkan, so this
// test runs the same with or without a device on the machine.
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/common/graph_builder.hpp"

namespace kiln::test {
namespace {

TEST(VulkanNoDevice, ClearErrorSuggestingTheCpuBackend) {
  const Graph g = all_ops_graph();
  const Model model(std::make_shared<Graph>(g));
  SessionOptions o;
  o.backend = "vulkan";
  try {
    Session s(model, o);
    FAIL() << "a session was created without a Vulkan driver";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("no Vulkan device found"), std::string::npos) << m;
    EXPECT_NE(m.find("mesa-vulkan-drivers"), std::string::npos) << m;
    EXPECT_NE(m.find("--backend cpu"), std::string::npos) << m;
  }
  EXPECT_THROW(list_devices("vulkan"), Error);
}

}  // namespace
}  // namespace kiln::test

int main(int argc, char** argv) {
  // Both the old and the new name of the loader's driver-list variable.
  setenv("VK_ICD_FILENAMES", "/nonexistent/kiln_no_driver.json", 1);
  setenv("VK_DRIVER_FILES", "/nonexistent/kiln_no_driver.json", 1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
