#include "engine/core/shape_inference.hpp"

#include <algorithm>
#include <numeric>
#include <optional>

#include "engine/core/checked_size.hpp"
#include "engine/core/op_info.hpp"
#include "engine/core/spatial.hpp"

namespace kiln {

namespace {

[[noreturn]] void fail(const Node& node, const std::string& what) {
  throw Error(ErrorCode::InvalidModel,
              "node '" + node.name + "' (" + std::string(op_name(node.op)) + "): " + what);
}

// Sizes computed from a node's attributes and input shapes, checked like a
// file's (the model is input too).
SizeSource source_of(const Node& node) {
  return {"node '" + node.name + "' (" + std::string(op_name(node.op)) + ")", ErrorCode::InvalidModel};
}

// "3" or "3-5". Built with += : GCC 12 gives a false -Wrestrict warning on
// `"-" + std::to_string(...)`.
std::string range_text(int64_t lo, int64_t hi) {
  std::string s = std::to_string(lo);
  if (lo != hi) {
    s += '-';
    s += std::to_string(hi);
  }
  return s;
}

void require_rank(const Node& node, const Shape& s, size_t min_rank, size_t max_rank, const char* which) {
  if (s.size() < min_rank || s.size() > max_rank)
    fail(node, std::string(which) + " has shape " + shape_to_string(s) + ", expected rank " +
                   range_text(static_cast<int64_t>(min_rank), static_cast<int64_t>(max_rank)));
}

int64_t checked_axis(const Node& node, int64_t axis, size_t rank, const char* what) {
  if (axis < 0 || axis >= static_cast<int64_t>(rank))
    fail(node, std::string(what) + " " + std::to_string(axis) + " is out of range for rank " +
                   std::to_string(rank));
  return axis;
}

Shape infer_conv(const Graph& g, const Node& n) {
  const auto& a = attrs_as<fb::ConvAttrsT>(n);
  const Shape& x = g.shape(n.inputs[0]);
  const Shape& w = g.shape(n.inputs[1]);
  require_rank(n, x, 3, 5, "input");
  if (w.size() != x.size())
    fail(n, "weight shape " + shape_to_string(w) + " does not match input rank " + std::to_string(x.size()));
  if (a.group < 1) fail(n, "group must be positive");
  if (w[0] % a.group != 0)
    fail(n, "output channels " + std::to_string(w[0]) + " are not divisible by group " + std::to_string(a.group));
  if (x[1] != w[1] * a.group)
    fail(n, "input has " + std::to_string(x[1]) + " channels but weight " + shape_to_string(w) +
                " with group " + std::to_string(a.group) + " expects " + std::to_string(w[1] * a.group));
  for (size_t i = 0; i < a.kernel_shape.size() && i + 2 < w.size(); ++i)
    if (a.kernel_shape[i] != w[i + 2]) fail(n, "kernel_shape does not match the weight shape " + shape_to_string(w));
  if (n.inputs.size() > 2) {
    const Shape& b = g.shape(n.inputs[2]);
    if (b.size() != 1 || b[0] != w[0]) fail(n, "bias shape " + shape_to_string(b) + " must be [" + std::to_string(w[0]) + "]");
  }
  Window3d win = make_window(n.name, x, a.kernel_shape, a.strides, a.dilations, a.pads, false);
  Shape out{x[0], w[0]};
  for (int i = 0; i < win.rank; ++i) out.push_back(win.out[3 - win.rank + i]);
  return out;
}

Shape infer_pool(const Graph& g, const Node& n) {
  const auto& a = attrs_as<fb::PoolAttrsT>(n);
  const Shape& x = g.shape(n.inputs[0]);
  require_rank(n, x, 3, 5, "input");
  Window3d win = make_window(n.name, x, a.kernel_shape, a.strides, a.dilations, a.pads, a.ceil_mode);
  Shape out{x[0], x[1]};
  for (int i = 0; i < win.rank; ++i) out.push_back(win.out[3 - win.rank + i]);
  return out;
}

Shape infer_gemm(const Graph& g, const Node& n) {
  const auto& a = attrs_as<fb::GemmAttrsT>(n);
  const Shape& sa = g.shape(n.inputs[0]);
  const Shape& sb = g.shape(n.inputs[1]);
  require_rank(n, sa, 2, 2, "A");
  require_rank(n, sb, 2, 2, "B");
  const int64_t m = a.trans_a ? sa[1] : sa[0];
  const int64_t k = a.trans_a ? sa[0] : sa[1];
  const int64_t kb = a.trans_b ? sb[1] : sb[0];
  const int64_t nn = a.trans_b ? sb[0] : sb[1];
  if (k != kb) fail(n, "inner dimensions differ: A " + shape_to_string(sa) + ", B " + shape_to_string(sb));
  Shape out{m, nn};
  if (n.inputs.size() > 2) {
    const Shape& c = g.shape(n.inputs[2]);
    if (broadcast_shapes(c, out, n.name) != out)
      fail(n, "C shape " + shape_to_string(c) + " does not broadcast to " + shape_to_string(out));
  }
  return out;
}

Shape infer_matmul(const Graph& g, const Node& n) {
  Shape a = g.shape(n.inputs[0]);
  Shape b = g.shape(n.inputs[1]);
  if (a.empty() || b.empty()) fail(n, "inputs must have rank >= 1");
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  if (a.back() != b[b.size() - 2])
    fail(n, "inner dimensions differ: " + shape_to_string(g.shape(n.inputs[0])) + " x " +
                shape_to_string(g.shape(n.inputs[1])));
  Shape batch_a(a.begin(), a.end() - 2), batch_b(b.begin(), b.end() - 2);
  Shape out = broadcast_shapes(batch_a, batch_b, n.name);
  if (!a_vec) out.push_back(a[a.size() - 2]);
  if (!b_vec) out.push_back(b.back());
  return out;
}

Shape infer_concat(const Graph& g, const Node& n) {
  const auto& a = attrs_as<fb::ConcatAttrsT>(n);
  Shape out = g.shape(n.inputs[0]);
  const int64_t axis = checked_axis(n, a.axis, out.size(), "axis");
  out[axis] = 0;
  for (TensorId t : n.inputs) {
    const Shape& s = g.shape(t);
    if (s.size() != out.size()) fail(n, "inputs differ in rank");
    for (size_t i = 0; i < s.size(); ++i)
      if (static_cast<int64_t>(i) != axis && s[i] != out[i])
        fail(n, "input shapes " + shape_to_string(g.shape(n.inputs[0])) + " and " + shape_to_string(s) +
                    " differ outside axis " + std::to_string(axis));
    out[axis] = checked_add(out[axis], s[axis], source_of(n), "the concatenated axis");
  }
  return out;
}

std::vector<Shape> infer_split(const Graph& g, const Node& n) {
  const auto& a = attrs_as<fb::SplitAttrsT>(n);
  const Shape& x = g.shape(n.inputs[0]);
  const int64_t axis = checked_axis(n, a.axis, x.size(), "axis");
  if (a.sizes.size() != n.outputs.size())
    fail(n, std::to_string(a.sizes.size()) + " split sizes for " + std::to_string(n.outputs.size()) + " outputs");
  int64_t total = 0;
  std::vector<Shape> outs;
  for (int64_t s : a.sizes) {
    if (s < 0) fail(n, "negative split size");
    total = checked_add(total, s, source_of(n), "the sum of the split sizes");
    Shape o = x;
    o[axis] = s;
    outs.push_back(o);
  }
  if (total != x[axis])
    fail(n, "split sizes add up to " + std::to_string(total) + " but axis " + std::to_string(axis) + " has " +
                std::to_string(x[axis]));
  return outs;
}

Shape infer_transpose(const Graph& g, const Node& n) {
  const auto& a = attrs_as<fb::TransposeAttrsT>(n);
  const Shape& x = g.shape(n.inputs[0]);
  if (a.perm.size() != x.size()) fail(n, "perm length differs from the input rank");
  std::vector<char> seen(x.size(), 0);
  Shape out;
  for (int32_t p : a.perm) {
    checked_axis(n, p, x.size(), "perm entry");
    if (seen[p]++) fail(n, "perm is not a permutation");
    out.push_back(x[p]);
  }
  return out;
}

Shape infer_pad(const Graph& g, const Node& n) {
  const auto& a = attrs_as<fb::PadAttrsT>(n);
  const Shape& x = g.shape(n.inputs[0]);
  if (a.pads.size() != 2 * x.size()) fail(n, "pads must have 2 entries per axis");
  Shape out = x;
  // Bounded so that neither this sum nor the kernel's index arithmetic overflows.
  constexpr int64_t kLimit = int64_t{1} << 40;
  for (int64_t p : a.pads)
    if (p < -kLimit || p > kLimit) fail(n, "pads are implausibly large");
  for (size_t i = 0; i < x.size(); ++i) {
    out[i] = x[i] + a.pads[i] + a.pads[i + x.size()];
    if (out[i] < 0) fail(n, "pads crop axis " + std::to_string(i) + " below zero");
  }
  return out;
}

Shape infer_reduce(const Graph& g, const Node& n) {
  const auto& a = attrs_as<fb::ReduceAttrsT>(n);
  const Shape& x = g.shape(n.inputs[0]);
  std::vector<char> reduced(x.size(), a.axes.empty() ? 1 : 0);
  for (int32_t axis : a.axes) reduced[checked_axis(n, axis, x.size(), "axis")] = 1;
  Shape out;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!reduced[i]) out.push_back(x[i]);
    else if (a.keepdims) out.push_back(1);
  }
  return out;
}

Shape infer_squeeze(const Graph& g, const Node& n) {
  const auto& a = attrs_as<fb::AxesAttrsT>(n);
  const Shape& x = g.shape(n.inputs[0]);
  std::vector<char> drop(x.size(), 0);
  for (int32_t axis : a.axes) {
    checked_axis(n, axis, x.size(), "axis");
    if (x[axis] != 1) fail(n, "cannot squeeze axis " + std::to_string(axis) + " of size " + std::to_string(x[axis]));
    drop[axis] = 1;
  }
  Shape out;
  for (size_t i = 0; i < x.size(); ++i)
    if (!drop[i]) out.push_back(x[i]);
  return out;
}

Shape infer_unsqueeze(const Graph& g, const Node& n) {
  const auto& a = attrs_as<fb::AxesAttrsT>(n);
  const Shape& x = g.shape(n.inputs[0]);
  const size_t rank = x.size() + a.axes.size();
  std::vector<char> added(rank, 0);
  for (int32_t axis : a.axes) {
    checked_axis(n, axis, rank, "axis");
    if (added[axis]++) fail(n, "repeated axis");
  }
  Shape out;
  size_t j = 0;
  for (size_t i = 0; i < rank; ++i) out.push_back(added[i] ? 1 : x[j++]);
  return out;
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& node_name) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error(ErrorCode::InvalidModel, "node '" + node_name + "': shapes " + shape_to_string(a) + " and " +
                                               shape_to_string(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

SliceRange resolve_slice(int64_t dim, int64_t start, int64_t end, int64_t step) {
  SliceRange r;
  r.step = step;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  // Counts use the step's magnitude as unsigned, so that huge steps (up to
  // INT64_MIN) neither overflow nor lose the first element.
  const uint64_t magnitude = step > 0 ? static_cast<uint64_t>(step) : uint64_t{0} - static_cast<uint64_t>(step);
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    r.count = end > start ? static_cast<int64_t>(static_cast<uint64_t>(end - start - 1) / magnitude + 1) : 0;
  } else if (dim == 0) {
    start = 0;
    r.count = 0;
  } else {
    // As in ONNX: with a negative step the start is clamped to [0, dim-1] and
    // the end to [-1, dim-1].
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    r.count = start > end ? static_cast<int64_t>(static_cast<uint64_t>(start - end - 1) / magnitude + 1) : 0;
  }
  r.start = start;
  return r;
}

SliceRanges slice_ranges(const Shape& shape, const fb::SliceAttrsT& a, const std::string& node_name) {
  auto bad = [&](const std::string& what) {
    throw Error(ErrorCode::InvalidModel, "node '" + node_name + "' (Slice): " + what);
  };
  const size_t k = a.axes.size();
  if (a.starts.size() != k || a.ends.size() != k || a.steps.size() != k)
    bad("starts, ends, axes and steps must have equal lengths");
  if (shape.size() > kMaxRank) bad("rank above 8");
  SliceRanges ranges{};
  std::array<char, kMaxRank> seen{};
  for (size_t i = 0; i < shape.size(); ++i) ranges[i] = {0, 1, shape[i]};
  for (size_t i = 0; i < k; ++i) {
    const int32_t axis = a.axes[i];
    if (axis < 0 || axis >= static_cast<int32_t>(shape.size())) bad("axis " + std::to_string(axis) + " out of range");
    if (seen[axis]++) bad("axis " + std::to_string(axis) + " repeated");
    if (a.steps[i] == 0) bad("step must not be zero");
    ranges[axis] = resolve_slice(shape[axis], a.starts[i], a.ends[i], a.steps[i]);
  }
  return ranges;
}

namespace {

std::vector<Shape> infer_unchecked(const Graph& g, const Node& n) {
  const OpInfo& info = op_info(n.op);
  const int ni = static_cast<int>(n.inputs.size());
  const int no = static_cast<int>(n.outputs.size());
  if (ni < info.min_inputs || ni > info.max_inputs)
    fail(n, "has " + std::to_string(ni) + " inputs, expected " + range_text(info.min_inputs, info.max_inputs));
  if (no < info.min_outputs || (info.max_outputs >= 0 && no > info.max_outputs))
    fail(n, "has " + std::to_string(no) + " outputs");
  if (n.attrs.type != info.attributes)
    fail(n, std::string("carries ") + fb::EnumNameAttributes(n.attrs.type) + " attributes, expected " +
                fb::EnumNameAttributes(info.attributes));

  const Shape& x = g.shape(n.inputs[0]);
  switch (n.op) {
    case OpType::Conv: return {infer_conv(g, n)};
    case OpType::BatchNormalization: {
      require_rank(n, x, 2, 8, "input");
      for (int i = 1; i < 5; ++i) {
        const Shape& p = g.shape(n.inputs[i]);
        if (p.size() != 1 || p[0] != x[1])
          fail(n, "parameter " + std::to_string(i) + " has shape " + shape_to_string(p) + ", expected [" +
                      std::to_string(x[1]) + "]");
      }
      return {x};
    }
    case OpType::Relu:
    case OpType::Clip:
    case OpType::LeakyRelu:
    case OpType::Sigmoid:
    case OpType::HardSigmoid:
    case OpType::HardSwish:
    case OpType::Tanh:
    case OpType::Identity:
    case OpType::Dropout:
    case OpType::QuantizeLinear:
    case OpType::DequantizeLinear:
      return {x};
    case OpType::Add:
    case OpType::Sub:
    case OpType::Mul:
    case OpType::Div:
      return {broadcast_shapes(x, g.shape(n.inputs[1]), n.name)};
    case OpType::MaxPool:
    case OpType::AveragePool:
      return {infer_pool(g, n)};
    case OpType::GlobalAveragePool:
    case OpType::GlobalMaxPool: {
      require_rank(n, x, 3, 8, "input");
      Shape out(x.size(), 1);
      out[0] = x[0];
      out[1] = x[1];
      return {out};
    }
    case OpType::Gemm: return {infer_gemm(g, n)};
    case OpType::MatMul: return {infer_matmul(g, n)};
    case OpType::Flatten: {
      const int32_t axis = attrs_as<fb::FlattenAttrsT>(n).axis;
      if (axis < 0 || axis > static_cast<int32_t>(x.size())) fail(n, "axis out of range");
      int64_t outer = 1, inner = 1;
      for (int32_t i = 0; i < static_cast<int32_t>(x.size()); ++i) {
        int64_t& side = i < axis ? outer : inner;
        side = checked_mul(side, x[i], source_of(n), "the flattened size");
      }
      return {{outer, inner}};
    }
    case OpType::Reshape: {
      const Shape& target = attrs_as<fb::ReshapeAttrsT>(n).shape;
      for (int64_t d : target)
        if (d < 0) fail(n, "target shape " + shape_to_string(target) + " is not fully resolved");
      // The target comes from the file unchecked: counted without overflow.
      const std::optional<int64_t> count = element_count_within(target);
      if (!count || *count != element_count(x))
        fail(n, "cannot reshape " + shape_to_string(x) + " to " + shape_to_string(target));
      return {target};
    }
    case OpType::Transpose: return {infer_transpose(g, n)};
    case OpType::Concat: return {infer_concat(g, n)};
    case OpType::Split: return infer_split(g, n);
    case OpType::Slice: {
      const SliceRanges ranges = slice_ranges(x, attrs_as<fb::SliceAttrsT>(n), n.name);
      Shape out;
      for (size_t d = 0; d < x.size(); ++d) out.push_back(ranges[d].count);
      return {out};
    }
    case OpType::Pad: return {infer_pad(g, n)};
    case OpType::ReduceMean: return {infer_reduce(g, n)};
    case OpType::Squeeze: return {infer_squeeze(g, n)};
    case OpType::Unsqueeze: return {infer_unsqueeze(g, n)};
    case OpType::Softmax:
      checked_axis(n, attrs_as<fb::SoftmaxAttrsT>(n).axis, x.size(), "axis");
      return {x};
  }
  fail(n, "has no shape inference");
}

}  // namespace

// Every output size is bounded as the validator bounds stored shapes, so
// that an op growing its input (Pad, Concat, a stride-1 window on a huge
// input) cannot produce an implausible tensor from plausible ones.
std::vector<Shape> infer_output_shapes(const Graph& g, const Node& n) {
  std::vector<Shape> shapes = infer_unchecked(g, n);
  for (const Shape& s : shapes) checked_element_count(s, source_of(n));
  return shapes;
}

void infer_shapes(Graph& graph) {
  for (const Node& node : graph.nodes) {
    std::vector<Shape> shapes = infer_output_shapes(graph, node);
    for (size_t i = 0; i < shapes.size(); ++i) graph.tensor(node.outputs[i]).shape = std::move(shapes[i]);
  }
}

void check_shapes(const Graph& graph) {
  for (const Node& node : graph.nodes) {
    std::vector<Shape> shapes = infer_output_shapes(graph, node);
    for (size_t i = 0; i < shapes.size(); ++i) {
      const TensorInfo& t = graph.tensor(node.outputs[i]);
      if (t.shape != shapes[i])
        throw Error(ErrorCode::InvalidModel, "tensor '" + t.name + "' is stored with shape " +
                                                 shape_to_string(t.shape) + " but node '" + node.name +
                                                 "' produces " + shape_to_string(shapes[i]));
    }
  }
}

SoftmaxExtents softmax_extents(const Shape& input, const fb::SoftmaxAttrsT& attrs) {
  const int64_t rank = static_cast<int64_t>(input.size());
  const int64_t axis = attrs.axis < 0 ? attrs.axis + rank : attrs.axis;
  SoftmaxExtents e;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t extent = input[static_cast<size_t>(d)];
    if (d < axis) e.outer *= extent;
    else if (d == axis || attrs.over_trailing_axes) e.len *= extent;
    else e.inner *= extent;
  }
  return e;
}

}  // namespace kiln
