// MaxPool/AveragePool (2-D) and the global pools on NHWC SIMD kernels; other
// ranks on the reference kernel.
#include "engine/core/spatial.hpp"
#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

namespace {

bool lower_window_pool(Lowering& l, int i) {
  const Node& node = l.node(i);
  const auto& a = attrs_as<fb::PoolAttrsT>(node);
  const TensorId x = node.inputs[0];
  const Shape& xs = l.shape(x);
  if (xs.size() != 4 || node.outputs.size() != 1) return false;
  const Window3d w = make_window(node.name, xs, a.kernel_shape, a.strides, a.dilations, a.pads, a.ceil_mode);
  PoolArgs p{};
  p.H = static_cast<int>(w.in[1]), p.W = static_cast<int>(w.in[2]), p.C = static_cast<int>(xs[1]);
  p.OH = static_cast<int>(w.out[1]), p.OW = static_cast<int>(w.out[2]);
  p.KH = static_cast<int>(w.kernel[1]), p.KW = static_cast<int>(w.kernel[2]);
  p.sh = static_cast<int>(w.stride[1]), p.sw = static_cast<int>(w.stride[2]);
  p.dh = static_cast<int>(w.dilation[1]), p.dw = static_cast<int>(w.dilation[2]);
  p.pt = static_cast<int>(w.pad_begin[1]), p.pl = static_cast<int>(w.pad_begin[2]);
  p.pb = static_cast<int>(w.pad_end[1]), p.pr = static_cast<int>(w.pad_end[2]);
  p.is_max = node.op == OpType::MaxPool;
  p.count_include_pad = a.count_include_pad;
  const int N = static_cast<int>(xs[0]);
  const TensorId xin = l.in_layout(x, Layout::NHWC, i);
  const TensorId out = node.outputs[0];
  l.set_layout(out, Layout::NHWC);
  l.set_detail(i, "simd nhwc");
  l.add_step(i, node.op, {xin}, {out}, [&l, p, N, xin, out] {
    const size_t in_image = static_cast<size_t>(p.H) * p.W * p.C, out_image = static_cast<size_t>(p.OH) * p.OW * p.C;
    auto task = [&](size_t t) {
      PoolArgs q = p;
      q.x = l.ptr(xin) + (t / static_cast<size_t>(p.OH)) * in_image;
      q.y = l.ptr(out) + (t / static_cast<size_t>(p.OH)) * out_image;
      q.oh_begin = static_cast<int>(t % static_cast<size_t>(p.OH));
      q.oh_end = q.oh_begin + 1;
      l.simd().pool(q);
    };
    l.pool().parallel_for(static_cast<size_t>(N) * p.OH, task);
  });
  return true;
}

bool lower_global_pool(Lowering& l, int i) {
  const Node& node = l.node(i);
  const TensorId x = node.inputs[0];
  const Shape xs = l.shape(x);
  if (xs.size() != 4) return false;
  const TensorId xin = l.in_layout(x, Layout::NHWC, i);
  const TensorId out = node.outputs[0];  // [N, C, 1, 1]: the same bytes in both layouts
  const bool is_max = node.op == OpType::GlobalMaxPool;
  l.set_detail(i, "simd nhwc");
  l.add_step(i, node.op, {xin}, {out}, [&l, xs, is_max, xin, out] {
    const size_t C = static_cast<size_t>(xs[1]), HW = static_cast<size_t>(xs[2] * xs[3]);
    for (int64_t n = 0; n < xs[0]; ++n)
      l.simd().global_pool(l.ptr(out) + static_cast<size_t>(n) * C, l.ptr(xin) + static_cast<size_t>(n) * HW * C, HW, C,
                           is_max);
  });
  return true;
}

}  // namespace

void lower_pool(Lowering& l, int i) {
  const OpType op = l.node(i).op;
  const bool global = op == OpType::GlobalAveragePool || op == OpType::GlobalMaxPool;
  if (!(global ? lower_global_pool(l, i) : lower_window_pool(l, i))) l.lower_with_reference(i);
}

}  // namespace kiln::cpu
