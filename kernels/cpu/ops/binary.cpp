// Add/Sub/Mul/Div on the SIMD kernels: operands of one shape in either
// layout, and a 4-D NHWC tensor with a per-channel constant; other
// broadcasts on the reference kernel.
#include "engine/core/op_info.hpp"
#include "engine/core/quantized_ops.hpp"
#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

namespace {

// Per-channel operand of a 4-D tensor: [C], [C,1,1] or [1,C,1,1] (or one value).
bool is_channel_vector(const Shape& s, int64_t C) {
  const int64_t n = element_count(s);
  if (n != C && n != 1) return false;
  // A rank-1 operand broadcasts along the last axis (W), not along channels.
  if (s.size() == 1) return n == 1;
  if (s.size() == 3) return s[1] == 1 && s[2] == 1;
  if (s.size() == 4) return s[0] == 1 && s[2] == 1 && s[3] == 1;
  return n == 1;
}

bool lower_simd(Lowering& l, int i) {
  const Node& node = l.node(i);
  const TensorId a = node.inputs[0], b = node.inputs[1], out = node.outputs[0];
  const Shape& os = l.shape(out);
  const Activation act = to_activation(attrs_as<fb::BinaryAttrsT>(node).activation);
  const BinaryOp op = binary_op_of(node.op);
  const size_t n = static_cast<size_t>(element_count(os));
  if (l.shape(a) == os && l.shape(b) == os) {
    // Same shapes: elementwise in whichever layout the first operand has.
    const Layout layout = l.is_const(a) ? l.layout(b) : l.layout(a);
    if ((l.is_const(a) || l.is_const(b)) && layout == Layout::NHWC && !layouts_coincide(os)) return false;
    const TensorId ai = l.in_layout(a, layout, i), bi = l.in_layout(b, layout, i);
    l.set_layout(out, layout);
    l.set_detail(i, "simd");
    l.add_step(i, node.op, {ai, bi}, {out},
               [&l, ai, bi, out, n, op, act](RunContext& f) { l.simd().binary(f.ptr(out), f.ptr(ai), f.ptr(bi), n, op, act); });
    return true;
  }
  // A 4-D NHWC activation with a per-channel constant.
  if (os.size() != 4) return false;
  const bool a_full = l.shape(a) == os, b_full = l.shape(b) == os;
  if (a_full == b_full) return false;
  const TensorId full = a_full ? a : b, vec = a_full ? b : a;
  if (!l.is_const(vec) || !is_channel_vector(l.shape(vec), os[1]) || element_count(l.shape(vec)) != os[1]) return false;
  const TensorId fi = l.in_layout(full, Layout::NHWC, i);
  l.set_layout(out, Layout::NHWC);
  l.set_detail(i, "simd per-channel nhwc");
  const bool vec_first = !a_full;
  const Shape shape = os;
  l.add_step(i, node.op, {fi}, {out}, [&l, fi, vec, out, shape, op, act, vec_first](RunContext& f) {
    l.simd().binary_channel(f.ptr(out), f.ptr(fi), f.ptr(vec), static_cast<size_t>(shape[0] * shape[2] * shape[3]),
                            static_cast<size_t>(shape[1]), op, vec_first, act);
  });
  return true;
}

// A quantized Add of uint8 operands of one shape, in either layout.
bool lower_quantized_add(Lowering& l, int i) {
  const Graph& g = l.graph();
  const Node& node = l.node(i);
  const TensorId a = node.inputs[0], b = node.inputs[1], out = node.outputs[0];
  for (TensorId t : {a, b, out})
    if (g.tensor(t).dtype != DataType::UInt8) return false;
  if (node.op != OpType::Add || l.shape(a) != l.shape(out) || l.shape(b) != l.shape(out)) return false;
  const QuantizedAdd q = quantized_add(g.tensor(a), g.tensor(b), g.tensor(out), attrs_as<fb::BinaryAttrsT>(node).activation);
  const QAddParams p = qadd_params(q);
  const Layout layout = l.layout(a);
  const TensorId ai = l.in_layout(a, layout, i), bi = l.in_layout(b, layout, i);
  l.set_layout(out, layout);
  l.set_detail(i, "int8 add");
  const size_t n = static_cast<size_t>(element_count(l.shape(out)));
  l.add_step(i, node.op, {ai, bi}, {out}, [&l, ai, bi, out, n, p](RunContext& f) {
    f.elementwise_chunks(n, [&](size_t begin, size_t len) {
      l.int8().add(f.bytes(out) + begin, f.bytes(ai) + begin, f.bytes(bi) + begin, len, p);
    });
  });
  return true;
}

}  // namespace

void lower_binary(Lowering& l, int i) {
  if (is_quantized_node(l.graph(), l.node(i))) {
    if (!lower_quantized_add(l, i)) l.lower_with_reference(i);
    return;
  }
  if (!lower_simd(l, i)) l.lower_with_reference(i);
}

}  // namespace kiln::cpu
