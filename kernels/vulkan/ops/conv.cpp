// Conv on Vulkan: one algorithm per layer (conv_algorithms.hpp), a following
// residual Add taken into the epilogue, and a depthwise layer fused with the
// 1x1 reading it (conv_gemm.comp, CONV_GEMM_DW_PW) where the selector says so.
// Tune times the candidates with timestamp queries (measure()).
#include <fmt/format.h>

#include <chrono>

#include "engine/core/residual.hpp"
#include "engine/core/spatial.hpp"
#include "kernels/vulkan/ops/ops.hpp"

namespace kiln::vk {

namespace {

// The shader, constants and launch of one convolution (or a fused dw + pw
// pair when `pw` is given: then `s` is the depthwise layer).
struct ConvLaunch {
  Shader shader = Shader::ConvDirect;
  Spec spec;
  std::array<uint32_t, 3> groups{1, 1, 1};
  uint32_t bindings = 5;
};

ConvLaunch conv_launch(const ConvGeometry& s, ConvShader kind, const fb::FusedActivation& act, bool has_bias,
                       bool has_res, const ConvGeometry* pw = nullptr, const fb::FusedActivation* dw_act = nullptr,
                       bool dw_has_bias = false) {
  ConvLaunch l;
  Spec& p = l.spec;
  const int64_t out_elems = pw ? pw->output_elems() : s.output_elems();
  p.i(SPEC_COUNT, out_elems).i(SPEC_CONV_N, s.N).i(SPEC_CONV_C, s.C).i(SPEC_CONV_K, s.K);
  p.i(SPEC_CONV_GROUP, pw ? 1 : s.group);
  p.axes(SPEC_CONV_IN, std::array<int64_t, 3>{s.D, s.H, s.W});
  p.axes(SPEC_CONV_OUT, std::array<int64_t, 3>{s.OD, s.OH, s.OW});
  p.axes(SPEC_CONV_KERNEL, std::array<int64_t, 3>{s.KD, s.KH, s.KW});
  p.axes(SPEC_CONV_STRIDE, std::array<int64_t, 3>{s.sd, s.sh, s.sw});
  p.axes(SPEC_CONV_DILATION, std::array<int64_t, 3>{s.dd, s.dh, s.dw});
  p.axes(SPEC_CONV_PAD, std::array<int64_t, 3>{s.pf, s.pt, s.pl});
  p.i(SPEC_CONV_HAS_BIAS, has_bias).i(SPEC_CONV_HAS_RESIDUAL, has_res);
  p.i(SPEC_CONV_ACT_KIND, static_cast<int>(act.kind()))
      .f(SPEC_CONV_ACT_ALPHA, act.alpha())
      .f(SPEC_CONV_ACT_BETA, act.beta());
  const int64_t P = int64_t{s.OH} * s.OW;
  switch (kind) {
    case ConvShader::Direct:
      l.shader = Shader::ConvDirect;
      l.groups = groups_1d(out_elems);
      break;
    case ConvShader::Depthwise:
      l.shader = Shader::ConvDepthwise;
      l.groups = groups_1d(out_elems);
      break;
    case ConvShader::Gemm1x1:
    case ConvShader::ImplicitGemm: {
      l.shader = Shader::ConvGemm;
      l.bindings = 7;
      const int mode = pw ? CONV_GEMM_DW_PW : kind == ConvShader::Gemm1x1 ? CONV_GEMM_1X1 : CONV_GEMM_IMPLICIT;
      const int kout = pw ? pw->K : s.K;
      const int group = pw ? 1 : s.group;
      p.i(SPEC_CONV_GEMM_MODE, mode).i(SPEC_CONV_GEMM_KOUT, kout);
      if (pw) {
        p.i(SPEC_CONV_DW_ACT_KIND, static_cast<int>(dw_act->kind()))
            .f(SPEC_CONV_DW_ACT_ALPHA, dw_act->alpha())
            .f(SPEC_CONV_DW_ACT_BETA, dw_act->beta())
            .i(SPEC_CONV_DW_HAS_BIAS, dw_has_bias);
      }
      const int64_t kg = kout / group;
      l.groups = {static_cast<uint32_t>((P + 63) / 64), static_cast<uint32_t>((kg + 63) / 64),
                  static_cast<uint32_t>(int64_t{s.N} * group)};
      break;
    }
  }
  return l;
}

double elapsed_ms(const Context& ctx, uint64_t a, uint64_t b) {
  return static_cast<double>((b - a) & ctx.timestamp_mask) * ctx.timestamp_period_ns * 1e-6;
}

// Times `alg` on the device for tune: buffers of the layer's size (zeros in,
// the node's real weights), one warm-up launch and three timed ones.
double measure(const Lowering& l, const ConvGeometry& s, const ConvAlgorithm& alg, const Node& node, bool residual) {
  const DeviceAccess& dev = l.device();
  const Context& ctx = *dev.ctx;
  const bool has_bias = node.inputs.size() > 2;
  const ConvLaunch launch = conv_launch(s, alg.shader(), attrs_as<fb::ConvAttrsT>(node).activation, has_bias, residual);
  const Pipeline p = dev.pipelines->get(launch.shader, launch.spec, launch.bindings);
  const VkBufferUsageFlags usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  const size_t eb = dev.element_bytes;
  Buffer x(dev.ctx, static_cast<size_t>(s.input_elems()) * eb, usage, false, "tuning input");
  Buffer y(dev.ctx, static_cast<size_t>(s.output_elems()) * eb, usage, false, "tuning output");
  Buffer r(dev.ctx, residual ? static_cast<size_t>(s.output_elems()) * eb : 64, usage, false, "tuning residual");
  VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, launch.bindings};
  VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  dpi.maxSets = 1;
  dpi.poolSizeCount = 1;
  dpi.pPoolSizes = &ps;
  VkDescriptorPool pool;
  check(vkCreateDescriptorPool(ctx.device, &dpi, nullptr, &pool), "creating a descriptor pool");
  VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
  qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
  qi.queryCount = 4;
  VkQueryPool qp;
  check(vkCreateQueryPool(ctx.device, &qi, nullptr, &qp), "creating a query pool");
  VkDescriptorSetAllocateInfo sai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  sai.descriptorPool = pool;
  sai.descriptorSetCount = 1;
  sai.pSetLayouts = &p.set_layout;
  VkDescriptorSet set;
  check(vkAllocateDescriptorSets(ctx.device, &sai, &set), "allocating a descriptor set");
  const VkBuffer weights = dev.weights->buffer;
  auto weight_info = [&](size_t k) -> VkDescriptorBufferInfo {
    if (k >= node.inputs.size()) return {weights, 0, 16};
    const TensorId t = node.inputs[k];
    return {weights, (*dev.weight_offsets)[static_cast<size_t>(t)], std::max<VkDeviceSize>(l.bytes(t), 4)};
  };
  std::vector<VkDescriptorBufferInfo> infos = {{y.buffer, 0, VK_WHOLE_SIZE},
                                               {x.buffer, 0, VK_WHOLE_SIZE},
                                               weight_info(1),
                                               weight_info(2),
                                               {r.buffer, 0, VK_WHOLE_SIZE}};
  while (infos.size() < launch.bindings) infos.push_back({weights, 0, 16});
  std::vector<VkWriteDescriptorSet> writes(launch.bindings);
  for (uint32_t b = 0; b < launch.bindings; ++b) {
    writes[b] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[b].dstSet = set;
    writes[b].dstBinding = b;
    writes[b].descriptorCount = 1;
    writes[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[b].pBufferInfo = &infos[b];
  }
  vkUpdateDescriptorSets(ctx.device, launch.bindings, writes.data(), 0, nullptr);
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = dev.command_pool;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cb;
  check(vkAllocateCommandBuffers(ctx.device, &ai, &cb), "allocating a command buffer");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  vkBeginCommandBuffer(cb, &bi);
  vkCmdResetQueryPool(cb, qp, 0, 4);
  vkCmdFillBuffer(cb, x.buffer, 0, VK_WHOLE_SIZE, 0);
  vkCmdFillBuffer(cb, r.buffer, 0, VK_WHOLE_SIZE, 0);
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
  vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
  for (int k = 0; k < 4; ++k) {  // a warm-up launch, then three timed ones
    vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    if (ctx.timestamps) vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qp, static_cast<uint32_t>(k));
    vkCmdDispatch(cb, launch.groups[0], launch.groups[1], launch.groups[2]);
  }
  check(vkEndCommandBuffer(cb), "recording a tuning run");
  const auto t0 = std::chrono::steady_clock::now();
  ctx.submit_and_wait(cb, dev.fence, "timing a convolution algorithm");
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 4;
  if (ctx.timestamps) {
    // The last launch has no closing stamp; timestamps 0..3 bound launches 0..2.
    uint64_t st[4];
    check(vkGetQueryPoolResults(ctx.device, qp, 0, 4, sizeof st, st, sizeof(uint64_t),
                                VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
          "reading timestamps");
    ms = std::min(elapsed_ms(ctx, st[1], st[2]), elapsed_ms(ctx, st[2], st[3]));
  }
  vkFreeCommandBuffers(ctx.device, dev.command_pool, 1, &cb);
  vkDestroyQueryPool(ctx.device, qp, nullptr);
  vkDestroyDescriptorPool(ctx.device, pool, nullptr);
  return ms;
}

ResidualAdd residual_after(const Lowering& l, int conv, int first) {
  return kiln::residual_after(l.graph(), l.consumers(), l.producers(), conv, first);
}

void lower_single(Lowering& l, int i) {
  const Node& node = l.node(i);
  const ConvGeometry s = conv_geometry(l.graph(), node);
  fb::FusedActivation act = attrs_as<fb::ConvAttrsT>(node).activation;
  const ResidualAdd residual = residual_after(l, i, i);
  TensorId out = node.outputs[0];
  const bool weights_const = l.is_const(node.inputs[1]) && (node.inputs.size() < 3 || l.is_const(node.inputs[2]));
  ConvSelector::Measure measure_fn;
  if (weights_const)
    measure_fn = [&, has_res = bool(residual)](const ConvAlgorithm& a) { return measure(l, s, a, node, has_res); };
  const Selection sel = l.selector().choose(s, bool(residual), measure_fn);
  if (residual) {
    const Node& add = l.node(residual.add);
    act = attrs_as<fb::BinaryAttrsT>(add).activation;
    out = add.outputs[0];
    l.fuse_into(residual.add, i);
  }
  const bool has_bias = node.inputs.size() > 2;
  ConvLaunch launch = conv_launch(s, sel.algorithm->shader(), act, has_bias, bool(residual));
  const TensorId res = residual ? residual.residual : kNone;
  std::vector<TensorId> bind = {out, node.inputs[0], node.inputs[1], has_bias ? node.inputs[2] : kNone, res};
  while (bind.size() < launch.bindings) bind.push_back(kNone);
  std::vector<TensorId> ins = node.inputs;
  if (residual) ins.push_back(residual.residual);
  l.add_lowered_node(i, node.op, ins, {out});
  std::string detail = fmt::format("{} [{}, est {:.3f} ms", sel.algorithm->name(), sel.how, sel.estimated_ms);
  if (sel.measured_ms >= 0) detail += fmt::format(", measured {:.3f} ms", sel.measured_ms);
  detail += "]";
  if (residual) detail += " +residual";
  l.set_detail(i, detail);
  if (s.output_elems() > 0) l.add_step(i, launch.shader, std::move(launch.spec), std::move(bind), launch.groups);
}

void lower_fused(Lowering& l, int dwi, int pwi) {
  const Node& dw = l.node(dwi);
  const Node& pw = l.node(pwi);
  const ConvGeometry ds = conv_geometry(l.graph(), dw), ps = conv_geometry(l.graph(), pw);
  fb::FusedActivation act = attrs_as<fb::ConvAttrsT>(pw).activation;
  const fb::FusedActivation dw_act = attrs_as<fb::ConvAttrsT>(dw).activation;
  const ResidualAdd residual = residual_after(l, pwi, dwi);
  TensorId out = pw.outputs[0];
  if (residual) {
    const Node& add = l.node(residual.add);
    act = attrs_as<fb::BinaryAttrsT>(add).activation;
    out = add.outputs[0];
    l.fuse_into(residual.add, dwi);
    l.append_detail(dwi, " +residual");
  }
  l.fuse_into(pwi, dwi);
  const bool has_bias = pw.inputs.size() > 2, dw_bias = dw.inputs.size() > 2;
  const TensorId res = residual ? residual.residual : kNone;
  ConvLaunch launch = conv_launch(ds, ConvShader::ImplicitGemm, act, has_bias, bool(residual), &ps, &dw_act, dw_bias);
  std::vector<TensorId> bind = {out,
                                dw.inputs[0],
                                pw.inputs[1],
                                has_bias ? pw.inputs[2] : kNone,
                                res,
                                dw.inputs[1],
                                dw_bias ? dw.inputs[2] : kNone};
  std::vector<TensorId> ins = {dw.inputs[0], dw.inputs[1], pw.inputs[1]};
  if (has_bias) ins.push_back(pw.inputs[2]);
  if (dw_bias) ins.push_back(dw.inputs[2]);
  if (residual) ins.push_back(residual.residual);
  l.add_lowered_node(dwi, dw.op, ins, {out});
  if (ps.output_elems() > 0) l.add_step(dwi, launch.shader, std::move(launch.spec), std::move(bind), launch.groups);
}

}  // namespace

// Depthwise layers whose only reader is a 1x1 layer: fuse when the selector says so.
void plan_fusions(Lowering& l) {
  const Graph& g = l.graph();
  l.fused_pw.assign(g.nodes.size(), -1);
  std::vector<char> taken(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& dw = g.nodes[i];
    if (dw.op != OpType::Conv || taken[i]) continue;
    const TensorId mid = dw.outputs[0];
    const auto& readers = l.consumers()[static_cast<size_t>(mid)];
    if (readers.size() != 1 || g.is_graph_output(mid)) continue;
    const Node& pw = g.nodes[static_cast<size_t>(readers[0])];
    if (pw.op != OpType::Conv || pw.inputs[0] != mid) continue;
    // The 1x1's weights and bias must exist when the pair runs (at the depthwise's place).
    bool ready = true;
    for (size_t k = 1; k < pw.inputs.size(); ++k)
      if (l.producers()[static_cast<size_t>(pw.inputs[k])] >= static_cast<int>(i)) ready = false;
    if (!ready) continue;
    const ConvGeometry ds = conv_geometry(g, dw), ps = conv_geometry(g, pw);
    if (!fused_applicable(ds, ps)) continue;
    const double separate = l.selector().heuristic_ms(ds) + l.selector().heuristic_ms(ps);
    double fused = 0;
    if (!l.selector().fuse(ds, ps, separate, &fused)) continue;
    l.fused_pw[i] = readers[0];
    taken[static_cast<size_t>(readers[0])] = 1;
    l.set_detail(static_cast<int>(i),
                 fmt::format("{} + {} [est {:.3f} ms vs {:.3f} ms separate]", kFusedDwPw, pw.name, fused, separate));
  }
}

void lower_conv(Lowering& l, int i) {
  if (const int pw = l.fused_pw[static_cast<size_t>(i)]; pw >= 0)
    lower_fused(l, i, pw);
  else
    lower_single(l, i);
}

}  // namespace kiln::vk
