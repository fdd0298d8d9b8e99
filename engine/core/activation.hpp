#pragma once
// Scalar definitions of the activations, shared by the standalone activation
// kernels and the fused epilogues of every backend's reference path.
#include <algorithm>
#include <cmath>

#include "engine/core/graph.hpp"

namespace kiln {

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float hard_sigmoid(float x, float alpha, float beta) { return std::clamp(alpha * x + beta, 0.0f, 1.0f); }
inline float hard_swish(float x) { return x * hard_sigmoid(x, 1.0f / 6.0f, 0.5f); }
inline float leaky_relu(float x, float alpha) { return x >= 0.0f ? x : alpha * x; }
// ONNX Clip: max(min(x, hi), lo) applied in that order; NaN passes through.
inline float clip(float x, float lo, float hi) { return std::max(std::min(x, hi), lo); }

inline float apply_activation(const fb::FusedActivation& act, float x) {
  using K = fb::ActivationKind;
  switch (act.kind()) {
    case K::None: return x;
    case K::Relu: return std::max(x, 0.0f);
    case K::Clip: return clip(x, act.alpha(), act.beta());
    case K::LeakyRelu: return leaky_relu(x, act.alpha());
    case K::Sigmoid: return sigmoid(x);
    case K::HardSigmoid: return hard_sigmoid(x, act.alpha(), act.beta());
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
