// Add, Sub, Mul, Div with numpy broadcasting: same shapes, per-channel and
// scalar operands, one- and two-sided broadcasts up to rank 6, either operand
// a constant, with and without a fused activation. Divisors stay in [0.5, 2).
#include <fmt/format.h>

#include "tests/backends/op_cases.hpp"

namespace kiln::test {
namespace {

using O = OpType;
using K = fb::ActivationKind;

std::string activation_suffix(K kind) {
  switch (kind) {
    case K::None: return "";
    case K::Relu: return "_relu";
    case K::Tanh: return "_tanh";
    case K::HardSigmoid: return "_hardsigmoid";
    default: return "_act";
  }
}

}  // namespace

std::vector<OpCase> binary_cases() {
  std::vector<OpCase> v;
  const Shape img{1, 5, 7, 9};
  v.push_back({"Add_same_shape", [img] { return binary_graph(O::Add, img, img, false, false); }});
  v.push_back({"Sub_per_channel_const", [] { return binary_graph(O::Sub, {1, 6, 5, 7}, {6, 1, 1}, false, true); }});
  v.push_back({"Mul_scalar_const_first", [] { return binary_graph(O::Mul, {1}, {1, 4, 6, 5}, true, false); }});
  v.push_back({"Div_by_const_rows", [] {
                 return binary_graph(O::Div, {1, 3, 4, 5}, {5}, false, true, {}, 0.5f, 2.0f);
               }});
  v.push_back({"Add_two_sided_broadcast_relu", [] {
                 return binary_graph(O::Add, {2, 1, 4, 5}, {1, 3, 1, 5}, false, false, act(K::Relu));
               }});
  v.push_back({"Mul_input_per_channel", [] { return binary_graph(O::Mul, {1, 8, 3, 3}, {1, 8, 1, 1}, false, false); }});
  v.push_back({"Div_same_shape", [] { return binary_graph(O::Div, {2, 3, 4}, {2, 3, 4}, false, true, {}, 0.5f, 2.0f); }});

  // Every op on each pair of shapes, all values in [0.5, 2): Sub and Div by a
  // constant, Add and Mul of two inputs, each op with its own activation.
  const std::vector<std::pair<Shape, Shape>> positive = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {3, 1, 1}}, {{1, 3, 1, 5}, {2, 1, 4, 1}},
      {{2, 3, 4, 5}, {5}},          {{4, 5}, {2, 3, 4, 5}},    {{1}, {3, 7}},
      {{2, 1, 3, 1, 2, 1}, {1, 4, 1, 5, 1, 3}}};
  const std::pair<O, fb::FusedActivation> ops[] = {{O::Add, act(K::None)},
                                                   {O::Sub, act(K::Relu)},
                                                   {O::Mul, act(K::Tanh)},
                                                   {O::Div, act(K::HardSigmoid, 0.2f, 0.5f)}};
  for (const auto& [sa, sb] : positive)
    for (const auto& [op, activation] : ops) {
      const bool constant = op == O::Sub || op == O::Div;
      v.push_back({fmt::format("{}_positive_{}_by_{}{}{}", op_name(op), dims_name(sa), constant ? "const_" : "",
                               dims_name(sb), activation_suffix(activation.kind())),
                   [op, sa, sb, constant, activation] {
                     return binary_graph(op, sa, sb, false, constant, activation, 0.5f, 2.0f);
                   },
                   0.5f, 2.0f});
    }

  // A constant second operand in [-1, 2) ([0.5, 2) for Div), Relu fused.
  const std::vector<std::pair<Shape, Shape>> by_constant = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {3, 1, 1}}, {{2, 3, 4, 5}, {5}},
      {{1, 3, 1, 5}, {2, 1, 4, 1}}, {{7}, {3, 1}},             {{2, 67, 3, 3}, {1, 67, 1, 1}}};
  for (O op : {O::Add, O::Sub, O::Mul, O::Div})
    for (const auto& [sa, sb] : by_constant)
      v.push_back({fmt::format("{}_{}_by_const_{}_relu", op_name(op), dims_name(sa), dims_name(sb)), [op, sa, sb] {
                     return binary_graph(op, sa, sb, false, true, act(K::Relu), op == O::Div ? 0.5f : -1.0f, 2.0f);
                   }});
  return v;
}

}  // namespace kiln::test
