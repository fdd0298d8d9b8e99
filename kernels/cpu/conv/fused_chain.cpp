#include "kernels/cpu/conv/fused_chain.hpp"

#include <fmt/format.h>

#include "engine/runtime/memory_planner.hpp"
#include "kernels/cpu/conv/conv_common.hpp"

namespace kiln::cpu {
namespace {

bool plain_pointwise(const ConvGeometry& s) { return s.is_pointwise_stride1() && s.is_dense(); }

class ChainKernel final : public ConvKernel {
 public:
  explicit ChainKernel(const ChainLayers& c) : c_(c), d_(c.depthwise.shape) {
    const ConvLayer& dl = c.depthwise;
    dw_w_.resize(static_cast<size_t>(d_.KH) * d_.KW * d_.C);
    for (int ch = 0; ch < d_.C; ++ch)
      for (int kh = 0; kh < d_.KH; ++kh)
        for (int kw = 0; kw < d_.KW; ++kw)
          dw_w_[(static_cast<size_t>(kh) * d_.KW + kw) * d_.C + ch] = onnx_weight(dl, ch, 0, kh, kw);
    if (c.expand) {
      const ConvLayer& e = *c.expand;
      expand_b_ = PackedB::strided(e.shape.C, e.shape.K, e.simd->nr, e.weights, e.shape.C, [](int k) { return k; },
                                   e.prepare_pool);
    }
    if (c.project) {
      const ConvLayer& p = *c.project;
      project_b_ = PackedB::strided(p.shape.C, p.shape.K, p.simd->nr, p.weights, p.shape.C, [](int k) { return k; },
                                    p.prepare_pool);
    }
    span_ = (d_.KH - 1) * d_.dh + 1;
    // Each part starts on a 64-byte boundary: the depthwise row is read with
    // vector loads, and the row-pointer table after it needs pointer alignment
    // (an odd channel count would otherwise leave it 4 bytes off).
    ring_floats_ = c.expand ? align_up(static_cast<size_t>(span_) * d_.W * d_.C, 16) : 0;
    row_floats_ = c.project ? align_up(static_cast<size_t>(d_.OW) * d_.C, 16) : 0;
    const size_t ptrs_floats = (static_cast<size_t>(d_.H) * sizeof(float*) + sizeof(float) - 1) / sizeof(float);
    slot_floats_ = ring_floats_ + row_floats_ + ptrs_floats + 16;
    slots_ = std::make_unique<ScratchSlots>(dl.threads, slot_floats_);
  }

  size_t workspace_bytes() const override { return slots_->bytes(); }

  std::string detail() const override {
    return fmt::format("{}depthwise{} in rows (scratch {} per thread)", c_.expand ? "1x1 -> " : "",
                       c_.project ? " -> 1x1" : "", human_bytes(slot_floats_ * sizeof(float)));
  }

  void run(const ConvRun& r) const override {
    const int bands = std::max(1, c_.depthwise.threads);
    const int rows_per_band = (d_.OH + bands - 1) / bands;
    auto task = [&](size_t t) {
      const int n = static_cast<int>(t) / bands, band = static_cast<int>(t) % bands;
      const int oh0 = band * rows_per_band, oh1 = std::min(d_.OH, oh0 + rows_per_band);
      if (oh0 < oh1) run_band(r, n, oh0, oh1);
    };
    slots_->reset(r.workspace);
    r.pool->parallel_for(static_cast<size_t>(d_.N) * bands, task);
  }

  size_t weight_bytes() const override { return dw_w_.size() * sizeof(float) + expand_b_.bytes() + project_b_.bytes(); }

 private:
  void run_band(const ConvRun& r, int n, int oh0, int oh1) const {
    ScratchSlots::Claim slot(*slots_, r.workspace);
    float* ring = slot.data();
    float* dw_row = ring + ring_floats_;
    auto** rows = reinterpret_cast<const float**>(dw_row + row_floats_);
    const SimdKernels& kern = *c_.depthwise.simd;
    const int Cin = c_.expand ? c_.expand->shape.C : d_.C;
    const float* x = r.x + static_cast<size_t>(n) * d_.H * d_.W * Cin;
    int next = -1;  // expand rows below `next` are in the ring (those still needed)

    for (int oh = oh0; oh < oh1; ++oh) {
      const int first = oh * d_.sh - d_.pt;
      for (int kh = 0; kh < d_.KH; ++kh) {
        const int ih = first + kh * d_.dh;
        if (ih < 0 || ih >= d_.H) continue;
        if (!c_.expand) {
          rows[ih] = x + static_cast<size_t>(ih) * d_.W * d_.C;
          continue;
        }
        if (ih < next) continue;  // computed for an earlier output row
        float* dst = ring + static_cast<size_t>(ih % span_) * d_.W * d_.C;
        expand_row(x + static_cast<size_t>(ih) * d_.W * Cin, dst);
        rows[ih] = dst;
        next = ih + 1;
      }
      DepthwiseArgs a;
      a.x = nullptr;
      a.x_rows = rows;
      a.w = dw_w_.data();
      a.bias = c_.depthwise.bias;
      a.H = d_.H, a.W = d_.W, a.C = d_.C, a.OH = d_.OH, a.OW = d_.OW, a.KH = d_.KH, a.KW = d_.KW;
      a.sh = d_.sh, a.sw = d_.sw, a.dh = d_.dh, a.dw = d_.dw, a.pt = d_.pt, a.pl = d_.pl;
      a.oh_begin = oh;
      a.oh_end = oh + 1;
      a.act = c_.depthwise.act;
      const size_t out_row = (static_cast<size_t>(n) * d_.OH + oh) * d_.OW;
      if (c_.project) {
        a.y = dw_row;
        a.y_first_row = oh;
        kern.depthwise(a);
        project_row(dw_row, r, out_row);
      } else {
        a.y = r.y + out_row * d_.C;
        a.y_first_row = oh;
        if (r.residual) {
          // A residual after a chain without a projection: add it after the depthwise.
          kern.depthwise(a);
          float* y = r.y + out_row * d_.C;
          kern.binary(y, y, r.residual + out_row * d_.C, static_cast<size_t>(d_.OW) * d_.C, BinaryOp::Add, {});
        } else {
          kern.depthwise(a);
        }
      }
    }
  }

  void expand_row(const float* x_row, float* dst) const {
    const ConvLayer& e = *c_.expand;
    GemmProblem p;
    p.seg_len = e.shape.C;
    p.b = &expand_b_;
    p.bias = e.bias;
    p.act = e.act;
    p.c = dst;
    p.ldc = static_cast<size_t>(e.shape.K);
    gemm_rows(*e.simd, p, 0, d_.W, 0, expand_b_.panels(),
              [&](int m, int) { return x_row + static_cast<size_t>(m) * e.shape.C; });
  }

  void project_row(const float* dw_row, const ConvRun& r, size_t out_row) const {
    const ConvLayer& pl = *c_.project;
    const int K = pl.shape.K;
    GemmProblem p;
    p.seg_len = d_.C;
    p.b = &project_b_;
    p.bias = pl.bias;
    p.act = pl.act;
    p.c = r.y + out_row * K;
    p.ldc = static_cast<size_t>(K);
    p.residual = r.residual ? r.residual + out_row * K : nullptr;
    p.ldr = static_cast<size_t>(K);
    gemm_rows(*pl.simd, p, 0, d_.OW, 0, project_b_.panels(),
              [&](int m, int) { return dw_row + static_cast<size_t>(m) * d_.C; });
  }

  ChainLayers c_;
  ConvGeometry d_;
  std::vector<float> dw_w_;
  PackedB expand_b_, project_b_;
  int span_ = 1;
  size_t ring_floats_ = 0, row_floats_ = 0, slot_floats_ = 0;
  std::unique_ptr<ScratchSlots> slots_;
};

}  // namespace

bool chain_applicable(const ChainLayers& c) {
  const ConvGeometry& d = c.depthwise.shape;
  // The ring assumes consecutive input rows (unit vertical dilation).
  if (!d.is_depthwise() || d.dh != 1) return false;
  if (c.expand) {
    const ConvGeometry& e = c.expand->shape;
    if (!plain_pointwise(e) || e.K != d.C || e.OH != d.H || e.OW != d.W || e.N != d.N) return false;
  }
  if (c.project) {
    const ConvGeometry& p = c.project->shape;
    if (!plain_pointwise(p) || p.C != d.K || p.H != d.OH || p.W != d.OW || p.N != d.N) return false;
  }
  return c.expand || c.project;
}

ChainCost chain_cost(const ChainLayers& c, double separate_compute_ms, const MachineModel& m) {
  const ConvGeometry& d = c.depthwise.shape;
  ChainCost cost;
  // Intermediates written by one layer and read back by the next.
  if (c.expand) cost.intermediate_bytes += 4.0 * d.N * d.H * d.W * d.C;
  if (c.project) cost.intermediate_bytes += 4.0 * static_cast<double>(d.output_pixels()) * d.C;
  // Intermediates that fit in L2 come back from it at no cost worth counting
  // (measured with --algorithm tune on MobileNetV2: chains at 14×14 and 7×7,
  // 0.3-0.8 MiB of intermediates, ran 5-10% slower fused than apart; at 56×56
  // and 112×112 fused won by 10-20%). Larger ones travel through L3/DRAM.
  // With several threads the layers apart split their work differently
  // (and tasks go to whichever thread is free), so most of an intermediate
  // is read by another core than the one that wrote it, from its L2 through
  // L3 — MobileNetV2's 14×14 and 7×7 depthwise layers ran slower on two
  // threads than on one. A chain's bands keep their rows on one core.
  const double spilled = cost.intermediate_bytes > m.l2_bytes || m.threads > 1 ? cost.intermediate_bytes : 0.0;
  cost.separate_ms = separate_compute_ms + memory_ms(2 * spilled, m);
  // Fused: each thread's band recomputes the expand rows it shares with the
  // band above; GEMMs of one row (M = W) use the register tiles less well
  // when rows are short.
  const int span = (d.KH - 1) * d.dh + 1;
  const double halo = c.expand ? static_cast<double>(std::max(0, span - d.sh)) * (m.threads - 1) / d.H : 0;
  const double short_rows = std::min(d.W, d.OW) < 16 ? 0.25 : std::min(d.W, d.OW) < 32 ? 0.08 : 0.02;
  cost.fused_ms = separate_compute_ms * (1 + short_rows) + (c.expand ? separate_compute_ms * halo : 0);
  return cost;
}

std::unique_ptr<ConvKernel> prepare_chain(const ChainLayers& c) { return std::make_unique<ChainKernel>(c); }

}  // namespace kiln::cpu
