#include "kernels/cpu/conv/int8_conv.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/core/quantized_ops.hpp"
#include "engine/runtime/memory_planner.hpp"
#include "kernels/cpu/conv/int8_algorithm.hpp"

namespace kiln::cpu {

namespace {

// Output rows of a GEMM per task and output channels per packed panel: panels
// split N so that a layer with few pixels and many channels (the classifier)
// still gives every thread work. 96 is a multiple of every level's column tile.
constexpr int kRowsPerTask = 96;
constexpr int kColsPerPanel = 96;

int32_t weight_value(const TensorInfo& w, size_t i) {
  const std::byte b = w.constant->bytes()[i];
  return w.dtype == DataType::Int8 ? static_cast<int8_t>(b) : static_cast<uint8_t>(b);
}

Requant requant_of(const QuantizedLinear& q, const std::vector<float>& multipliers) {
  Requant r;
  r.multiplier = multipliers.data();
  r.per_channel = true;
  r.zero_point = q.y_zero_point;
  r.lo = q.clamp.lo;
  r.hi = q.clamp.hi;
  return r;
}

class QDepthwise final : public QConvKernel {
 public:
  explicit QDepthwise(const QConvLayer& l) : l_(l), s_(l.shape) {
    q_ = quantized_linear(*l.x, *l.w, l.bias, *l.y, s_.K, l.act);
    w_.resize(static_cast<size_t>(s_.KH) * s_.KW * s_.C);
    for (int c = 0; c < s_.C; ++c)
      for (int kh = 0; kh < s_.KH; ++kh)
        for (int kw = 0; kw < s_.KW; ++kw)
          w_[(static_cast<size_t>(kh) * s_.KW + kw) * s_.C + c] = static_cast<int16_t>(
              weight_value(*l.w, (static_cast<size_t>(c) * s_.KH + kh) * s_.KW + kw) - q_.w_zero_point[c]);
  }

  void run(const uint8_t* x, uint8_t* y, void*, ThreadPool& pool) const override {
    // About four tasks per thread, of at least two rows: each call prepares
    // its channels' weight pairs once and reuses them for every row it gets.
    const int rows = std::max(2, (s_.OH + 4 * l_.threads - 1) / (4 * l_.threads));
    const int64_t per_image = (s_.OH + rows - 1) / rows;
    auto task = [&](size_t i) {
      const int n = static_cast<int>(static_cast<int64_t>(i) / per_image);
      const int oh0 = static_cast<int>(static_cast<int64_t>(i) % per_image) * rows;
      QDepthwiseArgs a;
      a.x = x + static_cast<size_t>(n) * s_.H * s_.W * s_.C;
      a.y = y + static_cast<size_t>(n) * s_.OH * s_.OW * s_.C;
      a.w = w_.data();
      a.bias = q_.bias.data();
      a.x_zero_point = q_.x_zero_point;
      a.H = s_.H, a.W = s_.W, a.C = s_.C, a.OH = s_.OH, a.OW = s_.OW, a.KH = s_.KH, a.KW = s_.KW;
      a.sh = s_.sh, a.sw = s_.sw, a.dh = s_.dh, a.dw = s_.dw, a.pt = s_.pt, a.pl = s_.pl;
      a.oh_begin = oh0;
      a.oh_end = std::min(s_.OH, oh0 + rows);
      a.rq = requant_of(q_, q_.multiplier);
      l_.kernels->depthwise(a);
    };
    pool.parallel_for(static_cast<size_t>(s_.N * per_image), task);
  }
  size_t weight_bytes() const override { return w_.size() * sizeof(int16_t) + q_.bias.size() * 4; }
  std::string detail() const override { return "int8 depthwise"; }

 private:
  QConvLayer l_;
  ConvGeometry s_;
  QuantizedLinear q_;
  std::vector<int16_t> w_;
};

// Every other convolution: per group, C[M][N] = A[M][K]·Bᵀ with M the output
// pixels of all images, N the group's output channels and K = KH·KW·(C/group)
// in [kh][kw][c] order (NHWC patches); A is the input itself for a 1×1 stride-1
// layer, else an im2col copy in the workspace, padded with the input's zero point.
class QGemmConv final : public QConvKernel {
 public:
  explicit QGemmConv(const QConvLayer& l) : l_(l), s_(l.shape) {
    q_ = quantized_linear(*l.x, *l.w, l.bias, *l.y, s_.K, l.act);
    direct_ = s_.is_pointwise_stride1();
    cin_g_ = s_.cin_per_group();
    cout_g_ = s_.cout_per_group();
    k_ = s_.KH * s_.KW * cin_g_;
    lda_ = direct_ ? static_cast<size_t>(s_.C) : static_cast<size_t>(k_);
    const bool signed_w = l.w->dtype == DataType::Int8;
    // Per output channel n: w − zw = w8 + d, w8 = w − 128 (uint8) or w (int8).
    bias_.resize(static_cast<size_t>(s_.K));
    row_coef_.resize(static_cast<size_t>(s_.K));
    bool any_coef = false;
    for (int g = 0; g < s_.group; ++g) {
      std::vector<int8_t> w8(static_cast<size_t>(cout_g_) * k_);
      for (int n = 0; n < cout_g_; ++n) {
        const int oc = g * cout_g_ + n;
        const int32_t d = (signed_w ? 0 : 128) - q_.w_zero_point[static_cast<size_t>(oc)];
        int64_t sum_w8 = 0;
        for (int kh = 0; kh < s_.KH; ++kh)
          for (int kw = 0; kw < s_.KW; ++kw)
            for (int c = 0; c < cin_g_; ++c) {
              const size_t src = l.w_in_by_out ? static_cast<size_t>(c) * s_.K + oc
                                               : ((static_cast<size_t>(oc) * cin_g_ + c) * s_.KH + kh) * s_.KW + kw;
              const int32_t v = weight_value(*l.w, src) - (signed_w ? 0 : 128);
              w8[static_cast<size_t>(n) * k_ + (kh * s_.KW + kw) * cin_g_ + c] = static_cast<int8_t>(v);
              sum_w8 += v;
            }
        // acc = Σ x·w8 + d·Σx − zx·(Σw8 + K·d) + bias
        bias_[static_cast<size_t>(oc)] = static_cast<int32_t>(q_.bias[static_cast<size_t>(oc)] -
                                                              int64_t{q_.x_zero_point} * (sum_w8 + int64_t{k_} * d));
        row_coef_[static_cast<size_t>(oc)] = d;
        any_coef = any_coef || d != 0;
      }
      for (int n0 = 0; n0 < cout_g_; n0 += kColsPerPanel) {
        Panel p;
        p.n0 = g * cout_g_ + n0;
        p.n = std::min(kColsPerPanel, cout_g_ - n0);
        p.group = g;
        p.bytes = allocate_aligned(l.kernels->packed_b_size(p.n, k_));
        l.kernels->pack_b(w8.data() + static_cast<size_t>(n0) * k_, p.n, k_, p.bytes.get());
        packed_bytes_ += l.kernels->packed_b_size(p.n, k_);
        panels_.push_back(std::move(p));
      }
    }
    if (!any_coef) row_coef_.clear();
  }

  size_t workspace_bytes() const override {
    return direct_ ? 0 : static_cast<size_t>(s_.N) * s_.OH * s_.OW * lda_ * static_cast<size_t>(s_.group);
  }

  void run(const uint8_t* x, uint8_t* y, void* workspace, ThreadPool& pool) const override {
    run_impl(x, nullptr, y, workspace, pool);
  }
  bool fuses_residual() const override { return l_.residual.has_value(); }
  void run_residual(const uint8_t* x, const uint8_t* residual, uint8_t* y, void* workspace,
                    ThreadPool& pool) const override {
    run_impl(x, residual, y, workspace, pool);
  }

  size_t weight_bytes() const override { return packed_bytes_ + bias_.size() * 4; }
  std::string detail() const override {
    std::string d = direct_ ? "int8 gemm (1x1)" : "int8 im2col+gemm (K=" + std::to_string(k_) + ")";
    if (l_.residual) d += " +residual";
    return d;
  }

 private:
  void run_impl(const uint8_t* x, const uint8_t* residual, uint8_t* y, void* workspace, ThreadPool& pool) const {
    const int64_t M = int64_t{s_.N} * s_.OH * s_.OW;
    // Smaller row blocks where 96-row ones would leave a thread idle (a 14×14
    // layer has 196 rows): about four blocks per thread, in whole 16-row tiles.
    int64_t rows_per_task = kRowsPerTask;
    if (const int64_t threads = pool.threads(); threads > 1 && M < 4 * threads * kRowsPerTask)
      rows_per_task = std::clamp<int64_t>(((M + 4 * threads - 1) / (4 * threads) + 15) & ~int64_t{15}, 16, kRowsPerTask);
    const int64_t row_blocks = (M + rows_per_task - 1) / rows_per_task;
    auto gemm = [&](const Panel& p, const uint8_t* a, size_t lda, int64_t m0, int rows) {
      QGemmArgs g;
      g.a = a;
      g.lda = lda;
      g.M = rows;
      g.N = p.n;
      g.K = k_;
      g.b = p.bytes.get();
      g.bias = bias_.data() + p.n0;
      g.row_coef = row_coef_.empty() ? nullptr : row_coef_.data() + p.n0;
      g.c = y + static_cast<size_t>(m0) * s_.K + p.n0;
      g.ldc = static_cast<size_t>(s_.K);
      g.rq = requant_of(q_, q_.multiplier);
      g.rq.multiplier = q_.multiplier.data() + p.n0;
      if (residual != nullptr) {
        g.residual = residual + static_cast<size_t>(m0) * s_.K + p.n0;
        g.ldr = static_cast<size_t>(s_.K);
        g.add = *l_.residual;
      }
      l_.kernels->gemm(g);
    };
    // Tasks over (row block, panel) of a GEMM on `a`: a layer with few pixels
    // still splits over its channels.
    auto panel_tasks = [&](const uint8_t* a, size_t group_stride) {
      auto task = [&](size_t i) {
        // Consecutive tasks take row blocks of one panel: two threads then write
        // different rows. Neighbouring panels of the same rows meet inside a
        // cache line (96 bytes of uint8 per panel), which they would fight over.
        const Panel& p = panels_[i / static_cast<size_t>(row_blocks)];
        const int64_t m0 = static_cast<int64_t>(i % static_cast<size_t>(row_blocks)) * rows_per_task;
        const int rows = static_cast<int>(std::min<int64_t>(rows_per_task, M - m0));
        gemm(p, a + static_cast<size_t>(p.group) * group_stride + static_cast<size_t>(m0) * lda_, lda_, m0, rows);
      };
      pool.parallel_for(static_cast<size_t>(row_blocks) * panels_.size(), task);
    };
    if (direct_) return panel_tasks(x, static_cast<size_t>(cin_g_));
    auto* cols = static_cast<uint8_t*>(workspace);
    const uint8_t zx = static_cast<uint8_t>(q_.x_zero_point);
    const size_t group_stride = static_cast<size_t>(M) * lda_;
    const size_t patch_tasks = static_cast<size_t>(row_blocks) * s_.group;
    if (pool.threads() > 1 && patch_tasks < 4 * static_cast<size_t>(pool.threads())) {
      // Too few row blocks to keep every thread busy (a 7×7 or 14×14 layer):
      // the whole patch matrix first, then the GEMM split over channels too.
      auto patches = [&](size_t i) {
        const int g = static_cast<int>(i % static_cast<size_t>(s_.group));
        const int64_t m0 = static_cast<int64_t>(i / static_cast<size_t>(s_.group)) * rows_per_task;
        const int rows = static_cast<int>(std::min<int64_t>(rows_per_task, M - m0));
        im2col(x, cols + static_cast<size_t>(g) * group_stride + static_cast<size_t>(m0) * lda_, m0, rows, g, zx);
      };
      pool.parallel_for(patch_tasks, patches);
      return panel_tasks(cols, group_stride);
    }
    // Tasks over (row block, group): each builds its rows of the group's patch
    // matrix and runs the group's panels on them while they are in cache.
    auto task = [&](size_t i) {
      const int g = static_cast<int>(i % static_cast<size_t>(s_.group));
      const int64_t m0 = static_cast<int64_t>(i / static_cast<size_t>(s_.group)) * rows_per_task;
      const int rows = static_cast<int>(std::min<int64_t>(rows_per_task, M - m0));
      uint8_t* slot = cols + static_cast<size_t>(g) * group_stride + static_cast<size_t>(m0) * lda_;
      im2col(x, slot, m0, rows, g, zx);
      for (const Panel& p : panels_)
        if (p.group == g) gemm(p, slot, lda_, m0, rows);
    };
    pool.parallel_for(patch_tasks, task);
  }

  // Rows [m0, m0 + rows) of group g's patch matrix, K bytes each. Positions
  // advance incrementally; a kernel row inside the image with one group and
  // undilated columns is KW·C contiguous bytes, copied 8 at a time (runs are
  // short — 9 bytes for an RGB stem — where a memcpy call costs more).
  void im2col(const uint8_t* x, uint8_t* out, int64_t m0, int rows, int g, uint8_t zx) const {
    const int64_t per_image = int64_t{s_.OH} * s_.OW;
    int64_t n = m0 / per_image;
    int oh = static_cast<int>(m0 % per_image / s_.OW), ow = static_cast<int>(m0 % per_image % s_.OW);
    const int run = s_.KW * cin_g_;
    const size_t row_bytes = static_cast<size_t>(s_.W) * s_.C;
    for (int r = 0; r < rows; ++r) {
      uint8_t* row = out + static_cast<size_t>(r) * lda_;
      const int iw0 = ow * s_.sw - s_.pl;
      const bool contiguous = s_.group == 1 && s_.dw == 1 && iw0 >= 0 && iw0 + s_.KW <= s_.W;
      const uint8_t* image = x + static_cast<size_t>(n) * s_.H * row_bytes;
      for (int kh = 0; kh < s_.KH; ++kh) {
        const int ih = oh * s_.sh - s_.pt + kh * s_.dh;
        uint8_t* dst = row + kh * run;
        if (contiguous && ih >= 0 && ih < s_.H) {
          const uint8_t* src = image + static_cast<size_t>(ih) * row_bytes + static_cast<size_t>(iw0) * s_.C;
          int b = 0;
          for (; b + 8 <= run; b += 8) std::memcpy(dst + b, src + b, 8);
          for (; b < run; ++b) dst[b] = src[b];
          continue;
        }
        for (int kw = 0; kw < s_.KW; ++kw) {
          const int iw = iw0 + kw * s_.dw;
          uint8_t* d = dst + kw * cin_g_;
          if (ih < 0 || ih >= s_.H || iw < 0 || iw >= s_.W) {
            std::memset(d, zx, static_cast<size_t>(cin_g_));
          } else {
            std::memcpy(d,
                        image + static_cast<size_t>(ih) * row_bytes + static_cast<size_t>(iw) * s_.C +
                            static_cast<size_t>(g) * cin_g_,
                        static_cast<size_t>(cin_g_));
          }
        }
      }
      if (++ow == s_.OW) {
        ow = 0;
        if (++oh == s_.OH) oh = 0, ++n;
      }
    }
  }

  struct Panel {
    int n0 = 0, n = 0, group = 0;
    AlignedBytes bytes;
  };
  QConvLayer l_;
  ConvGeometry s_;
  QuantizedLinear q_;
  bool direct_ = false;
  int cin_g_ = 0, cout_g_ = 0, k_ = 0;
  size_t lda_ = 0;
  std::vector<int32_t> bias_, row_coef_;
  std::vector<Panel> panels_;
  size_t packed_bytes_ = 0;
};

}  // namespace

void QConvKernel::run_residual(const uint8_t*, const uint8_t*, uint8_t*, void*, ThreadPool&) const {
  throw Error(ErrorCode::Internal, "this int8 convolution (" + detail() + ") does not take a residual Add");
}

bool qconv_supported(const QConvLayer& l) {
  if (l.w_in_by_out && !(l.shape.is_pointwise() && l.shape.is_dense())) return false;
  return l.shape.rank == 2 && l.x->dtype == DataType::UInt8 && l.y->dtype == DataType::UInt8 && l.w->is_constant() &&
         (l.bias == nullptr || l.bias->is_constant());
}

std::unique_ptr<QConvKernel> prepare_qdepthwise(const QConvLayer& l) {
  if (l.residual) throw Error(ErrorCode::Internal, "the int8 depthwise kernel takes no residual Add");
  return std::make_unique<QDepthwise>(l);
}
std::unique_ptr<QConvKernel> prepare_qgemm(const QConvLayer& l) { return std::make_unique<QGemmConv>(l); }

}  // namespace kiln::cpu
