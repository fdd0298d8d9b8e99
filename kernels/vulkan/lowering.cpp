#include "kernels/vulkan/lowering.hpp"

#include <algorithm>

namespace kiln::vk {

std::array<uint32_t, 3> groups_1d(int64_t count, uint32_t local) {
  const int64_t n = std::max<int64_t>((count + local - 1) / local, 1);
  const int64_t gx = std::min<int64_t>(n, 65535);
  return {static_cast<uint32_t>(gx), static_cast<uint32_t>((n + gx - 1) / gx), 1};
}

std::array<int64_t, kMaxRank> right_aligned(std::span<const int64_t> values, int64_t fill) {
  std::array<int64_t, kMaxRank> out;
  out.fill(fill);
  for (size_t k = 0; k < values.size(); ++k) out[kMaxRank - values.size() + k] = values[k];
  return out;
}

Lowering::Lowering(std::shared_ptr<const Graph> graph, const BackendOptions& options, DeviceAccess device)
    : LoweringBase(std::move(graph)), device_(std::move(device)), selector_(options, *device_.ctx) {
  set_progress(options.progress);
}

size_t Lowering::bytes(TensorId t) const {
  return static_cast<size_t>(element_count(graph_->shape(t))) * device_.element_bytes;
}

void Lowering::add_step(int node, Shader shader, Spec spec, std::vector<TensorId> bind, std::array<uint32_t, 3> groups,
                        bool skip_if_aliased) {
  Step s;
  s.node = node;
  s.shader = shader;
  s.spec = std::move(spec);
  s.bind = std::move(bind);
  s.groups = groups;
  s.skip_if_aliased = skip_if_aliased;
  steps.push_back(std::move(s));
}

void Lowering::add_copy(int node, const StridedView& src, TensorId in, const StridedView& dst, TensorId out,
                        bool skip_if_aliased) {
  const int64_t count = src.count();
  if (count == 0) return;
  const size_t r = static_cast<size_t>(src.rank);
  Spec s;
  s.i(SPEC_COUNT, count).i(SPEC_COPY_SRC_OFFSET, src.offset).i(SPEC_COPY_DST_OFFSET, dst.offset);
  s.axes(SPEC_COPY_DIMS, right_aligned({src.shape, r}, 1));
  s.axes(SPEC_COPY_SRC_STRIDES, right_aligned({src.strides, r}, 0));
  s.axes(SPEC_COPY_DST_STRIDES, right_aligned({dst.strides, r}, 0));
  add_step(node, Shader::Copy, std::move(s), {out, in}, groups_1d(count), skip_if_aliased);
}

}  // namespace kiln::vk
