#pragma once
// Pieces shared by the convolution algorithms: weight indexing, per-thread
// scratch slots and the split of a layer into tasks.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/conv/gemm_driver.hpp"

namespace kiln::cpu {

// ONNX weight w[k][c][kh][kw] of a layer (c within the group).
inline float onnx_weight(const ConvLayer& l, int k, int c, int kh, int kw) {
  const ConvGeometry& s = l.shape;
  return l.weights[((static_cast<size_t>(k) * s.cin_per_group() + c) * s.KH + kh) * s.KW + kw];
}

// Scratch for tasks running at the same time: one slot per thread, claimed
// and released around each task (the pool does not tell a task its
// thread). The busy flags live at the start of the run's workspace, beside
// the slots, so that concurrent runs (each with its own workspace) never
// contend for them; the kernel's run() calls reset() before its tasks start,
// as the workspace last held another step's data.
class ScratchSlots {
 public:
  // Slot sizes are rounded up to whole cache lines so that every slot, not
  // only the first, starts 64-byte aligned.
  ScratchSlots(int slots, size_t floats_per_slot)
      : slots_(std::max(1, slots)), floats_((floats_per_slot + 15) / 16 * 16) {}
  size_t bytes() const { return flag_bytes() + static_cast<size_t>(slots_) * floats_ * sizeof(float); }
  void reset(float* workspace) const { std::memset(workspace, 0, flag_bytes()); }

  class Claim {
   public:
    Claim(const ScratchSlots& s, float* workspace) : flags_(reinterpret_cast<uint32_t*>(workspace)) {
      for (;;) {
        for (int i = 0; i < s.slots_; ++i)
          if (std::atomic_ref<uint32_t>(flags_[i]).exchange(1, std::memory_order_acquire) == 0) {
            index_ = i;
            data_ = workspace + s.flag_bytes() / sizeof(float) + static_cast<size_t>(i) * s.floats_;
            return;
          }
      }
    }
    ~Claim() { std::atomic_ref<uint32_t>(flags_[index_]).store(0, std::memory_order_release); }
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;
    float* data() const { return data_; }

   private:
    uint32_t* flags_;
    int index_ = 0;
    float* data_ = nullptr;
  };

 private:
  // Whole cache lines, so that the slots stay 64-byte aligned.
  size_t flag_bytes() const { return (static_cast<size_t>(slots_) * sizeof(uint32_t) + 63) / 64 * 64; }

  int slots_;
  size_t floats_;
};

// Tasks a GEMM is split into for `threads` threads: one for a single
// thread (gemm_rows blocks for the caches itself), else about four per thread
// so that a core taken away by the host does not stall the layer.
inline int64_t gemm_tasks_wanted(int threads) { return threads <= 1 ? 1 : 4 * int64_t{threads}; }

// Rows of C per task for algorithms that copy their A rows into scratch
// (im2col): enough tasks for the threads, whole register tiles, and not so
// many rows that the copy falls out of L2.
inline int rows_per_task(int64_t rows, int mr, int threads, int64_t k_total) {
  const int64_t by_cache = std::max<int64_t>(mr, (256 * 1024 / 4) / std::max<int64_t>(1, k_total) / mr * mr);
  const int64_t row_tasks_wanted = gemm_tasks_wanted(threads);
  const int64_t by_threads = (rows + row_tasks_wanted - 1) / row_tasks_wanted;
  int64_t r = std::min<int64_t>(by_cache, std::max<int64_t>(by_threads, mr));
  r = (r + mr - 1) / mr * mr;
  return static_cast<int>(std::max<int64_t>(r, mr));
}

// Panels of B per task when the rows give `row_tasks` tasks: all of them,
// unless the row tasks are too few for the threads.
inline int panels_per_task(int panels, int64_t row_tasks, int threads) {
  const int64_t wanted = gemm_tasks_wanted(threads);
  if (row_tasks >= wanted) return panels;
  const int64_t p_tasks = std::min<int64_t>(panels, (wanted + row_tasks - 1) / row_tasks);
  return static_cast<int>((panels + p_tasks - 1) / p_tasks);
}

// Panels of B whose K block fits in L2 (Winograd's column groups).
inline int panels_in_l2(const SimdKernels& k, int panels) {
  const int per = std::max(1, (256 * 1024) / (gemm_k_block(k) * k.nr * 4));
  return std::min(panels, per);
}

// The split of a GEMM whose A rows are read in place (1×1, direct): tasks
// cut the operand that is cheaper to read twice. Every row task streams all
// of B, every panel task all of A; so layers whose weights far outweigh their
// input (late 7×7 layers: megabytes of weights, a few hundred KiB of input)
// split the panels alone, and the others the rows first. Rows also keep the
// data on one core: the caller takes tasks from the front and workers from
// the back, so each thread computes the rows it (mostly) wrote in the
// previous layer and the next layer reads from its own L2. With the panels
// alone each thread read all of A, half of it from the other core — on
// MobileNetV2's 14×14 expand layers (B 2-3× A) two row halves each cutting
// the panels made those layers 10-15% faster at two threads and the
// depthwise layers after them 10-20% (their input stayed on its core).
struct GemmSplit {
  int rows, panels;
};
inline GemmSplit split_gemm(int64_t M, int panels, int nr, int mr, int threads, int64_t other_tasks) {
  const int64_t wanted = std::max<int64_t>(1, (gemm_tasks_wanted(threads) + other_tasks - 1) / other_tasks);
  const int64_t tiles = (M + mr - 1) / mr;
  const int64_t N = static_cast<int64_t>(panels) * nr;
  int64_t m_tasks = 1, p_tasks = 1;
  if (N > 4 * M || tiles < threads) {
    p_tasks = std::min<int64_t>(panels, wanted);
    m_tasks = std::min<int64_t>(tiles, (wanted + p_tasks - 1) / p_tasks);
  } else {
    // One row block per thread when B outweighs A, so that B is read once
    // per thread; otherwise row blocks alone, as many as wanted.
    m_tasks = std::min<int64_t>(tiles, N > M ? std::min<int64_t>(threads, wanted) : wanted);
    p_tasks = std::min<int64_t>(panels, (wanted + m_tasks - 1) / m_tasks);
  }
  const int64_t rows = (tiles + m_tasks - 1) / m_tasks * mr;
  return {static_cast<int>(rows), static_cast<int>((panels + p_tasks - 1) / p_tasks)};
}

// A convolution whose A rows come straight from the input (1×1, direct): one
// GEMM per group over all output pixels, split into tasks of rows × panels.
// b[g] is group g's packed weights, nseg segments of C/group floats per row;
// row_ptr(x_g, m, s) gives row m's segment s, x_g being the input at group g's
// first channel.
template <class RowPtr>
void run_grouped_gemm(const ConvLayer& l, const ConvRun& r, const std::vector<PackedB>& b, int nseg, RowPtr&& row_ptr) {
  const ConvGeometry& s = l.shape;
  const SimdKernels& kern = *l.simd;
  const int cg = s.cin_per_group(), kg = s.cout_per_group();
  const int64_t M = s.output_pixels();
  const int panels = b[0].panels();
  const GemmSplit split = split_gemm(M, panels, kern.nr, kern.mr, l.threads, s.group);
  const int rows = split.rows, ppt = split.panels;
  const int64_t p_tasks = (panels + ppt - 1) / ppt, m_tasks = (M + rows - 1) / rows;
  auto task = [&](size_t i) {
    const int g = static_cast<int>(static_cast<int64_t>(i) / (m_tasks * p_tasks));
    const int64_t rest = static_cast<int64_t>(i) % (m_tasks * p_tasks);
    const int m0 = static_cast<int>(rest / p_tasks) * rows, p0 = static_cast<int>(rest % p_tasks) * ppt;
    GemmProblem p;
    p.nseg = nseg;
    p.seg_len = cg;
    p.b = &b[static_cast<size_t>(g)];
    p.bias = l.bias ? l.bias + g * kg : nullptr;
    p.act = l.act;
    p.c = r.y + g * kg;
    p.ldc = static_cast<size_t>(s.K);
    p.residual = r.residual ? r.residual + g * kg : nullptr;
    p.ldr = static_cast<size_t>(s.K);
    const float* x = r.x + g * cg;
    gemm_rows(kern, p, m0, static_cast<int>(std::min<int64_t>(M, m0 + rows)), p0, std::min(panels, p0 + ppt),
              [&](int m, int seg) -> const float* { return row_ptr(x, m, seg); });
  };
  r.pool->parallel_for(static_cast<size_t>(s.group * m_tasks * p_tasks), task);
}

std::string human_bytes(size_t bytes);

// Sustained FLOP rate of a fraction `efficiency` of the machine's peak, in ms.
inline double compute_ms(const ConvGeometry& s, const MachineModel& m, double efficiency) {
  return 2.0 * static_cast<double>(s.macs()) / (m.gflops_per_thread * m.threads * efficiency * 1e6);
}
inline double memory_ms(double bytes, const MachineModel& m) { return bytes / (m.bandwidth_gbs * m.threads * 1e6); }

}  // namespace kiln::cpu
