// residual_after (engine/core/residual.hpp): when a convolution may take the
// Add after it into its epilogue, as the CPU and Vulkan backends do.
#include "engine/core/residual.hpp"

#include <gtest/gtest.h>

#include "tests/common/graph_builder.hpp"

namespace kiln::test {
namespace {

using O = OpType;

struct Net {
  Graph g;
  int conv = -1;
};

// x -> side conv; x -> conv [act] -> Add(conv, other) [-> another reader]
Net net(bool conv_act, bool other_constant, bool second_reader, bool other_after, Shape other_shape = {1, 4, 6, 6}) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 4, 6, 6});
  auto conv = [&](TensorId in, fb::FusedActivation a, const std::string& name) {
    return b.node(O::Conv, {in, b.random_constant(name + "_w", {4, 4, 3, 3}, 1)},
                  conv_attrs({3, 3}, {1, 1}, {1, 1, 1, 1}, {}, 1, a), name);
  };
  TensorId other = -1;
  if (other_constant)
    other = b.random_constant("c", other_shape, 2);
  else if (!other_after)
    other = conv(x, {}, "side");
  const TensorId c = conv(x, conv_act ? act(fb::ActivationKind::Relu) : fb::FusedActivation{}, "conv");
  if (other_after) other = conv(x, {}, "side_after");
  const TensorId sum = b.node(O::Add, {c, other}, binary_attrs(act(fb::ActivationKind::Relu)), "add");
  b.output(sum);
  if (second_reader) b.output(b.node(O::Relu, {c}, {}, "also"));
  Net n{b.build(), -1};
  for (size_t i = 0; i < n.g.nodes.size(); ++i)
    if (n.g.nodes[i].name == "conv") n.conv = static_cast<int>(i);
  return n;
}

ResidualAdd find(const Net& n) { return residual_after(n.g, n.g.consumers(), n.g.producers(), n.conv, n.conv); }

TEST(ResidualAfter, FusesAnAddOfATensorMadeEarlier) {
  const Net n = net(false, false, false, false);
  const ResidualAdd r = find(n);
  ASSERT_TRUE(r);
  EXPECT_EQ(n.g.nodes[static_cast<size_t>(r.add)].name, "add");
  EXPECT_EQ(n.g.tensor(r.residual).name, n.g.tensor(n.g.nodes[0].outputs[0]).name);
}

TEST(ResidualAfter, RefusesWhatCannotMoveIntoTheEpilogue) {
  EXPECT_FALSE(find(net(true, false, false, false))) << "the conv's activation comes before the Add";
  EXPECT_FALSE(find(net(false, true, false, false))) << "a constant operand";
  EXPECT_FALSE(find(net(false, false, true, false))) << "the conv's output has another reader";
  EXPECT_FALSE(find(net(false, false, false, true))) << "the other operand is made after the conv";
  EXPECT_FALSE(find(net(false, true, false, false, {4, 1, 1}))) << "a broadcast operand";
}

TEST(ResidualAfter, TheOtherOperandMustExistBeforeTheFusedStepStarts) {
  const Net n = net(false, false, false, false);
  const int side = 0;  // produced by node 0
  EXPECT_TRUE(residual_after(n.g, n.g.consumers(), n.g.producers(), n.conv, side + 1));
  EXPECT_FALSE(residual_after(n.g, n.g.consumers(), n.g.producers(), n.conv, side));
}

}  // namespace
}  // namespace kiln::test
