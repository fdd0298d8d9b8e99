#include <algorithm>
#include <type_traits>

#include "engine/core/activation.hpp"
#include "engine/core/spatial.hpp"
#include "kernels/reference/quantized.hpp"

namespace kiln::reference {

namespace {
// Output positions o with 0 <= o*stride + offset < in, as [lo, hi).
std::pair<int64_t, int64_t> valid_range(int64_t offset, int64_t stride, int64_t in, int64_t out) {
  int64_t lo = 0;
  if (offset < 0) lo = (-offset + stride - 1) / stride;
  int64_t hi = in - offset <= 0 ? 0 : (in - 1 - offset) / stride + 1;
  return {std::min(lo, out), std::clamp<int64_t>(hi, 0, out)};
}

// Direct convolution, one output plane at a time: for every (input channel,
// kernel tap) the tap's weight is added into the whole output plane, which is
// the output itself for Acc = float and a double scratch plane otherwise
// (rounded to float once, after the activation). Every output element thus
// sums bias, then input channels, then taps in (kd, kh, kw) order.
template <class Acc>
void conv_accumulating(const KernelArgs& a) {
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
  if constexpr (!std::is_same_v<Acc, float>) checked_scratch(a, out_plane);

  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t m = 0; m < g.K; ++m) {
      const int64_t grp = m / out_per_group;
      float* out = y + (n * g.K + m) * out_plane;
      Acc* acc = nullptr;
      if constexpr (std::is_same_v<Acc, float>)
        acc = out;
      else
        acc = a.scratch.data();
      std::fill(acc, acc + out_plane, bias ? Acc(bias[m]) : Acc(0));
      for (int64_t ic = 0; ic < in_per_group; ++ic) {
        const float* in = x + (n * g.C + grp * in_per_group + ic) * in_plane;
        const float* wk = w + (m * in_per_group + ic) * taps;
        for (int64_t kd = 0; kd < g.KD; ++kd)
          for (int64_t kh = 0; kh < g.KH; ++kh)
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const Acc wv = wk[(kd * g.KH + kh) * g.KW + kw];
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
                  Acc* acc_row = acc + (od * g.OH + oh) * g.OW;
                  for (int64_t ow = w_lo; ow < w_hi; ++ow) acc_row[ow] += wv * Acc(in_row[ow * g.sw + off_w]);
                }
              }
            }
      }
      if constexpr (std::is_same_v<Acc, float>) {
        if (attrs.activation.kind() != fb::ActivationKind::None)
          for (int64_t i = 0; i < out_plane; ++i) out[i] = apply_activation(attrs.activation, out[i]);
      } else {
        for (int64_t i = 0; i < out_plane; ++i) out[i] = static_cast<float>(apply_activation(attrs.activation, acc[i]));
      }
    }
  }
}

}  // namespace

void conv(const KernelArgs& a) {
  if (is_quantized(a)) return conv_quantized(a);
  if (a.in_double()) return conv_accumulating<double>(a);
  conv_accumulating<float>(a);
}

}  // namespace kiln::reference

namespace kiln::reference {

// The quantized form: every output element on its own, its int32 accumulator
// exact, then requantized (engine/core/quantization.hpp). Taps in the padding
// contribute (zx − zx)·w = 0 and are skipped.
void conv_quantized(const KernelArgs& a) {
  const auto& attrs = attrs_as<fb::ConvAttrsT>(*a.node);
  const ConvGeometry g = conv_geometry(*a.node, *a.inputs[0].shape, *a.inputs[1].shape);
  const QuantizedLinear q = quantized_linear(*a.inputs[0].tensor, *a.inputs[1].tensor,
                                             a.inputs.size() > 2 ? a.inputs[2].tensor : nullptr,
                                             *a.outputs[0].tensor, g.K, attrs.activation);
  const QIn x = qin(a.inputs[0]), w = qin(a.inputs[1]);
  const QOut y = qout(a.outputs[0]);
  const int64_t in_per_group = g.cin_per_group(), out_per_group = g.cout_per_group();
  const int64_t taps = int64_t{g.KD} * g.KH * g.KW;
  int64_t out_index = 0;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t m = 0; m < g.K; ++m) {
      const int64_t grp = m / out_per_group;
      const int32_t zw = q.w_zero_point[static_cast<size_t>(m)];
      for (int64_t od = 0; od < g.OD; ++od)
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow, ++out_index) {
            int64_t acc = q.bias[static_cast<size_t>(m)];
            for (int64_t ic = 0; ic < in_per_group; ++ic) {
              const int64_t plane = (n * g.C + grp * in_per_group + ic) * g.D;
              const int64_t wk = (m * in_per_group + ic) * taps;
              for (int64_t kd = 0; kd < g.KD; ++kd) {
                const int64_t id = od * g.sd - g.pf + kd * g.dd;
                if (id < 0 || id >= g.D) continue;
                for (int64_t kh = 0; kh < g.KH; ++kh) {
                  const int64_t ih = oh * g.sh - g.pt + kh * g.dh;
                  if (ih < 0 || ih >= g.H) continue;
                  for (int64_t kw = 0; kw < g.KW; ++kw) {
                    const int64_t iw = ow * g.sw - g.pl + kw * g.dw;
                    if (iw < 0 || iw >= g.W) continue;
                    const int32_t xv = x[((plane + id) * g.H + ih) * g.W + iw] - q.x_zero_point;
                    const int32_t wv = w[wk + (kd * g.KH + kh) * g.KW + kw] - zw;
                    acc += int64_t{xv} * wv;
                  }
                }
              }
            }
            if (acc < INT32_MIN || acc > INT32_MAX)
              throw Error(ErrorCode::Internal, "node '" + a.node->name + "': int32 accumulator overflow");
            y.set(out_index, quant::requantize(static_cast<int32_t>(acc), q.multiplier[static_cast<size_t>(m)],
                                               q.y_zero_point, q.clamp.lo, q.clamp.hi));
          }
    }
}

}  // namespace kiln::reference
