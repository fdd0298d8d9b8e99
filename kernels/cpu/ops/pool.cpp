// MaxPool/AveragePool (2-D) and the global pools on NHWC SIMD kernels; other
// ranks on the reference kernel.
#include "engine/core/spatial.hpp"
#include "engine/core/quantized_ops.hpp"
#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

namespace {

// The 2-D window of a 4-D NCHW shape `xs` into the float and the int8 pool kernels' arguments.
template <class Args>
void set_window(Args& p, const Window3d& w, const Shape& xs) {
  p.H = static_cast<int>(w.in[1]), p.W = static_cast<int>(w.in[2]), p.C = static_cast<int>(xs[1]);
  p.OW = static_cast<int>(w.out[2]);
  p.KH = static_cast<int>(w.kernel[1]), p.KW = static_cast<int>(w.kernel[2]);
  p.sh = static_cast<int>(w.stride[1]), p.sw = static_cast<int>(w.stride[2]);
  p.dh = static_cast<int>(w.dilation[1]), p.dw = static_cast<int>(w.dilation[2]);
  p.pt = static_cast<int>(w.pad_begin[1]), p.pl = static_cast<int>(w.pad_begin[2]);
}

bool lower_window_pool(Lowering& l, int i) {
  const Node& node = l.node(i);
  const auto& a = attrs_as<fb::PoolAttrsT>(node);
  const TensorId x = node.inputs[0];
  const Shape& xs = l.shape(x);
  if (xs.size() != 4 || node.outputs.size() != 1) return false;
  const Window3d w = make_window(node.name, xs, a.kernel_shape, a.strides, a.dilations, a.pads, a.ceil_mode);
  PoolArgs p{};
  set_window(p, w, xs);
  p.OH = static_cast<int>(w.out[1]);
  p.pb = static_cast<int>(w.pad_end[1]), p.pr = static_cast<int>(w.pad_end[2]);
  p.is_max = node.op == OpType::MaxPool;
  p.count_include_pad = a.count_include_pad;
  const int N = static_cast<int>(xs[0]);
  const TensorId xin = l.in_layout(x, Layout::NHWC, i);
  const TensorId out = node.outputs[0];
  l.set_layout(out, Layout::NHWC);
  l.set_detail(i, "simd nhwc");
  l.add_step(i, node.op, {xin}, {out}, [&l, p, N, xin, out](RunContext& f) {
    const size_t in_image = static_cast<size_t>(p.H) * p.W * p.C, out_image = static_cast<size_t>(p.OH) * p.OW * p.C;
    auto task = [&](size_t t) {
      PoolArgs q = p;
      q.x = f.ptr(xin) + (t / static_cast<size_t>(p.OH)) * in_image;
      q.y = f.ptr(out) + (t / static_cast<size_t>(p.OH)) * out_image;
      q.oh_begin = static_cast<int>(t % static_cast<size_t>(p.OH));
      q.oh_end = q.oh_begin + 1;
      l.simd().pool(q);
    };
    f.pool().parallel_for(static_cast<size_t>(N) * p.OH, task);
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
  l.add_step(i, node.op, {xin}, {out}, [&l, xs, is_max, xin, out](RunContext& f) {
    const size_t C = static_cast<size_t>(xs[1]), HW = static_cast<size_t>(xs[2] * xs[3]);
    for (int64_t n = 0; n < xs[0]; ++n)
      l.simd().global_pool(f.ptr(out) + static_cast<size_t>(n) * C, f.ptr(xin) + static_cast<size_t>(n) * HW * C, HW, C,
                           is_max);
  });
  return true;
}

// A quantized GlobalAveragePool of a 4-D uint8 tensor (NHWC).
bool lower_quantized_global_average(Lowering& l, int i) {
  const Graph& g = l.graph();
  const Node& node = l.node(i);
  const TensorId x = node.inputs[0], out = node.outputs[0];
  const Shape& xs = l.shape(x);
  if (node.op != OpType::GlobalAveragePool || xs.size() != 4 || g.tensor(x).dtype != DataType::UInt8 ||
      g.tensor(out).dtype != DataType::UInt8)
    return false;
  const size_t N = static_cast<size_t>(xs[0]), C = static_cast<size_t>(xs[1]), HW = static_cast<size_t>(xs[2] * xs[3]);
  const Requantization r = requantization(g.tensor(x), g.tensor(out));
  auto multiplier = std::make_shared<float>(average_multiplier(g.tensor(x), g.tensor(out), static_cast<int64_t>(HW)));
  Requant rq;
  rq.per_channel = false;
  rq.zero_point = r.to_zero_point;
  rq.lo = r.clamp.lo;
  rq.hi = r.clamp.hi;
  const int32_t zx = r.from_zero_point;
  const TensorId xin = l.in_layout(x, Layout::NHWC, i);
  l.set_layout(out, Layout::NHWC);
  l.set_detail(i, "int8 global average");
  l.add_step(i, node.op, {xin}, {out}, [&l, xin, out, N, C, HW, zx, rq, multiplier](RunContext& f) {
    Requant q = rq;
    q.multiplier = multiplier.get();
    for (size_t n = 0; n < N; ++n) l.int8().global_avgpool(f.bytes(out) + n * C, f.bytes(xin) + n * HW * C, HW, C, zx, q);
  });
  return true;
}

// A quantized 2-D MaxPool of uint8 NHWC tensors: the byte max, then a 256-entry
// requantization table when the output's parameters differ from the input's.
bool lower_quantized_max(Lowering& l, int i) {
  const Graph& g = l.graph();
  const Node& node = l.node(i);
  const TensorId x = node.inputs[0], out = node.outputs[0];
  const Shape& xs = l.shape(x);
  if (node.op != OpType::MaxPool || xs.size() != 4 || node.outputs.size() != 1 ||
      g.tensor(x).dtype != DataType::UInt8 || g.tensor(out).dtype != DataType::UInt8)
    return false;
  const auto& a = attrs_as<fb::PoolAttrsT>(node);
  const Window3d w = make_window(node.name, xs, a.kernel_shape, a.strides, a.dilations, a.pads, a.ceil_mode);
  const std::shared_ptr<const ByteTable> table = requantization_table(g.tensor(x), g.tensor(out));
  QMaxPoolArgs p;
  set_window(p, w, xs);
  p.empty = static_cast<uint8_t>(g.tensor(out).quant->zero_point[0]);
  const int N = static_cast<int>(xs[0]), OH = static_cast<int>(w.out[1]);
  const TensorId xin = l.in_layout(x, Layout::NHWC, i);
  l.set_layout(out, Layout::NHWC);
  l.set_detail(i, table ? "int8 max pool (requantized)" : "int8 max pool");
  l.add_step(i, node.op, {xin}, {out}, [&l, p, N, OH, xin, out, table](RunContext& f) {
    const size_t in_image = static_cast<size_t>(p.H) * p.W * p.C, out_image = static_cast<size_t>(OH) * p.OW * p.C;
    // Bands of rows, about four per thread: one row of a small layer is too little work to hand out.
    const int rows = std::max(1, OH / std::max(1, 4 * f.pool().threads()));
    const int bands = (OH + rows - 1) / rows;
    auto task = [&](size_t t) {
      QMaxPoolArgs q = p;
      const size_t n = t / static_cast<size_t>(bands);
      q.x = f.bytes(xin) + n * in_image;
      q.y = f.bytes(out) + n * out_image;
      q.table = table ? table->data() : nullptr;
      q.oh_begin = static_cast<int>(t % static_cast<size_t>(bands)) * rows;
      q.oh_end = std::min(OH, q.oh_begin + rows);
      l.int8().max_pool(q);
    };
    f.pool().parallel_for(static_cast<size_t>(N) * bands, task);
  });
  return true;
}

}  // namespace

void lower_pool(Lowering& l, int i) {
  if (is_quantized_node(l.graph(), l.node(i))) {
    if (!lower_quantized_global_average(l, i) && !lower_quantized_max(l, i)) l.lower_with_reference(i);
    return;
  }
  const OpType op = l.node(i).op;
  const bool global = op == OpType::GlobalAveragePool || op == OpType::GlobalMaxPool;
  if (!(global ? lower_global_pool(l, i) : lower_window_pool(l, i))) l.lower_with_reference(i);
}

}  // namespace kiln::cpu
