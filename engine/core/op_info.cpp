#include "engine/core/op_info.hpp"

#include <array>
#include <sstream>

#include "engine/core/checked_size.hpp"
#include "engine/core/spatial.hpp"

namespace kiln {

namespace {
using A = fb::Attributes;
using O = OpType;

// One row per operator, in OpType order (checked below).
constexpr std::array<OpInfo, kOpCount> kOps = {{
    {O::Conv, "Conv", 2, 3, 1, 1, A::ConvAttrs, false},
    {O::BatchNormalization, "BatchNormalization", 5, 5, 1, 1, A::BatchNormAttrs, false},
    {O::Relu, "Relu", 1, 1, 1, 1, A::NONE, true},
    {O::Clip, "Clip", 1, 1, 1, 1, A::ClipAttrs, true},
    {O::LeakyRelu, "LeakyRelu", 1, 1, 1, 1, A::LeakyReluAttrs, true},
    {O::Sigmoid, "Sigmoid", 1, 1, 1, 1, A::NONE, true},
    {O::HardSigmoid, "HardSigmoid", 1, 1, 1, 1, A::HardSigmoidAttrs, true},
    {O::HardSwish, "HardSwish", 1, 1, 1, 1, A::NONE, true},
    {O::Tanh, "Tanh", 1, 1, 1, 1, A::NONE, true},
    {O::Add, "Add", 2, 2, 1, 1, A::BinaryAttrs, true},
    {O::Sub, "Sub", 2, 2, 1, 1, A::BinaryAttrs, true},
    {O::Mul, "Mul", 2, 2, 1, 1, A::BinaryAttrs, true},
    {O::Div, "Div", 2, 2, 1, 1, A::BinaryAttrs, true},
    {O::MaxPool, "MaxPool", 1, 1, 1, 1, A::PoolAttrs, false},
    {O::AveragePool, "AveragePool", 1, 1, 1, 1, A::PoolAttrs, false},
    {O::GlobalAveragePool, "GlobalAveragePool", 1, 1, 1, 1, A::NONE, false},
    {O::GlobalMaxPool, "GlobalMaxPool", 1, 1, 1, 1, A::NONE, false},
    {O::Gemm, "Gemm", 2, 3, 1, 1, A::GemmAttrs, false},
    {O::MatMul, "MatMul", 2, 2, 1, 1, A::NONE, false},
    {O::Flatten, "Flatten", 1, 1, 1, 1, A::FlattenAttrs, false},
    {O::Reshape, "Reshape", 1, 1, 1, 1, A::ReshapeAttrs, false},
    {O::Transpose, "Transpose", 1, 1, 1, 1, A::TransposeAttrs, false},
    {O::Concat, "Concat", 1, 1 << 16, 1, 1, A::ConcatAttrs, false},
    {O::Split, "Split", 1, 1, 1, -1, A::SplitAttrs, false},
    {O::Slice, "Slice", 1, 1, 1, 1, A::SliceAttrs, false},
    {O::Pad, "Pad", 1, 1, 1, 1, A::PadAttrs, false},
    {O::ReduceMean, "ReduceMean", 1, 1, 1, 1, A::ReduceAttrs, false},
    {O::Squeeze, "Squeeze", 1, 1, 1, 1, A::AxesAttrs, false},
    {O::Unsqueeze, "Unsqueeze", 1, 1, 1, 1, A::AxesAttrs, false},
    {O::Softmax, "Softmax", 1, 1, 1, 1, A::SoftmaxAttrs, false},
    {O::Identity, "Identity", 1, 1, 1, 1, A::NONE, true},
    {O::Dropout, "Dropout", 1, 1, 1, 1, A::NONE, true},
    {O::QuantizeLinear, "QuantizeLinear", 1, 1, 1, 1, A::NONE, true},
    {O::DequantizeLinear, "DequantizeLinear", 1, 1, 1, 1, A::NONE, true},
}};

static_assert(covers_every_op_in_order(kOps), "kOps must list every operator once, in OpType order");

constexpr std::array<std::string_view, kOpFamilyCount> kFamilyNames = {
    "conv", "pool", "activation", "binary", "batchnorm", "softmax", "matmul", "reduce", "shape", "data_movement", "quantize"};
static_assert(static_cast<size_t>(OpFamily::Quantize) + 1 == kFamilyNames.size(), "a name per family");

template <class T>
std::string join(const std::vector<T>& v, const char* sep = ",") {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? sep : "") << v[i];
  return s.str();
}

template <class T>
bool all_equal(const std::vector<T>& v, T value) {
  for (const T& x : v)
    if (x != value) return false;
  return true;
}

std::string fmt_float(float v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

std::string_view family_name(OpFamily family) { return kFamilyNames.at(static_cast<size_t>(family)); }

const OpInfo& op_info(OpType op) {
  const auto i = static_cast<size_t>(op);
  if (i >= kOps.size()) throw Error(ErrorCode::InvalidModel, "unknown operator code " + std::to_string(i));
  return kOps[i];
}

std::string_view op_name(OpType op) {
  const auto i = static_cast<size_t>(op);
  return i < kOps.size() ? kOps[i].name : std::string_view("<unknown op>");
}

std::optional<OpType> op_from_name(std::string_view name) {
  for (const auto& info : kOps)
    if (info.name == name) return info.op;
  return std::nullopt;
}

std::span<const OpInfo> all_ops() { return kOps; }

bool is_reshape_like(OpType op) { return op_family(op) == OpFamily::Shape; }
bool is_unary_activation(OpType op) { return op_family(op) == OpFamily::Activation; }

std::string describe_activation(const fb::FusedActivation& act) {
  using K = fb::ActivationKind;
  switch (act.kind()) {
    case K::None: return "";
    case K::Relu: return "Relu";
    case K::Clip: return "Clip(" + fmt_float(act.alpha()) + "," + fmt_float(act.beta()) + ")";
    case K::LeakyRelu: return "LeakyRelu(" + fmt_float(act.alpha()) + ")";
    case K::Sigmoid: return "Sigmoid";
    case K::HardSigmoid: return "HardSigmoid(" + fmt_float(act.alpha()) + "," + fmt_float(act.beta()) + ")";
    case K::HardSwish: return "HardSwish";
    case K::Tanh: return "Tanh";
  }
  return "?";
}

std::string describe_attributes(const Node& node) {
  std::ostringstream s;
  auto act = [&](const fb::FusedActivation& a) {
    std::string d = describe_activation(a);
    if (!d.empty()) s << " act=" << d;
  };
  switch (node.attrs.type) {
    case A::ConvAttrs: {
      // Default values (stride 1, no padding, dilation 1) are left out.
      const auto& a = *node.attrs.AsConvAttrs();
      s << "k=" << join(a.kernel_shape, "x");
      if (!all_equal(a.strides, 1)) s << " s=" << join(a.strides, "x");
      if (!all_equal(a.pads, 0)) s << " p=" << join(a.pads);
      if (!all_equal(a.dilations, 1)) s << " d=" << join(a.dilations, "x");
      if (a.group != 1) s << " g=" << a.group;
      act(a.activation);
      break;
    }
    case A::PoolAttrs: {
      const auto& a = *node.attrs.AsPoolAttrs();
      s << "k=" << join(a.kernel_shape, "x");
      if (!all_equal(a.strides, 1)) s << " s=" << join(a.strides, "x");
      if (!all_equal(a.pads, 0)) s << " p=" << join(a.pads);
      if (!all_equal(a.dilations, 1)) s << " d=" << join(a.dilations, "x");
      if (a.ceil_mode) s << " ceil";
      if (a.count_include_pad) s << " count_include_pad";
      break;
    }
    case A::BatchNormAttrs: s << "eps=" << node.attrs.AsBatchNormAttrs()->epsilon; break;
    case A::ClipAttrs:
      s << "min=" << node.attrs.AsClipAttrs()->min << " max=" << node.attrs.AsClipAttrs()->max;
      break;
    case A::LeakyReluAttrs: s << "alpha=" << node.attrs.AsLeakyReluAttrs()->alpha; break;
    case A::HardSigmoidAttrs:
      s << "alpha=" << node.attrs.AsHardSigmoidAttrs()->alpha << " beta=" << node.attrs.AsHardSigmoidAttrs()->beta;
      break;
    case A::BinaryAttrs: act(node.attrs.AsBinaryAttrs()->activation); break;
    case A::GemmAttrs: {
      const auto& a = *node.attrs.AsGemmAttrs();
      if (a.alpha != 1.0f) s << " alpha=" << a.alpha;
      if (a.beta != 1.0f) s << " beta=" << a.beta;
      if (a.trans_a) s << " transA";
      if (a.trans_b) s << " transB";
      act(a.activation);
      break;
    }
    case A::FlattenAttrs: s << "axis=" << node.attrs.AsFlattenAttrs()->axis; break;
    case A::ReshapeAttrs: s << "shape=" << shape_to_string(node.attrs.AsReshapeAttrs()->shape); break;
    case A::AxesAttrs: s << "axes=" << join(node.attrs.AsAxesAttrs()->axes); break;
    case A::TransposeAttrs: s << "perm=" << join(node.attrs.AsTransposeAttrs()->perm); break;
    case A::ConcatAttrs: s << "axis=" << node.attrs.AsConcatAttrs()->axis; break;
    case A::SplitAttrs:
      s << "axis=" << node.attrs.AsSplitAttrs()->axis << " sizes=" << join(node.attrs.AsSplitAttrs()->sizes);
      break;
    case A::SliceAttrs: {
      const auto& a = *node.attrs.AsSliceAttrs();
      s << "axes=" << join(a.axes) << " starts=" << join(a.starts) << " ends=" << join(a.ends)
        << " steps=" << join(a.steps);
      break;
    }
    case A::PadAttrs:
      s << "pads=" << join(node.attrs.AsPadAttrs()->pads) << " value=" << node.attrs.AsPadAttrs()->value;
      break;
    case A::ReduceAttrs:
      s << "axes=" << join(node.attrs.AsReduceAttrs()->axes)
        << " keepdims=" << node.attrs.AsReduceAttrs()->keepdims;
      break;
    case A::SoftmaxAttrs:
      s << "axis=" << node.attrs.AsSoftmaxAttrs()->axis;
      if (node.attrs.AsSoftmaxAttrs()->over_trailing_axes) s << " (and all later axes)";
      break;
    case A::NONE: break;
  }
  std::string out = s.str();
  if (!out.empty() && out.front() == ' ') out.erase(0, 1);
  return out;
}

int64_t node_params(const Graph& graph, const Node& node) {
  int64_t n = 0;
  for (TensorId t : node.inputs)
    if (graph.tensor(t).is_constant()) n += element_count(graph.shape(t));
  return n;
}

int64_t node_flops(const Graph& graph, const Node& node) {
  if (node.outputs.empty()) return 0;
  const Shape& out = graph.shape(node.outputs[0]);
  const int64_t out_elems = element_count(out);
  switch (node.op) {
    case O::Conv: {
      // 2 * (output elements) * (input channels per group) * (kernel volume)
      const Shape& w = graph.shape(node.inputs[1]);
      int64_t per_output = 1;
      for (size_t i = 1; i < w.size(); ++i) per_output *= w[i];
      return saturating_add(saturating_mul(2 * out_elems, per_output), node.inputs.size() > 2 ? out_elems : 0);
    }
    case O::Gemm: {
      const auto& a = attrs_as<fb::GemmAttrsT>(node);
      const Shape& sa = graph.shape(node.inputs[0]);
      const int64_t k = a.trans_a ? sa[0] : sa[1];
      return saturating_mul(2 * out_elems, k);
    }
    case O::MatMul: {
      const Shape& sa = graph.shape(node.inputs[0]);
      return saturating_mul(2 * out_elems, sa.empty() ? 1 : sa.back());
    }
    case O::MaxPool:
    case O::AveragePool: {
      const auto& a = attrs_as<fb::PoolAttrsT>(node);
      int64_t k = 1;
      for (int32_t v : a.kernel_shape) k = saturating_mul(k, v);
      return saturating_mul(out_elems, k);
    }
    case O::GlobalAveragePool:
    case O::GlobalMaxPool:
    case O::ReduceMean:
      return element_count(graph.shape(node.inputs[0]));
    case O::BatchNormalization: return 2 * out_elems;
    case O::Softmax: return 3 * out_elems;
    default:
      return op_info(node.op).elementwise && !is_reshape_like(node.op) ? out_elems : 0;
  }
}

}  // namespace kiln
