#include "tests/cuda/cuda_test_util.hpp"

#include <cmath>

#include "tests/common/test_util.hpp"

namespace kiln::test {

const std::string& cuda_unavailable_reason() {
  static const std::string reason = [] {
    try {
      if (list_devices("cuda").empty()) return std::string("no CUDA device: the cuda backend lists none");
      return std::string();
    } catch (const Error& e) {
      return std::string(e.what());
    }
  }();
  return reason;
}

SessionOptions cuda_options(const std::string& algorithm, bool deterministic) {
  SessionOptions o;
  o.backend = "cuda";
  o.algorithm = algorithm;
  o.deterministic = deterministic ? Determinism::Threads : Determinism::Off;
  return o;
}

double expect_cuda_matches_reference(const Graph& graph, const std::vector<Tensor>& inputs, double rel_tol,
                                     const std::string& algorithm) {
  const Model model(std::make_shared<Graph>(graph));
  Session ref(model, reference_options());
  const std::vector<Tensor> expected = ref.run(inputs);
  Session cuda(model, cuda_options(algorithm));
  const std::vector<Tensor> actual = cuda.run(inputs);
  EXPECT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i)
    EXPECT_TRUE(tensors_close(actual[i], expected[i], rel_tol)) << "output " << i << " with algorithm " << algorithm;
  return max_relative_error_of(actual, expected);
}

void CudaCases::add(const Graph& graph, std::vector<Tensor> inputs, const std::string& what,
                    const std::string& algorithm, const std::string& detail_prefix) {
  Case c;
  c.graph = std::make_shared<Graph>(graph);
  c.inputs = std::move(inputs);
  c.what = what;
  c.algorithm = algorithm;
  c.detail_prefix = detail_prefix;
  try {
    Session ref(Model(c.graph), reference_options());
    c.expected = ref.run(c.inputs);
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": the reference backend failed: " << e.what();
    return;
  }
  cases_.push_back(std::move(c));
}

void CudaCases::compare(double rel_tol) const {
  for (const Case& c : cases_) {
    SCOPED_TRACE(c.what + " [" + c.algorithm + "]");
    try {
      Session cuda(Model(c.graph), cuda_options(c.algorithm));
      const std::vector<Tensor> actual = cuda.run(c.inputs);
      ASSERT_EQ(actual.size(), c.expected.size());
      for (size_t i = 0; i < actual.size(); ++i)
        EXPECT_TRUE(tensors_close(actual[i], c.expected[i], rel_tol)) << "output " << i;
      if (!c.detail_prefix.empty())
        for (const NodeProfile& p : cuda.profile()) {
          if (p.op != "Conv") continue;
          EXPECT_TRUE(p.detail.rfind(c.detail_prefix, 0) == 0 || p.detail.rfind("fused into", 0) == 0)
              << p.name << ": " << p.detail << " (expected " << c.detail_prefix << ")";
        }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cuda backend failed: " << e.what();
    }
  }
}

std::string cuda_node_detail(const Session& session, const std::string& node_name) {
  for (const NodeProfile& p : session.profile())
    if (p.name == node_name) return p.detail;
  ADD_FAILURE() << "no node called " << node_name;
  return {};
}

}  // namespace kiln::test
