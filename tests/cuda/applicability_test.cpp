// Which CUDA convolution algorithms take which shapes (host code: runs on
// every machine). Only the direct algorithm takes 3-D convolutions; the
// others are 2-D.
#include <gtest/gtest.h>

#include "kernels/cuda/conv/conv_algorithm.hpp"

namespace kiln::cuda {
namespace {

TEST(CudaConvApplicability, OnlyDirectTakes3dShapes) {
  ConvGeometry s;
  s.rank = 3, s.N = 2, s.C = 4, s.K = 6, s.group = 2;
  s.D = 6, s.H = 7, s.W = 8, s.OD = 6, s.OH = 3, s.OW = 5;
  s.KD = s.KH = s.KW = 3, s.sh = 2, s.dw = 2, s.pf = s.pl = s.pk = s.pb = 1;
  for (const ConvAlgorithm* a : conv_algorithms())
    EXPECT_EQ(a->applicable(s), std::string(a->name()) == "direct") << a->name();
}

TEST(CudaConvApplicability, DepthwiseTakesAnyChannelMultiplierAndGemm1x1OnlyDenseStride1) {
  ConvGeometry dw;
  dw.C = dw.group = 8, dw.K = 16, dw.H = dw.W = dw.OH = dw.OW = 10, dw.KH = dw.KW = 3,
  dw.pt = dw.pl = dw.pb = dw.pr = 1;
  EXPECT_TRUE(find_conv_algorithm("depthwise")->applicable(dw));
  ConvGeometry pw;
  pw.C = 8, pw.K = 16, pw.H = pw.W = pw.OH = pw.OW = 10;
  EXPECT_TRUE(find_conv_algorithm("gemm1x1")->applicable(pw));
  pw.group = 2;
  EXPECT_FALSE(find_conv_algorithm("gemm1x1")->applicable(pw));
  pw.group = 1, pw.sh = pw.sw = 2, pw.OH = pw.OW = 5;
  EXPECT_FALSE(find_conv_algorithm("gemm1x1")->applicable(pw));
}

}  // namespace
}  // namespace kiln::cuda
