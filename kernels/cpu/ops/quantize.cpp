// QuantizeLinear and DequantizeLinear on the CPU: per-tensor float32 <->
// uint8 on the integer kernels, in whichever layout the input has; other
// forms (int8, per-axis, requantization) on the reference kernel.
#include "engine/core/quantization.hpp"
#include "engine/core/quantized_ops.hpp"
#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

QAddParams qadd_params(const QuantizedAdd& q) {
  QAddParams p;
  p.za = q.za, p.zb = q.zb, p.zy = q.zy, p.ma = q.ma, p.mb = q.mb, p.lo = q.clamp.lo, p.hi = q.clamp.hi;
  return p;
}

std::shared_ptr<const ByteTable> requantization_table(const TensorInfo& from, const TensorInfo& to) {
  const Requantization r = requantization(from, to);
  if (r.identity) return nullptr;
  auto table = std::make_shared<ByteTable>();
  for (int v = 0; v < 256; ++v)
    (*table)[static_cast<size_t>(v)] = static_cast<uint8_t>(
        quant::requantize(v - r.from_zero_point, r.multiplier, r.to_zero_point, r.clamp.lo, r.clamp.hi));
  return table;
}

namespace {
// Pixels per strip of the NCHW -> NHWC quantization.
constexpr size_t kStrip = 256;
}  // namespace

void lower_quantize(Lowering& l, int i) {
  const Graph& g = l.graph();
  const Node& node = l.node(i);
  const TensorId x = node.inputs[0], out = node.outputs[0];
  const TensorInfo& q = node.op == OpType::QuantizeLinear ? g.tensor(out) : g.tensor(x);
  const bool from_float = g.tensor(x).dtype == DataType::Float32 || node.op == OpType::DequantizeLinear;
  if (q.dtype != DataType::UInt8 || q.quant->per_axis() || !from_float) return l.lower_with_reference(i);
  const float scale = q.quant->scale[0];
  const int32_t zp = q.quant->zero_point[0];
  const size_t n = static_cast<size_t>(element_count(l.shape(x)));
  const Shape& xs = l.shape(x);
  if (node.op == OpType::QuantizeLinear && xs.size() == 4 && l.layout(x) == Layout::NCHW && !layouts_coincide(xs)) {
    // A float NCHW image (the model's input) quantized straight into NHWC,
    // where the integer convolutions read it: a plane strip at a time into a
    // buffer, then interleaved.
    const size_t N = static_cast<size_t>(xs[0]), C = static_cast<size_t>(xs[1]),
                 HW = static_cast<size_t>(xs[2] * xs[3]);
    const size_t strips = (HW + kStrip - 1) / kStrip;
    // One buffer per strip in the run's workspace, so that the strips of an
    // image run in parallel.
    l.need_workspace(strips * C * kStrip);
    l.set_layout(out, Layout::NHWC);
    l.set_detail(i, "int8 quantize to nhwc");
    l.add_step(i, node.op, {x}, {out}, [&l, x, out, N, C, HW, scale, zp, strips](RunContext& f) {
      const float* src = f.ptr(x);
      uint8_t* dst = f.bytes(out);
      for (size_t b = 0; b < N; ++b) {
        auto task = [&](size_t s) {
          const size_t p0 = s * kStrip, len = std::min(kStrip, HW - p0);
          uint8_t* buf = reinterpret_cast<uint8_t*>(f.workspace()) + s * C * kStrip;
          for (size_t c = 0; c < C; ++c)
            l.int8().quantize(buf + c * kStrip, src + (b * C + c) * HW + p0, len, scale, zp, 0, 255);
          uint8_t* d = dst + (b * HW + p0) * C;
          if (C == 3) {  // RGB, the common input: unrolled
            for (size_t p = 0; p < len; ++p) {
              d[p * 3] = buf[p];
              d[p * 3 + 1] = buf[kStrip + p];
              d[p * 3 + 2] = buf[2 * kStrip + p];
            }
          } else {
            for (size_t p = 0; p < len; ++p)
              for (size_t c = 0; c < C; ++c) d[p * C + c] = buf[c * kStrip + p];
          }
        };
        f.pool().parallel_for(strips, task);
      }
    });
    return;
  }
  l.set_layout(out, l.layout(x));  // elementwise: any layout will do
  if (node.op == OpType::QuantizeLinear) {
    l.set_detail(i, "int8 quantize");
    l.add_step(i, node.op, {x}, {out}, [&l, x, out, n, scale, zp](RunContext& f) {
      f.elementwise_chunks(n, [&](size_t begin, size_t len) {
        l.int8().quantize(f.bytes(out) + begin, f.ptr(x) + begin, len, scale, zp, 0, 255);
      });
    });
  } else {
    l.set_detail(i, "int8 dequantize");
    l.add_step(i, node.op, {x}, {out}, [&l, x, out, n, scale, zp](RunContext& f) {
      f.elementwise_chunks(n, [&](size_t begin, size_t len) {
        l.int8().dequantize(f.ptr(out) + begin, f.bytes(x) + begin, len, scale, zp);
      });
    });
  }
}

}  // namespace kiln::cpu
