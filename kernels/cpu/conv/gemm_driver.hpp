#pragma once
// The packed GEMM shared by the 1×1, im2col, im2win and direct convolutions
// and by fully connected layers: C[m][n] = act(Σ_k A[m][k]·B[k][n] + bias[n]
// + residual[m][n]). B (the weights) is packed once into panels of nr
// columns; A is read through row pointers in segments (see MicroTile), so the
// algorithms differ only in where A's rows live.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "kernels/cpu/simd/simd_kernels.hpp"

namespace kiln::cpu {

// B for one group: ceil(n / nr) panels, each k_total rows of nr floats,
// columns past n zero.
class PackedB {
 public:
  PackedB() = default;
  // get(k, j) gives B[k][j] in the order the A rows will present K.
  template <class Get>
  PackedB(int k_total, int n, int nr, Get&& get) : k_total_(k_total), n_(n), nr_(nr) {
    panels_ = (n + nr - 1) / nr;
    data_.assign(static_cast<size_t>(panels_) * k_total * nr, 0.0f);
    for (int p = 0; p < panels_; ++p)
      for (int k = 0; k < k_total; ++k)
        for (int j = 0; j < nr && p * nr + j < n; ++j)
          data_[(static_cast<size_t>(p) * k_total + k) * nr + j] = get(k, p * nr + j);
  }
  const float* panel(int p) const { return data_.data() + static_cast<size_t>(p) * k_total_ * nr_; }
  int panels() const { return panels_; }
  int n() const { return n_; }
  int k_total() const { return k_total_; }
  size_t bytes() const { return data_.size() * sizeof(float); }

 private:
  std::vector<float> data_;
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
// row m's data for segment s (seg_len floats). Rows are processed in
// register tiles; the K loop is blocked so one B micro-panel stays in cache.
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
  const float* ptrs_storage[kMaxPtrs];

  for (int s0 = 0; s0 < p.nseg;) {
    const int ns = std::min({segs_per_block, p.nseg - s0, max_segs});
    for (int chunk = 0; chunk < chunks; ++chunk) {
      const int off = chunk * chunk_len;
      const int len = std::min(chunk_len, p.seg_len - off);
      const bool first = s0 == 0 && chunk == 0;
      const bool last = s0 + ns == p.nseg && chunk == chunks - 1;
      const size_t b_row = static_cast<size_t>(s0) * p.seg_len + off;
      for (int m = m0; m < m1; m += mr) {
        const int rows = std::min(mr, m1 - m);
        for (int s = 0; s < ns; ++s)
          for (int r = 0; r < mr; ++r) ptrs_storage[s * mr + r] = row_ptr(m + std::min(r, rows - 1), s0 + s) + off;
        for (int pi = p0; pi < p1; ++pi) {
          const int col = pi * nr;
          MicroTile t;
          t.a = ptrs_storage;
          t.nseg = ns;
          t.seg_len = len;
          t.b = p.b->panel(pi) + b_row * nr;
          t.c = p.c + static_cast<size_t>(m) * p.ldc + col;
          t.ldc = p.ldc;
          t.m = rows;
          t.n = std::min(nr, p.b->n() - col);
          t.accumulate = !first;
          t.final = last;
          t.bias = p.bias ? p.bias + col : nullptr;
          t.residual = p.residual ? p.residual + static_cast<size_t>(m) * p.ldr + col : nullptr;
          t.ldr = p.ldr;
          t.act = p.act;
          kern.gemm_tile(t);
        }
      }
    }
    s0 += ns;
  }
}

}  // namespace kiln::cpu
