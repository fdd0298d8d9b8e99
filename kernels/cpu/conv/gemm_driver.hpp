#pragma once
// The packed GEMM shared by the 1×1, im2col, im2win and direct convolutions
// and by fully connected layers: C[m][n] = act(Σ_k A[m][k]·B[k][n] + bias[n]
// + residual[m][n]). B (the weights) is packed once into panels of nr
// columns; A is read through row pointers in segments (see MicroTile), so the
// algorithms differ only in where A's rows live.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "engine/runtime/large_alloc.hpp"
#include "kernels/cpu/simd/simd_kernels.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace kiln::cpu {

// B for one group: ceil(n / nr) panels, each k_total rows of nr floats,
// columns past n zero.
class PackedB {
 public:
  PackedB() = default;
  // get(k, j) gives B[k][j] in the order the A rows will present K.
  // With a pool, the panels are packed by its threads. Each panel is written
  // a column at a time within chunks of K rows: a column is read along its
  // weights (contiguous for convolution weights, see strided) and the chunk
  // being written stays in L1. Row by row, each packed row gathered nr floats
  // from nr weight columns, and packing took a sixth of MobileNetV2's session
  // creation and first run.
  template <class Get>
  PackedB(int k_total, int n, int nr, Get&& get, ThreadPool* pool = nullptr) : k_total_(k_total), n_(n), nr_(nr) {
    panels_ = (n + nr - 1) / nr;
    data_.resize(static_cast<size_t>(panels_) * k_total * nr);  // not zeroed: every element is written below
    constexpr int kChunk = 128;
    auto pack = [&](size_t p) {
      float* panel = data_.data() + p * k_total * nr;
      const int col0 = static_cast<int>(p) * nr;
      for (int k0 = 0; k0 < k_total; k0 += kChunk) {
        const int k1 = std::min(k_total, k0 + kChunk);
        for (int j = 0; j < nr; ++j) {
          float* dst = panel + static_cast<size_t>(k0) * nr + j;
          if (col0 + j >= n)
            for (int k = k0; k < k1; ++k, dst += nr) *dst = 0.0f;
          else
            for (int k = k0; k < k1; ++k, dst += nr) *dst = get(k, col0 + j);
        }
      }
    };
    if (pool)
      pool->parallel_for(static_cast<size_t>(panels_), pack);
    else
      for (size_t p = 0; p < static_cast<size_t>(panels_); ++p) pack(p);
  }
  // B[k][j] = w[j·col_stride + row_offset(k)]: every convolution's ONNX
  // weights ([K][C/group][KH][KW], a column per output channel) in the row
  // order of the algorithm, row_offset evaluated once per row instead of once
  // per element (its divisions took most of a session's creation).
  template <class RowOffset>
  static PackedB strided(int k_total, int n, int nr, const float* w, size_t col_stride, RowOffset&& row_offset,
                         ThreadPool* pool = nullptr) {
    std::vector<size_t> offsets(static_cast<size_t>(k_total));
    for (int k = 0; k < k_total; ++k) offsets[static_cast<size_t>(k)] = static_cast<size_t>(row_offset(k));
    return PackedB(
        k_total, n, nr,
        [&](int k, int j) { return w[static_cast<size_t>(j) * col_stride + offsets[static_cast<size_t>(k)]]; }, pool);
  }
  const float* panel(int p) const { return data_.data() + static_cast<size_t>(p) * k_total_ * nr_; }
  int panels() const { return panels_; }
  int n() const { return n_; }
  int k_total() const { return k_total_; }
  size_t bytes() const { return data_.size() * sizeof(float); }

 private:
  std::vector<float, LargeAllocator<float>> data_;
  int k_total_ = 0, n_ = 0, nr_ = 1, panels_ = 0;
};

inline size_t bytes_of(const std::vector<PackedB>& v) {
  size_t n = 0;
  for (const PackedB& b : v) n += b.bytes();
  return n;
}

struct GemmProblem {
  int nseg = 1, seg_len = 0;  // K = nseg * seg_len, in B's row order
  const PackedB* b = nullptr;
  const float* bias = nullptr;  // b->n() values, or null
  Activation act;
  float* c = nullptr;  // row m at c + m * ldc
  size_t ldc = 0;
  const float* residual = nullptr;  // row m at residual + m * ldr, or null
  size_t ldr = 0;
};

// Floats of B per K block: a micro-panel of about 32 KiB stays in L1 (or the
// kernel set's fixed block, see SimdKernels::k_block).
inline int gemm_k_block(const SimdKernels& k) { return k.k_block > 0 ? k.k_block : std::max(64, 32768 / (k.nr * 4)); }

// Computes rows [m0, m1) and panels [p0, p1) of C. row_ptr(m, s) points at
// row m's data for segment s (seg_len floats). The loops are blocked like a
// GotoBLAS GEMM: for each K block, rows go in blocks of about 128 KiB of A
// (kept in L2), and within a row block each B micro-panel (one K block of nr
// columns, sized for L1) serves every register tile of the block before the
// next panel is touched. So each B element is fetched from memory once per
// row block — once per call on small layers such as ResNet-50's 7×7 ones,
// whose megabytes of weights the old order (all panels per register tile)
// streamed from L3 once per eight rows.
// The sum over K always runs in the same order, whatever the caller's split
// of rows and panels: results do not depend on the thread count.
template <class RowPtr>
void gemm_rows(const SimdKernels& kern, const GemmProblem& p, int m0, int m1, int p0, int p1, RowPtr&& row_ptr) {
  const int mr = kern.mr, nr = kern.nr;
  const int kc = gemm_k_block(kern);
  // Blocks of whole segments, or chunks of one long segment.
  const int segs_per_block = p.seg_len >= kc ? 1 : std::min(p.nseg, std::max(1, kc / std::max(1, p.seg_len)));
  const int chunks = p.seg_len >= kc ? (p.seg_len + kc - 1) / kc : 1;
  const int chunk_len = (p.seg_len + chunks - 1) / chunks;
  // Segments per block are capped by the widest register tile's row count,
  // not this level's: the cap splits the sum over K, and it must split it in
  // the same places on every level.
  constexpr int kMaxPtrs = 1024, kMaxMR = 8;
  const int max_segs = kMaxPtrs / kMaxMR;
  // Row pointers of every tile of a row block (8 KiB of stack: the fused
  // chains call this once per image row, and sanitizer builds poison and
  // unpoison the whole array on every call).
  constexpr int kBlockPtrs = 1024;
  const float* ptrs_storage[kBlockPtrs];

  for (int s0 = 0; s0 < p.nseg;) {
    const int ns = std::min({segs_per_block, p.nseg - s0, max_segs});
    const int block_k = ns * std::min(chunk_len, p.seg_len);
    const int tiles_by_l2 = std::max(1, (128 * 1024 / 4) / std::max(1, block_k) / mr);
    const int tiles_per_block = std::max(1, std::min(tiles_by_l2, kBlockPtrs / (ns * mr)));
    for (int chunk = 0; chunk < chunks; ++chunk) {
      const int off = chunk * chunk_len;
      const int len = std::min(chunk_len, p.seg_len - off);
      const bool first = s0 == 0 && chunk == 0;
      const bool last = s0 + ns == p.nseg && chunk == chunks - 1;
      const size_t b_row = static_cast<size_t>(s0) * p.seg_len + off;
      for (int mb = m0; mb < m1; mb += tiles_per_block * mr) {
        const int mb_end = std::min(m1, mb + tiles_per_block * mr);
        const int tiles = (mb_end - mb + mr - 1) / mr;
        for (int t = 0; t < tiles; ++t) {
          const int m = mb + t * mr, rows = std::min(mr, mb_end - m);
          const float** ptrs = ptrs_storage + static_cast<size_t>(t) * ns * mr;
          for (int s = 0; s < ns; ++s)
            for (int r = 0; r < mr; ++r) ptrs[s * mr + r] = row_ptr(m + std::min(r, rows - 1), s0 + s) + off;
        }
        // The micro-panel after this one, prefetched a slice per tile.
        const size_t panel_floats = static_cast<size_t>(ns) * len * nr;
        const float* after_block = nullptr;
        if (mb_end < m1) after_block = p.b->panel(p0) + b_row * nr;
        else if (chunk + 1 < chunks) after_block = p.b->panel(p0) + (b_row + chunk_len) * nr;
        else if (s0 + ns < p.nseg) after_block = p.b->panel(p0) + static_cast<size_t>(s0 + ns) * p.seg_len * nr;
        for (int pi = p0; pi < p1; ++pi) {
          const int col = pi * nr;
          const float* next = pi + 1 < p1 ? p.b->panel(pi + 1) + b_row * nr : after_block;
          const size_t next_floats = pi + 1 < p1 || !after_block ? panel_floats : std::min(panel_floats, size_t{4096});
          const size_t slice = (next_floats / nr + tiles - 1) / tiles * nr;
          for (int t = 0; t < tiles; ++t) {
            const int m = mb + t * mr;
            MicroTile tile;
            tile.a = ptrs_storage + static_cast<size_t>(t) * ns * mr;
            tile.nseg = ns;
            tile.seg_len = len;
            tile.b = p.b->panel(pi) + b_row * nr;
            tile.c = p.c + static_cast<size_t>(m) * p.ldc + col;
            tile.ldc = p.ldc;
            tile.m = std::min(mr, mb_end - m);
            tile.n = std::min(nr, p.b->n() - col);
            tile.accumulate = !first;
            tile.final = last;
            tile.bias = p.bias ? p.bias + col : nullptr;
            tile.residual = p.residual ? p.residual + static_cast<size_t>(m) * p.ldr + col : nullptr;
            tile.ldr = p.ldr;
            tile.act = p.act;
            if (next) {
              tile.prefetch = next + std::min(next_floats, t * slice);
              tile.prefetch_end = next + std::min(next_floats, (t + 1) * slice);
            }
            kern.gemm_tile(tile);
          }
        }
      }
    }
    s0 += ns;
  }
}

}  // namespace kiln::cpu
