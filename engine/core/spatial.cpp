#include "engine/core/spatial.hpp"

#include <string>

namespace kiln {

namespace {
[[noreturn]] void fail(const std::string& node, const std::string& what) {
  throw Error(ErrorCode::InvalidModel, "node '" + node + "': " + what);
}
}  // namespace

Window3d make_window(const std::string& node_name, const Shape& input_shape, const std::vector<int32_t>& kernel,
                     const std::vector<int32_t>& strides, const std::vector<int32_t>& dilations,
                     const std::vector<int32_t>& pads, bool ceil_mode) {
  Window3d w;
  if (input_shape.size() < 3 || input_shape.size() > 5)
    fail(node_name, "expects an input of rank 3 to 5 (N, C, 1-3 spatial axes), got " + shape_to_string(input_shape));
  w.rank = static_cast<int>(input_shape.size()) - 2;
  const size_t r = static_cast<size_t>(w.rank);
  if (kernel.size() != r)
    fail(node_name,
         "kernel_shape has " + std::to_string(kernel.size()) + " entries for " + std::to_string(r) + " spatial axes");
  if (!strides.empty() && strides.size() != r) fail(node_name, "strides length does not match the spatial rank");
  if (!dilations.empty() && dilations.size() != r) fail(node_name, "dilations length does not match the spatial rank");
  if (!pads.empty() && pads.size() != 2 * r) fail(node_name, "pads must have 2 entries per spatial axis");

  // Spatial axes are right-aligned into the 3-D window: a 2-D op uses (1, H, W).
  const size_t off = 3 - r;
  for (size_t i = 0; i < r; ++i) {
    const size_t a = off + i;
    w.in[a] = input_shape[2 + i];
    w.kernel[a] = kernel[i];
    w.stride[a] = strides.empty() ? 1 : strides[i];
    w.dilation[a] = dilations.empty() ? 1 : dilations[i];
    w.pad_begin[a] = pads.empty() ? 0 : pads[i];
    w.pad_end[a] = pads.empty() ? 0 : pads[r + i];
    if (w.kernel[a] < 1) fail(node_name, "kernel sizes must be positive");
    if (w.stride[a] < 1) fail(node_name, "strides must be positive");
    if (w.dilation[a] < 1) fail(node_name, "dilations must be positive");
    if (w.pad_begin[a] < 0 || w.pad_end[a] < 0) fail(node_name, "negative pads are not supported");
    if (w.pad_begin[a] > 1 << 20 || w.pad_end[a] > 1 << 20) fail(node_name, "pads are implausibly large");

    const int64_t effective_kernel = w.dilation[a] * (w.kernel[a] - 1) + 1;
    const int64_t span = w.in[a] + w.pad_begin[a] + w.pad_end[a] - effective_kernel;
    if (span < 0)
      fail(node_name, "the kernel (" + std::to_string(effective_kernel) +
                          " with dilation) is larger than the padded input (" +
                          std::to_string(w.in[a] + w.pad_begin[a] + w.pad_end[a]) + ")");
    int64_t out = (span + (ceil_mode ? w.stride[a] - 1 : 0)) / w.stride[a] + 1;
    // As in PyTorch and ONNX: a window may not start inside the end padding.
    if (ceil_mode && (out - 1) * w.stride[a] >= w.in[a] + w.pad_begin[a]) --out;
    w.out[a] = out;
  }
  return w;
}

ConvGeometry conv_geometry(const Node& node, const Shape& x, const Shape& w) {
  const auto& a = attrs_as<fb::ConvAttrsT>(node);
  const Window3d win = make_window(node.name, x, a.kernel_shape, a.strides, a.dilations, a.pads, false);
  auto i = [](int64_t v) { return static_cast<int>(v); };
  ConvGeometry g;
  g.rank = win.rank;
  g.N = i(x[0]), g.C = i(x[1]), g.K = i(w[0]), g.group = a.group;
  g.D = i(win.in[0]), g.H = i(win.in[1]), g.W = i(win.in[2]);
  g.OD = i(win.out[0]), g.OH = i(win.out[1]), g.OW = i(win.out[2]);
  g.KD = i(win.kernel[0]), g.KH = i(win.kernel[1]), g.KW = i(win.kernel[2]);
  g.sd = i(win.stride[0]), g.sh = i(win.stride[1]), g.sw = i(win.stride[2]);
  g.dd = i(win.dilation[0]), g.dh = i(win.dilation[1]), g.dw = i(win.dilation[2]);
  g.pf = i(win.pad_begin[0]), g.pt = i(win.pad_begin[1]), g.pl = i(win.pad_begin[2]);
  g.pk = i(win.pad_end[0]), g.pb = i(win.pad_end[1]), g.pr = i(win.pad_end[2]);
  return g;
}

ConvGeometry conv_geometry(const Graph& graph, const Node& node) {
  return conv_geometry(node, graph.shape(node.inputs[0]), graph.shape(node.inputs[1]));
}

}  // namespace kiln
