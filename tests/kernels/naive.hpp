#pragma once
// Independent, deliberately naive formulas for the kernel tests: written from
// the ONNX operator definitions, index by index, accumulating in double. They
// share no code with kernels/reference (only kiln::Tensor as a container).
#include <cstdint>
#include <vector>

#include "engine/core/graph.hpp"
#include "kiln/kiln.hpp"

namespace kiln::test::naive {

Tensor make(const Shape& shape, const std::vector<float>& values);

// Flat index <-> multi-index, row-major.
std::vector<int64_t> unravel(int64_t flat, const Shape& shape);
int64_t ravel(const std::vector<int64_t>& index, const Shape& shape);

// Scalar activations (NaN in, NaN out).
float relu(float x);
float clip(float x, float lo, float hi);
float leaky_relu(float x, float alpha);
float sigmoid(float x);
float hard_sigmoid(float x, float alpha, float beta);
float hard_swish(float x);
float tanh_(float x);
float activation(const fb::FusedActivation& act, float x);

// Output length of a sliding window axis.
int64_t window_out(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dilation,
                   bool ceil_mode);

struct ConvParams {
  std::vector<int64_t> strides, pads, dilations;  // empty: defaults
  int64_t group = 1;
  fb::FusedActivation act{};
};
// x [N, C, spatial...] (1-3 spatial axes), w [M, C/group, k...], bias [M] or empty.
Tensor conv(const Tensor& x, const Tensor& w, const Tensor* bias, const ConvParams& p);

struct PoolParams {
  std::vector<int64_t> kernel, strides, pads, dilations;
  bool ceil_mode = false;
  bool count_include_pad = false;
};
Tensor max_pool(const Tensor& x, const PoolParams& p);
Tensor average_pool(const Tensor& x, const PoolParams& p);
Tensor global_average_pool(const Tensor& x);
Tensor global_max_pool(const Tensor& x);

Tensor batch_norm(const Tensor& x, const Tensor& scale, const Tensor& bias, const Tensor& mean, const Tensor& var,
                  float epsilon);

// Binary op with numpy broadcasting; op is Add, Sub, Mul or Div.
Tensor binary(OpType op, const Tensor& a, const Tensor& b, const fb::FusedActivation& act = {});

Tensor gemm(const Tensor& a, const Tensor& b, const Tensor* c, float alpha, float beta, bool trans_a, bool trans_b,
            const fb::FusedActivation& act = {});
Tensor matmul(const Tensor& a, const Tensor& b);

Tensor transpose(const Tensor& x, const std::vector<int32_t>& perm);
Tensor concat(const std::vector<Tensor>& xs, int64_t axis);
std::vector<Tensor> split(const Tensor& x, int64_t axis, const std::vector<int64_t>& sizes);
// ONNX Slice semantics, written from the operator documentation.
Tensor slice(const Tensor& x, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
             const std::vector<int32_t>& axes, const std::vector<int64_t>& steps);
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, float value);
Tensor reduce_mean(const Tensor& x, const std::vector<int32_t>& axes, bool keepdims);
Tensor softmax(const Tensor& x, int64_t axis, bool over_trailing_axes);

}  // namespace kiln::test::naive
