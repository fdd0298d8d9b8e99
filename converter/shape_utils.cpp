#include "converter/shape_utils.hpp"

#include <algorithm>
#include <limits>

#include "converter/errors.hpp"
#include "engine/core/checked_size.hpp"

namespace kiln::onnx_import {

int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& where, const char* what) {
  if (axis < -rank || axis >= rank)
    throw_invalid(where + ": " + what + " " + std::to_string(axis) + " is out of range for rank " +
                  std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const std::string& where) {
  std::vector<int64_t> out;
  out.reserve(axes.size());
  for (int64_t a : axes) out.push_back(normalize_axis(a, rank, where));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) throw_invalid(where + ": an axis is repeated");
  return out;
}

Shape resolve_reshape(const Shape& input, const std::vector<int64_t>& target, bool allowzero, const std::string& where) {
  Shape out(target.size());
  int infer = -1;
  int64_t known = 1;
  bool has_zero = false;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == -1) {
      if (infer >= 0) throw_invalid(where + ": the target shape has more than one -1");
      infer = static_cast<int>(i);
      continue;
    }
    if (d < -1) throw_invalid(where + ": invalid target dimension " + std::to_string(d));
    if (d == 0 && !allowzero) {
      if (i >= input.size())
        throw_invalid(where + ": target dimension " + std::to_string(i) + " is 0 (copy) but the input " +
                      shape_to_string(input) + " has no such axis");
      d = input[i];
    }
    if (d == 0) has_zero = true;
    out[i] = d;
  }
  // Bounds the product first (the -1 slot, 0 here, counts as 1), so it cannot overflow.
  kiln::checked_element_count(out, {where + ": the target shape", ErrorCode::InvalidModel});
  for (size_t i = 0; i < out.size(); ++i)
    if (static_cast<int>(i) != infer) known *= out[i];
  const int64_t total = element_count(input);
  if (infer >= 0) {
    if (has_zero || known == 0) {
      if (allowzero) throw_invalid(where + ": -1 together with a 0 dimension (allowzero) is ambiguous");
      if (total != 0) throw_invalid(where + ": cannot infer -1 with a zero-sized target");
      out[static_cast<size_t>(infer)] = 0;
    } else {
      if (total % known != 0)
        throw_invalid(where + ": cannot reshape " + shape_to_string(input) + " to " + shape_to_string(Shape(target)));
      out[static_cast<size_t>(infer)] = total / known;
    }
  }
  if (element_count(out) != total)
    throw_invalid(where + ": cannot reshape " + shape_to_string(input) + " (" + std::to_string(total) +
                  " elements) to " + shape_to_string(out));
  return out;
}

Shape broadcast_all(const std::vector<Shape>& shapes, const std::string& where) {
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const auto& s : shapes) {
    for (size_t i = 0; i < s.size(); ++i) {
      const size_t o = rank - s.size() + i;
      if (s[i] == out[o] || s[i] == 1) continue;
      if (out[o] != 1) throw_invalid(where + ": shapes do not broadcast (" + shape_to_string(s) + ")");
      out[o] = s[i];
    }
  }
  return out;
}

Shape squeeze_shape(const Shape& input, const std::vector<int64_t>& axes, const std::string& where,
                    std::vector<int64_t>* resolved_axes) {
  const auto rank = static_cast<int64_t>(input.size());
  std::vector<int64_t> norm;
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i)
      if (input[i] == 1) norm.push_back(i);
  } else {
    norm = normalize_axes(axes, rank, where);
  }
  std::vector<char> drop(input.size(), 0);
  for (int64_t a : norm) {
    if (input[a] != 1)
      throw_invalid(where + ": cannot squeeze axis " + std::to_string(a) + " of shape " + shape_to_string(input));
    drop[a] = 1;
  }
  Shape out;
  for (size_t i = 0; i < input.size(); ++i)
    if (!drop[i]) out.push_back(input[i]);
  if (resolved_axes) *resolved_axes = norm;
  return out;
}

Shape unsqueeze_shape(const Shape& input, const std::vector<int64_t>& axes, const std::string& where,
                      std::vector<int64_t>* resolved_axes) {
  const auto out_rank = static_cast<int64_t>(input.size() + axes.size());
  const std::vector<int64_t> norm = normalize_axes(axes, out_rank, where);
  std::vector<char> added(static_cast<size_t>(out_rank), 0);
  for (int64_t a : norm) added[a] = 1;
  Shape out;
  size_t j = 0;
  for (int64_t i = 0; i < out_rank; ++i) out.push_back(added[i] ? 1 : input[j++]);
  if (resolved_axes) *resolved_axes = norm;
  return out;
}

}  // namespace kiln::onnx_import

namespace kiln::onnx_import {

SliceParams normalize_slice(const Shape& input, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                            const std::vector<int64_t>* axes, const std::vector<int64_t>* steps,
                            const std::string& where) {
  const auto rank = static_cast<int64_t>(input.size());
  SliceParams p;
  p.starts = starts;
  p.ends = ends;
  if (starts.size() != ends.size()) throw_invalid(where + ": starts and ends differ in length");
  if (axes) {
    if (axes->size() != starts.size()) throw_invalid(where + ": axes and starts differ in length");
    for (int64_t a : *axes) p.axes.push_back(normalize_axis(a, rank, where));
  } else {
    if (static_cast<int64_t>(starts.size()) > rank) throw_invalid(where + ": more starts than input axes");
    for (size_t i = 0; i < starts.size(); ++i) p.axes.push_back(static_cast<int64_t>(i));
  }
  std::vector<char> seen(input.size(), 0);
  for (int64_t a : p.axes)
    if (seen[a]++) throw_invalid(where + ": axis " + std::to_string(a) + " is repeated");
  if (steps) {
    if (steps->size() != starts.size()) throw_invalid(where + ": steps and starts differ in length");
    p.steps = *steps;
  } else {
    p.steps.assign(starts.size(), 1);
  }
  for (size_t i = 0; i < p.steps.size(); ++i) {
    if (p.steps[i] == 0) throw_invalid(where + ": a step is zero");
    const int64_t dim = input[p.axes[i]];
    const int64_t limit = dim < std::numeric_limits<int64_t>::max() ? dim + 1 : dim;
    p.steps[i] = std::clamp<int64_t>(p.steps[i], -limit, limit);
  }
  return p;
}

}  // namespace kiln::onnx_import
