// Session::run(inputs, outputs) on the cpu backend allocates nothing: every
// lowering path (each convolution algorithm, residual fusion, layout
// conversions, SIMD pools/activations/binaries/concat/GEMM and the
// reference-kernel fallback) at every ISA level with 1 and 2 threads (and 3 at the best level).
// This binary counts operator new calls (alloc_counter.cpp).
#include <fmt/format.h>

#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/common/alloc_counter.hpp"
#include "tests/cpu/cpu_test_util.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;

// One graph that reaches every kind of step the cpu backend lowers to.
Graph every_path_graph() {
  GraphBuilder b;
  uint32_t seed = 1;
  auto conv = [&](TensorId x, int64_t cout, int32_t k, int32_t stride, int32_t group, fb::FusedActivation a,
                  const std::string& name = {}) {
    const int64_t cin = b.graph().shape(x)[1];
    seed += 2;
    return b.node(O::Conv,
                  {x, b.random_constant(numbered("w", seed), {cout, cin / group, k, k}, seed, -0.5f, 0.5f),
                   b.random_constant(numbered("b", seed), {cout}, seed + 1)},
                  conv_attrs({k, k}, {stride, stride}, {k / 2, k / 2, k / 2, k / 2}, {}, group, a), name);
  };
  const TensorId x = b.input("x", {2, 5, 11, 11});
  const TensorId y = b.input("y", {2, 16, 6, 6});
  TensorId t = conv(x, 16, 3, 1, 1, act(K::Relu));                     // dense 3x3
  t = b.node(O::MaxPool, {t}, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, {}, true));  // [2,16,6,6]
  const TensorId p = conv(t, 16, 1, 1, 1, {});                         // 1x1
  const TensorId r = b.node(O::Add, {p, t}, binary_attrs(act(K::Relu)));  // fused residual
  const TensorId d = conv(r, 16, 3, 1, 16, act(K::HardSwish));           // depthwise
  const TensorId g = conv(d, 16, 5, 2, 2, {});                            // grouped 5x5 stride 2: [2,16,3,3]
  const TensorId s = b.node(O::Sigmoid, {d});
  const TensorId m = b.node(O::Mul, {s, y}, binary_attrs());             // same shape, NHWC with NCHW input
  const TensorId c = b.node(O::Add, {m, b.random_constant("pc", {1, 16, 1, 1}, 90)}, binary_attrs());  // per channel
  const TensorId bc = b.node(O::Sub, {c, b.random_constant("pp", {1, 1, 6, 6}, 91)}, binary_attrs());  // fallback
  const TensorId cat = b.node(O::Concat, {bc, d, r}, concat_attrs(1));    // [2,48,6,6]
  const TensorId ap = b.node(O::AveragePool, {cat}, pool_attrs({2, 2}, {2, 2}, {}, {}, false, false));  // [2,48,3,3]
  const TensorId gp = b.node(O::GlobalAveragePool, {ap});
  const TensorId gm = b.node(O::GlobalMaxPool, {g});
  const TensorId f1 = b.node(O::Flatten, {gp}, flatten_attrs(1));         // [2,48]
  const TensorId f2 = b.node(O::Flatten, {g}, flatten_attrs(1));          // [2,144] with a layout conversion
  const TensorId fc = b.node(O::Gemm, {f1, b.random_constant("fw", {10, 48}, 92), b.random_constant("fb", {10}, 93)},
                             gemm_attrs(1, 1, false, true, act(K::Tanh)));
  const TensorId fc2 = b.node(O::Gemm, {f2, b.random_constant("gw", {144, 10}, 94)}, gemm_attrs(0.5f, 1));  // fallback
  const TensorId sum = b.node(O::Add, {fc, fc2}, binary_attrs());
  b.output(b.node(O::Softmax, {sum}, softmax_attrs(1)));
  b.output(b.node(O::Reshape, {gm}, reshape_attrs({2, 16})));
  b.output(cat);
  return b.build();
}

TEST(CpuRunAllocations, CounterSeesAllocations) {
  const long before = allocation_count();
  void* p = ::operator new(64);  // a direct call: the compiler may not elide it
  ::operator delete(p);
  EXPECT_EQ(allocation_count() - before, 1);
  Session session(Model(std::make_shared<Graph>(every_path_graph())), cpu_options(2));
  EXPECT_GT(allocation_count() - before, 10) << "creating a session allocates";
}

void expect_no_allocations(const Model& model, const SessionOptions& options, const std::vector<Tensor>& inputs,
                           const std::vector<Tensor>& reference) {
  const std::string what = fmt::format("isa '{}', threads {}, algorithm {}", options.cpu.isa, options.threads, options.algorithm);
  Session session(model, options);
  std::vector<Tensor> outputs;
  for (const auto& desc : session.outputs()) outputs.emplace_back(desc.shape);
  session.run(inputs, outputs);  // warm-up
  const long before = allocation_count();
  for (int i = 0; i < 5; ++i) session.run(inputs, outputs);
  const long during = allocation_count() - before;
  EXPECT_EQ(during, 0) << what << ": Session::run(inputs, outputs) allocated " << during << " times in 5 runs";
  // The allocating overload does allocate (so the counter sees the library), with the same results.
  const long before_alloc = allocation_count();
  const std::vector<Tensor> fresh = session.run(inputs);
  EXPECT_GT(allocation_count() - before_alloc, 0);
  EXPECT_TRUE(bitwise_equal(outputs, fresh)) << what;
  for (size_t i = 0; i < outputs.size(); ++i) EXPECT_TRUE(tensors_close(outputs[i], reference[i], 1e-4)) << what;
}

TEST(CpuRunAllocations, RunAllocatesNothingOnEveryPath) {
  const Graph graph = every_path_graph();
  const Model model(std::make_shared<Graph>(graph));
  const std::vector<Tensor> inputs = random_inputs(graph, 17);
  const std::vector<Tensor> reference = run_model(model, reference_options(), inputs);
  for (const std::string& isa : cpu_isa_names())
    for (int threads : {1, 2}) expect_no_allocations(model, cpu_options(threads, isa), inputs, reference);
  expect_no_allocations(model, cpu_options(3), inputs, reference);
}

TEST(CpuRunAllocations, RunAllocatesNothingWithEachFixedAlgorithm) {
  const Graph graph = every_path_graph();
  const Model model(std::make_shared<Graph>(graph));
  const std::vector<Tensor> inputs = random_inputs(graph, 18);
  const std::vector<Tensor> reference = run_model(model, reference_options(), inputs);
  for (const std::string& name : conv_algorithm_names())
    expect_no_allocations(model, cpu_options(2, "", "fixed:" + name), inputs, reference);
}

TEST(CpuRunAllocations, RunAllocatesNothingAfterTuning) {
  const Graph graph = every_path_graph();
  const Model model(std::make_shared<Graph>(graph));
  const std::vector<Tensor> inputs = random_inputs(graph, 19);
  const std::vector<Tensor> reference = run_model(model, reference_options(), inputs);
  TempPath cache("kiln_cpu_alloc_tuning", ".tsv");
  SessionOptions o = cpu_options(2, "", "tune");
  o.tuning_cache = cache.str();
  expect_no_allocations(model, o, inputs, reference);
}

}  // namespace
}  // namespace kiln::test
