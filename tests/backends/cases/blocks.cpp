// Multi-op graphs where a backend fuses, reorders layouts or plans memory
// across nodes: MobileNetV2's inverted residual block, a ResNet basic block
// with its head, a SqueezeNet fire module, and one graph with every op.
#include <fmt/format.h>

#include "tests/backends/op_cases.hpp"

namespace kiln::test {

std::vector<OpCase> block_cases() {
  using O = OpType;
  using K = fb::ActivationKind;
  std::vector<OpCase> v;
  // Expand 1x1, depthwise 3x3, project 1x1, + input: what fused
  // depthwise/pointwise paths are built for.
  for (int stride : {1, 2})
    v.push_back({fmt::format("Block_inverted_residual_s{}", stride), [stride] {
                   GraphBuilder b;
                   const TensorId x = b.input("x", {1, 16, 14, 14});
                   const auto relu6 = act(K::Clip, 0.0f, 6.0f);
                   TensorId t = add_conv(b, x, {1, 16, 96, 14, 14, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, relu6}, 1);
                   t = add_conv(b, t, {1, 96, 96, 14, 14, 3, 3, stride, stride, 1, 1, 96, {1, 1, 1, 1}, true, relu6}, 2);
                   const int64_t hw = stride == 1 ? 14 : 7;
                   t = add_conv(b, t, {1, 96, 16, hw, hw, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, {}}, 3);
                   if (stride == 1) t = b.node(O::Add, {t, x}, binary_attrs());
                   b.output(t);
                   return b.build();
                 }});
  // A strided shortcut, then pool and classifier.
  v.push_back({"Block_resnet_basic_downsample_head", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {1, 8, 12, 12});
                 TensorId t = add_conv(b, x, {1, 8, 16, 12, 12, 3, 3, 2, 2, 1, 1, 1, {1, 1, 1, 1}, true, act(K::Relu)}, 1);
                 t = add_conv(b, t, {1, 16, 16, 6, 6, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, {}}, 2);
                 const TensorId sc = add_conv(b, x, {1, 8, 16, 12, 12, 1, 1, 2, 2, 1, 1, 1, {0, 0, 0, 0}, true, {}}, 3);
                 t = b.node(O::Add, {t, sc}, binary_attrs(act(K::Relu)));
                 t = b.node(O::GlobalAveragePool, {t});
                 t = b.node(O::Flatten, {t}, flatten_attrs(1));
                 t = b.node(O::Gemm, {t, b.random_constant("fc_w", {10, 16}, 4), b.random_constant("fc_b", {10}, 5)},
                            gemm_attrs(1.0f, 1.0f, false, true));
                 b.output(b.node(O::Softmax, {t}, softmax_attrs(1)));
                 return b.build();
               }});
  // Concat of two convolutions of one input.
  v.push_back({"Block_fire_concat", [] {
                 GraphBuilder b;
                 const TensorId x = b.input("x", {1, 12, 9, 9});
                 const TensorId s = add_conv(b, x, {1, 12, 6, 9, 9, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, act(K::Relu)}, 1);
                 const TensorId e1 = add_conv(b, s, {1, 6, 10, 9, 9, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, act(K::Relu)}, 2);
                 const TensorId e3 = add_conv(b, s, {1, 6, 10, 9, 9, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, act(K::Relu)}, 3);
                 b.output(b.node(O::Concat, {e1, e3}, concat_attrs(1)));
                 return b.build();
               }});
  v.push_back({"Graph_every_op", [] { return all_ops_graph(); }});
  return v;
}

}  // namespace kiln::test
