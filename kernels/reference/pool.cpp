#include <algorithm>
#include <limits>

#include "engine/core/spatial.hpp"
#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

namespace {

enum class PoolKind { Max, Average };

void pool(const KernelArgs& a, PoolKind kind) {
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
          const int64_t o[3] = {od, oh, ow};
          float best = -std::numeric_limits<float>::infinity();
          double sum = 0.0;
          int64_t valid = 0;   // taps inside the input
          int64_t padded = 1;  // taps inside input + explicit padding (count_include_pad)
          for (int ax = 0; ax < 3; ++ax) {
            const int64_t start = o[ax] * w.stride[ax] - w.pad_begin[ax];
            int64_t c = 0;
            for (int64_t k = 0; k < w.kernel[ax]; ++k)
              if (start + k * w.dilation[ax] < w.in[ax] + w.pad_end[ax]) ++c;
            padded *= c;
          }
          for (int64_t kd = 0; kd < w.kernel[0]; ++kd) {
            const int64_t id = od * w.stride[0] - w.pad_begin[0] + kd * w.dilation[0];
            if (id < 0 || id >= w.in[0]) continue;
            for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
              const int64_t ih = oh * w.stride[1] - w.pad_begin[1] + kh * w.dilation[1];
              if (ih < 0 || ih >= w.in[1]) continue;
              for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
                const int64_t iw = ow * w.stride[2] - w.pad_begin[2] + kw * w.dilation[2];
                if (iw < 0 || iw >= w.in[2]) continue;
                const float v = in[(id * w.in[1] + ih) * w.in[2] + iw];
                best = std::max(best, v);
                sum += v;
                ++valid;
              }
            }
          }
          float result;
          if (kind == PoolKind::Max) {
            result = best;
          } else {
            const int64_t count = attrs.count_include_pad ? padded : valid;
            result = count > 0 ? static_cast<float>(sum / static_cast<double>(count)) : 0.0f;
          }
          out[(od * w.out[1] + oh) * w.out[2] + ow] = result;
        }
  }
}

// Reduces each (n, c) plane to one value.
template <class Reduce>
void global_pool(const KernelArgs& a, Reduce reduce) {
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

}  // namespace kiln::reference
