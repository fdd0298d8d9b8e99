#include "tests/vulkan/vulkan_test_util.hpp"

#include <cmath>

#include "tests/common/test_util.hpp"

namespace kiln::test {

std::string vulkan_missing() {
  static const std::string why = [] {
    try {
      if (list_devices("vulkan").empty()) return std::string("the vulkan backend lists no device");
      return std::string();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
  }();
  return why;
}

SessionOptions vulkan_options(const std::string& algorithm) {
  SessionOptions o;
  o.backend = "vulkan";
  o.algorithm = algorithm;
#ifdef KILN_VULKAN_TEST_FP16_STORAGE
  o.gpu.fp16_storage = true;
#endif
  return o;
}

double expect_vulkan_matches_reference(const Graph& graph, const std::vector<Tensor>& inputs, double rel_tol,
                                       const std::string& algorithm) {
  const Model model(std::make_shared<Graph>(graph));
  Session ref(model, reference_options());
  const std::vector<Tensor> expected = ref.run(inputs);
  Session vk(model, vulkan_options(algorithm));
  const std::vector<Tensor> got = vk.run(inputs);
  const double err = max_relative_error_of(got, expected);
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_TRUE(tensors_close(got[i], expected[i], rel_tol)) << "output " << i << " (algorithm " << algorithm << ")";
  return err;
}

std::string vulkan_node_detail(const Graph& graph, const std::string& name, const std::string& algorithm) {
  const Model model(std::make_shared<Graph>(graph));
  Session s(model, vulkan_options(algorithm));
  for (const NodeProfile& p : s.profile())
    if (p.name == name) return p.detail;
  return "<no node " + name + ">";
}

}  // namespace kiln::test
