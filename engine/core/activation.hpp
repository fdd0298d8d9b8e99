#pragma once
// Scalar definitions of the activations, shared by the standalone activation
// kernels and the fused epilogues of every backend's reference path.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "engine/core/graph.hpp"

namespace kiln {

// Templates so that the reference backend's float64 mode
// (ReferencePrecision::Float64) evaluates the same formulas in double; the
// parameters are not deduced, so float attributes widen to T.
template <class T>
T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }
template <class T>
T hard_sigmoid(T x, std::type_identity_t<T> alpha, std::type_identity_t<T> beta) {
  return std::clamp(alpha * x + beta, T(0), T(1));
}
template <class T>
T hard_swish(T x) { return x * hard_sigmoid<T>(x, T(1) / T(6), T(0.5)); }
template <class T>
T leaky_relu(T x, std::type_identity_t<T> alpha) { return x >= T(0) ? x : alpha * x; }
// ONNX Clip: max(min(x, hi), lo) applied in that order; NaN passes through.
template <class T>
T clip(T x, std::type_identity_t<T> lo, std::type_identity_t<T> hi) { return std::max(std::min(x, hi), lo); }

template <class T>
T apply_activation(const fb::FusedActivation& act, T x) {
  using K = fb::ActivationKind;
  switch (act.kind()) {
    case K::None: return x;
    case K::Relu: return std::max(x, T(0));
    case K::Clip: return clip<T>(x, act.alpha(), act.beta());
    case K::LeakyRelu: return leaky_relu<T>(x, act.alpha());
    case K::Sigmoid: return sigmoid(x);
    case K::HardSigmoid: return hard_sigmoid<T>(x, act.alpha(), act.beta());
    case K::HardSwish: return hard_swish(x);
    case K::Tanh: return std::tanh(x);
  }
  return x;
}

// The epilogue form of a standalone activation node (Relu, Clip, LeakyRelu,
// Sigmoid, HardSigmoid, HardSwish, Tanh); kind None for any other op.
inline fb::FusedActivation fused_form_of(const Node& act) {
  using K = fb::ActivationKind;
  switch (act.op) {
    case OpType::Relu: return {K::Relu, 0.f, 0.f};
    case OpType::Clip: {
      const auto& a = attrs_as<fb::ClipAttrsT>(act);
      return {K::Clip, a.min, a.max};
    }
    case OpType::LeakyRelu: return {K::LeakyRelu, attrs_as<fb::LeakyReluAttrsT>(act).alpha, 0.f};
    case OpType::Sigmoid: return {K::Sigmoid, 0.f, 0.f};
    case OpType::HardSigmoid: {
      const auto& a = attrs_as<fb::HardSigmoidAttrsT>(act);
      return {K::HardSigmoid, a.alpha, a.beta};
    }
    case OpType::HardSwish: return {K::HardSwish, 0.f, 0.f};
    case OpType::Tanh: return {K::Tanh, 0.f, 0.f};
    default: return {K::None, 0.f, 0.f};
  }
}

}  // namespace kiln
