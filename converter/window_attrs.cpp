#include "converter/window_attrs.hpp"

#include <algorithm>

namespace kiln::onnx_import {

Window read_window(NodeContext& ctx, const Shape& x, std::vector<int64_t> kernel) {
  const Attributes& a = ctx.attrs();
  const size_t r = kernel.size();
  Window w;
  w.kernel = std::move(kernel);
  w.strides = a.get_ints("strides").value_or(std::vector<int64_t>(r, 1));
  w.dilations = a.get_ints("dilations").value_or(std::vector<int64_t>(r, 1));
  if (w.strides.size() != r) ctx.invalid("strides has " + std::to_string(w.strides.size()) + " entries for " +
                                         std::to_string(r) + " spatial axes");
  if (w.dilations.size() != r) ctx.invalid("dilations has " + std::to_string(w.dilations.size()) + " entries for " +
                                           std::to_string(r) + " spatial axes");
  for (size_t i = 0; i < r; ++i) {
    if (w.kernel[i] < 1) ctx.invalid("kernel sizes must be positive");
    if (w.strides[i] < 1) ctx.invalid("strides must be positive");
    if (w.dilations[i] < 1) ctx.invalid("dilations must be positive");
  }
  const std::string auto_pad = a.get_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET" || auto_pad.empty()) {
    w.pads = a.get_ints("pads").value_or(std::vector<int64_t>(2 * r, 0));
    if (w.pads.size() != 2 * r)
      ctx.invalid("pads has " + std::to_string(w.pads.size()) + " entries, expected " + std::to_string(2 * r));
  } else if (auto_pad == "VALID") {
    w.pads.assign(2 * r, 0);
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    // Output size ceil(in / stride); the total padding that needs is split
    // evenly, the odd pixel going at the end (SAME_UPPER) or the start (SAME_LOWER).
    w.pads.assign(2 * r, 0);
    for (size_t i = 0; i < r; ++i) {
      const int64_t in = x[2 + i];
      const int64_t out = (in + w.strides[i] - 1) / w.strides[i];
      const int64_t effective_kernel = (w.kernel[i] - 1) * w.dilations[i] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * w.strides[i] + effective_kernel - in);
      const int64_t small = total / 2, big = total - small;
      w.pads[i] = auto_pad == "SAME_UPPER" ? small : big;
      w.pads[i + r] = auto_pad == "SAME_UPPER" ? big : small;
    }
  } else {
    ctx.unsupported("attribute auto_pad = '" + auto_pad +
                    "' is not supported (NOTSET, VALID, SAME_UPPER and SAME_LOWER are)");
  }
  return w;
}

size_t spatial_rank(NodeContext& ctx, const Shape& x, const char* which) {
  if (x.size() < 3) ctx.invalid(std::string(which) + " has shape " + shape_to_string(x) + "; expected (N, C, spatial...)");
  const size_t r = x.size() - 2;
  if (r > 3)
    ctx.unsupported(std::to_string(r) + " spatial dimensions (" + which + " shape " + shape_to_string(x) +
                    "); Kiln supports 1 to 3");
  return r;
}

}  // namespace kiln::onnx_import
