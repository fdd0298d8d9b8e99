#include "kernels/cuda/conv/fuse_planner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace kiln::cuda {

DeviceModel h100_model() {
  DeviceModel d;
  d.name = "NVIDIA H100 80GB HBM3 (model)";
  d.sm_count = 132;
  d.smem_per_block = 48 * 1024;
  d.smem_per_sm = 228 * 1024;
  d.max_threads_per_sm = 2048;
  d.bandwidth_gbs = 3350;
  d.fp32_gflops = 67000;
  return d;
}

namespace {

constexpr double kF = sizeof(float);
constexpr int kThreads = 256;  // every kernel of the backend uses 256-thread blocks
constexpr int kChunk = 16;     // channels staged per round in fcm.cu
// Fractions of the FMA peak the kernels reach (assumptions, see
// docs/ARCHITECTURE.md): a library GEMM, the fused kernels' register tiles,
// and the memory-bound depthwise kernels.
constexpr double kLibraryGemmEfficiency = 0.7;
constexpr double kFusedEfficiency = 0.45;
constexpr double kDepthwiseEfficiency = 0.3;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int blocks_per_sm(size_t smem, const DeviceModel& d) {
  int by_threads = std::max(1, d.max_threads_per_sm / kThreads);
  if (smem == 0) return by_threads;
  return std::max(1, std::min<int>(by_threads, static_cast<int>(d.smem_per_sm / smem)));
}

// Roofline time of one kernel, stretched by the share of the GPU its grid keeps busy.
double kernel_ms(double bytes, double flops, double efficiency, double blocks, int per_sm, const DeviceModel& d) {
  const double mem = bytes / (d.bandwidth_gbs * 1e9);
  const double compute = flops / (d.fp32_gflops * 1e9 * efficiency);
  const double eff = std::max(wave_efficiency(blocks, per_sm, d.sm_count), 1e-3);
  return (std::max(mem, compute) / eff) * 1e3 + d.launch_us * 1e-3;
}

FusionCost add(FusionCost a, const FusionCost& b) {
  a.bytes += b.bytes;
  a.flops += b.flops;
  a.blocks += b.blocks;
  a.ms += b.ms;
  return a;
}

int halo_extent(int tile, int stride, int kernel, int dilation) {
  return (tile - 1) * stride + (kernel - 1) * dilation + 1;
}

// Input elements per channel that a tile of `tile_p` consecutive output
// pixels (whole rows when tile_p >= OW, part of one or two rows otherwise)
// reads: its rows and columns widened by the kernel's halo.
double tile_input_per_channel(const ConvGeometry& dw, int64_t tile_p) {
  const int64_t rows = std::min<int64_t>(dw.OH, (tile_p + dw.OW - 1) / dw.OW + (tile_p % dw.OW ? 1 : 0));
  const int64_t cols = std::min<int64_t>(dw.OW, tile_p);
  return static_cast<double>(std::min(dw.H, halo_extent(static_cast<int>(rows), dw.sh, dw.KH, dw.dh))) *
         std::min(dw.W, halo_extent(static_cast<int>(cols), dw.sw, dw.KW, dw.dw));
}

// The depthwise layer alone (conv.cu's depthwise kernel: one thread per
// output, 256 consecutive pixels of one channel per block, the input rows
// they need read through the cache once per block).
FusionCost separate_depthwise(const ConvGeometry& s, const DeviceModel& d) {
  FusionCost c;
  const int64_t P = int64_t{s.OH} * s.OW;
  const double tiles = static_cast<double>(s.N) * s.C * ceil_div(P, kThreads);
  c.bytes = (tiles * tile_input_per_channel(s, std::min<int64_t>(P, kThreads)) + static_cast<double>(s.output_elems()) +
             static_cast<double>(s.weight_elems())) *
            kF;
  c.flops = 2.0 * static_cast<double>(s.macs());
  c.blocks = std::ceil(static_cast<double>(s.output_elems()) / kThreads);
  c.ms = kernel_ms(c.bytes, c.flops, kDepthwiseEfficiency, c.blocks, blocks_per_sm(0, d), d);
  return c;
}

// A 1x1 layer as a library GEMM with 128-pixel x 64-channel tiles: the input
// is read once per 64 output channels and the weights once per 128 pixels,
// as the fused kernels' re-reads are counted.
FusionCost separate_pointwise(const ConvGeometry& s, const DeviceModel& d) {
  FusionCost c;
  const int64_t P = int64_t{s.OH} * s.OW;
  const double channel_tiles = static_cast<double>(ceil_div(s.K, 64));
  const double pixel_tiles = static_cast<double>(s.N * ceil_div(P, 128));
  c.bytes = (static_cast<double>(s.input_elems()) * channel_tiles + static_cast<double>(s.output_elems()) +
             static_cast<double>(s.weight_elems()) * pixel_tiles) *
            kF;
  c.flops = 2.0 * static_cast<double>(s.macs());
  c.blocks = pixel_tiles * channel_tiles;
  c.ms = kernel_ms(c.bytes, c.flops, kLibraryGemmEfficiency, c.blocks, 2, d);
  return c;
}

}  // namespace

double wave_efficiency(double blocks, int per_sm, int sm_count) {
  if (blocks <= 0 || sm_count <= 0) return 0;
  // One wave: busy SMs over all SMs (a lone block on an SM still uses most of it).
  const double slots = static_cast<double>(sm_count) * std::max(per_sm, 1);
  if (blocks <= slots) return std::min(1.0, blocks / sm_count);
  const double waves = std::ceil(blocks / slots);
  return blocks / (waves * slots);
}

bool dw_pw_applicable(const ConvGeometry& dw, const ConvGeometry& pw) {
  return dw.is_depthwise() && dw.is_planar() && pw.is_pointwise_stride1() && pw.is_dense() && pw.is_planar() &&
         pw.C == dw.K && pw.N == dw.N && pw.H == dw.OH && pw.W == dw.OW;
}

bool pw_dw_applicable(const ConvGeometry& pw, const ConvGeometry& dw) {
  return pw.is_pointwise_stride1() && pw.is_dense() && pw.is_planar() && dw.is_depthwise() && dw.is_planar() &&
         dw.C == pw.K && pw.N == dw.N && dw.H == pw.OH && dw.W == pw.OW;
}

const std::vector<FcmDwPwTile>& fcm_dw_pw_tiles() {
  static const std::vector<FcmDwPwTile> tiles = {{32, 32}, {32, 64}, {64, 32}, {64, 64}, {128, 32}, {128, 64}};
  return tiles;
}

size_t dw_pw_smem_bytes(const FcmDwPwTile& t) {
  return static_cast<size_t>(kChunk) * static_cast<size_t>(t.tile_p + t.tile_k) * sizeof(float);
}

int pw_dw_values(const FcmPwDwTile& t, const ConvGeometry& dw) {
  return t.tile_m * halo_extent(t.tile_h, dw.sh, dw.KH, dw.dh) * halo_extent(t.tile_w, dw.sw, dw.KW, dw.dw);
}

size_t pw_dw_smem_bytes(const FcmPwDwTile& t, const ConvGeometry& dw) {
  const size_t hp = static_cast<size_t>(halo_extent(t.tile_h, dw.sh, dw.KH, dw.dh)) *
                    static_cast<size_t>(halo_extent(t.tile_w, dw.sw, dw.KW, dw.dw));
  return (static_cast<size_t>(t.tile_m) * hp + kChunk * hp + kChunk * static_cast<size_t>(t.tile_m)) * sizeof(float);
}

DwPwPlan plan_dw_pw(const ConvGeometry& dw, const ConvGeometry& pw, const DeviceModel& d) {
  DwPwPlan plan;
  if (!dw_pw_applicable(dw, pw)) {
    plan.why = "not a depthwise -> 1x1 pair";
    return plan;
  }
  plan.applicable = true;
  plan.separate = add(separate_depthwise(dw, d), separate_pointwise(pw, d));
  const int64_t P = int64_t{dw.OH} * dw.OW;
  const int K = pw.K, C = dw.C;
  bool found = false;
  for (const FcmDwPwTile& t : fcm_dw_pw_tiles()) {
    const size_t smem = dw_pw_smem_bytes(t);
    if (smem > d.smem_per_block) continue;
    const int64_t kt = ceil_div(K, t.tile_k), pt = ceil_div(P, t.tile_p);
    const double halo = tile_input_per_channel(dw, t.tile_p);
    FusionCost f;
    f.blocks = static_cast<double>(dw.N * pt * kt);
    f.bytes = (f.blocks * C * halo +  // input, once per output-channel tile
               f.blocks * (static_cast<double>(C) * t.tile_k + static_cast<double>(C) * dw.KH * dw.KW) +  // weights
               static_cast<double>(pw.output_elems())) *
              kF;
    // The depthwise is recomputed for every output-channel tile; padded tiles compute zeros.
    f.flops = 2.0 * static_cast<double>(dw.N * pt * t.tile_p) * C * (kt * dw.KH * dw.KW + kt * t.tile_k);
    f.ms = kernel_ms(f.bytes, f.flops, kFusedEfficiency, f.blocks, blocks_per_sm(smem, d), d);
    if (!found || f.ms < plan.fused.ms) {
      plan.fused = f;
      plan.tile = t;
      plan.smem_bytes = smem;
      found = true;
    }
  }
  if (!found) {
    plan.why = "no tile fits the shared memory";
    return plan;
  }
  plan.fuse = plan.fused.ms < plan.separate.ms;
  plan.why = fmt::format("dw->pw tile {}px x {}ch: fused {:.1f} KB, {:.4f} ms vs separate {:.1f} KB, {:.4f} ms",
                         plan.tile.tile_p, plan.tile.tile_k, plan.fused.bytes / 1024, plan.fused.ms,
                         plan.separate.bytes / 1024, plan.separate.ms);
  return plan;
}

PwDwPlan plan_pw_dw(const ConvGeometry& pw, const ConvGeometry& dw, const DeviceModel& d) {
  PwDwPlan plan;
  if (!pw_dw_applicable(pw, dw)) {
    plan.why = "not a 1x1 -> depthwise pair";
    return plan;
  }
  plan.applicable = true;
  plan.separate = add(separate_pointwise(pw, d), separate_depthwise(dw, d));
  const int M = dw.C, C = pw.C;
  bool found = false;
  for (int th : {4, 8, 16})
    for (int tw : {4, 8, 16, 32})
      for (int tm : {4, 8, 16, 32, 64}) {
        const FcmPwDwTile t{th, tw, tm};
        if (pw_dw_values(t, dw) > kPwDwMaxValues) continue;
        const size_t smem = pw_dw_smem_bytes(t, dw);
        if (smem > d.smem_per_block) continue;
        const int64_t tiles = ceil_div(dw.OH, th) * ceil_div(dw.OW, tw);
        const int64_t mt = ceil_div(M, tm);
        const double hp =
            static_cast<double>(halo_extent(th, dw.sh, dw.KH, dw.dh)) * halo_extent(tw, dw.sw, dw.KW, dw.dw);
        FusionCost f;
        f.blocks = static_cast<double>(dw.N * tiles * mt);
        f.bytes = (f.blocks * C * hp +                                                                   // input halo
                   f.blocks * (static_cast<double>(C) * tm + static_cast<double>(tm) * dw.KH * dw.KW) +  // weights
                   static_cast<double>(dw.output_elems())) *
                  kF;
        // The pointwise is recomputed on every halo pixel that neighbouring tiles share.
        f.flops = 2.0 * f.blocks * hp * C * tm + 2.0 * f.blocks * th * tw * tm * dw.KH * dw.KW;
        f.ms = kernel_ms(f.bytes, f.flops, kFusedEfficiency, f.blocks, blocks_per_sm(smem, d), d);
        if (!found || f.ms < plan.fused.ms) {
          plan.fused = f;
          plan.tile = t;
          plan.smem_bytes = smem;
          found = true;
        }
      }
  if (!found) {
    plan.why = "no tile fits the shared memory";
    return plan;
  }
  plan.fuse = plan.fused.ms < plan.separate.ms;
  plan.why = fmt::format("pw->dw tile {}x{}px x {}ch: fused {:.1f} KB, {:.4f} ms vs separate {:.1f} KB, {:.4f} ms",
                         plan.tile.tile_h, plan.tile.tile_w, plan.tile.tile_m, plan.fused.bytes / 1024, plan.fused.ms,
                         plan.separate.bytes / 1024, plan.separate.ms);
  return plan;
}

}  // namespace kiln::cuda
