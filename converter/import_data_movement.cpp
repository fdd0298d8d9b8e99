// Transpose, Concat, Split, Slice, Pad.
// Parameters that opsets moved from attributes to inputs (Split's sizes,
// Slice's starts/ends/axes/steps, Pad's pads) are read from either, and must
// be known at conversion time.
#include <limits>

#include "converter/op_importers.hpp"
#include "converter/shape_utils.hpp"

namespace kiln::onnx_import {

namespace {
// Pads beyond this are no real model's (and would overflow shape arithmetic).
constexpr int64_t kMaxPad = int64_t{1} << 36;
}  // namespace

void import_transpose(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  const auto rank = static_cast<int64_t>(ctx.shape(0).size());
  std::vector<int64_t> perm;
  if (auto p = ctx.attrs().get_ints("perm")) {
    perm = *p;
  } else {
    for (int64_t i = rank; i-- > 0;) perm.push_back(i);  // default: reverse the axes
  }
  if (static_cast<int64_t>(perm.size()) != rank)
    ctx.invalid("perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(rank));
  std::vector<char> seen(static_cast<size_t>(rank), 0);
  for (int64_t& p : perm) {
    p = normalize_axis(p, rank, ctx.where(), "perm entry");
    if (seen[p]++) ctx.invalid("perm is not a permutation");
  }
  fb::TransposeAttrsT attrs;
  attrs.perm = to_int32(perm, ctx, "perm");
  ctx.emit(OpType::Transpose, {ctx.tensor(0)}, make_attrs(std::move(attrs)));
}

void import_concat(NodeContext& ctx) {
  ctx.require_inputs(1, std::numeric_limits<int>::max());
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (!ctx.has_input(i)) ctx.invalid("input " + std::to_string(i) + " is empty");
  if (ctx.opset() >= 4 && !ctx.attrs().has("axis")) ctx.invalid("attribute 'axis' is missing");
  const auto rank = static_cast<int64_t>(ctx.shape(0).size());
  fb::ConcatAttrsT attrs;
  attrs.axis = static_cast<int32_t>(normalize_axis(ctx.attrs().get_int("axis", 1), rank, ctx.where()));
  std::vector<TensorId> inputs;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) inputs.push_back(ctx.tensor(i));
  ctx.emit(OpType::Concat, std::move(inputs), make_attrs(attrs));
}

void import_split(NodeContext& ctx) {
  ctx.require_inputs(1, 2);
  const Shape x = ctx.shape(0);
  const int64_t axis = normalize_axis(ctx.attrs().get_int("axis", 0), static_cast<int64_t>(x.size()), ctx.where());
  std::vector<int64_t> sizes;
  // The sizes: an input from opset 13 (and in opset 1), an attribute in 2-12.
  if (ctx.has_input(1)) sizes = ctx.constant_ints(1, "split");
  else if (ctx.opset() < 13) sizes = ctx.attrs().get_ints("split").value_or(std::vector<int64_t>{});
  const size_t n = ctx.num_outputs();
  if (sizes.empty() && ctx.opset() >= 18) {
    // Opset 18: num_outputs parts of ceil(size / n), the last one smaller.
    const int64_t parts = ctx.attrs().get_int("num_outputs", static_cast<int64_t>(n));
    if (parts != static_cast<int64_t>(n))
      ctx.invalid("num_outputs is " + std::to_string(parts) + " but the node has " + std::to_string(n) + " outputs");
    const int64_t part = (x[axis] + parts - 1) / parts;
    if (part * (parts - 1) > x[axis])
      ctx.invalid("axis " + std::to_string(axis) + " of size " + std::to_string(x[axis]) + " does not split into " +
                  std::to_string(n) + " parts");
    sizes.assign(n, part);
    sizes.back() = x[axis] - part * (parts - 1);
  }
  if (sizes.empty()) {
    // Equal parts.
    if (x[axis] % static_cast<int64_t>(n) != 0)
      ctx.invalid("axis " + std::to_string(axis) + " of size " + std::to_string(x[axis]) + " does not split into " +
                  std::to_string(n) + " equal parts");
    sizes.assign(n, x[axis] / static_cast<int64_t>(n));
  }
  if (sizes.size() != n)
    ctx.invalid(std::to_string(sizes.size()) + " split sizes for " + std::to_string(n) + " outputs");
  for (int64_t size : sizes)
    if (size < 0 || size > x[axis])
      ctx.invalid("split size " + std::to_string(size) + " does not fit axis " + std::to_string(axis) + " of size " +
                  std::to_string(x[axis]));
  fb::SplitAttrsT attrs;
  attrs.axis = static_cast<int32_t>(axis);
  attrs.sizes = sizes;
  ctx.emit(OpType::Split, {ctx.tensor(0)}, make_attrs(std::move(attrs)), n);
}

void import_slice(NodeContext& ctx) {
  std::vector<int64_t> starts, ends;
  std::optional<std::vector<int64_t>> axes, steps;
  if (ctx.opset() < 10) {
    ctx.require_inputs(1, 1);
    starts = required_ints(ctx, "starts");
    ends = required_ints(ctx, "ends");
    axes = ctx.attrs().get_ints("axes");
  } else {
    ctx.require_inputs(3, 5);
    starts = ctx.constant_ints(1, "starts");
    ends = ctx.constant_ints(2, "ends");
    if (ctx.has_input(3)) axes = ctx.constant_ints(3, "axes");
    if (ctx.has_input(4)) steps = ctx.constant_ints(4, "steps");
  }
  const SliceParams p = normalize_slice(ctx.shape(0), starts, ends, axes ? &*axes : nullptr,
                                        steps ? &*steps : nullptr, ctx.where());
  fb::SliceAttrsT attrs;
  attrs.starts = p.starts;
  attrs.ends = p.ends;
  attrs.axes = to_int32(p.axes, ctx, "axes");
  attrs.steps = p.steps;
  ctx.emit(OpType::Slice, {ctx.tensor(0)}, make_attrs(std::move(attrs)));
}

void import_pad(NodeContext& ctx) {
  const std::string mode = ctx.attrs().get_string("mode", "constant");
  if (mode != "constant")
    ctx.unsupported("attribute mode = '" + mode + "' is not supported; Kiln pads with a constant only");
  const auto rank = static_cast<int64_t>(ctx.shape(0).size());
  fb::PadAttrsT attrs;
  if (ctx.opset() < 11) {
    ctx.require_inputs(1, 1);
    // "paddings" in opset 1, "pads" from opset 2.
    attrs.pads = ctx.attrs().has("pads") ? required_ints(ctx, "pads") : required_ints(ctx, "paddings");
    attrs.value = ctx.attrs().get_float("value", 0.0f);
  } else {
    ctx.require_inputs(2, ctx.opset() >= 18 ? 4 : 3);
    attrs.pads = ctx.constant_ints(1, "pads");
    attrs.value = ctx.has_input(2) ? ctx.constant_float(2, "constant_value") : 0.0f;
    if (ctx.opset() >= 18 && ctx.has_input(3)) {
      // Opset 18: pads for the listed axes only ([begins..., ends...] in axes order).
      const std::vector<int64_t> axes = normalize_axes(ctx.constant_ints(3, "axes"), rank, ctx.where());
      if (attrs.pads.size() != 2 * axes.size())
        ctx.invalid("pads has " + std::to_string(attrs.pads.size()) + " entries for " + std::to_string(axes.size()) +
                    " axes");
      std::vector<int64_t> full(static_cast<size_t>(2 * rank), 0);
      for (size_t i = 0; i < axes.size(); ++i) {
        full[static_cast<size_t>(axes[i])] = attrs.pads[i];
        full[static_cast<size_t>(axes[i] + rank)] = attrs.pads[i + axes.size()];
      }
      attrs.pads = std::move(full);
    }
  }
  if (static_cast<int64_t>(attrs.pads.size()) != 2 * rank)
    ctx.invalid("pads has " + std::to_string(attrs.pads.size()) + " entries for rank " + std::to_string(rank));
  for (int64_t p : attrs.pads)
    if (p > kMaxPad || p < -kMaxPad) ctx.invalid("pad " + std::to_string(p) + " is implausibly large");
  ctx.emit(OpType::Pad, {ctx.tensor(0)}, make_attrs(std::move(attrs)));
}

}  // namespace kiln::onnx_import
