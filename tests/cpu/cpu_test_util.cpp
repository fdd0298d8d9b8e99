#include "tests/cpu/cpu_test_util.hpp"

#include <cmath>
#include <cstring>

#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/isa.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {

std::vector<std::string> cpu_isa_names() {
  std::vector<std::string> names;
  for (cpu::Isa isa : cpu::supported_isas()) names.emplace_back(cpu::isa_name(isa));
  return names;
}

std::string best_cpu_isa() { return cpu::isa_name(cpu::best_isa()); }

std::vector<std::string> conv_algorithm_names() {
  std::vector<std::string> names;
  for (const cpu::ConvAlgorithm* a : cpu::conv_algorithms()) names.emplace_back(a->name());
  return names;
}

SessionOptions cpu_options(int threads, const std::string& isa, const std::string& algorithm, Determinism deterministic) {
  SessionOptions o;
  o.backend = "cpu";
  o.threads = threads;
  o.cpu.isa = isa;
  o.algorithm = algorithm;
  o.deterministic = deterministic;
  return o;
}

std::vector<Tensor> run_model(const Model& model, const SessionOptions& options, const std::vector<Tensor>& inputs) {
  Session session(model, options);
  return session.run(inputs);
}

double expect_cpu_matches_reference(const Graph& graph, const std::vector<Tensor>& inputs, double rel_tol,
                                    const std::string& algorithm, const CpuOptions& cpu) {
  const Model model(std::make_shared<Graph>(graph));
  const std::vector<Tensor> expected = run_model(model, reference_options(), inputs);
  for (const Tensor& e : expected) {
    bool nonzero = false;
    for (float v : e.values()) nonzero = nonzero || v != 0.0f;
    EXPECT_TRUE(nonzero || e.size() == 0) << "test bug: a reference output is all zeros";
  }
  double worst = 0;
  for (const std::string& isa : cpu_isa_names())
    for (int threads : {1, 2}) {
      // A first run on other values leaves other bits in the arena, so that a
      // step reading memory before it is written cannot pass by accident.
      SessionOptions options = cpu_options(threads, isa, algorithm);
      options.cpu.l2_bytes = cpu.l2_bytes;
      Session session(model, options);
      std::vector<Tensor> other;
      for (const Tensor& t : inputs) {
        Tensor o(t.shape());
        for (int64_t k = 0; k < t.size(); ++k) o.data()[k] = -0.75f * t.data()[k];
        other.push_back(std::move(o));
      }
      session.run(other);
      const std::vector<Tensor> got = session.run(inputs);
      if (got.size() != expected.size()) {
        ADD_FAILURE() << got.size() << " outputs, expected " << expected.size() << " (isa " << isa << ")";
        continue;
      }
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_TRUE(tensors_close(got[i], expected[i], rel_tol))
            << "output " << i << " ('" << graph.tensor(graph.outputs[i]).name << "'), isa " << isa << ", threads "
            << threads << ", algorithm " << algorithm;
      }
      worst = std::max(worst, max_relative_error_of(got, expected));
    }
  return worst;
}

std::string node_detail(const Session& session, const std::string& node_name) {
  for (const NodeProfile& p : session.profile())
    if (p.name == node_name) return p.detail;
  ADD_FAILURE() << "no node '" << node_name << "' in the profile";
  return {};
}

}  // namespace kiln::test
