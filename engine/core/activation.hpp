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

}  // namespace kiln
