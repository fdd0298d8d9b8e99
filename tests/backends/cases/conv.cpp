// Convolutions: layers of MobileNetV2 and ResNet scaled down in space, then a
// seeded random sweep (channels 1-67, kernels 1/3/5/7, strides 1/2, asymmetric
// pads, dilations 1/2, groups and depthwise, fused activations).
#include <fmt/format.h>

#include "tests/backends/op_cases.hpp"

namespace kiln::test {
namespace {

using K = fb::ActivationKind;

std::string describe(const ConvSpec& s) {
  return fmt::format("n{}_c{}to{}_{}x{}_k{}x{}_s{}x{}_d{}x{}_g{}_p{}{}{}{}{}{}", s.n, s.cin, s.cout, s.h, s.w, s.kh,
                     s.kw, s.sh, s.sw, s.dh, s.dw, s.group, s.pads[0], s.pads[1], s.pads[2], s.pads[3],
                     s.bias ? "_bias" : "", s.activation.kind() == K::None ? "" : "_act");
}

Graph conv_graph(const ConvSpec& s, uint32_t seed) {
  GraphBuilder b;
  const TensorId x = b.input("x", {s.n, s.cin, s.h, s.w});
  b.output(add_conv(b, x, s, seed));
  return b.build();
}

}  // namespace

ConvSpec random_conv(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvSpec s;
  const int kernels[] = {1, 3, 5, 7};
  s.kh = kernels[pick(0, 3)];
  s.kw = pick(0, 3) == 0 ? kernels[pick(0, 3)] : s.kh;  // mostly square
  s.sh = pick(1, 2);
  s.sw = pick(0, 3) == 0 ? 3 - s.sh : s.sh;
  s.dh = s.kh > 1 && pick(0, 3) == 0 ? 2 : 1;
  s.dw = s.kw > 1 && pick(0, 3) == 0 ? 2 : 1;
  const int ekh = (s.kh - 1) * s.dh + 1, ekw = (s.kw - 1) * s.dw + 1;
  s.pads = {pick(0, ekh - 1), pick(0, ekw - 1), pick(0, ekh - 1), pick(0, ekw - 1)};
  s.h = pick(std::max(1, ekh - s.pads[0] - s.pads[2]), 19);
  s.w = pick(std::max(1, ekw - s.pads[1] - s.pads[3]), 19);
  switch (pick(0, 3)) {
    case 0: {  // depthwise, channel multiplier 1 or 2
      s.cin = pick(1, 67);
      s.group = static_cast<int32_t>(s.cin);
      s.cout = s.cin * pick(1, 2);
      break;
    }
    case 1: {  // grouped
      s.group = pick(2, 4);
      s.cin = s.group * pick(1, 12);
      s.cout = s.group * pick(1, 12);
      break;
    }
    default:
      s.cin = pick(1, 67);
      s.cout = pick(1, 67);
  }
  s.n = pick(0, 5) == 0 ? 2 : 1;
  s.bias = pick(0, 3) != 0;
  switch (pick(0, 4)) {
    case 0: s.activation = act(K::Relu); break;
    case 1: s.activation = act(K::Clip, 0.0f, 6.0f); break;
    case 2: s.activation = act(K::LeakyRelu, 0.1f); break;
    default: break;
  }
  return s;
}

std::vector<OpCase> conv_cases() {
  std::vector<OpCase> v;
  auto named = [&](const std::string& name, ConvSpec s) {
    v.push_back({"Conv_" + name, [s] { return conv_graph(s, 11); }});
  };
  named("stem_3to16_k3s2", {1, 3, 16, 23, 23, 3, 3, 2, 2, 1, 1, 1, {0, 0, 1, 1}, true, act(K::Clip, 0, 6)});
  named("stem_3to8_k7s2", {1, 3, 8, 21, 21, 7, 7, 2, 2, 1, 1, 1, {3, 3, 3, 3}, true, act(K::Relu)});
  named("pointwise_67to35", {1, 67, 35, 7, 9, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, {}});
  named("pointwise_16to96_relu6", {1, 16, 96, 10, 10, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, act(K::Clip, 0, 6)});
  named("depthwise_32_k3s1", {1, 32, 32, 14, 14, 3, 3, 1, 1, 1, 1, 32, {1, 1, 1, 1}, true, act(K::Clip, 0, 6)});
  named("depthwise_24_k3s2", {1, 24, 24, 15, 15, 3, 3, 2, 2, 1, 1, 24, {1, 1, 1, 1}, true, act(K::Clip, 0, 6)});
  named("depthwise_19_k5s2_asym", {1, 19, 19, 13, 11, 5, 5, 2, 2, 1, 1, 19, {1, 2, 2, 1}, false, {}});
  named("resnet_3x3_64", {1, 64, 64, 8, 8, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, act(K::Relu)});
  named("resnet_3x3_s2_32to64", {1, 32, 64, 9, 9, 3, 3, 2, 2, 1, 1, 1, {1, 1, 1, 1}, true, act(K::Relu)});
  named("dilated_3x3_d2", {1, 8, 12, 11, 11, 3, 3, 1, 1, 2, 2, 1, {2, 2, 2, 2}, true, {}});
  named("batch2_grouped", {2, 12, 8, 7, 7, 3, 3, 1, 1, 1, 1, 4, {1, 0, 0, 1}, true, {}});
  named("rect_1x7", {1, 5, 6, 9, 13, 1, 7, 1, 1, 1, 1, 1, {0, 3, 0, 3}, true, {}});
  std::mt19937 rng(kConvSweepSeed);
  for (int i = 0; i < kConvSweepCases; ++i) {
    const ConvSpec s = random_conv(rng);
    const uint32_t seed = 100 + static_cast<uint32_t>(i);
    v.push_back({fmt::format("Conv_random{:02d}_{}", i, describe(s)), [s, seed] { return conv_graph(s, seed); }});
  }
  return v;
}

}  // namespace kiln::test
