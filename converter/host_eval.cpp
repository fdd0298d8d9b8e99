#include "converter/host_eval.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>

#include "converter/errors.hpp"
#include "converter/shape_utils.hpp"
#include "converter/tensor_proto.hpp"
#include "engine/core/shape_inference.hpp"

namespace kiln::onnx_import {

namespace {

using Inputs = std::vector<const HostTensor*>;

constexpr std::array<std::string_view, 38> kHostOps = {
    // Sources and shape queries.
    "Constant", "Shape", "Size", "ConstantOfShape", "Range",
    // Data movement.
    "Identity", "Cast", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Reshape", "Flatten", "Transpose",
    "Expand", "Where",
    // Arithmetic, comparison and logic.
    "Add", "Sub", "Mul", "Div", "Min", "Max", "Neg", "Abs", "Floor", "Ceil", "Sqrt", "Sign", "Not", "Equal", "Less",
    "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"};

[[noreturn]] void fail(const Attributes& attrs, const std::string& what) { throw_invalid(attrs.where() + ": " + what); }

const HostTensor& need(const Inputs& in, size_t i, const Attributes& attrs) {
  if (i >= in.size() || in[i] == nullptr) fail(attrs, "input " + std::to_string(i) + " is missing");
  return *in[i];
}

void copy_element(HostTensor& dst, size_t dk, const HostTensor& src, size_t sk) {
  if (dst.floating()) dst.f[dk] = src.get_double(sk);
  else dst.i[dk] = src.get_int(sk);
}

HostTensor with_shape(const HostTensor& t, Shape shape) {
  HostTensor r = t;
  r.shape = std::move(shape);
  return r;
}

// Calls f(output index, input offsets) for every element of the broadcast
// output shape `out`.
template <class F>
void for_each_broadcast(const Shape& out, const std::vector<const Shape*>& ins, F&& f) {
  const size_t rank = out.size();
  std::vector<std::vector<int64_t>> strides;
  for (const Shape* s : ins) {
    std::vector<int64_t> st(rank, 0);
    int64_t acc = 1;
    for (size_t i = s->size(); i-- > 0;) {
      st[rank - s->size() + i] = (*s)[i] == 1 ? 0 : acc;
      acc *= (*s)[i];
    }
    strides.push_back(std::move(st));
  }
  const int64_t total = element_count(out);
  std::vector<int64_t> idx(rank, 0);
  std::vector<int64_t> off(ins.size(), 0);
  for (int64_t k = 0; k < total; ++k) {
    f(static_cast<size_t>(k), off);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < out[d]) {
        for (size_t j = 0; j < ins.size(); ++j) off[j] += strides[j][d];
        break;
      }
      for (size_t j = 0; j < ins.size(); ++j) off[j] -= strides[j][d] * (out[d] - 1);
      idx[d] = 0;
    }
  }
}

Shape broadcast_checked(const std::vector<Shape>& shapes, const Attributes& attrs) {
  Shape out = broadcast_all(shapes, attrs.where());
  checked_element_count(out, attrs.where() + " output");
  return out;
}

// ---- Elementwise ----------------------------------------------------------

int64_t int_arith(std::string_view op, int64_t x, int64_t y, const Attributes& attrs) {
  const auto ux = static_cast<uint64_t>(x), uy = static_cast<uint64_t>(y);
  if (op == "Add") return static_cast<int64_t>(ux + uy);
  if (op == "Sub") return static_cast<int64_t>(ux - uy);
  if (op == "Mul") return static_cast<int64_t>(ux * uy);
  if (op == "Min") return std::min(x, y);
  if (op == "Max") return std::max(x, y);
  // Div: truncation towards zero, as C++ (and onnxruntime) divide integers.
  if (y == 0) fail(attrs, "integer division by zero");
  if (x == std::numeric_limits<int64_t>::min() && y == -1) return x;
  return x / y;
}

double float_arith(std::string_view op, double x, double y) {
  if (op == "Add") return x + y;
  if (op == "Sub") return x - y;
  if (op == "Mul") return x * y;
  if (op == "Div") return x / y;
  if (op == "Min") return std::isnan(x) || std::isnan(y) ? std::nan("") : std::min(x, y);
  return std::isnan(x) || std::isnan(y) ? std::nan("") : std::max(x, y);  // Max
}

HostTensor arithmetic(std::string_view op, const HostTensor& a, const HostTensor& b, const Attributes& attrs) {
  HostTensor r = HostTensor::zeros(a.dtype, broadcast_checked({a.shape, b.shape}, attrs));
  for_each_broadcast(r.shape, {&a.shape, &b.shape}, [&](size_t k, const std::vector<int64_t>& off) {
    const auto ia = static_cast<size_t>(off[0]), ib = static_cast<size_t>(off[1]);
    if (r.floating()) r.set_double(k, float_arith(op, a.get_double(ia), b.get_double(ib)));
    else r.set_int(k, int_arith(op, a.get_int(ia), b.get_int(ib), attrs));
  });
  return r;
}

HostTensor comparison(std::string_view op, const HostTensor& a, const HostTensor& b, const Attributes& attrs) {
  HostTensor r = HostTensor::zeros(dtype::kBool, broadcast_checked({a.shape, b.shape}, attrs));
  const bool as_float = a.floating() || b.floating();
  for_each_broadcast(r.shape, {&a.shape, &b.shape}, [&](size_t k, const std::vector<int64_t>& off) {
    const auto ia = static_cast<size_t>(off[0]), ib = static_cast<size_t>(off[1]);
    int c;  // -1, 0, 1, or 2 for unordered (NaN)
    if (as_float) {
      const double x = a.get_double(ia), y = b.get_double(ib);
      c = std::isnan(x) || std::isnan(y) ? 2 : (x < y ? -1 : (x > y ? 1 : 0));
    } else {
      const int64_t x = a.get_int(ia), y = b.get_int(ib);
      c = x < y ? -1 : (x > y ? 1 : 0);
    }
    bool v = false;
    if (op == "Equal") v = c == 0;
    else if (op == "Less") v = c == -1;
    else if (op == "Greater") v = c == 1;
    else if (op == "LessOrEqual") v = c == -1 || c == 0;
    else if (op == "GreaterOrEqual") v = c == 1 || c == 0;
    else {
      const bool x = a.get_int(ia) != 0, y = b.get_int(ib) != 0;
      v = op == "And" ? (x && y) : op == "Or" ? (x || y) : (x != y);  // Xor
    }
    r.i[k] = v ? 1 : 0;
  });
  return r;
}

HostTensor unary(std::string_view op, const HostTensor& x) {
  HostTensor r = HostTensor::zeros(x.dtype, x.shape);
  for (size_t k = 0; k < x.size(); ++k) {
    if (x.floating()) {
      const double v = x.f[k];
      double y = v;
      if (op == "Neg") y = -v;
      else if (op == "Abs") y = std::fabs(v);
      else if (op == "Floor") y = std::floor(v);
      else if (op == "Ceil") y = std::ceil(v);
      else if (op == "Sqrt") y = std::sqrt(v);
      else if (op == "Sign") y = v > 0 ? 1.0 : (v < 0 ? -1.0 : v);
      else if (op == "Not") y = v == 0.0 ? 1.0 : 0.0;
      r.set_double(k, y);
    } else {
      const int64_t v = x.i[k];
      int64_t y = v;
      if (op == "Neg") y = static_cast<int64_t>(0 - static_cast<uint64_t>(v));
      else if (op == "Abs") y = v < 0 ? static_cast<int64_t>(0 - static_cast<uint64_t>(v)) : v;
      else if (op == "Sqrt") y = saturate_to_int64(std::sqrt(static_cast<double>(v)));
      else if (op == "Sign") y = v > 0 ? 1 : (v < 0 ? -1 : 0);
      else if (op == "Not") y = v == 0 ? 1 : 0;
      r.set_int(k, y);
    }
  }
  return r;
}

HostTensor where(const HostTensor& c, const HostTensor& x, const HostTensor& y, const Attributes& attrs) {
  HostTensor r = HostTensor::zeros(x.dtype, broadcast_checked({c.shape, x.shape, y.shape}, attrs));
  for_each_broadcast(r.shape, {&c.shape, &x.shape, &y.shape}, [&](size_t k, const std::vector<int64_t>& off) {
    const bool take_x = c.get_int(static_cast<size_t>(off[0])) != 0;
    copy_element(r, k, take_x ? x : y, static_cast<size_t>(take_x ? off[1] : off[2]));
  });
  return r;
}

HostTensor cast(const HostTensor& x, const Attributes& attrs) {
  const auto to = static_cast<DType>(attrs.get_int("to", dtype::kUndefined));
  if (!is_numeric(to)) throw_unsupported(attrs.where() + ": Cast to " + dtype_name(to) + " is not supported");
  HostTensor r = HostTensor::zeros(to, x.shape);
  for (size_t k = 0; k < x.size(); ++k) {
    if (x.floating()) r.set_double(k, x.f[k]);
    else r.set_int(k, x.i[k]);
  }
  return r;
}

// ---- Data movement --------------------------------------------------------

HostTensor gather(const HostTensor& data, const HostTensor& indices, const Attributes& attrs) {
  const auto rank = static_cast<int64_t>(data.shape.size());
  if (rank == 0) fail(attrs, "cannot gather from a scalar");
  if (indices.floating()) fail(attrs, "indices must be integers");
  const int64_t axis = normalize_axis(attrs.get_int("axis", 0), rank, attrs.where());
  Shape out(data.shape.begin(), data.shape.begin() + axis);
  out.insert(out.end(), indices.shape.begin(), indices.shape.end());
  out.insert(out.end(), data.shape.begin() + axis + 1, data.shape.end());
  HostTensor r = HostTensor::zeros(data.dtype, out);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= data.shape[d];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= data.shape[d];
  const int64_t dim = data.shape[axis];
  const auto n_idx = static_cast<int64_t>(indices.size());
  size_t k = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n_idx; ++j) {
      int64_t idx = indices.i[static_cast<size_t>(j)];
      if (idx < -dim || idx >= dim)
        fail(attrs, "index " + std::to_string(idx) + " is out of range for axis of size " + std::to_string(dim));
      if (idx < 0) idx += dim;
      for (int64_t i = 0; i < inner; ++i) copy_element(r, k++, data, static_cast<size_t>((o * dim + idx) * inner + i));
    }
  return r;
}

// Axes of Squeeze/Unsqueeze: an attribute before opset 13, an input from 13.
std::vector<int64_t> axes_operand(const Inputs& in, const Attributes& attrs, int64_t opset, bool required) {
  if (opset < 13) {
    auto a = attrs.get_ints("axes");
    if (!a && required) fail(attrs, "attribute 'axes' is missing");
    return a.value_or(std::vector<int64_t>{});
  }
  if (in.size() > 1 && in[1]) return in[1]->to_ints();
  if (required) fail(attrs, "input 'axes' is missing");
  return {};
}

HostTensor concat(const Inputs& in, const Attributes& attrs, int64_t opset) {
  if (in.empty()) fail(attrs, "needs at least one input");
  for (const HostTensor* t : in)
    if (!t) fail(attrs, "an input is missing");
  const HostTensor& first = *in[0];
  const auto rank = static_cast<int64_t>(first.shape.size());
  if (rank == 0) fail(attrs, "cannot concatenate scalars");
  if (opset >= 4 && !attrs.has("axis")) fail(attrs, "attribute 'axis' is missing");
  const int64_t axis = normalize_axis(attrs.get_int("axis", 1), rank, attrs.where());
  Shape out = first.shape;
  out[axis] = 0;
  for (const HostTensor* t : in) {
    if (t->shape.size() != first.shape.size()) fail(attrs, "inputs differ in rank");
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && t->shape[d] != first.shape[d]) fail(attrs, "input shapes differ outside the concat axis");
    out[axis] += t->shape[axis];
  }
  HostTensor r = HostTensor::zeros(first.dtype, out);
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out[d];
  size_t k = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (const HostTensor* t : in) {
      int64_t chunk = 1;
      for (int64_t d = axis; d < rank; ++d) chunk *= t->shape[d];
      for (int64_t i = 0; i < chunk; ++i) copy_element(r, k++, *t, static_cast<size_t>(o * chunk + i));
    }
  return r;
}

// The elements of x that `view` visits, in its index order (engine/core/strided_view.hpp).
HostTensor copy_through(const HostTensor& x, const StridedView& view) {
  HostTensor r = HostTensor::zeros(x.dtype, Shape(view.shape, view.shape + view.rank));
  size_t k = 0;
  for_each_offset<1>({&view}, [&](int64_t src) { copy_element(r, k++, x, static_cast<size_t>(src)); });
  return r;
}

HostTensor slice(const Inputs& in, const Attributes& attrs, int64_t opset) {
  const HostTensor& x = need(in, 0, attrs);
  std::vector<int64_t> starts, ends;
  std::optional<std::vector<int64_t>> axes, steps;
  if (opset < 10) {
    auto s = attrs.get_ints("starts"), e = attrs.get_ints("ends");
    if (!s || !e) fail(attrs, "attributes 'starts' and 'ends' are required");
    starts = *s;
    ends = *e;
    axes = attrs.get_ints("axes");
  } else {
    starts = need(in, 1, attrs).to_ints();
    ends = need(in, 2, attrs).to_ints();
    if (in.size() > 3 && in[3]) axes = in[3]->to_ints();
    if (in.size() > 4 && in[4]) steps = in[4]->to_ints();
  }
  const SliceParams p = normalize_slice(x.shape, starts, ends, axes ? &*axes : nullptr, steps ? &*steps : nullptr,
                                        attrs.where());
  const size_t rank = x.shape.size();
  if (rank > kMaxRank) fail(attrs, "a slice of rank " + std::to_string(rank) + " (at most 8 axes are supported)");
  SliceRanges ranges{};
  for (size_t d = 0; d < rank; ++d) ranges[d] = {0, 1, x.shape[d]};
  for (size_t i = 0; i < p.axes.size(); ++i)
    ranges[p.axes[i]] = resolve_slice(x.shape[p.axes[i]], p.starts[i], p.ends[i], p.steps[i]);
  return copy_through(x, slice_view(x.shape, ranges));
}

HostTensor transpose(const HostTensor& x, const Attributes& attrs) {
  const size_t rank = x.shape.size();
  std::vector<int64_t> perm;
  if (auto p = attrs.get_ints("perm")) {
    perm = *p;
  } else {
    for (size_t i = rank; i-- > 0;) perm.push_back(static_cast<int64_t>(i));
  }
  if (perm.size() != rank) fail(attrs, "perm length differs from the input rank");
  std::vector<char> seen(rank, 0);
  for (int64_t& a : perm) {
    a = normalize_axis(a, static_cast<int64_t>(rank), attrs.where(), "perm entry");
    if (seen[a]++) fail(attrs, "perm is not a permutation");
  }
  return copy_through(x, transpose_view(x.shape, std::vector<int32_t>(perm.begin(), perm.end())));
}

HostTensor expand(const HostTensor& x, const HostTensor& shape, const Attributes& attrs) {
  if (shape.shape.size() != 1) fail(attrs, "the shape input must be 1-D");
  HostTensor r = HostTensor::zeros(x.dtype, broadcast_checked({x.shape, Shape(shape.to_ints())}, attrs));
  for_each_broadcast(r.shape, {&x.shape}, [&](size_t k, const std::vector<int64_t>& off) {
    copy_element(r, k, x, static_cast<size_t>(off[0]));
  });
  return r;
}

HostTensor constant_of_shape(const HostTensor& shape, const Attributes& attrs) {
  if (shape.shape.size() != 1) fail(attrs, "the shape input must be 1-D");
  HostTensor value = HostTensor::zeros(dtype::kFloat, {1});
  if (const onnx::TensorProto* t = attrs.get_tensor("value")) {
    value = decode_host_tensor(*t, attrs.where() + " attribute 'value'");
    if (value.size() != 1) fail(attrs, "attribute 'value' must hold one element");
  }
  HostTensor r = HostTensor::zeros(value.dtype, Shape(shape.to_ints()));
  for (size_t k = 0; k < r.size(); ++k) copy_element(r, k, value, 0);
  return r;
}

HostTensor range(const HostTensor& start, const HostTensor& limit, const HostTensor& delta, const Attributes& attrs) {
  if (start.size() != 1 || limit.size() != 1 || delta.size() != 1) fail(attrs, "start, limit and delta must be scalars");
  const double s = start.get_double(0), l = limit.get_double(0), d = delta.get_double(0);
  if (d == 0 || !std::isfinite(s) || !std::isfinite(l) || !std::isfinite(d)) fail(attrs, "invalid range");
  const double count = std::max(std::ceil((l - s) / d), 0.0);
  if (count > static_cast<double>(kMaxHostElements))
    throw_unsupported(attrs.where() + ": Range of " + std::to_string(count) + " elements is too large");
  HostTensor r = HostTensor::zeros(start.dtype, {static_cast<int64_t>(count)});
  for (size_t k = 0; k < r.size(); ++k) {
    if (r.floating()) r.set_double(k, s + static_cast<double>(k) * d);
    else r.set_int(k, static_cast<int64_t>(static_cast<uint64_t>(start.get_int(0)) +
                                           static_cast<uint64_t>(k) * static_cast<uint64_t>(delta.get_int(0))));
  }
  return r;
}

}  // namespace

bool has_host_impl(std::string_view op) { return std::find(kHostOps.begin(), kHostOps.end(), op) != kHostOps.end(); }

bool is_shape_query(std::string_view op) { return op == "Shape" || op == "Size"; }

HostTensor eval_shape_query(std::string_view op, const Attributes& attrs, const Shape& input) {
  if (op == "Size") return HostTensor::from_ints(dtype::kInt64, {}, {element_count(input)});
  const auto rank = static_cast<int64_t>(input.size());
  auto clamp_end = [&](int64_t v) {
    if (v < 0) v += rank;
    return std::clamp<int64_t>(v, 0, rank);
  };
  const int64_t start = clamp_end(attrs.get_int("start", 0));
  const int64_t end = clamp_end(attrs.get_int("end", rank));
  std::vector<int64_t> dims;
  for (int64_t d = start; d < end; ++d) dims.push_back(input[d]);
  const auto n = static_cast<int64_t>(dims.size());
  return HostTensor::from_ints(dtype::kInt64, {n}, std::move(dims));
}

std::vector<HostTensor> eval_on_host(std::string_view op, const Attributes& attrs, int64_t opset, const Inputs& in,
                                     size_t n_outputs) {
  if (n_outputs != 1) fail(attrs, "expected one output, found " + std::to_string(n_outputs));
  for (const HostTensor* t : in)
    if (t && !is_numeric(t->dtype))
      throw_unsupported(attrs.where() + ": data type " + dtype_name(t->dtype) + " is not supported");

  if (op == "Identity") return {need(in, 0, attrs)};
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    if (opset < 7 && attrs.get_int("broadcast", 0) != 0 && attrs.has("axis"))
      throw_unsupported(attrs.where() + ": legacy broadcasting with an axis (opset " + std::to_string(opset) +
                        ") on constants is not supported");
    return {arithmetic(op, need(in, 0, attrs), need(in, 1, attrs), attrs)};
  }
  if (op == "Min" || op == "Max") {
    HostTensor r = need(in, 0, attrs);
    for (size_t i = 1; i < in.size(); ++i) r = arithmetic(op, r, need(in, i, attrs), attrs);
    return {r};
  }
  if (op == "Equal" || op == "Less" || op == "Greater" || op == "LessOrEqual" || op == "GreaterOrEqual" ||
      op == "And" || op == "Or" || op == "Xor")
    return {comparison(op, need(in, 0, attrs), need(in, 1, attrs), attrs)};
  if (op == "Neg" || op == "Abs" || op == "Floor" || op == "Ceil" || op == "Sqrt" || op == "Not" || op == "Sign")
    return {unary(op, need(in, 0, attrs))};
  if (op == "Where") return {where(need(in, 0, attrs), need(in, 1, attrs), need(in, 2, attrs), attrs)};
  if (op == "Cast") return {cast(need(in, 0, attrs), attrs)};
  if (op == "Gather") return {gather(need(in, 0, attrs), need(in, 1, attrs), attrs)};
  if (op == "Unsqueeze") {
    const HostTensor& x = need(in, 0, attrs);
    return {with_shape(x, unsqueeze_shape(x.shape, axes_operand(in, attrs, opset, true), attrs.where()))};
  }
  if (op == "Squeeze") {
    const HostTensor& x = need(in, 0, attrs);
    return {with_shape(x, squeeze_shape(x.shape, axes_operand(in, attrs, opset, false), attrs.where()))};
  }
  if (op == "Concat") return {concat(in, attrs, opset)};
  if (op == "Slice") return {slice(in, attrs, opset)};
  if (op == "Reshape") {
    const HostTensor& x = need(in, 0, attrs);
    std::vector<int64_t> target;
    if (opset < 5) {
      auto s = attrs.get_ints("shape");
      if (!s) fail(attrs, "attribute 'shape' is missing");
      target = *s;
    } else {
      target = need(in, 1, attrs).to_ints();
    }
    return {with_shape(x, resolve_reshape(x.shape, target, attrs.get_int("allowzero", 0) != 0, attrs.where()))};
  }
  if (op == "Flatten") {
    const HostTensor& x = need(in, 0, attrs);
    const auto rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = attrs.get_int("axis", 1);
    if (axis < -rank || axis > rank) fail(attrs, "axis " + std::to_string(axis) + " is out of range");
    if (axis < 0) axis += rank;
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d) (d < axis ? outer : inner) *= x.shape[d];
    return {with_shape(x, {outer, inner})};
  }
  if (op == "Transpose") return {transpose(need(in, 0, attrs), attrs)};
  if (op == "ConstantOfShape") return {constant_of_shape(need(in, 0, attrs), attrs)};
  if (op == "Range") return {range(need(in, 0, attrs), need(in, 1, attrs), need(in, 2, attrs), attrs)};
  if (op == "Expand") return {expand(need(in, 0, attrs), need(in, 1, attrs), attrs)};
  fail(attrs, "cannot be evaluated at conversion time");
}

}  // namespace kiln::onnx_import
