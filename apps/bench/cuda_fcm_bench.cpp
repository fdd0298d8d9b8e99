// FCM fused pairs against cuDNN's separate layers, per MobileNetV2 block
// (224x224) at batch 1 and 32: for every depthwise layer, its dw->pw pair
// (depthwise + project 1x1) and its pw->dw pair (expand 1x1 + depthwise) run
//   - as two cuDNN convolutions (--algorithm fixed:cudnn), and
//   - as one fused kernel (fixed:fcm_dw_pw / fixed:fcm_pw_dw),
// timed on the device with per-step CUDA events (GpuOptions::profile_nodes,
// medians over the runs), so input/output copies are not counted.
//   kiln_cuda_fcm_bench [runs (default 200)]
// Prints a table and the planner's decision for each pair; exits 1 with
// the reason when there is no CUDA device.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "kiln/kiln.hpp"

namespace {

using kiln::Graph;
using kiln::OpType;
using kiln::Shape;
using kiln::TensorId;

struct Block {
  int c, expanded, k, hw, stride;
};
// MobileNetV2's inverted-residual blocks that differ in shape (input channels,
// expanded channels, output channels, input size, depthwise stride).
const std::vector<Block> kBlocks = {
    {32, 32, 16, 112, 1},  {16, 96, 24, 112, 2},  {24, 144, 24, 56, 1}, {24, 144, 32, 56, 2},
    {32, 192, 32, 28, 1},  {32, 192, 64, 28, 2},  {64, 384, 64, 14, 1}, {64, 384, 96, 14, 1},
    {96, 576, 96, 14, 1},  {96, 576, 160, 14, 2}, {160, 960, 160, 7, 1}, {160, 960, 320, 7, 1},
};

std::vector<float> random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-0.5f, 0.5f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TensorId conv(Graph& g, TensorId x, int k, int kernel, int stride, int group, bool relu6, const std::string& name) {
  const Shape& xs = g.shape(x);
  const int64_t c = xs[1], h = xs[2], w = xs[3];
  const int pad = kernel / 2;
  const int64_t oh = (h + 2 * pad - kernel) / stride + 1, ow = (w + 2 * pad - kernel) / stride + 1;
  const TensorId wt = g.add_constant(name + "_w", {k, c / group, kernel, kernel},
                                     kiln::ConstantData::from_floats(random(static_cast<size_t>(k * (c / group) * kernel * kernel), 1)));
  const TensorId b = g.add_constant(name + "_b", {k}, kiln::ConstantData::from_floats(random(static_cast<size_t>(k), 2)));
  const TensorId y = g.add_tensor(name + "_y", {xs[0], k, oh, ow});
  kiln::fb::ConvAttrsT a;
  a.kernel_shape = {kernel, kernel};
  a.strides = {stride, stride};
  a.dilations = {1, 1};
  a.pads = {pad, pad, pad, pad};
  a.group = group;
  if (relu6) a.activation = kiln::fb::FusedActivation(kiln::fb::ActivationKind::Clip, 0.0f, 6.0f);
  kiln::Node n;
  n.name = name;
  n.op = OpType::Conv;
  n.inputs = {x, wt, b};
  n.outputs = {y};
  n.attrs = kiln::make_attrs(std::move(a));
  g.nodes.push_back(std::move(n));
  return y;
}

// Median device milliseconds of each node over `runs` runs.
std::vector<double> node_medians(const kiln::Model& model, const std::string& algorithm, int runs, std::string* detail) {
  kiln::SessionOptions o;
  o.backend = "cuda";
  o.algorithm = algorithm;
  o.gpu.profile_nodes = true;
  kiln::Session s(model, o);
  std::vector<kiln::Tensor> in, out;
  for (const auto& d : s.inputs()) {
    kiln::Tensor t(d.shape);
    const auto v = random(static_cast<size_t>(t.size()), 3);
    std::copy(v.begin(), v.end(), t.values().begin());
    in.push_back(std::move(t));
  }
  for (const auto& d : s.outputs()) out.emplace_back(d.shape);
  for (int i = 0; i < 20; ++i) s.run(in, out);
  std::vector<std::vector<double>> t;
  for (int r = 0; r < runs; ++r) {
    s.run(in, out);
    const auto p = s.profile();
    t.resize(p.size());
    for (size_t i = 0; i < p.size(); ++i) t[i].push_back(p[i].ms);
  }
  *detail = s.profile().front().detail;
  std::vector<double> med;
  for (auto& v : t) {
    std::sort(v.begin(), v.end());
    med.push_back(v[v.size() / 2]);
  }
  return med;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  try {
    const auto devices = kiln::list_devices("cuda");
    fmt::print("device: {} ({})\n", devices.at(0).name, devices.at(0).detail);
  } catch (const std::exception& e) {
    fmt::print(stderr, "kiln_cuda_fcm_bench: {}\n", e.what());
    return 1;
  }
  fmt::print("{:<8} {:>5} {:<34} {:>10} {:>10} {:>10} {:>10} {:>8}  planner\n", "pair", "batch", "shape",
             "cudnn 1st", "cudnn 2nd", "cudnn sum", "fcm", "speedup");
  double worst = 1e30;
  for (int batch : {1, 32}) {
    for (const Block& b : kBlocks) {
      for (bool dw_first : {true, false}) {
        auto g = std::make_shared<Graph>();
        TensorId x;
        if (dw_first) {
          x = g->add_tensor("x", {batch, b.expanded, b.hw, b.hw});
          g->inputs = {x};
          const TensorId d = conv(*g, x, b.expanded, 3, b.stride, b.expanded, true, "dw");
          g->outputs = {conv(*g, d, b.k, 1, 1, 1, false, "project")};
        } else {
          x = g->add_tensor("x", {batch, b.c, b.hw, b.hw});
          g->inputs = {x};
          const TensorId e = conv(*g, x, b.expanded, 1, 1, 1, true, "expand");
          g->outputs = {conv(*g, e, b.expanded, 3, b.stride, b.expanded, true, "dw")};
        }
        const kiln::Model model(g);
        std::string d1, d2;
        const auto sep = node_medians(model, "fixed:cudnn", runs, &d1);
        const auto fused = node_medians(model, dw_first ? "fixed:fcm_dw_pw" : "fixed:fcm_pw_dw", runs, &d2);
        const double sum = sep[0] + sep[1], f = fused[0] + fused[1];
        worst = std::min(worst, sum / f);
        const std::string shape = dw_first ? fmt::format("dw3x3/{} {}ch {}px -> pw {}", b.stride, b.expanded, b.hw, b.k)
                                           : fmt::format("pw {}->{} {}px -> dw3x3/{}", b.c, b.expanded, b.hw, b.stride);
        const size_t colon = d2.find(": ");
        fmt::print("{:<8} {:>5} {:<34} {:>10.4f} {:>10.4f} {:>10.4f} {:>10.4f} {:>7.2f}x  {}\n",
                   dw_first ? "dw->pw" : "pw->dw", batch, shape, sep[0], sep[1], sum, f, sum / f,
                   colon == std::string::npos ? d2 : d2.substr(colon + 2));
      }
    }
  }
  fmt::print("smallest speedup of a fused pair over the separate cuDNN pair: {:.2f}x (target >= 1.5x)\n", worst);
  return 0;
}
