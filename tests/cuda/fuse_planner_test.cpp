// The FusePlanner-style cost model (kernels/cuda/fuse_planner.cpp) is host
// code: these tests run on every machine, GPU or not. They check its
// decisions on MobileNetV2's depthwise/pointwise pairs for an H100 and how
// they move with the SM count and the shared memory.
#include <gtest/gtest.h>

#include "kernels/cuda/conv/fuse_planner.hpp"

namespace kiln::cuda {
namespace {

// A depthwise 3x3 layer (pad 1) and 1x1 layers around it, batch n.
ConvGeometry dw3x3(int n, int c, int hw, int stride) {
  ConvGeometry s;
  s.N = n, s.C = c, s.K = c, s.H = s.W = hw, s.KH = s.KW = 3, s.sh = s.sw = stride;
  s.pt = s.pl = s.pb = s.pr = 1;
  s.group = c;
  s.OH = s.OW = (hw + 2 - 3) / stride + 1;
  return s;
}

ConvGeometry pw(int n, int c, int k, int hw) {
  ConvGeometry s;
  s.N = n, s.C = c, s.K = k, s.H = s.W = s.OH = s.OW = hw;
  return s;
}

// MobileNetV2 (224x224): each inverted-residual block's expand 1x1 (C -> 6C),
// depthwise 3x3 (stride s) and project 1x1 (6C -> K), at its input size.
struct Block {
  int c, expanded, k, hw, stride;
};
const std::vector<Block>& mobilenet_v2_blocks() {
  static const std::vector<Block> b = {
      {32, 32, 16, 112, 1},   {16, 96, 24, 112, 2},  {24, 144, 24, 56, 1},  {24, 144, 32, 56, 2},
      {32, 192, 32, 28, 1},   {32, 192, 64, 28, 2},  {64, 384, 64, 14, 1},  {64, 384, 96, 14, 1},
      {96, 576, 96, 14, 1},   {96, 576, 160, 14, 2}, {160, 960, 160, 7, 1}, {160, 960, 320, 7, 1},
  };
  return b;
}

TEST(FusePlanner, ApplicabilityNeedsADepthwiseAndA1x1OfMatchingShapes) {
  const ConvGeometry dw = dw3x3(1, 32, 112, 1);
  EXPECT_TRUE(dw_pw_applicable(dw, pw(1, 32, 16, 112)));
  EXPECT_FALSE(dw_pw_applicable(dw, pw(1, 16, 16, 112)));   // channel mismatch
  EXPECT_FALSE(dw_pw_applicable(dw, pw(1, 32, 16, 56)));    // spatial mismatch
  ConvGeometry strided = pw(1, 32, 16, 112);
  strided.sh = strided.sw = 2;
  strided.OH = strided.OW = 56;
  EXPECT_FALSE(dw_pw_applicable(dw, strided));  // a strided 1x1 is not a plain GEMM
  ConvGeometry grouped = dw3x3(1, 32, 112, 1);
  grouped.group = 16;  // two input channels per group: not depthwise
  EXPECT_FALSE(dw_pw_applicable(grouped, pw(1, 32, 16, 112)));
  EXPECT_TRUE(pw_dw_applicable(pw(1, 16, 96, 112), dw3x3(1, 96, 112, 2)));
  EXPECT_FALSE(pw_dw_applicable(pw(1, 16, 96, 112), dw3x3(1, 96, 56, 1)));
}

TEST(FusePlanner, ChosenTilesFitTheSharedMemoryAndTheKernelLimits) {
  const DeviceModel d = h100_model();
  for (const Block& b : mobilenet_v2_blocks()) {
    for (int n : {1, 32}) {
      const ConvGeometry e = pw(n, b.c, b.expanded, b.hw), dw = dw3x3(n, b.expanded, b.hw, b.stride);
      const ConvGeometry p = pw(n, b.expanded, b.k, dw.OH);
      const DwPwPlan a = plan_dw_pw(dw, p, d);
      ASSERT_TRUE(a.applicable);
      EXPECT_LE(a.smem_bytes, d.smem_per_block);
      EXPECT_EQ(a.smem_bytes, dw_pw_smem_bytes(a.tile));
      const PwDwPlan c = plan_pw_dw(e, dw, d);
      ASSERT_TRUE(c.applicable);
      EXPECT_LE(c.smem_bytes, d.smem_per_block);
      EXPECT_LE(pw_dw_values(c.tile, dw), kPwDwMaxValues);
      EXPECT_GT(c.fused.bytes, 0);
      EXPECT_GT(c.separate.bytes, 0);
    }
  }
}

TEST(FusePlanner, DecisionsFollowTheEstimatesAndBatchOneFusesMore) {
  // Fusing removes the intermediate's write and read-back and one launch, but
  // recomputes the depthwise per channel tile (or the pointwise on the halo)
  // and re-reads weights per block. At batch 1 the separate kernels' small
  // grids leave SMs idle, so the planner fuses more pairs than at batch 32.
  const DeviceModel d = h100_model();
  int fused[2] = {0, 0};
  for (int bi = 0; bi < 2; ++bi) {
    const int n = bi == 0 ? 1 : 32;
    for (const Block& b : mobilenet_v2_blocks()) {
      const ConvGeometry dw = dw3x3(n, b.expanded, b.hw, b.stride);
      const DwPwPlan a = plan_dw_pw(dw, pw(n, b.expanded, b.k, dw.OH), d);
      const PwDwPlan c = plan_pw_dw(pw(n, b.c, b.expanded, b.hw), dw, d);
      EXPECT_EQ(a.fuse, a.fused.ms < a.separate.ms) << a.why;
      EXPECT_EQ(c.fuse, c.fused.ms < c.separate.ms) << c.why;
      EXPECT_GE(a.fused.flops, a.separate.flops) << a.why;  // recomputation never saves work
      EXPECT_GE(c.fused.flops, c.separate.flops) << c.why;
      fused[bi] += a.fuse + c.fuse;
    }
  }
  EXPECT_GT(fused[0], fused[1]);
  EXPECT_GE(fused[0], 18);  // of 24 candidate pairs at batch 1
}

TEST(FusePlanner, TheIntermediateIsWhatFusionSaves) {
  // One channel tile (K <= tile_k) and whole-image rows: the fused kernel
  // reads the input once and never writes the depthwise output, so with the
  // same weight traffic it moves exactly the intermediate's write and read less.
  DeviceModel d = h100_model();
  const ConvGeometry dw = dw3x3(8, 64, 8, 1);  // 8x8 pixels: a 64-pixel tile is one image
  const ConvGeometry p = pw(8, 64, 32, 8);
  const DwPwPlan plan = plan_dw_pw(dw, p, d);
  ASSERT_TRUE(plan.applicable);
  EXPECT_LT(plan.fused.bytes, plan.separate.bytes) << plan.why;
}

TEST(FusePlanner, SmallGridsPreferSmallTilesAndBigGridsBigOnes) {
  // 7x7 output at batch 1 has 49 pixels: the tile that keeps the 132 SMs
  // busy is the narrow one; at batch 32 and 112x112 the widest tiles win.
  const DeviceModel d = h100_model();
  const ConvGeometry small = dw3x3(1, 960, 7, 1);
  const DwPwPlan s = plan_dw_pw(small, pw(1, 960, 320, 7), d);
  EXPECT_EQ(s.tile.tile_p, 32) << s.why;
  EXPECT_EQ(s.tile.tile_k, 32) << s.why;
  const ConvGeometry big = dw3x3(32, 32, 112, 1);
  const DwPwPlan bg = plan_dw_pw(big, pw(32, 32, 16, 112), d);
  EXPECT_GE(bg.tile.tile_p, 64) << bg.why;
}

TEST(FusePlanner, FewerSmsMakeTheNarrowTileLessAttractive) {
  // With 8 SMs even a 49-pixel layer fills the GPU with bigger tiles, so the
  // recomputation of the depthwise for every channel tile decides.
  DeviceModel few = h100_model();
  few.sm_count = 8;
  const ConvGeometry dw = dw3x3(1, 960, 7, 1);
  const DwPwPlan plan = plan_dw_pw(dw, pw(1, 960, 320, 7), few);
  EXPECT_GT(plan.tile.tile_k, 32) << plan.why;
}

TEST(FusePlanner, TinySharedMemoryRulesOutTilesOrFusionAltogether) {
  DeviceModel d = h100_model();
  const ConvGeometry dw = dw3x3(1, 144, 56, 1);
  const ConvGeometry e = pw(1, 24, 144, 56), p = pw(1, 144, 24, 56);
  d.smem_per_block = dw_pw_smem_bytes({32, 32});  // only the smallest dw->pw tile fits
  const DwPwPlan a = plan_dw_pw(dw, p, d);
  EXPECT_EQ(a.tile.tile_p, 32);
  EXPECT_EQ(a.tile.tile_k, 32);
  d.smem_per_block = 1024;  // nothing fits
  EXPECT_FALSE(plan_dw_pw(dw, p, d).fuse);
  const PwDwPlan c = plan_pw_dw(e, dw, d);
  EXPECT_FALSE(c.fuse);
  EXPECT_EQ(c.smem_bytes, 0u);
  EXPECT_NE(c.why.find("shared memory"), std::string::npos) << c.why;
}

TEST(FusePlanner, PwDwRecomputesTheHaloSoHugeExpansionsAreNotFused) {
  // A 1x1 with many input channels in front of a strided 7x7 depthwise
  // recomputes the expensive pointwise on a wide halo: not worth fusing.
  const DeviceModel d = h100_model();
  ConvGeometry dw = dw3x3(1, 1024, 28, 2);
  dw.KH = dw.KW = 7;
  dw.pt = dw.pl = dw.pb = dw.pr = 3;
  dw.OH = dw.OW = 14;
  const PwDwPlan plan = plan_pw_dw(pw(1, 1024, 1024, 28), dw, d);
  ASSERT_TRUE(plan.applicable);
  EXPECT_FALSE(plan.fuse) << plan.why;
  EXPECT_GT(plan.fused.flops, plan.separate.flops) << plan.why;
}

TEST(FusePlanner, WaveEfficiency) {
  EXPECT_DOUBLE_EQ(wave_efficiency(132, 8, 132), 1.0);
  EXPECT_DOUBLE_EQ(wave_efficiency(66, 8, 132), 0.5);
  EXPECT_DOUBLE_EQ(wave_efficiency(132 * 8, 8, 132), 1.0);
  EXPECT_NEAR(wave_efficiency(132 * 8 + 1, 8, 132), (132.0 * 8 + 1) / (2 * 132 * 8), 1e-12);
  EXPECT_EQ(wave_efficiency(0, 8, 132), 0);
}

}  // namespace
}  // namespace kiln::cuda
