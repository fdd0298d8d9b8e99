// Concat along channels of 4-D tensors runs NHWC (SqueezeNet's fire
// modules); Transpose, Split, Slice, Pad and other concats run the reference
// kernel on NCHW.
#include <cstring>

#include "engine/core/quantized_ops.hpp"
#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

namespace {

bool lower_channel_concat(Lowering& l, int i) {
  const Node& node = l.node(i);
  if (node.op != OpType::Concat) return false;
  const Shape os = l.shape(node.outputs[0]);
  int axis = attrs_as<fb::ConcatAttrsT>(node).axis;
  if (axis < 0) axis += static_cast<int>(os.size());
  if (os.size() != 4 || axis != 1) return false;
  for (TensorId t : node.inputs)
    if (l.is_const(t)) return false;
  std::vector<TensorId> ins;
  std::vector<int64_t> channels;
  for (TensorId t : node.inputs) {
    ins.push_back(l.in_layout(t, Layout::NHWC, i));
    channels.push_back(l.shape(t)[1]);
  }
  const TensorId out = node.outputs[0];
  l.set_layout(out, Layout::NHWC);
  l.set_detail(i, "nhwc");
  l.add_step(i, node.op, ins, {out}, [&l, ins, channels, out, os](RunContext& f) {
    const int64_t pixels = os[0] * os[2] * os[3], C = os[1];
    float* y = f.ptr(out);
    int64_t c0 = 0;
    for (size_t k = 0; k < ins.size(); ++k) {
      const float* x = f.ptr(ins[k]);
      const int64_t ck = channels[k];
      for (int64_t p = 0; p < pixels; ++p) std::memcpy(y + p * C + c0, x + p * ck, sizeof(float) * ck);
      c0 += ck;
    }
  });
  return true;
}

}  // namespace

void lower_data_movement(Lowering& l, int i) {
  if (is_quantized_node(l.graph(), l.node(i))) return l.lower_with_reference(i);
  if (!lower_channel_concat(l, i)) l.lower_with_reference(i);
}

}  // namespace kiln::cpu
