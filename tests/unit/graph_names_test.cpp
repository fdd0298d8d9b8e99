// Graph::unique_tensor_name: fresh names, the same ones a scan from suffix 1
// gives, whatever way tensors were added, in amortised constant time (it
// rebuilt a set of every name per call, which made creating a CPU session
// for a 20k-branch Concat take minutes).
#include <set>
#include <string>

#include "engine/core/graph.hpp"
#include "gmock/gmock.h"

namespace kiln::test {
namespace {

// The name the original definition gives: base, else the first free base_i.
std::string first_free(const Graph& g, const std::string& base) {
  std::set<std::string> names;
  for (const TensorInfo& t : g.tensors) names.insert(t.name);
  if (!names.count(base)) return base;
  for (int i = 1;; ++i) {
    std::string candidate = base;
    candidate += '_';
    candidate += std::to_string(i);
    if (!names.count(candidate)) return candidate;
  }
}

TEST(UniqueTensorName, FreeBaseThenNumberedSuffixes) {
  Graph g;
  EXPECT_EQ(g.unique_tensor_name("x"), "x");
  g.add_tensor("x");
  EXPECT_EQ(g.unique_tensor_name("x"), "x_1");
  g.add_tensor("x_1");
  EXPECT_EQ(g.unique_tensor_name("x"), "x_2");
  g.add_constant("x_2", {1}, ConstantData::from_floats({1.0f}));
  EXPECT_EQ(g.unique_tensor_name("x"), "x_3");
}

TEST(UniqueTensorName, AnUnusedAnswerIsGivenAgain) {
  Graph g;
  g.add_tensor("w");
  EXPECT_EQ(g.unique_tensor_name("w"), "w_1");
  EXPECT_EQ(g.unique_tensor_name("w"), "w_1");  // not added: still free
}

TEST(UniqueTensorName, SeesTensorsAddedAnyWayAndSkipsTakenSuffixes) {
  Graph g;
  g.add_tensor("a");
  g.add_tensor("a_2");
  EXPECT_EQ(g.unique_tensor_name("a"), "a_1");
  g.add_tensor("a_1");
  // Pushed straight into the vector (as the .kiln reader and lowerings do).
  TensorInfo direct;
  direct.name = "a_3";
  g.tensors.push_back(direct);
  EXPECT_EQ(g.unique_tensor_name("a"), "a_4");
  EXPECT_EQ(g.unique_tensor_name("a_1"), "a_1_1");
}

TEST(UniqueTensorName, NamesFreedByRemovingOrReplacingTensorsAreFreeAgain) {
  Graph g;
  const TensorId x = g.add_tensor("x", {1});
  g.add_tensor("dead");
  g.inputs = {x};
  g.outputs = {x};
  EXPECT_EQ(g.unique_tensor_name("dead"), "dead_1");
  g.remove_unused_tensors();
  EXPECT_EQ(g.unique_tensor_name("dead"), "dead");

  // The vector replaced by one of the same length.
  Graph other;
  other.add_tensor("y");
  g.tensors = other.tensors;
  EXPECT_EQ(g.unique_tensor_name("x"), "x");
  EXPECT_EQ(g.unique_tensor_name("y"), "y_1");
  // And by a shorter one.
  g.add_tensor("z");
  EXPECT_EQ(g.unique_tensor_name("z"), "z_1");
  g.tensors = other.tensors;
  EXPECT_EQ(g.unique_tensor_name("z"), "z");
}

TEST(UniqueTensorName, CopiesKeepTheirOwnNames) {
  Graph g;
  g.add_tensor("t");
  EXPECT_EQ(g.unique_tensor_name("t"), "t_1");
  Graph copy = g;
  copy.add_tensor(copy.unique_tensor_name("t"));
  EXPECT_EQ(copy.unique_tensor_name("t"), "t_2");
  EXPECT_EQ(g.unique_tensor_name("t"), "t_1");
}

TEST(UniqueTensorName, AgreesWithAFullScanOverManyMixedCalls) {
  // Deterministic names matter: lowered graphs and .kiln files carry them.
  Graph g;
  const char* bases[] = {"conv", "conv/nhwc", "conv_1", "relu", "w_bnfold"};
  for (int i = 0; i < 3000; ++i) {
    const std::string base = bases[(i * 7) % 5];
    const std::string want = first_free(g, base);
    const std::string got = g.unique_tensor_name(base);
    ASSERT_EQ(got, want) << "call " << i;
    if (i % 3 != 2) g.add_tensor(got);  // some answers are not used
    // Suffixes taken out of order, behind unique_tensor_name's back.
    const std::string ahead = base + "_" + std::to_string(i / 11 + 2);
    if (i % 11 == 0 && first_free(g, ahead) == ahead) g.add_tensor(ahead);
  }
  std::set<std::string> names;
  for (const TensorInfo& t : g.tensors) names.insert(t.name);
  EXPECT_EQ(names.size(), g.tensors.size()) << "a name was given twice";
}

}  // namespace
}  // namespace kiln::test
