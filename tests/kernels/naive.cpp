#include "tests/kernels/naive.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace kiln::test::naive {

Tensor make(const Shape& shape, const std::vector<float>& values) {
  Tensor t(shape);
  if (static_cast<int64_t>(values.size()) != t.size()) throw std::invalid_argument("naive::make: value count");
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size(), 0);
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

int64_t ravel(const std::vector<int64_t>& index, const Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}

float relu(float x) { return std::isnan(x) ? x : (x > 0 ? x : 0.0f); }
float clip(float x, float lo, float hi) {
  if (std::isnan(x)) return x;
  if (x < lo) return lo;
  if (x > hi) return hi;
  return x;
}
float leaky_relu(float x, float alpha) { return std::isnan(x) ? x : (x < 0 ? alpha * x : x); }
float sigmoid(float x) { return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x)))); }
float hard_sigmoid(float x, float alpha, float beta) {
  if (std::isnan(x)) return x;
  const double v = static_cast<double>(alpha) * x + beta;
  return static_cast<float>(v < 0 ? 0.0 : (v > 1 ? 1.0 : v));
}
float hard_swish(float x) {
  // x * relu6(x + 3) / 6
  if (std::isnan(x)) return x;
  const double r = std::min(std::max(static_cast<double>(x) + 3.0, 0.0), 6.0);
  return static_cast<float>(x * r / 6.0);
}
float tanh_(float x) { return static_cast<float>(std::tanh(static_cast<double>(x))); }

float activation(const fb::FusedActivation& act, float x) {
  using K = fb::ActivationKind;
  switch (act.kind()) {
    case K::None: return x;
    case K::Relu: return relu(x);
    case K::Clip: return clip(x, act.alpha(), act.beta());
    case K::LeakyRelu: return leaky_relu(x, act.alpha());
    case K::Sigmoid: return sigmoid(x);
    case K::HardSigmoid: return hard_sigmoid(x, act.alpha(), act.beta());
    case K::HardSwish: return hard_swish(x);
    case K::Tanh: return tanh_(x);
  }
  throw std::invalid_argument("naive::activation: unknown kind");
}

int64_t window_out(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dilation,
                   bool ceil_mode) {
  const int64_t span = in + pad_begin + pad_end - (dilation * (kernel - 1) + 1);
  if (span < 0) throw std::invalid_argument("naive::window_out: kernel larger than input");
  if (!ceil_mode) return span / stride + 1;
  int64_t out = (span + stride - 1) / stride + 1;
  // The last window must start inside the input or the begin padding.
  if ((out - 1) * stride >= in + pad_begin) --out;
  return out;
}

namespace {
std::vector<int64_t> or_default(const std::vector<int64_t>& v, size_t n, int64_t fill) {
  return v.empty() ? std::vector<int64_t>(n, fill) : v;
}
}  // namespace

Tensor conv(const Tensor& x, const Tensor& w, const Tensor* bias, const ConvParams& p) {
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  const size_t r = xs.size() - 2;
  const auto strides = or_default(p.strides, r, 1);
  const auto dil = or_default(p.dilations, r, 1);
  const auto pads = or_default(p.pads, 2 * r, 0);
  const int64_t M = ws[0], Cg = ws[1], Mg = M / p.group;
  Shape os{xs[0], M};
  Shape ks;
  for (size_t i = 0; i < r; ++i) {
    ks.push_back(ws[2 + i]);
    os.push_back(window_out(xs[2 + i], ws[2 + i], strides[i], pads[i], pads[r + i], dil[i], false));
  }
  Tensor y(os);
  const int64_t taps = element_count(ks);
  for (int64_t o = 0; o < y.size(); ++o) {
    const auto oi = unravel(o, os);
    const int64_t n = oi[0], m = oi[1], g = m / Mg;
    double acc = bias ? bias->data()[m] : 0.0;
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t k = 0; k < taps; ++k) {
        const auto ki = unravel(k, ks);
        std::vector<int64_t> xi{n, g * Cg + c};
        bool inside = true;
        for (size_t a = 0; a < r; ++a) {
          const int64_t pos = oi[2 + a] * strides[a] - pads[a] + ki[a] * dil[a];
          if (pos < 0 || pos >= xs[2 + a]) inside = false;
          xi.push_back(pos);
        }
        if (!inside) continue;
        std::vector<int64_t> wi{m, c};
        wi.insert(wi.end(), ki.begin(), ki.end());
        acc += static_cast<double>(x.data()[ravel(xi, xs)]) * w.data()[ravel(wi, ws)];
      }
    y.data()[o] = activation(p.act, static_cast<float>(acc));
  }
  return y;
}

namespace {
enum class Pool { Max, Average };

Tensor pool(const Tensor& x, const PoolParams& p, Pool kind) {
  const Shape& xs = x.shape();
  const size_t r = xs.size() - 2;
  const auto strides = or_default(p.strides, r, 1);
  const auto dil = or_default(p.dilations, r, 1);
  const auto pads = or_default(p.pads, 2 * r, 0);
  Shape os{xs[0], xs[1]};
  for (size_t i = 0; i < r; ++i)
    os.push_back(window_out(xs[2 + i], p.kernel[i], strides[i], pads[i], pads[r + i], dil[i], p.ceil_mode));
  Tensor y(os);
  const Shape ks(p.kernel.begin(), p.kernel.end());
  const int64_t taps = element_count(ks);
  for (int64_t o = 0; o < y.size(); ++o) {
    const auto oi = unravel(o, os);
    double best = -std::numeric_limits<double>::infinity(), sum = 0;
    int64_t inside_count = 0, padded_count = 0;
    for (int64_t k = 0; k < taps; ++k) {
      const auto ki = unravel(k, ks);
      std::vector<int64_t> xi{oi[0], oi[1]};
      bool inside = true, within_pads = true;
      for (size_t a = 0; a < r; ++a) {
        const int64_t pos = oi[2 + a] * strides[a] - pads[a] + ki[a] * dil[a];
        if (pos < 0 || pos >= xs[2 + a]) inside = false;
        if (pos >= xs[2 + a] + pads[r + a]) within_pads = false;  // beyond the end padding (ceil mode)
        xi.push_back(pos);
      }
      if (within_pads) ++padded_count;
      if (!inside) continue;
      const double v = x.data()[ravel(xi, xs)];
      best = std::max(best, v);
      sum += v;
      ++inside_count;
    }
    if (kind == Pool::Max) y.data()[o] = static_cast<float>(best);
    else y.data()[o] = static_cast<float>(sum / static_cast<double>(p.count_include_pad ? padded_count : inside_count));
  }
  return y;
}

Tensor global_pool(const Tensor& x, Pool kind) {
  const Shape& xs = x.shape();
  Shape os(xs.size(), 1);
  os[0] = xs[0];
  os[1] = xs[1];
  Tensor y(os);
  const int64_t plane = x.size() / (xs[0] * xs[1]);
  for (int64_t nc = 0; nc < xs[0] * xs[1]; ++nc) {
    double best = -std::numeric_limits<double>::infinity(), sum = 0;
    for (int64_t i = 0; i < plane; ++i) {
      best = std::max(best, static_cast<double>(x.data()[nc * plane + i]));
      sum += x.data()[nc * plane + i];
    }
    y.data()[nc] = static_cast<float>(kind == Pool::Max ? best : sum / static_cast<double>(plane));
  }
  return y;
}
}  // namespace

Tensor max_pool(const Tensor& x, const PoolParams& p) { return pool(x, p, Pool::Max); }
Tensor average_pool(const Tensor& x, const PoolParams& p) { return pool(x, p, Pool::Average); }
Tensor global_average_pool(const Tensor& x) { return global_pool(x, Pool::Average); }
Tensor global_max_pool(const Tensor& x) { return global_pool(x, Pool::Max); }

Tensor batch_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor& mean, const Tensor& var,
                  float epsilon) {
  Tensor y(x.shape());
  for (int64_t i = 0; i < x.size(); ++i) {
    const int64_t c = unravel(i, x.shape())[1];
    const double norm = (x.data()[i] - static_cast<double>(mean.data()[c])) /
                        std::sqrt(static_cast<double>(var.data()[c]) + epsilon);
    y.data()[i] = static_cast<float>(norm * scale.data()[c] + bias.data()[c]);
  }
  return y;
}

namespace {
Shape broadcast(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i + a.size() >= r ? a[i + a.size() - r] : 1;
    const int64_t db = i + b.size() >= r ? b[i + b.size() - r] : 1;
    if (da != db && da != 1 && db != 1) throw std::invalid_argument("naive::broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Index into `shape` for output index `oi` of a broadcast result.
int64_t broadcast_index(const std::vector<int64_t>& oi, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  const size_t off = oi.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) idx[d] = shape[d] == 1 ? 0 : oi[off + d];
  return ravel(idx, shape);
}
}  // namespace

Tensor binary(OpType op, const Tensor& a, const Tensor& b, const fb::FusedActivation& act) {
  const Shape os = broadcast(a.shape(), b.shape());
  Tensor y(os);
  for (int64_t o = 0; o < y.size(); ++o) {
    const auto oi = unravel(o, os);
    const float p = a.data()[broadcast_index(oi, a.shape())];
    const float q = b.data()[broadcast_index(oi, b.shape())];
    float v = 0;
    switch (op) {
      case OpType::Add: v = p + q; break;
      case OpType::Sub: v = p - q; break;
      case OpType::Mul: v = p * q; break;
      case OpType::Div: v = p / q; break;
      default: throw std::invalid_argument("naive::binary: not a binary op");
    }
    y.data()[o] = activation(act, v);
  }
  return y;
}

Tensor gemm(const Tensor& a, const Tensor& b, const Tensor* c, float alpha, float beta, bool trans_a, bool trans_b,
            const fb::FusedActivation& act) {
  const int64_t M = trans_a ? a.shape()[1] : a.shape()[0];
  const int64_t K = trans_a ? a.shape()[0] : a.shape()[1];
  const int64_t N = trans_b ? b.shape()[0] : b.shape()[1];
  Tensor y({M, N});
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double av = trans_a ? a.data()[k * M + i] : a.data()[i * K + k];
        const double bv = trans_b ? b.data()[j * K + k] : b.data()[k * N + j];
        acc += av * bv;
      }
      double v = alpha * acc;
      if (c) v += static_cast<double>(beta) * c->data()[broadcast_index({i, j}, c->shape())];
      y.data()[i * N + j] = activation(act, static_cast<float>(v));
    }
  return y;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  Shape as = a.shape(), bs = b.shape();
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  const Shape batch = broadcast(Shape(as.begin(), as.end() - 2), Shape(bs.begin(), bs.end() - 2));
  Shape full = batch;
  full.push_back(M);
  full.push_back(N);
  Tensor y(full);
  for (int64_t o = 0; o < y.size(); ++o) {
    auto oi = unravel(o, full);
    const int64_t i = oi[oi.size() - 2], j = oi.back();
    double acc = 0;
    for (int64_t k = 0; k < K; ++k) {
      std::vector<int64_t> ai(oi.begin(), oi.end() - 2), bi(oi.begin(), oi.end() - 2);
      ai.push_back(i);
      ai.push_back(k);
      bi.push_back(k);
      bi.push_back(j);
      acc += static_cast<double>(a.data()[broadcast_index(ai, as)]) * b.data()[broadcast_index(bi, bs)];
    }
    y.data()[o] = static_cast<float>(acc);
  }
  Shape out = batch;
  if (!a_vec) out.push_back(M);
  if (!b_vec) out.push_back(N);
  Tensor r(out);
  std::copy(y.data(), y.data() + y.size(), r.data());
  return r;
}

Tensor transpose(const Tensor& x, const std::vector<int32_t>& perm) {
  Shape os;
  for (int32_t p : perm) os.push_back(x.shape()[p]);
  Tensor y(os);
  for (int64_t o = 0; o < y.size(); ++o) {
    const auto oi = unravel(o, os);
    std::vector<int64_t> xi(perm.size());
    for (size_t d = 0; d < perm.size(); ++d) xi[perm[d]] = oi[d];
    y.data()[o] = x.data()[ravel(xi, x.shape())];
  }
  return y;
}

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  Shape os = xs[0].shape();
  os[axis] = 0;
  for (const auto& x : xs) os[axis] += x.shape()[axis];
  Tensor y(os);
  for (int64_t o = 0; o < y.size(); ++o) {
    auto oi = unravel(o, os);
    size_t which = 0;
    while (oi[axis] >= xs[which].shape()[axis]) oi[axis] -= xs[which++].shape()[axis];
    y.data()[o] = xs[which].data()[ravel(oi, xs[which].shape())];
  }
  return y;
}

std::vector<Tensor> split(const Tensor& x, int64_t axis, const std::vector<int64_t>& sizes) {
  std::vector<Tensor> out;
  int64_t begin = 0;
  for (int64_t s : sizes) {
    Shape os = x.shape();
    os[axis] = s;
    Tensor y(os);
    for (int64_t o = 0; o < y.size(); ++o) {
      auto oi = unravel(o, os);
      oi[axis] += begin;
      y.data()[o] = x.data()[ravel(oi, x.shape())];
    }
    out.push_back(y);
    begin += s;
  }
  return out;
}

Tensor slice(const Tensor& x, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
             const std::vector<int32_t>& axes, const std::vector<int64_t>& steps) {
  const Shape& xs = x.shape();
  // Per axis, the list of input indices taken, in output order.
  std::vector<std::vector<int64_t>> picks(xs.size());
  for (size_t d = 0; d < xs.size(); ++d)
    for (int64_t i = 0; i < xs[d]; ++i) picks[d].push_back(i);
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t dim = xs[axes[k]];
    int64_t start = starts[k], end = ends[k];
    const int64_t step = steps[k];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    std::vector<int64_t>& p = picks[axes[k]];
    p.clear();
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      for (int64_t i = start; i < end; ) {
        p.push_back(i);
        if (end - i <= step) break;
        i += step;
      }
    } else if (dim > 0) {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      const uint64_t magnitude = uint64_t{0} - static_cast<uint64_t>(step);
      for (int64_t i = start; i > end; ) {
        p.push_back(i);
        if (static_cast<uint64_t>(i - end) <= magnitude) break;
        i += step;
      }
    }
  }
  Shape os;
  for (const auto& p : picks) os.push_back(static_cast<int64_t>(p.size()));
  Tensor y(os);
  for (int64_t o = 0; o < y.size(); ++o) {
    auto oi = unravel(o, os);
    for (size_t d = 0; d < oi.size(); ++d) oi[d] = picks[d][static_cast<size_t>(oi[d])];
    y.data()[o] = x.data()[ravel(oi, xs)];
  }
  return y;
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, float value) {
  const Shape& xs = x.shape();
  const size_t r = xs.size();
  Shape os(r);
  for (size_t d = 0; d < r; ++d) os[d] = xs[d] + pads[d] + pads[r + d];
  Tensor y(os);
  for (int64_t o = 0; o < y.size(); ++o) {
    auto oi = unravel(o, os);
    bool inside = true;
    for (size_t d = 0; d < r; ++d) {
      oi[d] -= pads[d];
      if (oi[d] < 0 || oi[d] >= xs[d]) inside = false;
    }
    y.data()[o] = inside ? x.data()[ravel(oi, xs)] : value;
  }
  return y;
}

Tensor reduce_mean(const Tensor& x, const std::vector<int32_t>& axes, bool keepdims) {
  const Shape& xs = x.shape();
  std::vector<bool> reduced(xs.size(), axes.empty());
  for (int32_t a : axes) reduced[a] = true;
  Shape kept;  // keepdims shape
  for (size_t d = 0; d < xs.size(); ++d) kept.push_back(reduced[d] ? 1 : xs[d]);
  std::vector<double> sum(static_cast<size_t>(element_count(kept)), 0.0);
  std::vector<int64_t> count(sum.size(), 0);
  for (int64_t i = 0; i < x.size(); ++i) {
    auto xi = unravel(i, xs);
    for (size_t d = 0; d < xs.size(); ++d)
      if (reduced[d]) xi[d] = 0;
    const auto o = static_cast<size_t>(ravel(xi, kept));
    sum[o] += x.data()[i];
    ++count[o];
  }
  Shape os;
  for (size_t d = 0; d < xs.size(); ++d)
    if (!reduced[d] || keepdims) os.push_back(kept[d]);
  Tensor y(os);
  for (size_t o = 0; o < sum.size(); ++o) y.data()[o] = static_cast<float>(sum[o] / static_cast<double>(count[o]));
  return y;
}

Tensor softmax(const Tensor& x, int64_t axis, bool over_trailing_axes) {
  const Shape& xs = x.shape();
  Tensor y(xs);
  // Group elements: two elements are normalised together when they agree on
  // every axis outside the softmax axes.
  std::vector<bool> in_group(xs.size(), false);
  for (size_t d = 0; d < xs.size(); ++d)
    in_group[d] = static_cast<int64_t>(d) == axis || (over_trailing_axes && static_cast<int64_t>(d) > axis);
  Shape key_shape;
  for (size_t d = 0; d < xs.size(); ++d) key_shape.push_back(in_group[d] ? 1 : xs[d]);
  auto key_of = [&](int64_t i) {
    auto xi = unravel(i, xs);
    for (size_t d = 0; d < xs.size(); ++d)
      if (in_group[d]) xi[d] = 0;
    return static_cast<size_t>(ravel(xi, key_shape));
  };
  const size_t groups = static_cast<size_t>(element_count(key_shape));
  std::vector<double> mx(groups, -std::numeric_limits<double>::infinity()), total(groups, 0.0);
  for (int64_t i = 0; i < x.size(); ++i) mx[key_of(i)] = std::max(mx[key_of(i)], static_cast<double>(x.data()[i]));
  for (int64_t i = 0; i < x.size(); ++i) total[key_of(i)] += std::exp(x.data()[i] - mx[key_of(i)]);
  for (int64_t i = 0; i < x.size(); ++i)
    y.data()[i] = static_cast<float>(std::exp(x.data()[i] - mx[key_of(i)]) / total[key_of(i)]);
  return y;
}

}  // namespace kiln::test::naive
