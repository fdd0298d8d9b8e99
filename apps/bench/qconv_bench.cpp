// The int8 3×3 convolutions of a quantized model, layer by layer: time of the
// im2col GEMM, Winograd F(2,3) and SFC-6 kernels of the CPU backend (median
// of --runs, one thread), whether each gives the direct path's bytes, and the
// relative error the fast algorithms would have in the SFC paper's setting
// (He et al., ICML 2024): transformed input and weight tiles rounded to int8
// before the products, emulated here in double precision, per frequency
// (one scale per transform coefficient position over the layer) and per
// tensor (one scale for all). Winograd F(4,3) is emulated too, as the paper's
// example of a larger, ill-conditioned tile. The error is ‖Ŷ − Y‖₂ / ‖Y‖₂ over
// the layer's int32 accumulators (before requantization), Y the exact
// integer direct convolution.
//
// Activations are the layer's real inputs for a seeded random model input
// (uniform in [-2, 2)), taken from a keep_intermediates run.
//
//   kiln_qconv_bench model.int8.kiln [--runs N] [--isa NAME] [--no-errors]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/core/quantized_ops.hpp"
#include "engine/core/spatial.hpp"
#include "engine/runtime/memory_planner.hpp"
#include "kernels/cpu/conv/int8_algorithm.hpp"
#include "kernels/cpu/isa.hpp"
#include "kiln/kiln.hpp"

namespace {

using namespace kiln;
using Matrix = std::vector<std::vector<double>>;

// A 1-D fast algorithm in real arithmetic: scale·y = AT((BT x) ⊙ (G w)).
struct RealTransform {
  const char* name;
  Matrix bt, g, at;
  double scale;
};

RealTransform from_integer(const char* name, const cpu::FastTransform1D& t) {
  RealTransform r{name, {}, {}, {}, static_cast<double>(t.scale)};
  for (int i = 0; i < t.terms; ++i) {
    r.bt.emplace_back(t.bt[i], t.bt[i] + t.n_in);
    r.g.emplace_back(t.g[i], t.g[i] + 3);
  }
  for (int i = 0; i < t.n_out; ++i) r.at.emplace_back(t.at[i], t.at[i] + t.terms);
  return r;
}

// Lavin and Gray's F(4,3): points 0, ±1, ±2, ∞.
RealTransform winograd_f43() {
  return {"winograd F(4,3)",
          {{4, 0, -5, 0, 1, 0},
           {0, -4, -4, 1, 1, 0},
           {0, 4, -4, -1, 1, 0},
           {0, -2, -1, 2, 1, 0},
           {0, 2, -1, -2, 1, 0},
           {0, 4, 0, -5, 0, 1}},
          {{1. / 4, 0, 0},
           {-1. / 6, -1. / 6, -1. / 6},
           {-1. / 6, 1. / 6, -1. / 6},
           {1. / 24, 1. / 12, 1. / 6},
           {1. / 24, -1. / 12, 1. / 6},
           {0, 0, 1}},
          {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}},
          1};
}

// Symmetric int8 rounding with one scale per group (scale = max|v| / 127).
void round_to_int8(std::vector<double>& v, size_t groups, size_t per_group, bool per_group_scale) {
  auto quant = [&](size_t begin, size_t end) {
    double m = 0;
    for (size_t i = begin; i < end; ++i) m = std::max(m, std::abs(v[i]));
    if (m == 0) return;
    const double s = m / 127;
    for (size_t i = begin; i < end; ++i) v[i] = std::nearbyint(v[i] / s) * s;
  };
  if (!per_group_scale) return quant(0, v.size());
  for (size_t g = 0; g < groups; ++g) quant(g * per_group, (g + 1) * per_group);
}

struct Layer {
  ConvGeometry s;
  std::vector<int32_t> x;  // [H][W][C] x − zx (image 0)
  std::vector<int32_t> w;  // [K][C][3][3] w − zw
};

// Relative error of the fast algorithm `t` with the transformed operands rounded to int8.
double emulated_error(const Layer& L, const RealTransform& t, const std::vector<double>& exact, bool per_frequency) {
  const ConvGeometry& s = L.s;
  const int n = static_cast<int>(t.bt[0].size()), T = static_cast<int>(t.bt.size()), m = static_cast<int>(t.at.size());
  const int th = (s.OH + m - 1) / m, tw = (s.OW + m - 1) / m, tiles = th * tw, F = T * T;
  // U[f][tile][c], V[f][k][c]
  std::vector<double> U(static_cast<size_t>(F) * tiles * s.C), V(static_cast<size_t>(F) * s.K * s.C);
  std::vector<double> X(static_cast<size_t>(n * n)), R(static_cast<size_t>(n * T));
  for (int ti = 0; ti < tiles; ++ti)
    for (int c = 0; c < s.C; ++c) {
      const int ih0 = ti / tw * m - s.pt, iw0 = ti % tw * m - s.pl;
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
          const int ih = ih0 + i, iw = iw0 + j;
          X[static_cast<size_t>(i * n + j)] =
              ih < 0 || ih >= s.H || iw < 0 || iw >= s.W ? 0 : L.x[(static_cast<size_t>(ih) * s.W + iw) * s.C + c];
        }
      for (int i = 0; i < n; ++i)
        for (int b = 0; b < T; ++b) {
          double a = 0;
          for (int j = 0; j < n; ++j) a += t.bt[static_cast<size_t>(b)][static_cast<size_t>(j)] * X[static_cast<size_t>(i * n + j)];
          R[static_cast<size_t>(i * T + b)] = a;
        }
      for (int a = 0; a < T; ++a)
        for (int b = 0; b < T; ++b) {
          double v = 0;
          for (int i = 0; i < n; ++i) v += t.bt[static_cast<size_t>(a)][static_cast<size_t>(i)] * R[static_cast<size_t>(i * T + b)];
          U[(static_cast<size_t>(a * T + b) * tiles + ti) * s.C + c] = v;
        }
    }
  for (int k = 0; k < s.K; ++k)
    for (int c = 0; c < s.C; ++c) {
      const int32_t* w = &L.w[(static_cast<size_t>(k) * s.C + c) * 9];
      for (int a = 0; a < T; ++a)
        for (int b = 0; b < T; ++b) {
          double v = 0;
          for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j)
              v += t.g[static_cast<size_t>(a)][static_cast<size_t>(i)] * w[i * 3 + j] * t.g[static_cast<size_t>(b)][static_cast<size_t>(j)];
          V[(static_cast<size_t>(a * T + b) * s.K + k) * s.C + c] = v;
        }
    }
  round_to_int8(U, static_cast<size_t>(F), static_cast<size_t>(tiles) * s.C, per_frequency);
  round_to_int8(V, static_cast<size_t>(F), static_cast<size_t>(s.K) * s.C, per_frequency);
  double err2 = 0, ref2 = 0;
  std::vector<double> P(static_cast<size_t>(F)), Q(static_cast<size_t>(T * m));
  for (int ti = 0; ti < tiles; ++ti)
    for (int k = 0; k < s.K; ++k) {
      for (int f = 0; f < F; ++f) {
        const double* u = &U[(static_cast<size_t>(f) * tiles + ti) * s.C];
        const double* v = &V[(static_cast<size_t>(f) * s.K + k) * s.C];
        double acc = 0;
        for (int c = 0; c < s.C; ++c) acc += u[c] * v[c];
        P[static_cast<size_t>(f)] = acc;
      }
      for (int a = 0; a < T; ++a)
        for (int j = 0; j < m; ++j) {
          double acc = 0;
          for (int b = 0; b < T; ++b) acc += t.at[static_cast<size_t>(j)][static_cast<size_t>(b)] * P[static_cast<size_t>(a * T + b)];
          Q[static_cast<size_t>(a * m + j)] = acc;
        }
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j) {
          const int oh = ti / tw * m + i, ow = ti % tw * m + j;
          if (oh >= s.OH || ow >= s.OW) continue;
          double y = 0;
          for (int a = 0; a < T; ++a) y += t.at[static_cast<size_t>(i)][static_cast<size_t>(a)] * Q[static_cast<size_t>(a * m + j)];
          y /= t.scale * t.scale;
          const double e = exact[(static_cast<size_t>(oh) * s.OW + ow) * s.K + k];
          err2 += (y - e) * (y - e);
          ref2 += e * e;
        }
    }
  return ref2 > 0 ? std::sqrt(err2 / ref2) : 0;
}

double median_ms(const cpu::QConvKernel& k, const uint8_t* x, uint8_t* y, void* ws, cpu::ThreadPool& pool, int runs) {
  k.run(x, y, ws, pool);
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    k.run(x, y, ws, pool);
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, isa_cap;
  int runs = 15;
  bool errors_too = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (a == "--no-errors") {
      errors_too = false;
    } else if (a == "--isa" && i + 1 < argc) {
      isa_cap = argv[++i];
    } else if (path.empty()) {
      path = a;
    } else {
      fmt::print(stderr, "usage: kiln_qconv_bench model.int8.kiln [--runs N] [--isa NAME] [--no-errors]\n");
      return 2;
    }
  }
  if (path.empty()) {
    fmt::print(stderr, "usage: kiln_qconv_bench model.int8.kiln [--runs N] [--isa NAME] [--no-errors]\n");
    return 2;
  }
  const Model model = Model::load(path);
  const Graph& g = model.graph();
  const cpu::Isa isa = cpu::choose_isa(isa_cap);

  // Every node output for one seeded random input.
  SessionOptions so;
  so.backend = "cpu";
  so.threads = 1;
  so.keep_intermediates = true;
  Session session(model, so);
  std::vector<Tensor> inputs;
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-2.f, 2.f);
  for (const TensorDesc& d : session.inputs()) {
    Tensor t(d.shape);
    for (int64_t i = 0; i < t.size(); ++i) t.data()[i] = dist(rng);
    inputs.push_back(std::move(t));
  }
  std::map<std::string, Tensor> values;
  for (NodeOutput& o : session.run_all(inputs)) values.emplace(o.desc.name, std::move(o.value));

  const RealTransform algs[] = {from_integer("winograd F(2,3)", cpu::winograd_f23_transform()), winograd_f43(),
                                from_integer("sfc-6", cpu::sfc6_transform())};
  fmt::print("{} ({}, 1 thread, median of {} runs)\n", path, cpu::isa_name(isa), runs);
  fmt::print(
      "{:<40} {:>16} {:>9} {:>9} {:>9} {:>6} {:>6} | rel. error, int8 transformed operands (per-frequency / per-tensor "
      "scale)\n",
      "layer", "C>K HxW", "im2col", "winograd", "sfc", "W/I", "S/I");
  fmt::print("{:<40} {:>16} {:>9} {:>9} {:>9} {:>6} {:>6} | {:>21} {:>21} {:>21}\n", "", "", "ms", "ms", "ms", "", "",
             "winograd F(2,3)", "winograd F(4,3)", "sfc-6");
  cpu::ThreadPool pool(1);
  double total[3] = {0, 0, 0};
  for (const Node& node : g.nodes) {
    if (node.op != OpType::Conv || !is_quantized_node(g, node)) continue;
    const ConvGeometry s = conv_geometry(g, node);
    if (s.rank != 2 || s.KH != 3 || s.KW != 3 || s.group != 1) continue;
    cpu::QConvLayer layer;
    layer.shape = s;
    layer.x = &g.tensor(node.inputs[0]);
    layer.w = &g.tensor(node.inputs[1]);
    layer.bias = node.inputs.size() > 2 ? &g.tensor(node.inputs[2]) : nullptr;
    layer.y = &g.tensor(node.outputs[0]);
    layer.act = attrs_as<fb::ConvAttrsT>(node).activation;
    layer.kernels = &cpu::int8_kernels(isa);
    layer.threads = 1;
    if (!cpu::qconv_supported(layer)) continue;
    const auto it = values.find(layer.x->name);
    if (it == values.end() || it->second.type() != ElementType::UInt8) continue;
    // NCHW uint8 → NHWC, batch 1.
    const auto* xs = static_cast<const uint8_t*>(it->second.raw());
    std::vector<uint8_t> x(static_cast<size_t>(s.N) * s.H * s.W * s.C);
    for (int n = 0; n < s.N; ++n)
      for (int c = 0; c < s.C; ++c)
        for (int p = 0; p < s.H * s.W; ++p)
          x[(static_cast<size_t>(n) * s.H * s.W + p) * s.C + c] = xs[(static_cast<size_t>(n) * s.C + c) * s.H * s.W + p];

    const QuantizedLinear q = quantized_linear(*layer.x, *layer.w, layer.bias, *layer.y, s.K, layer.act);
    double ms[3] = {-1, -1, -1};
    std::vector<uint8_t> y[3];
    const char* names[3] = {"im2col", "winograd", "sfc"};
    for (int a = 0; a < 3; ++a) {
      const cpu::QConvAlgorithm* alg = cpu::find_qconv_algorithm(names[a]);
      if (!alg->applicable(s)) continue;
      const auto kernel = alg->prepare(layer);
      AlignedBytes ws = allocate_aligned(kernel->workspace_bytes());
      y[a].resize(static_cast<size_t>(s.output_pixels()) * s.K);
      ms[a] = median_ms(*kernel, x.data(), y[a].data(), ws.get(), pool, runs);
      total[a] += ms[a];
    }
    // Our kernels are exact: their bytes must be im2col's (error 0).
    std::string exact = " | exact";
    for (int a = 1; a < 3; ++a)
      if (!y[a].empty() && y[a] != y[0]) exact = fmt::format(" | {} DIFFERS from im2col", names[a]);

    std::string errors;
    if (errors_too && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1) {
      Layer L{s, {}, {}};
      L.s.N = 1;
      L.x.resize(static_cast<size_t>(s.H) * s.W * s.C);
      for (size_t i = 0; i < L.x.size(); ++i) L.x[i] = x[i] - q.x_zero_point;
      L.w.resize(static_cast<size_t>(s.K) * s.C * 9);
      for (size_t i = 0; i < L.w.size(); ++i) {
        const std::byte b = layer.w->constant->bytes()[i];
        const int32_t v = layer.w->dtype == DataType::Int8 ? static_cast<int8_t>(b) : static_cast<uint8_t>(b);
        L.w[i] = v - q.w_zero_point[i / (static_cast<size_t>(s.C) * 9)];
      }
      std::vector<double> direct(static_cast<size_t>(s.OH) * s.OW * s.K);
      for (int oh = 0; oh < s.OH; ++oh)
        for (int ow = 0; ow < s.OW; ++ow)
          for (int k = 0; k < s.K; ++k) {
            int64_t acc = 0;
            for (int i = 0; i < 3; ++i)
              for (int j = 0; j < 3; ++j) {
                const int ih = oh - s.pt + i, iw = ow - s.pl + j;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                const int32_t* xp = &L.x[(static_cast<size_t>(ih) * s.W + iw) * s.C];
                const int32_t* wp = &L.w[static_cast<size_t>(k) * s.C * 9 + static_cast<size_t>(i * 3 + j)];
                for (int c = 0; c < s.C; ++c) acc += int64_t{xp[c]} * wp[static_cast<size_t>(c) * 9];
              }
            direct[(static_cast<size_t>(oh) * s.OW + ow) * s.K + k] = static_cast<double>(acc);
          }
      for (const RealTransform& t : algs)
        errors += fmt::format(" {:>10.2e} {:>10.2e}", emulated_error(L, t, direct, true), emulated_error(L, t, direct, false));
    }
    auto cell = [](double v) { return v < 0 ? std::string("n/a") : fmt::format("{:.3f}", v); };
    auto ratio = [](double a, double b) { return a < 0 || b < 0 ? std::string("") : fmt::format("{:.2f}", a / b); };
    fmt::print("{:<40} {:>16} {:>9} {:>9} {:>9} {:>6} {:>6} |{}{}\n", node.name.substr(0, 40),
               fmt::format("{}>{} {}x{}{}", s.C, s.K, s.H, s.W, s.sh == 2 ? " s2" : ""), cell(ms[0]), cell(ms[1]),
               cell(ms[2]), ratio(ms[1], ms[0]), ratio(ms[2], ms[0]), errors, exact);
  }
  fmt::print("{:<40} {:>16} {:>9.3f} {:>9.3f} {:>9.3f}   (sums over the layers each applies to)\n", "total", "", total[0],
             total[1], total[2]);
  return 0;
}
