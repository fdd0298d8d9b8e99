// Reference copy ops (Identity, Dropout, Reshape, Flatten, Squeeze, Unsqueeze):
// the values stay, the shape changes, and the copy kernel fills a separate output.
#include "kernels/reference/kernels.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/kernels/kernel_util.hpp"

namespace kiln::test {
namespace {

TEST(CopyKernel, ReshapeLikeOpsKeepValuesAndChangeShapes) {
  const Tensor x = random_tensor({2, 1, 3, 1}, 9);
  const std::vector<float> v(x.data(), x.data() + x.size());
  EXPECT_TRUE(values_are(run_node(O::Identity, {x}), {2, 1, 3, 1}, v, 0));
  EXPECT_TRUE(values_are(run_node(O::Dropout, {x}), {2, 1, 3, 1}, v, 0));
  EXPECT_TRUE(values_are(run_node(O::Reshape, {x}, reshape_attrs({3, 2})), {3, 2}, v, 0));
  EXPECT_TRUE(values_are(run_node(O::Flatten, {x}, flatten_attrs(2)), {2, 3}, v, 0));
  EXPECT_TRUE(values_are(run_node(O::Flatten, {x}, flatten_attrs(0)), {1, 6}, v, 0));
  EXPECT_TRUE(values_are(run_node(O::Squeeze, {x}, axes_attrs({1, 3})), {2, 3}, v, 0));
  EXPECT_TRUE(values_are(run_node(O::Unsqueeze, {x}, axes_attrs({0, 5})), {1, 2, 1, 3, 1, 1}, v, 0));
}

TEST(CopyKernel, CopyWritesADistinctOutput) {
  // Called directly with separate buffers, the copy kernel must move the data.
  const Shape s{5};
  const std::vector<float> in{1, 2, 3, 4, 5};
  std::vector<float> out(5, -1);
  Node node;
  node.name = "id";
  node.op = O::Identity;
  const reference::InputView iv[] = {{in.data(), &s}};
  const reference::OutputView ov[] = {{out.data(), &s}};
  reference::kernel_for(O::Identity)(reference::KernelArgs{&node, iv, ov});
  EXPECT_EQ(out, in);
}

}  // namespace
}  // namespace kiln::test
