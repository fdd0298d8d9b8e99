#include <algorithm>

#include "engine/core/activation.hpp"
#include "engine/core/spatial.hpp"
#include "kernels/reference/kernels.hpp"

namespace kiln::reference {

namespace {
// Output positions o with 0 <= o*stride + offset < in, as [lo, hi).
std::pair<int64_t, int64_t> valid_range(int64_t offset, int64_t stride, int64_t in, int64_t out) {
  int64_t lo = 0;
  if (offset < 0) lo = (-offset + stride - 1) / stride;
  int64_t hi = in - offset <= 0 ? 0 : (in - 1 - offset) / stride + 1;
  return {std::min(lo, out), std::clamp<int64_t>(hi, 0, out)};
}
}  // namespace

// Direct convolution, one output plane at a time: for every (input channel,
// kernel tap) the tap's weight is added into the whole output plane.
void conv(const KernelArgs& a) {
  const Node& node = *a.node;
  const auto& attrs = attrs_as<fb::ConvAttrsT>(node);
  const Shape& xs = *a.inputs[0].shape;
  const Shape& ws = *a.inputs[1].shape;
  const float* x = a.inputs[0].data;
  const float* w = a.inputs[1].data;
  const float* bias = a.inputs.size() > 2 ? a.inputs[2].data : nullptr;
  float* y = a.outputs[0].data;
  const Window3d win = make_window(node.name, xs, attrs.kernel_shape, attrs.strides, attrs.dilations, attrs.pads, false);

  const int64_t batch = xs[0], in_ch = xs[1], out_ch = ws[0];
  const int64_t group = attrs.group;
  const int64_t in_per_group = in_ch / group, out_per_group = out_ch / group;
  const int64_t in_plane = win.in[0] * win.in[1] * win.in[2];
  const int64_t out_plane = win.out[0] * win.out[1] * win.out[2];
  const int64_t taps = win.kernel[0] * win.kernel[1] * win.kernel[2];

  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t m = 0; m < out_ch; ++m) {
      const int64_t g = m / out_per_group;
      float* out = y + (n * out_ch + m) * out_plane;
      std::fill(out, out + out_plane, bias ? bias[m] : 0.0f);
      for (int64_t ic = 0; ic < in_per_group; ++ic) {
        const float* in = x + (n * in_ch + g * in_per_group + ic) * in_plane;
        const float* wk = w + (m * in_per_group + ic) * taps;
        for (int64_t kd = 0; kd < win.kernel[0]; ++kd)
          for (int64_t kh = 0; kh < win.kernel[1]; ++kh)
            for (int64_t kw = 0; kw < win.kernel[2]; ++kw) {
              const float wv = wk[(kd * win.kernel[1] + kh) * win.kernel[2] + kw];
              const int64_t off_d = kd * win.dilation[0] - win.pad_begin[0];
              const int64_t off_h = kh * win.dilation[1] - win.pad_begin[1];
              const int64_t off_w = kw * win.dilation[2] - win.pad_begin[2];
              const auto [d_lo, d_hi] = valid_range(off_d, win.stride[0], win.in[0], win.out[0]);
              const auto [h_lo, h_hi] = valid_range(off_h, win.stride[1], win.in[1], win.out[1]);
              const auto [w_lo, w_hi] = valid_range(off_w, win.stride[2], win.in[2], win.out[2]);
              for (int64_t od = d_lo; od < d_hi; ++od) {
                const int64_t id = od * win.stride[0] + off_d;
                for (int64_t oh = h_lo; oh < h_hi; ++oh) {
                  const int64_t ih = oh * win.stride[1] + off_h;
                  const float* in_row = in + (id * win.in[1] + ih) * win.in[2];
                  float* out_row = out + (od * win.out[1] + oh) * win.out[2];
                  for (int64_t ow = w_lo; ow < w_hi; ++ow) out_row[ow] += wv * in_row[ow * win.stride[2] + off_w];
                }
              }
            }
      }
      if (attrs.activation.kind() != fb::ActivationKind::None)
        for (int64_t i = 0; i < out_plane; ++i) out[i] = apply_activation(attrs.activation, out[i]);
    }
  }
}

}  // namespace kiln::reference
