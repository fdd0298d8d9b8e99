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
  const auto& attrs = attrs_as<fb::ConvAttrsT>(*a.node);
  const float* x = a.inputs[0].data;
  const float* w = a.inputs[1].data;
  const float* bias = a.inputs.size() > 2 ? a.inputs[2].data : nullptr;
  float* y = a.outputs[0].data;
  const ConvGeometry g = conv_geometry(*a.node, *a.inputs[0].shape, *a.inputs[1].shape);
  const int64_t in_per_group = g.cin_per_group(), out_per_group = g.cout_per_group();
  const int64_t in_plane = int64_t{g.D} * g.H * g.W;
  const int64_t out_plane = int64_t{g.OD} * g.OH * g.OW;
  const int64_t taps = int64_t{g.KD} * g.KH * g.KW;

  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t m = 0; m < g.K; ++m) {
      const int64_t grp = m / out_per_group;
      float* out = y + (n * g.K + m) * out_plane;
      std::fill(out, out + out_plane, bias ? bias[m] : 0.0f);
      for (int64_t ic = 0; ic < in_per_group; ++ic) {
        const float* in = x + (n * g.C + grp * in_per_group + ic) * in_plane;
        const float* wk = w + (m * in_per_group + ic) * taps;
        for (int64_t kd = 0; kd < g.KD; ++kd)
          for (int64_t kh = 0; kh < g.KH; ++kh)
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const float wv = wk[(kd * g.KH + kh) * g.KW + kw];
              const int64_t off_d = kd * g.dd - g.pf;
              const int64_t off_h = kh * g.dh - g.pt;
              const int64_t off_w = kw * g.dw - g.pl;
              const auto [d_lo, d_hi] = valid_range(off_d, g.sd, g.D, g.OD);
              const auto [h_lo, h_hi] = valid_range(off_h, g.sh, g.H, g.OH);
              const auto [w_lo, w_hi] = valid_range(off_w, g.sw, g.W, g.OW);
              for (int64_t od = d_lo; od < d_hi; ++od) {
                const int64_t id = od * g.sd + off_d;
                for (int64_t oh = h_lo; oh < h_hi; ++oh) {
                  const int64_t ih = oh * g.sh + off_h;
                  const float* in_row = in + (id * g.H + ih) * g.W;
                  float* out_row = out + (od * g.OH + oh) * g.OW;
                  for (int64_t ow = w_lo; ow < w_hi; ++ow) out_row[ow] += wv * in_row[ow * g.sw + off_w];
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
