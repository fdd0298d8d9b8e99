// Concat along channels of 4-D tensors runs NHWC, float or uint8 (SqueezeNet's
// fire modules); Transpose, Split, Slice, Pad and other concats run the
// reference kernel on NCHW.
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "engine/core/quantized_ops.hpp"
#include "kernels/cpu/ops/ops.hpp"

namespace kiln::cpu {

namespace {

bool lower_channel_concat(Lowering& l, int i) {
  const Graph& g = l.graph();
  const Node& node = l.node(i);
  if (node.op != OpType::Concat) return false;
  const TensorId out = node.outputs[0];
  const Shape os = l.shape(out);
  int axis = attrs_as<fb::ConcatAttrsT>(node).axis;
  if (axis < 0) axis += static_cast<int>(os.size());
  if (os.size() != 4 || axis != 1) return false;
  const bool quantized = is_quantized_node(g, node);
  for (TensorId t : node.inputs) {
    if (l.is_const(t)) return false;
    if (quantized && g.tensor(t).dtype != DataType::UInt8) return false;
  }
  if (quantized && g.tensor(out).dtype != DataType::UInt8) return false;
  std::vector<TensorId> ins;
  std::vector<int64_t> channels;
  // Per input: null for a plain copy.
  std::vector<std::shared_ptr<const ByteTable>> tables;
  bool requantizes = false;
  for (TensorId t : node.inputs) {
    ins.push_back(l.in_layout(t, Layout::NHWC, i));
    channels.push_back(l.shape(t)[1]);
    // A quantized input in other parameters than the output's is requantized by table.
    std::shared_ptr<const ByteTable> table = quantized ? requantization_table(g.tensor(t), g.tensor(out)) : nullptr;
    requantizes = requantizes || table != nullptr;
    tables.push_back(std::move(table));
  }
  l.set_layout(out, Layout::NHWC);
  l.set_detail(i, !quantized ? "nhwc" : requantizes ? "int8 nhwc (requantized)" : "int8 nhwc");
  const size_t elem = quantized ? 1 : sizeof(float);
  l.add_step(i, node.op, ins, {out}, [ins, channels, tables, out, os, elem](RunContext& f) {
    const int64_t pixels = os[0] * os[2] * os[3], C = os[1];
    // Bands of pixels, so that two threads share a large concat.
    constexpr int64_t kBand = 256;
    auto band = [&](size_t b) {
      const int64_t p0 = static_cast<int64_t>(b) * kBand, p1 = std::min(pixels, p0 + kBand);
      auto* y = reinterpret_cast<std::byte*>(f.ptr(out));
      int64_t c0 = 0;
      for (size_t k = 0; k < ins.size(); ++k) {
        const auto* x = reinterpret_cast<const std::byte*>(f.ptr(ins[k]));
        const int64_t ck = channels[k];
        const ByteTable* table = tables[k].get();
        for (int64_t p = p0; p < p1; ++p) {
          std::byte* dst = y + static_cast<size_t>(p * C + c0) * elem;
          const std::byte* src = x + static_cast<size_t>(p * ck) * elem;
          if (table == nullptr) {
            std::memcpy(dst, src, static_cast<size_t>(ck) * elem);
          } else {
            for (int64_t c = 0; c < ck; ++c)
              dst[c] = static_cast<std::byte>((*table)[static_cast<uint8_t>(src[c])]);
          }
        }
        c0 += ck;
      }
    };
    f.pool().parallel_for(static_cast<size_t>((pixels + kBand - 1) / kBand), band);
  });
  return true;
}

}  // namespace

void lower_data_movement(Lowering& l, int i) {
  if (!lower_channel_concat(l, i)) l.lower_with_reference(i);
}

}  // namespace kiln::cpu
