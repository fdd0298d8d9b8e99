#include "tests/kernels/kernel_util.hpp"

#include <cmath>

#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/naive.hpp"

namespace kiln::test {

std::vector<float> iota(int64_t n, float start, float step) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = start + step * static_cast<float>(i);
  return v;
}

std::vector<int32_t> i32(const std::vector<int64_t>& v) { return {v.begin(), v.end()}; }

Tensor vec(const std::vector<float>& v) { return naive::make({static_cast<int64_t>(v.size())}, v); }

std::vector<Tensor> run_node_n(OpType op, const std::vector<Tensor>& inputs, fb::AttributesUnion attrs,
                               size_t n_outputs) {
  GraphBuilder b;
  std::vector<TensorId> ids;
  for (size_t i = 0; i < inputs.size(); ++i) ids.push_back(b.input(numbered("in", static_cast<int64_t>(i)), inputs[i].shape()));
  for (TensorId t : b.node_n(op, ids, std::move(attrs), n_outputs, "node")) b.output(t);
  return run_graph(b.build(), inputs);
}

Tensor run_node(OpType op, const std::vector<Tensor>& inputs, fb::AttributesUnion attrs) {
  return run_node_n(op, inputs, std::move(attrs), 1).front();
}

::testing::AssertionResult values_are(const Tensor& actual, const Shape& shape, const std::vector<float>& expected,
                                      float tol) {
  if (actual.shape() != shape)
    return ::testing::AssertionFailure() << "shape " << shape_to_string(actual.shape()) << ", expected "
                                         << shape_to_string(shape);
  if (static_cast<int64_t>(expected.size()) != actual.size())
    return ::testing::AssertionFailure() << "test bug: " << expected.size() << " expected values for "
                                         << actual.size() << " elements";
  for (size_t i = 0; i < expected.size(); ++i) {
    const float a = actual.data()[i], e = expected[i];
    const bool ok = std::isnan(e) ? std::isnan(a) : (std::isinf(e) ? a == e : std::abs(a - e) <= tol);
    if (!ok) return ::testing::AssertionFailure() << "element " << i << " is " << a << ", expected " << e;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult close_to(const Tensor& actual, const Tensor& reference, double rel) {
  bool any_nonzero = false;
  for (float v : reference.values()) any_nonzero = any_nonzero || v != 0.0f;
  if (!any_nonzero && reference.size() > 0)
    return ::testing::AssertionFailure() << "test bug: the reference is all zeros";
  return tensors_close(actual, reference, rel);
}

fb::FusedActivation random_activation(std::mt19937& rng) {
  switch (rng() % 8) {
    case 0: return act(fb::ActivationKind::Relu);
    case 1: return act(fb::ActivationKind::Clip, -0.5f, 0.7f);
    case 2: return act(fb::ActivationKind::LeakyRelu, 0.13f);
    case 3: return act(fb::ActivationKind::Sigmoid);
    case 4: return act(fb::ActivationKind::HardSigmoid, 0.25f, 0.4f);
    case 5: return act(fb::ActivationKind::HardSwish);
    case 6: return act(fb::ActivationKind::Tanh);
    default: return act(fb::ActivationKind::None);
  }
}

}  // namespace kiln::test
