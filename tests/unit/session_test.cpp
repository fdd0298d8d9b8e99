// kiln::Session: run() into caller-provided outputs allocates nothing, errors
// name the offending input, and profile()/memory() report per node and per arena.
//
// This binary links tests/common/alloc_counter.cpp, which replaces the global
// operator new/delete with counting versions.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "engine/core/graph.hpp"
#include "engine/core/op_info.hpp"
#include "engine/format/kiln_file.hpp"
#include "gmock/gmock.h"
#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "tests/common/alloc_counter.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using O = OpType;
using K = fb::ActivationKind;

long allocations() { return allocation_count(); }

// A second graph for op variants all_ops_graph() does not cover: 1-D and 3-D
// convolutions/pools, depthwise conv, batched MatMul with broadcasting, Gemm
// with a matrix C, Softmax along an inner axis, negative Pad, keepdims ReduceMean.
Graph variety_graph() {
  GraphBuilder b;
  const TensorId x = b.input("img", {2, 6, 7, 5});
  const TensorId v = b.input("vec", {2, 3, 11});
  const TensorId dw = b.random_constant("dw", {6, 1, 3, 3}, 1);
  TensorId t = b.node(O::Conv, {x, dw}, conv_attrs({3, 3}, {1, 2}, {1, 1, 1, 1}, {}, 6, act(K::LeakyRelu, 0.2f)));
  t = b.node(O::BatchNormalization,
             {t, b.random_constant("g", {6}, 2, 0.5f, 1.5f), b.random_constant("be", {6}, 3),
              b.random_constant("m", {6}, 4), b.random_constant("va", {6}, 5, 0.5f, 2.0f)},
             batchnorm_attrs(1e-5f));
  const TensorId u = b.node(O::Unsqueeze, {t}, axes_attrs({2}));  // [2,6,1,7,3]
  const TensorId p3 = b.node(O::AveragePool, {u}, pool_attrs({1, 3, 2}, {1, 2, 1}, {0, 1, 0, 0, 1, 1}, {}, false, false));
  const TensorId gp = b.node(O::GlobalAveragePool, {p3});  // [2,6,1,1,1]
  const TensorId f = b.node(O::Flatten, {gp}, flatten_attrs(1));  // [2,6]
  const TensorId g = b.node(O::Gemm, {f, b.random_constant("gw", {6, 4}, 6), b.random_constant("gc", {2, 4}, 7)},
                            gemm_attrs(1.0f, 0.5f, false, false, act(K::Tanh)));  // [2,4]
  const TensorId c1 = b.node(O::Conv, {v, b.random_constant("w1", {4, 3, 3}, 8), b.random_constant("b1", {4}, 9)},
                             conv_attrs({3}, {2}, {1, 0}, {2}));  // [2,4,4]
  const TensorId mp = b.node(O::MaxPool, {c1}, pool_attrs({2}, {1}, {}, {}, true));  // [2,4,3]
  const TensorId tr = b.node(O::Transpose, {mp}, transpose_attrs({0, 2, 1}));        // [2,3,4]
  const TensorId mm = b.node(O::MatMul, {b.random_constant("mm", {5, 1, 2, 3}, 10), tr});  // [5,2,2,4]
  const TensorId sm = b.node(O::Softmax, {mm}, softmax_attrs(2));
  const TensorId mul = b.node(O::Mul, {sm, g}, binary_attrs());  // [5,2,2,4] * [2,4]
  const TensorId pd = b.node(O::Pad, {mul}, pad_attrs({0, 0, -1, 1, 0, 1, 0, 0}, -2.0f));  // [5,3,1,5]
  const TensorId rm = b.node(O::ReduceMean, {pd}, reduce_attrs({0, 3}, true));               // [1,3,1,1]
  const TensorId sl = b.node(O::Slice, {pd}, slice_attrs({-1, 4}, {-6, 0}, {0, 3}, {-2, -3}));  // [3,3,1,2]
  b.output(rm);
  b.output(sl);
  return b.build();
}

std::vector<Tensor> output_buffers(const Session& s) {
  std::vector<Tensor> outs;
  for (const auto& d : s.outputs()) outs.emplace_back(d.shape);
  return outs;
}

TEST(Session, AllocationCounterWorks) {
  const long before = allocations();
  auto* p = new std::vector<int>(100);
  // Let both allocations escape: the compiler may otherwise elide a new/delete
  // pair whose operators are defined in another translation unit.
  asm volatile("" : : "g"(p), "g"(p->data()) : "memory");
  delete p;
  EXPECT_GE(allocations() - before, 2);  // the vector and its buffer
}

void expect_run_allocates_nothing(const Graph& graph, SessionOptions options = reference_options()) {
  Model model(std::make_shared<Graph>(graph));
  Session session(model, options);  // the cpu backend has its own test (tests/cpu)
  const std::vector<Tensor> inputs = random_inputs(graph, 99);
  std::vector<Tensor> outputs = output_buffers(session);
  session.run(inputs, outputs);  // warm-up
  const std::vector<Tensor> reference = session.run(inputs);

  const long before = allocations();
  for (int i = 0; i < 5; ++i) session.run(inputs, outputs);
  const long during = allocations() - before;
  EXPECT_EQ(during, 0) << "Session::run(inputs, outputs) allocated " << during << " times in 5 runs";

  // The allocating overload does allocate (so the counter sees the library).
  const long before_alloc = allocations();
  const auto fresh = session.run(inputs);
  EXPECT_GT(allocations() - before_alloc, 0);

  ASSERT_EQ(outputs.size(), reference.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    EXPECT_TRUE(tensors_close(outputs[i], reference[i], 0.0)) << "output " << i;
    EXPECT_TRUE(tensors_close(fresh[i], reference[i], 0.0)) << "output " << i;
    bool nonzero = false;
    for (float v : outputs[i].values()) nonzero = nonzero || v != 0.0f;
    EXPECT_TRUE(nonzero) << "output " << i << " is all zeros";
  }
}

TEST(Session, RunAllocatesNothingAllOps) { expect_run_allocates_nothing(all_ops_graph()); }

TEST(Session, RunAllocatesNothingVariety) { expect_run_allocates_nothing(variety_graph()); }

// Float64 accumulation keeps its partial sums in scratch held by the run context.
SessionOptions float64_reference() {
  SessionOptions o = reference_options();
  o.reference.accumulation = ReferencePrecision::Float64;
  return o;
}
TEST(Session, RunAllocatesNothingFloat64Reference) {
  expect_run_allocates_nothing(all_ops_graph(), float64_reference());
  expect_run_allocates_nothing(variety_graph(), float64_reference());
}

// A reference-backend setting is refused elsewhere rather than ignored.
TEST(Session, Float64AccumulationIsReferenceOnly) {
  Model model(std::make_shared<Graph>(variety_graph()));
  // The host backend other than reference (GPU ones may have no device here).
  for (const std::string& backend : available_backends()) {
    if (backend != "cpu") continue;
    SessionOptions o = float64_reference();
    o.backend = backend;
    try {
      Session s(model, o);
      ADD_FAILURE() << backend << " accepted float64 accumulation";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << backend;
      EXPECT_THAT(e.what(), HasSubstr("reference-backend setting; backend '" + backend + "'"));
    }
  }
  EXPECT_NO_THROW(Session(model, float64_reference()));
}

TEST(Session, CApiRunAllocatesNothing) {
  // kiln.h: kiln_session_run allocates nothing when called again with the same buffers.
  const Graph graph = all_ops_graph();
  const std::string path =
      (std::filesystem::temp_directory_path() / numbered("kiln_capi_alloc_", ::getpid())).string() + ".kiln";
  save_graph(graph, path);
  kiln_model* model = nullptr;
  kiln_session* session = nullptr;
  ASSERT_EQ(kiln_model_load(path.c_str(), &model), KILN_OK) << kiln_last_error();
  std::filesystem::remove(path);
  ASSERT_EQ(kiln_session_create(model, "reference", 1, &session), KILN_OK) << kiln_last_error();
  const std::vector<Tensor> inputs = random_inputs(graph, 5);
  std::vector<Tensor> outputs;
  for (TensorId t : graph.outputs) outputs.emplace_back(graph.shape(t));
  std::vector<const float*> in_ptrs{inputs[0].data()};
  std::vector<float*> out_ptrs;
  for (auto& o : outputs) out_ptrs.push_back(o.data());
  ASSERT_EQ(kiln_session_run(session, in_ptrs.data(), out_ptrs.data()), KILN_OK) << kiln_last_error();
  const long before = allocations();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(kiln_session_run(session, in_ptrs.data(), out_ptrs.data()), KILN_OK);
  EXPECT_EQ(allocations() - before, 0) << "kiln_session_run allocated";
  const auto expected = run_graph(graph, inputs);
  for (size_t i = 0; i < outputs.size(); ++i) EXPECT_TRUE(tensors_close(outputs[i], expected[i], 0.0));
  kiln_session_free(session);
  kiln_model_free(model);
}

TEST(Session, WrongInputShapeNamesTheInput) {
  Model model(std::make_shared<Graph>(all_ops_graph()));
  Session session(model);
  std::vector<Tensor> bad{Tensor({1, 4, 9, 8})};
  try {
    session.run(bad);
    ADD_FAILURE() << "ran with a wrong input shape";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_THAT(e.what(), AllOf(HasSubstr("input 'x'"), HasSubstr("[1,4,9,9]"), HasSubstr("[1,4,9,8]")));
  }
  std::vector<Tensor> no_data{Tensor::wrap(nullptr, {1, 4, 9, 9})};
  try {
    session.run(no_data);
    ADD_FAILURE() << "ran with a null input";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("input 'x'"), HasSubstr("no data")));
  }
}

TEST(Session, WrongInputOrOutputCount) {
  Model model(std::make_shared<Graph>(all_ops_graph()));
  Session session(model);
  const std::vector<Tensor> two{Tensor({1, 4, 9, 9}), Tensor({1, 4, 9, 9})};
  try {
    session.run(two);
    ADD_FAILURE() << "ran with two inputs";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_THAT(e.what(), AllOf(HasSubstr("takes 1 inputs"), HasSubstr("got 2")));
  }
  EXPECT_THROW(session.run({}), Error);

  const std::vector<Tensor> inputs = random_inputs(model.graph(), 1);
  std::vector<Tensor> outs = output_buffers(session);
  outs.pop_back();
  try {
    session.run(inputs, outs);
    ADD_FAILURE() << "ran with too few outputs";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("has 4 outputs"), HasSubstr("room for 3")));
  }
  outs = output_buffers(session);
  outs[1] = Tensor({3});
  try {
    session.run(inputs, outs);
    ADD_FAILURE() << "ran with a wrong output shape";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("output '" + session.outputs()[1].name + "'"), HasSubstr("[2]"),
                                HasSubstr("room for [3]")));
  }
}

TEST(Session, UnknownBackendListsTheAvailableOnes) {
  Model model(std::make_shared<Graph>(all_ops_graph()));
  SessionOptions options;
  options.backend = "no-such-backend";
  try {
    Session session(model, options);
    ADD_FAILURE() << "created a session on an unknown backend";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("'no-such-backend'"));
    const auto names = available_backends();
    ASSERT_FALSE(names.empty());
    EXPECT_THAT(e.what(), HasSubstr("reference"));
    for (const auto& n : names) EXPECT_THAT(e.what(), HasSubstr(n));
  }
}

TEST(Session, NegativeThreadsAreAnError) {
  Model model(std::make_shared<Graph>(all_ops_graph()));
  for (const char* backend : {"auto", "reference"}) {
    SessionOptions options;
    options.backend = backend;
    options.threads = -1;
    try {
      Session session(model, options);
      ADD_FAILURE() << "created a session with -1 threads on " << backend;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
      EXPECT_THAT(e.what(), AllOf(HasSubstr("threads"), HasSubstr("-1")));
    }
  }
}

bool cpu_backend_built() {
  const auto names = available_backends();
  return std::find(names.begin(), names.end(), "cpu") != names.end();
}

TEST(Session, DefaultOptionsPickCpuAndEveryCore) {
  const SessionOptions defaults{};
  EXPECT_EQ(defaults.backend, "auto");
  EXPECT_EQ(defaults.threads, 0);
  Model model(std::make_shared<Graph>(variety_graph()));
  Session session(model);
  EXPECT_GE(available_cores(), 1);
  EXPECT_EQ(session.threads(), available_cores());
  if (cpu_backend_built()) {
    EXPECT_EQ(session.backend(), "cpu");
    EXPECT_THAT(session.backend_choice(), HasSubstr("auto"));
  } else {
    EXPECT_EQ(session.backend(), "reference");
    EXPECT_THAT(session.backend_choice(), HasSubstr("no cpu backend"));
  }
  // The default session computes what the reference does.
  const auto inputs = random_inputs(model.graph(), 21);
  const auto got = session.run(inputs);
  const auto want = run_graph(model.graph(), inputs, "reference");
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(tensors_close(got[i], want[i], 1e-4)) << "output " << i;
}

TEST(Session, ThreadsZeroIsEveryCoreOnAnyBackend) {
  Model model(std::make_shared<Graph>(all_ops_graph()));
  SessionOptions options = reference_options();
  options.threads = 0;
  Session session(model, options);
  EXPECT_EQ(session.backend(), "reference");
  EXPECT_EQ(session.backend_choice(), "asked for");
  EXPECT_EQ(session.threads(), available_cores());
  options.threads = 1;
  EXPECT_EQ(Session(model, options).threads(), 1);
}

TEST(Session, AvailableCoresFollowsTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_EQ(available_cores(), CPU_COUNT(&set));
}

TEST(Session, ProfileHasOneEntryPerNode) {
  const Graph graph = all_ops_graph();
  Model model(std::make_shared<Graph>(graph));
  Session session(model);
  session.run(random_inputs(graph, 3));
  const auto profile = session.profile();
  ASSERT_EQ(profile.size(), graph.nodes.size());
  double total = 0;
  for (size_t i = 0; i < profile.size(); ++i) {
    EXPECT_EQ(profile[i].name, graph.nodes[i].name);
    EXPECT_EQ(profile[i].op, std::string(op_name(graph.nodes[i].op)));
    EXPECT_EQ(profile[i].output_shape, graph.shape(graph.nodes[i].outputs[0]));
    EXPECT_GE(profile[i].ms, 0.0);
    total += profile[i].ms;
  }
  EXPECT_GT(total, 0.0);
  // Conv [1,4,9,9] * [6,2,3,3] -> [1,6,5,6]: 180 outputs, 2*3*3 = 18 multiply-adds
  // each (2 FLOPs), plus one bias add each.
  EXPECT_EQ(profile[0].op, "Conv");
  EXPECT_EQ(profile[0].flops, 2 * 180 * 18 + 180);
}

TEST(Session, MemoryReportsArenaWithinNaive) {
  const Graph graph = all_ops_graph();
  Model model(std::make_shared<Graph>(graph));
  Session session(model, reference_options());  // weights as stored (the cpu backend repacks them)
  const MemoryReport m = session.memory();
  size_t naive = 0, weights = 0;
  for (const auto& t : graph.tensors) {
    const size_t bytes = static_cast<size_t>(element_count(t.shape)) * dtype_size(t.dtype);
    if (t.is_constant()) weights += bytes;
    else naive += (bytes + 63) / 64 * 64;
  }
  EXPECT_GT(m.arena_bytes, 0u);
  EXPECT_LE(m.arena_bytes, m.naive_bytes);
  EXPECT_LT(m.arena_bytes, m.naive_bytes);  // a long chain: memory is reused
  EXPECT_EQ(m.naive_bytes, naive);
  EXPECT_EQ(m.weights_bytes, weights);
}

TEST(Session, InputAndOutputIndexByName) {
  const Graph graph = variety_graph();
  Model model(std::make_shared<Graph>(graph));
  Session session(model);
  EXPECT_EQ(session.input_index("img"), 0u);
  EXPECT_EQ(session.input_index("vec"), 1u);
  EXPECT_EQ(session.output_index(graph.tensor(graph.outputs[1]).name), 1u);
  try {
    session.input_index("image");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("'image'"), HasSubstr("img"), HasSubstr("vec")));
  }
  EXPECT_THROW(session.output_index("nope"), Error);
}

TEST(Session, RepeatedAndMovedSessionsGiveTheSameResults) {
  const Graph graph = variety_graph();
  Model model(std::make_shared<Graph>(graph));
  Session first(model);
  const auto inputs = random_inputs(graph, 11);
  const auto a = first.run(inputs);
  Session moved(std::move(first));
  const auto b = moved.run(inputs);
  Session other(model);
  const auto c = other.run(inputs);
  ASSERT_EQ(a.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(tensors_close(b[i], a[i], 0.0));
    EXPECT_TRUE(tensors_close(c[i], a[i], 0.0));
  }
}

}  // namespace
}  // namespace kiln::test
