// QuantizeLinear and DequantizeLinear on the CPU: per-tensor float32 <->
// uint8 on the integer kernels, in whichever layout the input has; other
// forms (int8, per-axis, requantization) on the reference kernel.
#include "engine/core/quantized_ops.hpp"
#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

namespace {
// Elements per task: whole cache lines, so that threads never share one.
constexpr size_t kChunk = 16384;
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
  l.set_layout(out, l.layout(x));  // elementwise: any layout will do
  if (node.op == OpType::QuantizeLinear) {
    l.set_detail(i, "int8 quantize");
    l.add_step(i, node.op, {x}, {out}, [&l, x, out, n, scale, zp] {
      auto task = [&](size_t c) {
        const size_t begin = c * kChunk, len = std::min(kChunk, n - begin);
        l.int8().quantize(l.bytes(out) + begin, l.ptr(x) + begin, len, scale, zp, 0, 255);
      };
      l.pool().parallel_for((n + kChunk - 1) / kChunk, task);
    });
  } else {
    l.set_detail(i, "int8 dequantize");
    l.add_step(i, node.op, {x}, {out}, [&l, x, out, n, scale, zp] {
      auto task = [&](size_t c) {
        const size_t begin = c * kChunk, len = std::min(kChunk, n - begin);
        l.int8().dequantize(l.ptr(out) + begin, l.bytes(x) + begin, len, scale, zp);
      };
      l.pool().parallel_for((n + kChunk - 1) / kChunk, task);
    });
  }
}

}  // namespace kiln::cpu
