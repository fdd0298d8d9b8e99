#pragma once
// Evaluation of ONNX nodes on host constants at conversion time: the shape
// sub-graphs that exporters emit (Shape -> Gather -> Concat -> Reshape, pad
// amounts computed with ConstantOfShape/Slice/Transpose/Cast, ...). Kiln has
// static shapes, so all of these fold to constants.
#include <string_view>
#include <vector>

#include "converter/attributes.hpp"
#include "converter/host_tensor.hpp"

namespace kiln::onnx_import {

// Ops the host evaluator implements (Shape and Size included).
bool has_host_impl(std::string_view op);

// Shape and Size need only their input's (static) shape.
bool is_shape_query(std::string_view op);
HostTensor eval_shape_query(std::string_view op, const Attributes& attrs, const Shape& input);

// Evaluates `op` on `inputs` (nullptr for an absent optional input); returns
// one tensor per output (at most `n_outputs`). Errors name attrs.where().
std::vector<HostTensor> eval_on_host(std::string_view op, const Attributes& attrs, int64_t opset,
                                     const std::vector<const HostTensor*>& inputs, size_t n_outputs);

}  // namespace kiln::onnx_import
