// Memory planner: no two tensors that are alive at the same time share bytes,
// except for the two intended kinds of sharing (a reshape-like output aliasing
// its input, and an elementwise node writing over an input read for the last
// time). The lifetimes are recomputed here from the graph, independently of
// the planner.
#include <algorithm>
#include <random>

#include "engine/core/op_info.hpp"
#include "gtest/gtest-spi.h"
#include "engine/runtime/memory_planner.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using O = OpType;

struct Life {
  int write = -1;  // time the tensor's value is written (0: graph inputs, node i: i + 1)
  int last = -1;   // last time it is read (graph outputs: after the last node)
  int node = -1;   // producing node, -1 for inputs
};

std::vector<Life> lifetimes(const Graph& g) {
  std::vector<Life> life(g.tensors.size());
  const int end = static_cast<int>(g.nodes.size()) + 1;
  for (TensorId t : g.inputs) life[t].write = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const int time = static_cast<int>(i) + 1;
    for (TensorId t : g.nodes[i].outputs) {
      life[t].write = time;
      life[t].node = static_cast<int>(i);
    }
    for (TensorId t : g.nodes[i].inputs) life[t].last = std::max(life[t].last, time);
  }
  for (TensorId t : g.outputs) life[t].last = end;
  for (auto& l : life) l.last = std::max(l.last, l.write);
  return life;
}

bool reshape_like(O op) {
  return op == O::Reshape || op == O::Flatten || op == O::Squeeze || op == O::Unsqueeze || op == O::Identity ||
         op == O::Dropout;
}

bool elementwise_compute(O op) {
  switch (op) {
    case O::Relu: case O::Clip: case O::LeakyRelu: case O::Sigmoid: case O::HardSigmoid: case O::HardSwish:
    case O::Tanh: case O::Add: case O::Sub: case O::Mul: case O::Div:
      return true;
    default:
      return false;
  }
}

// The tensor whose bytes `t` shares through a chain of reshape-like nodes
// (itself if it is not such an output).
TensorId alias_root(const Graph& g, const std::vector<Life>& life, TensorId t) {
  while (life[t].node >= 0) {
    const Node& n = g.nodes[static_cast<size_t>(life[t].node)];
    if (!reshape_like(n.op)) break;
    t = n.inputs[0];
  }
  return t;
}

// Checks a plan against the graph; returns how many tensor pairs share bytes.
int check_plan(const Graph& g, const MemoryPlan& plan, const std::function<size_t(TensorId)>& bytes_of,
               size_t alignment) {
  const std::vector<Life> life = lifetimes(g);
  EXPECT_EQ(plan.offsets.size(), g.tensors.size());
  size_t naive = 0;
  std::vector<TensorId> arena;
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    const TensorId t = static_cast<TensorId>(i);
    if (g.tensors[i].is_constant()) {
      EXPECT_EQ(plan.offsets[i], -1) << "constant " << g.tensors[i].name << " placed in the arena";
      continue;
    }
    if (life[t].write < 0) continue;  // unused tensor
    arena.push_back(t);
    naive += (bytes_of(t) + alignment - 1) / alignment * alignment;
    EXPECT_GE(plan.offsets[i], 0) << g.tensors[i].name;
    EXPECT_EQ(plan.offsets[i] % static_cast<int64_t>(alignment), 0) << g.tensors[i].name;
    EXPECT_LE(static_cast<size_t>(plan.offsets[i]) + bytes_of(t), plan.arena_bytes) << g.tensors[i].name;
  }
  EXPECT_EQ(plan.naive_bytes, naive);
  EXPECT_LE(plan.arena_bytes, plan.naive_bytes);

  int shared = 0;
  for (TensorId t : arena)
    for (TensorId u : arena) {
      if (t == u || bytes_of(t) == 0 || bytes_of(u) == 0) continue;
      // Order the pair by write time (ties: both at once, must never share).
      if (life[t].write > life[u].write || (life[t].write == life[u].write && t > u)) continue;
      const int64_t tb = plan.offsets[t], te = tb + static_cast<int64_t>(bytes_of(t));
      const int64_t ub = plan.offsets[u], ue = ub + static_cast<int64_t>(bytes_of(u));
      if (te <= ub || ue <= tb) continue;  // disjoint bytes
      ++shared;
      // u is written while t may still be read...
      if (life[u].write > life[t].last) continue;  // ...no: t is dead by then
      const std::string pair = g.tensors[t].name + " / " + g.tensors[u].name;
      if (life[t].write == life[u].write) {
        ADD_FAILURE() << "written at the same time, overlapping: " << pair;
        continue;
      }
      if (alias_root(g, life, u) == alias_root(g, life, t)) {  // the same data
        EXPECT_EQ(tb, ub) << "an alias must start at the same offset: " << pair;
        continue;
      }
      // In place: u's producer is elementwise, reads t, and this is t's last read.
      const Node& n = g.nodes[static_cast<size_t>(life[u].node)];
      const bool reads_t = std::find(n.inputs.begin(), n.inputs.end(), t) != n.inputs.end();
      EXPECT_TRUE(elementwise_compute(n.op) && reads_t && life[t].last == life[u].write && tb == ub &&
                  bytes_of(t) == bytes_of(u))
          << "live tensors overlap: " << pair << " (t alive " << life[t].write << ".." << life[t].last
          << ", u written at " << life[u].write << " by " << n.name << ")";
    }
  return shared;
}

// Bytes of a tensor of the graph (its dtype's size: all_ops_graph() has uint8 and int8 tensors too).
size_t tensor_bytes(const Graph& g, TensorId t) {
  return static_cast<size_t>(element_count(g.shape(t))) * dtype_size(g.tensor(t).dtype);
}

TEST(MemoryPlanner, ChainReusesMemory) {
  // x -> Conv -> Relu -> Conv -> Relu -> ... : at most a few tensors alive at once.
  GraphBuilder b;
  TensorId t = b.input("x", {1, 8, 16, 16});
  for (int i = 0; i < 6; ++i) {
    const TensorId w = b.random_constant(numbered("w", i), {8, 8, 3, 3}, 10 + i);
    t = b.node(O::Conv, {t, w}, conv_attrs({3, 3}, {}, {1, 1, 1, 1}));
    t = b.node(O::Relu, {t});
  }
  b.output(t);
  const Graph g = b.build();
  const MemoryPlan plan = plan_memory_dense(g);
  const size_t one = 8 * 16 * 16 * 4;
  EXPECT_EQ(plan.naive_bytes, 13 * one);  // input + 12 node outputs
  // Conv cannot write over its input; Relu works in place: two buffers suffice.
  EXPECT_EQ(plan.arena_bytes, 2 * one);
  EXPECT_LT(plan.arena_bytes, plan.naive_bytes);
  EXPECT_GT(check_plan(g, plan, [&](TensorId id) { return tensor_bytes(g, id); }, 64), 0);
}

TEST(MemoryPlanner, ChainWithoutSharingOptionsStillReusesDeadMemory) {
  GraphBuilder b;
  TensorId t = b.input("x", {1, 5, 7});
  for (int i = 0; i < 8; ++i) t = b.node(i % 2 ? O::Sigmoid : O::Tanh, {t});
  b.output(t);
  const Graph g = b.build();
  PlannerOptions options;
  options.allow_alias = false;
  options.allow_in_place = false;
  const MemoryPlan plan = plan_memory_dense(g, options);
  // 35 floats = 140 bytes -> 192 with alignment; two ping-pong buffers.
  EXPECT_EQ(plan.naive_bytes, 9u * 192);
  EXPECT_EQ(plan.arena_bytes, 2u * 192);
  check_plan(g, plan, [&](TensorId id) { return tensor_bytes(g, id); }, 64);
  // Each node's output is disjoint from its input when in-place is off.
  for (const Node& n : g.nodes) EXPECT_NE(plan.offsets[n.inputs[0]], plan.offsets[n.outputs[0]]) << n.name;
}

TEST(MemoryPlanner, AliasAndInPlaceShareOnlyWhenLegal) {
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 6});
  const TensorId r = b.node(O::Reshape, {x}, reshape_attrs({3, 4}), "reshape");
  const TensorId a = b.node(O::Relu, {r}, {}, "relu_after_reshape");  // x is still read later: not in place
  const TensorId s = b.node(O::Sigmoid, {x}, {}, "sigmoid");           // last read of x (and r): may be in place
  const TensorId f = b.node(O::Flatten, {a}, flatten_attrs(1), "flatten");
  b.output(f);
  b.output(s);
  const Graph g = b.build();
  const MemoryPlan plan = plan_memory_dense(g);
  EXPECT_EQ(plan.offsets[r], plan.offsets[x]) << "reshape aliases its input";
  EXPECT_EQ(plan.offsets[f], plan.offsets[a]) << "flatten aliases its input";
  EXPECT_NE(plan.offsets[a], plan.offsets[x]) << "relu must not overwrite x, which sigmoid still reads";
  check_plan(g, plan, [&](TensorId id) { return tensor_bytes(g, id); }, 64);
}

TEST(MemoryPlanner, GraphOutputsAreNeverOverwritten) {
  GraphBuilder b;
  const TensorId x = b.input("x", {4, 4});
  const TensorId r = b.node(O::Relu, {x});
  const TensorId t = b.node(O::Tanh, {r});  // r is a graph output: t may not write over it
  const TensorId s = b.node(O::Sigmoid, {t});
  b.output(r);
  b.output(s);
  const Graph g = b.build();
  const MemoryPlan plan = plan_memory_dense(g);
  EXPECT_NE(plan.offsets[t], plan.offsets[r]);
  EXPECT_NE(plan.offsets[s], plan.offsets[r]);
  check_plan(g, plan, [&](TensorId id) { return tensor_bytes(g, id); }, 64);
}

TEST(MemoryPlanner, AllOpsGraph) {
  const Graph g = all_ops_graph();
  const MemoryPlan plan = plan_memory_dense(g);
  check_plan(g, plan, [&](TensorId id) { return tensor_bytes(g, id); }, 64);
  for (size_t alignment : {16u, 128u}) {
    PlannerOptions o;
    o.alignment = alignment;
    check_plan(g, plan_memory_dense(g, o), [&](TensorId id) { return tensor_bytes(g, id); }, alignment);
  }
}

// A random DAG: every node reads one to three earlier tensors (inputs,
// constants or node outputs). Shapes do not matter to the planner, so each
// tensor gets a random byte size, except that reshape-like outputs keep their
// input's size and elementwise outputs often match an input.
struct RandomDag {
  Graph g;
  std::vector<size_t> bytes;
};

RandomDag random_dag(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  RandomDag d;
  Graph& g = d.g;
  std::vector<TensorId> available;
  const int n_inputs = 1 + static_cast<int>(pick(3));
  for (int i = 0; i < n_inputs; ++i) {
    const TensorId t = g.add_tensor(numbered("in", i), {1});
    g.inputs.push_back(t);
    available.push_back(t);
    d.bytes.push_back(4 * (1 + pick(300)));
  }
  for (int i = 0; i < 2; ++i) {
    available.push_back(g.add_constant(numbered("c", i), {1}, ConstantData::from_floats({1.0f})));
    d.bytes.push_back(4);
  }
  const O ops[] = {O::Relu, O::Sigmoid, O::Add, O::Mul, O::Reshape, O::Flatten, O::Identity,
                   O::Conv, O::Concat, O::Split, O::MatMul, O::Softmax, O::Transpose};
  const int n_nodes = 3 + static_cast<int>(pick(40));
  for (int i = 0; i < n_nodes; ++i) {
    Node n;
    n.name = numbered("n", i);
    n.op = ops[pick(std::size(ops))];
    // Prefer recent tensors so that chains form, but reach back sometimes.
    auto choose = [&] {
      const size_t k = available.size();
      return available[pick(3) ? k - 1 - pick(std::min<size_t>(k, 4)) : pick(k)];
    };
    const int n_in = (n.op == O::Add || n.op == O::Mul || n.op == O::Conv || n.op == O::MatMul) ? 2
                     : n.op == O::Concat                                                     ? 1 + static_cast<int>(pick(3))
                                                                                             : 1;
    for (int k = 0; k < n_in; ++k) n.inputs.push_back(choose());
    const int n_out = n.op == O::Split ? 1 + static_cast<int>(pick(3)) : 1;
    for (int k = 0; k < n_out; ++k) {
      const TensorId out = g.add_tensor(numbered(n.name + "_o", k), {1});
      n.outputs.push_back(out);
      size_t size = 4 * (1 + pick(300));
      const size_t in0 = d.bytes[static_cast<size_t>(n.inputs[0])];
      if (reshape_like(n.op)) size = in0;
      else if (elementwise_compute(n.op) && pick(3)) size = in0;
      if (pick(10) == 0) size = 0;
      if (reshape_like(n.op)) size = in0;
      d.bytes.push_back(size);
      available.push_back(out);
    }
    g.nodes.push_back(std::move(n));
  }
  // Outputs: the last tensor and a few random node outputs.
  g.outputs.push_back(available.back());
  for (int k = 0; k < 2; ++k) {
    const TensorId t = available[pick(available.size())];
    if (!g.tensor(t).is_constant() && !g.is_graph_output(t)) g.outputs.push_back(t);
  }
  return d;
}

TEST(MemoryPlanner, RandomDagsNeverOverlapLiveTensors) {
  int shared_total = 0;
  size_t arena_total = 0, naive_total = 0;
  for (uint32_t seed = 0; seed < 400; ++seed) {
    const RandomDag d = random_dag(seed);
    auto bytes_of = [&](TensorId t) { return d.bytes[static_cast<size_t>(t)]; };
    const MemoryPlan plan = plan_memory(d.g, bytes_of);
    shared_total += check_plan(d.g, plan, bytes_of, 64);
    arena_total += plan.arena_bytes;
    naive_total += plan.naive_bytes;
    PlannerOptions strict;
    strict.allow_alias = false;
    strict.allow_in_place = false;
    check_plan(d.g, plan_memory(d.g, bytes_of, strict), bytes_of, 64);
    if (HasFailure()) {
      ADD_FAILURE() << "seed " << seed;
      return;
    }
  }
  EXPECT_GT(shared_total, 400);  // memory really is reused
  EXPECT_LT(arena_total, naive_total);
}

TEST(MemoryPlanner, WideConcatGetsOneSlotPerLiveBranch) {
  // Every branch output is alive until the Concat, so none may share; the
  // last reader of x (the last Relu) writes over it. The planner once sorted
  // all placed tensors again for each one placed: 5 s for 20k branches.
  constexpr int kBranches = 2000;
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 16});  // 64 bytes: one aligned slot
  std::vector<TensorId> branches;
  for (int i = 0; i < kBranches; ++i) branches.push_back(b.node(O::Relu, {x}));
  b.output(b.node(O::Concat, branches, concat_attrs(1)));
  const Graph g = b.build();
  const MemoryPlan plan = plan_memory_dense(g);
  EXPECT_EQ(plan.arena_bytes, size_t{64} * kBranches * 2);  // the branches, then the Concat's output
  EXPECT_EQ(plan.offsets[branches.back()], plan.offsets[x]);
  check_plan(g, plan, [&](TensorId id) { return tensor_bytes(g, id); }, 64);
}

TEST(MemoryPlanner, CheckerCatchesAnOverlap) {
  // The checker must be able to fail: put two live tensors at the same offset.
  GraphBuilder b;
  const TensorId x = b.input("x", {4});
  const TensorId r = b.node(O::Relu, {x});
  const TensorId s = b.node(O::Sigmoid, {r});
  const TensorId t = b.node(O::Add, {r, s}, binary_attrs());
  b.output(t);
  const Graph g = b.build();
  MemoryPlan plan = plan_memory_dense(g);
  plan.offsets[s] = plan.offsets[r];  // r is still read by Add when s is written
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    check_plan(g, plan, [&](TensorId id) { return tensor_bytes(g, id); }, 64);
  }
  EXPECT_GT(failures.size(), 0);
}

}  // namespace
}  // namespace kiln::test
