// ConvShape (kernels/cuda/device_model.hpp) is host code: these tests run on
// every machine. The element counts size the weight upload of every
// convolution algorithm and the tuner's buffers, so they must cover the depth
// axis of 3-D convolutions; the tuning-cache key must tell 3-D shapes apart
// and keep the 2-D keys of existing caches unchanged.
#include <gtest/gtest.h>

#include "kernels/cuda/conv/conv_algorithm.hpp"

namespace kiln::cuda {
namespace {

// x [2, 4, 6, 7, 8], w [6, 2, 3, 3, 3] (group 2), stride (1, 2, 1), pads (1, 0, 1 | 1, 1, 0), dilation (1, 1, 2).
ConvShape conv3d() {
  ConvShape s;
  s.N = 2, s.C = 4, s.K = 6, s.group = 2, s.spatial3d = true;
  s.D = 6, s.H = 7, s.W = 8;
  s.KD = 3, s.KH = 3, s.KW = 3;
  s.sd = 1, s.sh = 2, s.sw = 1;
  s.dd = 1, s.dh = 1, s.dw = 2;
  s.pf = 1, s.pt = 0, s.pl = 1, s.pk = 1, s.pb = 1, s.pr = 0;
  s.OD = (6 + 2 - 3) / 1 + 1;      // 6
  s.OH = (7 + 1 - 3) / 2 + 1;      // 3
  s.OW = (8 + 1 - 5) / 1 + 1;      // 5
  return s;
}

TEST(CudaConvShape, ElementCountsIncludeTheDepthOf3dConvolutions) {
  const ConvShape s = conv3d();
  EXPECT_EQ(s.weight_elems(), 6 * 2 * 3 * 3 * 3);
  EXPECT_EQ(s.input_elems(), 2 * 4 * 6 * 7 * 8);
  EXPECT_EQ(s.output_elems(), 2 * 6 * 6 * 3 * 5);
  EXPECT_EQ(s.macs(), int64_t{2} * 6 * 6 * 3 * 5 * 2 * 3 * 3 * 3);
}

TEST(CudaConvShape, TwoDimensionalCountsAreUnchangedByTheDepthDefaults) {
  ConvShape s;
  s.N = 32, s.C = 64, s.H = s.W = 56, s.K = 256, s.OH = s.OW = 56;
  EXPECT_EQ(s.weight_elems(), 256 * 64);
  EXPECT_EQ(s.input_elems(), int64_t{32} * 64 * 56 * 56);
  EXPECT_EQ(s.output_elems(), int64_t{32} * 256 * 56 * 56);
  EXPECT_EQ(s.macs(), int64_t{32} * 256 * 56 * 56 * 64);
  // 64-bit arithmetic: the MACs of a batch-256 ResNet-50 conv1 exceed 2^32.
  ConvShape big;
  big.N = 256, big.C = 3, big.H = big.W = 224, big.K = 64, big.OH = big.OW = 112, big.KH = big.KW = 7;
  EXPECT_EQ(big.macs(), int64_t{256} * 64 * 112 * 112 * 3 * 7 * 7);
  EXPECT_GT(big.macs(), int64_t{1} << 32);
}

TEST(CudaConvShape, KeyNamesTheDepthOf3dShapesOnly) {
  ConvShape s2;
  s2.N = 1, s2.C = 32, s2.H = s2.W = 112, s2.K = 32, s2.OH = s2.OW = 112, s2.KH = s2.KW = 3;
  s2.pt = s2.pl = s2.pb = s2.pr = 1, s2.group = 32;
  EXPECT_EQ(s2.key(), "N1 C32 H112 W112 K32 k3x3 s1x1 d1x1 p1,1,1,1 g32");  // as in existing tuning caches
  const ConvShape a = conv3d();
  EXPECT_EQ(a.key(), "N2 C4 H7 W8 K6 k3x3 s2x1 d1x2 p0,1,1,0 g2 3d D6 kd3 sd1 dd1 pd1,1");
  ConvShape b = a;
  b.D = 9, b.OD = 9;
  EXPECT_NE(a.key(), b.key());
  ConvShape c = a;
  c.KD = 1, c.OD = 8;
  EXPECT_NE(a.key(), c.key());
}

TEST(CudaConvShape, GeometryCarriesTheDepthAxis) {
  const ConvShape s = conv3d();
  const ConvGeometry g = geometry_of(s);
  EXPECT_EQ(g.in[0], 6);
  EXPECT_EQ(g.out[0], 6);
  EXPECT_EQ(g.kernel[0], 3);
  EXPECT_EQ(g.stride[0], 1);
  EXPECT_EQ(g.dilation[0], 1);
  EXPECT_EQ(g.pad[0], 1);
  EXPECT_EQ(g.in[1], 7);
  EXPECT_EQ(g.out[2], 5);
  EXPECT_EQ(g.dilation[2], 2);
  // Only the direct algorithm takes 3-D shapes.
  for (const ConvAlgorithm* a : conv_algorithms())
    EXPECT_EQ(a->applicable(s), std::string(a->name()) == "direct") << a->name();
}

}  // namespace
}  // namespace kiln::cuda
