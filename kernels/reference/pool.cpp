#include <algorithm>
#include <limits>

#include "engine/core/spatial.hpp"
#include "kernels/reference/quantized.hpp"

namespace kiln::reference {

namespace {

// Taps of the window at output (od, oh, ow) that fall inside the input, as
// offsets into an input plane, and how many taps lie inside input + explicit
// padding (the divisor of count_include_pad).
template <class F>
void for_each_tap(const Window3d& w, int64_t od, int64_t oh, int64_t ow, F&& f) {
  for (int64_t kd = 0; kd < w.kernel[0]; ++kd) {
    const int64_t id = od * w.stride[0] - w.pad_begin[0] + kd * w.dilation[0];
    if (id < 0 || id >= w.in[0]) continue;
    for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
      const int64_t ih = oh * w.stride[1] - w.pad_begin[1] + kh * w.dilation[1];
      if (ih < 0 || ih >= w.in[1]) continue;
      for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
        const int64_t iw = ow * w.stride[2] - w.pad_begin[2] + kw * w.dilation[2];
        if (iw < 0 || iw >= w.in[2]) continue;
        f((id * w.in[1] + ih) * w.in[2] + iw);
      }
    }
  }
}

int64_t padded_count(const Window3d& w, int64_t od, int64_t oh, int64_t ow) {
  const int64_t o[3] = {od, oh, ow};
  int64_t padded = 1;
  for (int ax = 0; ax < 3; ++ax) {
    const int64_t start = o[ax] * w.stride[ax] - w.pad_begin[ax];
    int64_t c = 0;
    for (int64_t k = 0; k < w.kernel[ax]; ++k)
      if (start + k * w.dilation[ax] < w.in[ax] + w.pad_end[ax]) ++c;
    padded *= c;
  }
  return padded;
}

enum class PoolKind { Max, Average };

void pool(const KernelArgs& a, PoolKind kind) {
  if (is_quantized(a)) return pool_quantized(a);
  const Node& node = *a.node;
  const auto& attrs = attrs_as<fb::PoolAttrsT>(node);
  const Shape& xs = *a.inputs[0].shape;
  const float* x = a.inputs[0].data;
  float* y = a.outputs[0].data;
  const Window3d w =
      make_window(node.name, xs, attrs.kernel_shape, attrs.strides, attrs.dilations, attrs.pads, attrs.ceil_mode);
  const int64_t planes = xs[0] * xs[1];
  const int64_t in_plane = w.in[0] * w.in[1] * w.in[2];
  const int64_t out_plane = w.out[0] * w.out[1] * w.out[2];

  for (int64_t p = 0; p < planes; ++p) {
    const float* in = x + p * in_plane;
    float* out = y + p * out_plane;
    for (int64_t od = 0; od < w.out[0]; ++od)
      for (int64_t oh = 0; oh < w.out[1]; ++oh)
        for (int64_t ow = 0; ow < w.out[2]; ++ow) {
          float best = -std::numeric_limits<float>::infinity();
          double sum = 0.0;
          int64_t valid = 0;  // taps inside the input
          for_each_tap(w, od, oh, ow, [&](int64_t i) {
            best = std::max(best, in[i]);
            sum += in[i];
            ++valid;
          });
          float result;
          if (kind == PoolKind::Max) {
            result = best;
          } else {
            const int64_t count = attrs.count_include_pad ? padded_count(w, od, oh, ow) : valid;
            result = count > 0 ? static_cast<float>(sum / static_cast<double>(count)) : 0.0f;
          }
          out[(od * w.out[1] + oh) * w.out[2] + ow] = result;
        }
  }
}

// Reduces each (n, c) plane to one value.
template <class Reduce>
void global_pool(const KernelArgs& a, Reduce reduce) {
  if (is_quantized(a)) return pool_quantized(a);
  const Shape& xs = *a.inputs[0].shape;
  const int64_t planes = xs[0] * xs[1];
  const int64_t plane = element_count(xs) / std::max<int64_t>(planes, 1);
  for (int64_t p = 0; p < planes; ++p) a.outputs[0].data[p] = reduce(a.inputs[0].data + p * plane, plane);
}

}  // namespace

void max_pool(const KernelArgs& a) { pool(a, PoolKind::Max); }
void average_pool(const KernelArgs& a) { pool(a, PoolKind::Average); }

void global_average_pool(const KernelArgs& a) {
  global_pool(a, [](const float* p, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += p[i];
    return static_cast<float>(s / static_cast<double>(n));
  });
}

void global_max_pool(const KernelArgs& a) {
  global_pool(a, [](const float* p, int64_t n) {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) m = std::max(m, p[i]);
    return m;
  });
}

// The quantized pools. Max: the largest integer, requantized (requantization
// is monotonic). Average: the exact integer sum Σ(x − zx) over the counted
// taps, requantized with multiplier sx / (sy · count).
void pool_quantized(const KernelArgs& a) {
  const Node& node = *a.node;
  const Shape& xs = *a.inputs[0].shape;
  const bool is_global = node.op == OpType::GlobalAveragePool || node.op == OpType::GlobalMaxPool;
  const bool is_max = node.op == OpType::MaxPool || node.op == OpType::GlobalMaxPool;
  fb::PoolAttrsT global_attrs;
  if (is_global) {
    for (size_t d = 2; d < xs.size(); ++d) global_attrs.kernel_shape.push_back(static_cast<int32_t>(xs[d]));
  }
  const auto& attrs = is_global ? global_attrs : attrs_as<fb::PoolAttrsT>(node);
  const Window3d w =
      make_window(node.name, xs, attrs.kernel_shape, attrs.strides, attrs.dilations, attrs.pads, attrs.ceil_mode);
  const QIn x = qin(a.inputs[0]);
  const QOut y = qout(a.outputs[0]);
  const Requantization r = requantization(*a.inputs[0].tensor, *a.outputs[0].tensor);
  const int64_t planes = xs[0] * xs[1];
  const int64_t in_plane = w.in[0] * w.in[1] * w.in[2];
  const int64_t out_plane = w.out[0] * w.out[1] * w.out[2];
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t od = 0; od < w.out[0]; ++od)
      for (int64_t oh = 0; oh < w.out[1]; ++oh)
        for (int64_t ow = 0; ow < w.out[2]; ++ow) {
          int32_t best = INT32_MIN;
          int64_t sum = 0, valid = 0;
          for_each_tap(w, od, oh, ow, [&](int64_t i) {
            const int32_t v = x[p * in_plane + i];
            best = std::max(best, v);
            sum += v - r.from_zero_point;
            ++valid;
          });
          const int64_t out_index = p * out_plane + (od * w.out[1] + oh) * w.out[2] + ow;
          int32_t q;
          if (is_max) {
            q = valid ? quant::requantize(best - r.from_zero_point, r.multiplier, r.to_zero_point, r.clamp.lo, r.clamp.hi)
                      : r.to_zero_point;
          } else {
            // Padding taps counted by count_include_pad hold real 0, i.e. add nothing to the sum.
            const int64_t count = !is_global && attrs.count_include_pad ? padded_count(w, od, oh, ow) : valid;
            const float m = count > 0 ? average_multiplier(*a.inputs[0].tensor, *a.outputs[0].tensor, count) : 0.0f;
            q = quant::requantize(static_cast<int32_t>(sum), m, r.to_zero_point, r.clamp.lo, r.clamp.hi);
          }
          y.set(out_index, q);
        }
}

}  // namespace kiln::reference
