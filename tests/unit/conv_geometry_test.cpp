// The one convolution geometry (engine/core/conv_geometry.hpp) every backend
// uses: built from a node (1-, 2- and 3-D, through make_window), its element
// counts (which size weight uploads and tuning buffers, so they must cover
// the depth axis), its named predicates, and the tuning-cache key.
#include <gtest/gtest.h>

#include "engine/core/spatial.hpp"
#include "tests/common/graph_builder.hpp"

namespace kiln::test {
namespace {

// x [2, 4, 6, 7, 8], w [6, 2, 3, 3, 3] (group 2), stride (1, 2, 1), pads
// (1, 0, 1 | 1, 1, 0), dilation (1, 1, 2).
ConvGeometry conv3d() {
  GraphBuilder b;
  const TensorId x = b.input("x", {2, 4, 6, 7, 8});
  const TensorId w = b.random_constant("w", {6, 2, 3, 3, 3}, 1);
  b.output(b.node(OpType::Conv, {x, w}, conv_attrs({3, 3, 3}, {1, 2, 1}, {1, 0, 1, 1, 1, 0}, {1, 1, 2}, 2)));
  const Graph g = b.build();
  return conv_geometry(g, g.nodes[0]);
}

TEST(ConvGeometry, FromA3dNode) {
  const ConvGeometry s = conv3d();
  EXPECT_EQ(s.rank, 3);
  EXPECT_EQ(s.N, 2);
  EXPECT_EQ(s.C, 4);
  EXPECT_EQ(s.K, 6);
  EXPECT_EQ(s.group, 2);
  EXPECT_EQ(s.D, 6);
  EXPECT_EQ(s.H, 7);
  EXPECT_EQ(s.W, 8);
  EXPECT_EQ(s.OD, (6 + 2 - 3) / 1 + 1);
  EXPECT_EQ(s.OH, (7 + 1 - 3) / 2 + 1);
  EXPECT_EQ(s.OW, (8 + 1 - 5) / 1 + 1);
  EXPECT_EQ(s.KD, 3);
  EXPECT_EQ(s.KH, 3);
  EXPECT_EQ(s.KW, 3);
  EXPECT_EQ(s.sd, 1);
  EXPECT_EQ(s.sh, 2);
  EXPECT_EQ(s.sw, 1);
  EXPECT_EQ(s.dd, 1);
  EXPECT_EQ(s.dh, 1);
  EXPECT_EQ(s.dw, 2);
  EXPECT_EQ(s.pf, 1);
  EXPECT_EQ(s.pt, 0);
  EXPECT_EQ(s.pl, 1);
  EXPECT_EQ(s.pk, 1);
  EXPECT_EQ(s.pb, 1);
  EXPECT_EQ(s.pr, 0);
  EXPECT_FALSE(s.is_planar());
}

TEST(ConvGeometry, OneAndTwoDimensionalNodesPadWithUnitAxes) {
  GraphBuilder b;
  const TensorId x1 = b.input("x1", {1, 3, 10});
  b.output(b.node(OpType::Conv, {x1, b.random_constant("w1", {5, 3, 4}, 2)}, conv_attrs({4}, {2}, {1, 2})));
  const TensorId x2 = b.input("x2", {1, 3, 9, 10});
  b.output(b.node(OpType::Conv, {x2, b.random_constant("w2", {5, 3, 3, 1}, 3)}, conv_attrs({3, 1})));
  const Graph g = b.build();
  const ConvGeometry a = conv_geometry(g, g.nodes[0]), c = conv_geometry(g, g.nodes[1]);
  EXPECT_EQ(a.rank, 1);
  EXPECT_EQ(a.D, 1);
  EXPECT_EQ(a.H, 1);
  EXPECT_EQ(a.W, 10);
  EXPECT_EQ(a.OH, 1);
  EXPECT_EQ(a.OW, (10 + 3 - 4) / 2 + 1);
  EXPECT_EQ(a.KH, 1);
  EXPECT_EQ(a.KW, 4);
  EXPECT_EQ(a.sw, 2);
  EXPECT_EQ(a.pl, 1);
  EXPECT_EQ(a.pr, 2);
  EXPECT_TRUE(a.is_planar());
  EXPECT_EQ(c.rank, 2);
  EXPECT_EQ(c.OH, 7);
  EXPECT_EQ(c.OW, 10);
  EXPECT_EQ(c.KH, 3);
  EXPECT_EQ(c.KW, 1);
  EXPECT_TRUE(c.is_planar());
}

TEST(ConvGeometry, ElementCountsIncludeTheDepthOf3dConvolutions) {
  const ConvGeometry s = conv3d();
  EXPECT_EQ(s.weight_elems(), 6 * 2 * 3 * 3 * 3);
  EXPECT_EQ(s.input_elems(), 2 * 4 * 6 * 7 * 8);
  EXPECT_EQ(s.output_elems(), 2 * 6 * 6 * 3 * 5);
  EXPECT_EQ(s.macs(), int64_t{2} * 6 * 6 * 3 * 5 * 2 * 3 * 3 * 3);
}

TEST(ConvGeometry, TwoDimensionalCountsAreUnchangedByTheDepthDefaults) {
  ConvGeometry s;
  s.N = 32, s.C = 64, s.H = s.W = 56, s.K = 256, s.OH = s.OW = 56;
  EXPECT_EQ(s.weight_elems(), 256 * 64);
  EXPECT_EQ(s.input_elems(), int64_t{32} * 64 * 56 * 56);
  EXPECT_EQ(s.output_elems(), int64_t{32} * 256 * 56 * 56);
  EXPECT_EQ(s.macs(), int64_t{32} * 256 * 56 * 56 * 64);
  // 64-bit arithmetic: the MACs of a batch-256 ResNet-50 conv1 exceed 2^32.
  ConvGeometry big;
  big.N = 256, big.C = 3, big.H = big.W = 224, big.K = 64, big.OH = big.OW = 112, big.KH = big.KW = 7;
  EXPECT_EQ(big.macs(), int64_t{256} * 64 * 112 * 112 * 3 * 7 * 7);
  EXPECT_GT(big.macs(), int64_t{1} << 32);
}

// Each predicate says exactly one thing; the backends combine them.
TEST(ConvGeometry, NamedPredicates) {
  ConvGeometry dw;
  dw.C = dw.K = dw.group = 32, dw.KH = dw.KW = 3, dw.pt = dw.pl = dw.pb = dw.pr = 1;
  EXPECT_TRUE(dw.is_depthwise());
  EXPECT_TRUE(dw.one_input_channel_per_group());
  EXPECT_FALSE(dw.is_pointwise());
  EXPECT_TRUE(dw.has_symmetric_pads());
  ConvGeometry multiplier2 = dw;
  multiplier2.K = 64;
  EXPECT_FALSE(multiplier2.is_depthwise());
  EXPECT_TRUE(multiplier2.one_input_channel_per_group());
  ConvGeometry pw;
  pw.C = 16, pw.K = 96;
  EXPECT_TRUE(pw.is_pointwise() && pw.is_pointwise_stride1() && pw.is_dense());
  ConvGeometry strided = pw;
  strided.sh = strided.sw = 2;
  EXPECT_TRUE(strided.is_pointwise());
  EXPECT_FALSE(strided.is_pointwise_stride1());
  ConvGeometry padded = pw;
  padded.pr = 1;
  EXPECT_FALSE(padded.is_pointwise());
  EXPECT_FALSE(padded.has_symmetric_pads());
  ConvGeometry grouped = pw;
  grouped.group = 2;
  EXPECT_TRUE(grouped.is_pointwise_stride1());
  EXPECT_FALSE(grouped.is_dense());
  // A 3-D layer whose depth is trivial is planar; one with a real depth axis is not.
  ConvGeometry flat3d = pw;
  flat3d.rank = 3;
  EXPECT_TRUE(flat3d.is_planar());
  flat3d.KD = 3, flat3d.pf = flat3d.pk = 1;
  EXPECT_FALSE(flat3d.is_planar());
  EXPECT_FALSE(flat3d.is_pointwise());
}

TEST(ConvGeometry, KeyNamesTheDepthOfNonPlanarShapesOnly) {
  ConvGeometry s2;
  s2.N = 1, s2.C = 32, s2.H = s2.W = 112, s2.K = 32, s2.OH = s2.OW = 112, s2.KH = s2.KW = 3;
  s2.pt = s2.pl = s2.pb = s2.pr = 1, s2.group = 32;
  EXPECT_EQ(s2.key(), "N1 C32 H112 W112 K32 k3x3 s1x1 d1x1 p1,1,1,1 g32");
  const ConvGeometry a = conv3d();
  EXPECT_EQ(a.key(), "N2 C4 H7 W8 K6 k3x3 s2x1 d1x2 p0,1,1,0 g2 3d D6 kd3 sd1 dd1 pd1,1");
  ConvGeometry b = a;
  b.D = 9, b.OD = 9;
  EXPECT_NE(a.key(), b.key());
  ConvGeometry c = a;
  c.KD = 1, c.OD = 8;
  EXPECT_NE(a.key(), c.key());
}

}  // namespace
}  // namespace kiln::test
