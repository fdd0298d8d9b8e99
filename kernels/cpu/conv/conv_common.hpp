#pragma once
// Pieces shared by the convolution algorithms: weight indexing, per-thread
// scratch slots and the split of a layer into tasks.
#include <atomic>
#include <memory>
#include <string>

#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/conv/gemm_driver.hpp"

namespace kiln::cpu {

// ONNX weight w[k][c][kh][kw] of a layer (c within the group).
inline float onnx_weight(const ConvLayer& l, int k, int c, int kh, int kw) {
  const ConvShape& s = l.shape;
  return l.weights[((static_cast<size_t>(k) * s.cin_per_group() + c) * s.KH + kh) * s.KW + kw];
}

// Scratch for tasks running at the same time: one slot per thread, claimed
// and released around each task (pthreadpool does not tell a task its thread).
class ScratchSlots {
 public:
  ScratchSlots(int slots, size_t floats_per_slot)
      : slots_(slots), floats_(floats_per_slot), busy_(std::make_unique<std::atomic<bool>[]>(slots)) {}
  size_t bytes() const { return static_cast<size_t>(slots_) * floats_ * sizeof(float); }

  class Claim {
   public:
    Claim(const ScratchSlots& s, float* workspace) : s_(s) {
      for (;;) {
        for (int i = 0; i < s_.slots_; ++i)
          if (!s_.busy_[i].exchange(true, std::memory_order_acquire)) {
            index_ = i;
            data_ = workspace + static_cast<size_t>(i) * s_.floats_;
            return;
          }
      }
    }
    ~Claim() { s_.busy_[index_].store(false, std::memory_order_release); }
    float* data() const { return data_; }

   private:
    const ScratchSlots& s_;
    int index_ = 0;
    float* data_ = nullptr;
  };

 private:
  int slots_;
  size_t floats_;
  std::unique_ptr<std::atomic<bool>[]> busy_;
};

// Rows of C per task: enough tasks for the threads, whole register tiles,
// and not so many rows that A falls out of L2.
inline int rows_per_task(int64_t rows, int mr, int threads, int64_t k_total) {
  const int64_t by_cache = std::max<int64_t>(mr, (256 * 1024 / 4) / std::max<int64_t>(1, k_total) / mr * mr);
  const int64_t by_threads = (rows + 4 * threads - 1) / (4 * threads);
  int64_t r = std::min<int64_t>({by_cache, std::max<int64_t>(by_threads, mr), 16 * mr});
  r = (r + mr - 1) / mr * mr;
  return static_cast<int>(std::max<int64_t>(r, mr));
}

// Panels of B per task: a K block of them fits in L2.
inline int panels_per_task(const SimdKernels& k, int panels) {
  const int per = std::max(1, (256 * 1024) / (gemm_k_block(k) * k.nr * 4));
  return std::min(panels, per);
}

std::string human_bytes(size_t bytes);

// Sustained FLOP rate of a fraction `efficiency` of the machine's peak, in ms.
inline double compute_ms(const ConvShape& s, const MachineModel& m, double efficiency) {
  return 2.0 * static_cast<double>(s.macs()) / (m.gflops_per_thread * m.threads * efficiency * 1e6);
}
inline double memory_ms(double bytes, const MachineModel& m) { return bytes / (m.bandwidth_gbs * m.threads * 1e6); }

}  // namespace kiln::cpu
