#include "apps/common/compare.hpp"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>

#include "apps/common/classify.hpp"
#include "kiln/vision.hpp"

namespace kiln::compare {

namespace {

bool is_all(const std::vector<std::string>& v) { return v.size() == 1 && v[0] == "all"; }

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) {
    if (!s.empty()) s += ", ";
    s += x;
  }
  return s;
}

const std::vector<std::string> kDeterminismLevels = {"off", "threads", "portable"};

// The determinism level a configuration names, as the session option.
void set_determinism(SessionOptions& o, const std::string& level) { o.deterministic = parse_determinism(level); }

// The determinism levels worth comparing on a backend: those that can change
// what runs. A backend with one way to run each layer (reference) is the same
// at every level.
std::vector<std::string> determinism_levels_of(const BackendInfo& info) {
  if (info.algorithms.empty()) return {"off"};
  std::vector<std::string> levels = {"off", "threads"};
  if (info.portable_determinism) levels.emplace_back("portable");
  return levels;
}

int parse_count(const std::string& s, const char* what) {
  try {
    size_t used = 0;
    const int n = std::stoi(s, &used);
    if (used == s.size() && n >= 1) return n;
  } catch (const std::exception&) {
  }
  throw Error(ErrorCode::InvalidArgument, std::string(what) + " '" + s + "' is not a positive count");
}

// A tensor's values as real numbers (uint8/int8 dequantized).
double value_at(const Tensor& t, const TensorDesc& d, int64_t i) {
  switch (t.type()) {
    case ElementType::Float32: return static_cast<const float*>(t.raw())[i];
    case ElementType::UInt8: return d.scale * (static_cast<const uint8_t*>(t.raw())[i] - d.zero_point);
    case ElementType::Int8: return d.scale * (static_cast<const int8_t*>(t.raw())[i] - d.zero_point);
  }
  return 0;
}

// Floats in an order where adjacent representable values differ by 1.
int64_t ordered_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return (u & 0x80000000u) ? -static_cast<int64_t>(u & 0x7fffffffu) : static_cast<int64_t>(u);
}

int64_t quantized_at(const Tensor& t, int64_t i) {
  return t.type() == ElementType::Int8 ? static_cast<const int8_t*>(t.raw())[i] : static_cast<const uint8_t*>(t.raw())[i];
}

struct TensorDiff {
  bool equal = true;
  double max_abs = 0;
  double max_a = 0, max_b = 0;
  uint64_t max_ulp = 0;
  int64_t nonfinite = 0;
  double rel() const {
    if (max_abs == 0) return 0;
    return max_b > 0 ? max_abs / max_b : std::numeric_limits<double>::infinity();
  }
};

TensorDiff diff(const Tensor& a, const Tensor& b, const TensorDesc& d) {
  TensorDiff r;
  if (a.shape() != b.shape() || a.type() != b.type())
    throw Error(ErrorCode::Internal, "compare: tensor '" + d.name + "' has different shapes or types in two runs");
  r.equal = a.size_bytes() == 0 || std::memcmp(a.raw(), b.raw(), a.size_bytes()) == 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    const double x = value_at(a, d, i), y = value_at(b, d, i);
    const bool fx = std::isfinite(x), fy = std::isfinite(y);
    if (fx) r.max_a = std::max(r.max_a, std::abs(x));
    if (fy) r.max_b = std::max(r.max_b, std::abs(y));
    if (fx != fy) {
      ++r.nonfinite;
      continue;
    }
    if (!fx) continue;
    r.max_abs = std::max(r.max_abs, std::abs(x - y));
    const int64_t ulp = a.type() == ElementType::Float32
                            ? ordered_bits(static_cast<float>(x)) - ordered_bits(static_cast<float>(y))
                            : quantized_at(a, i) - quantized_at(b, i);
    r.max_ulp = std::max<uint64_t>(r.max_ulp, static_cast<uint64_t>(ulp < 0 ? -ulp : ulp));
  }
  return r;
}

// A [N, C] (or [N, C, 1, 1]) score tensor with enough classes to rank.
bool looks_like_scores(const std::vector<int64_t>& s) {
  if (s.size() == 2) return s[1] >= 10;
  if (s.size() == 4) return s[1] >= 10 && s[2] == 1 && s[3] == 1;
  return false;
}

std::vector<int64_t> top_classes(const Tensor& t, const TensorDesc& d, int64_t row, int64_t classes, int k) {
  std::vector<int64_t> idx(static_cast<size_t>(classes));
  for (int64_t i = 0; i < classes; ++i) idx[static_cast<size_t>(i)] = i;
  const int64_t base = row * classes;
  const auto kk = std::min<int64_t>(k, classes);
  std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), [&](int64_t x, int64_t y) {
    const double vx = value_at(t, d, base + x), vy = value_at(t, d, base + y);
    return vx > vy || (vx == vy && x < y);
  });
  idx.resize(static_cast<size_t>(kk));
  return idx;
}

// The bytes of every output of every input set of one configuration.
using Outputs = std::vector<std::vector<Tensor>>;

bool same_bits(const Outputs& a, const Outputs& b) {
  if (a.size() != b.size()) return false;
  for (size_t s = 0; s < a.size(); ++s) {
    if (a[s].size() != b[s].size()) return false;
    for (size_t i = 0; i < a[s].size(); ++i) {
      const Tensor &x = a[s][i], &y = b[s][i];
      if (x.size_bytes() != y.size_bytes() || std::memcmp(x.raw(), y.raw(), x.size_bytes()) != 0) return false;
    }
  }
  return true;
}

std::string hash_of(const Outputs& outs) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  for (const auto& set : outs)
    for (const Tensor& t : set) XXH3_64bits_update(st, t.raw(), t.size_bytes());
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return fmt::format("{:016x}", h);
}

Deviation deviation_of(const Outputs& a, const Outputs& b, const std::vector<TensorDesc>& descs, bool classifier) {
  Deviation dev;
  for (size_t s = 0; s < a.size(); ++s) {
    const Deviation d = deviation(a[s], b[s], descs, classifier);
    dev.max_abs = std::max(dev.max_abs, d.max_abs);
    dev.max_rel = std::max(dev.max_rel, d.max_rel);
    dev.max_ulp = std::max(dev.max_ulp, d.max_ulp);
    dev.nonfinite += d.nonfinite;
    dev.rows += d.rows;
    dev.top1_changes += d.top1_changes;
    dev.top5_changes += d.top5_changes;
    dev.classifier = d.classifier;
  }
  return dev;
}

// Symmetric distance between two classes' outputs, to find the furthest pair.
double distance(const Outputs& a, const Outputs& b, const std::vector<TensorDesc>& descs) {
  double worst = 0;
  for (size_t s = 0; s < a.size(); ++s)
    for (size_t i = 0; i < a[s].size(); ++i) {
      // Relative to the larger of the two sides: the same figure whichever is taken as the baseline.
      const TensorDiff d = diff(a[s][i], b[s][i], descs[i]);
      const double scale = std::max(d.max_a, d.max_b);
      const double rel = d.max_abs == 0 ? 0 : scale > 0 ? d.max_abs / scale : std::numeric_limits<double>::infinity();
      worst = std::max({worst, rel, d.nonfinite > 0 ? 1e300 : 0.0});
    }
  return worst;
}

std::vector<NodeDeviation> trace(const std::vector<NodeOutput>& a, const std::vector<NodeOutput>& b) {
  if (a.size() != b.size())
    throw Error(ErrorCode::Internal, "compare: two runs keeping every tensor kept different numbers of them");
  std::vector<NodeDeviation> out;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].desc.name != b[i].desc.name)
      throw Error(ErrorCode::Internal, "compare: kept tensors in a different order ('" + a[i].desc.name + "', '" +
                                           b[i].desc.name + "')");
    const TensorDiff d = diff(a[i].value, b[i].value, a[i].desc);
    NodeDeviation n;
    n.node_index = a[i].node_index;
    n.node = a[i].node;
    n.op = a[i].op;
    n.tensor = a[i].desc.name;
    n.bitwise_equal = d.equal;
    n.max_abs = d.max_abs;
    n.rel = d.nonfinite > 0 ? std::numeric_limits<double>::infinity() : d.rel();
    out.push_back(std::move(n));
  }
  return out;
}

// The outputs a run keeping every tensor gave for the graph's outputs, in output order.
std::vector<Tensor> graph_outputs_of(const std::vector<NodeOutput>& all, const std::vector<TensorDesc>& descs) {
  std::vector<Tensor> out(descs.size());
  for (const NodeOutput& o : all)
    if (o.graph_output)
      for (size_t i = 0; i < descs.size(); ++i)
        if (descs[i].name == o.desc.name) out[i] = o.value;
  return out;
}

std::map<std::string, int> conv_algorithms_of(const Session& s) {
  std::map<std::string, int> counts;
  for (const NodeProfile& p : s.profile()) {
    if (p.op != "Conv" || p.detail.empty()) continue;
    std::string d = p.detail;
    // A fused chain names its nodes ("fused Conv_5+7+9", "fused into Conv_5").
    if (d.rfind("fused", 0) == 0) d = "fused chain";
    for (const char* stop : {" (", " [", " +", ","})
      if (const size_t k = d.find(stop); k != std::string::npos) d = d.substr(0, k);
    ++counts[d];
  }
  return counts;
}

nlohmann::json node_json(const std::optional<NodeDeviation>& n) {
  if (!n) return nullptr;
  return {{"node_index", n->node_index}, {"node", n->node}, {"op", n->op}, {"tensor", n->tensor},
          {"max_abs", n->max_abs},       {"rel", std::isfinite(n->rel) ? nlohmann::json(n->rel) : nlohmann::json("inf")}};
}

nlohmann::json number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json("inf"); }

}  // namespace

std::string Configuration::label() const {
  std::string s = backend;
  if (!isa.empty()) s += " isa=" + isa;
  if (backend == "cpu") s += fmt::format(" threads={}", threads);
  s += " algorithm=" + algorithm;
  if (deterministic != "off") s += " deterministic=" + deterministic;
  if (fp16_storage) s += " fp16-storage";
  return s;
}

std::vector<std::string> Configuration::run_flags() const {
  std::vector<std::string> f = {"--backend", backend};
  if (!isa.empty()) f.insert(f.end(), {"--isa", isa});
  if (backend == "cpu") f.insert(f.end(), {"--threads", std::to_string(threads)});
  f.insert(f.end(), {"--algorithm", algorithm});
  if (deterministic != "off") f.insert(f.end(), {"--deterministic", deterministic});
  if (fp16_storage) f.emplace_back("--fp16-storage");
  return f;
}

SessionOptions Configuration::options(const SessionOptions& base) const {
  SessionOptions o = base;
  o.backend = backend;
  o.cpu.isa = isa;
  o.threads = threads;
  o.algorithm = algorithm;
  set_determinism(o, deterministic);
  o.gpu.fp16_storage = fp16_storage;
  return o;
}

std::vector<Configuration> expand(const Plan& plan, std::vector<Unusable>* unusable) {
  const std::vector<std::string> built = available_backends();
  std::vector<std::string> backends = plan.backends.empty() || is_all(plan.backends) ? built : plan.backends;

  std::vector<int> threads;
  if (plan.threads.empty()) {
    threads = {1};
    if (available_cores() > 1) threads.push_back(2);
  } else if (is_all(plan.threads)) {
    for (int t = 1; t <= available_cores(); ++t) threads.push_back(t);
  } else {
    for (const auto& t : plan.threads) threads.push_back(parse_count(t, "--threads"));
  }
  const std::vector<std::string> det = plan.deterministic.empty()    ? std::vector<std::string>{"off"}
                                       : is_all(plan.deterministic) ? kDeterminismLevels
                                                                     : plan.deterministic;
  for (const auto& d : det)
    if (!contains(kDeterminismLevels, d))
      throw Error(ErrorCode::InvalidArgument, "--deterministic '" + d + "' is not off, threads or portable");
  std::vector<bool> fp16;
  for (const auto& v : plan.fp16_storage.empty() ? std::vector<std::string>{"off"}
                       : is_all(plan.fp16_storage) ? std::vector<std::string>{"off", "on"}
                                                   : plan.fp16_storage) {
    if (v != "off" && v != "on") throw Error(ErrorCode::InvalidArgument, "--fp16-storage '" + v + "' is not off or on");
    fp16.push_back(v == "on");
  }

  std::vector<Configuration> out;
  std::set<std::string> algorithm_somewhere;
  for (const std::string& b : backends) {
    if (!contains(built, b)) {
      unusable->push_back({b, "not built into this Kiln (built: " + join(built) + ")"});
      continue;
    }
    try {
      (void)list_devices(b);
    } catch (const Error& e) {
      unusable->push_back({b, e.what()});
      continue;
    }
    const BackendInfo info = backend_info(b);
    if ((b == "vulkan" || b == "cuda") && list_devices(b).empty()) {
      unusable->push_back({b, "no device"});
      continue;
    }
    std::vector<std::string> isas = {""};
    if (!info.isa_levels.empty()) {
      if (is_all(plan.isas)) {
        isas = info.isa_levels;
      } else if (!plan.isas.empty()) {
        isas = plan.isas;
        for (const auto& i : isas)
          if (!contains(info.isa_levels, i))
            throw Error(ErrorCode::InvalidArgument,
                        "--isa '" + i + "' is not a level this CPU runs (" + join(info.isa_levels) + ")");
      } else {
        isas = {info.isa_levels.back()};
      }
    }
    std::vector<std::string> algs = {"heuristic"};
    if (!info.algorithms.empty()) {
      if (is_all(plan.algorithms)) {
        algs = {"heuristic", "tune"};
        for (const auto& a : info.algorithms) algs.push_back("fixed:" + a);
      } else if (!plan.algorithms.empty()) {
        algs.clear();
        for (const auto& a : plan.algorithms) {
          if (a == "heuristic" || a == "tune" || (a.rfind("fixed:", 0) == 0 && contains(info.algorithms, a.substr(6))))
            algs.push_back(a);
          else if (a.rfind("fixed:", 0) != 0)
            throw Error(ErrorCode::InvalidArgument, "--algorithms '" + a + "' is not heuristic, tune, fixed:NAME or all");
        }
      }
    }
    for (const auto& a : algs) algorithm_somewhere.insert(a);
    const std::vector<int> ts = b == "cpu" ? threads : std::vector<int>{1};
    const std::vector<std::string> levels = determinism_levels_of(info);
    for (const auto& isa : isas)
      for (int t : ts)
        for (const auto& a : algs)
          for (const auto& d : det) {
            if (!contains(levels, d)) continue;
            if (a == "tune" && d != "off") continue;  // tuning times the kernels: not deterministic
            for (bool h : fp16) {
              if (h && !info.fp16_storage) continue;
              Configuration c;
              c.backend = b;
              c.isa = isa;
              c.threads = t;
              c.algorithm = a;
              c.deterministic = d;
              c.fp16_storage = h;
              out.push_back(std::move(c));
            }
          }
  }
  if (!is_all(plan.algorithms))
    for (const auto& a : plan.algorithms)
      if (!algorithm_somewhere.count(a))
        throw Error(ErrorCode::InvalidArgument, "--algorithms '" + a + "': no backend compared has that algorithm");
  return out;
}

Deviation deviation(const std::vector<Tensor>& a, const std::vector<Tensor>& b, const std::vector<TensorDesc>& descs,
                    bool classifier) {
  Deviation dev;
  for (size_t i = 0; i < a.size(); ++i) {
    const TensorDiff d = diff(a[i], b[i], descs[i]);
    dev.max_abs = std::max(dev.max_abs, d.max_abs);
    dev.max_rel = std::max(dev.max_rel, d.rel());
    dev.max_ulp = std::max(dev.max_ulp, d.max_ulp);
    dev.nonfinite += d.nonfinite;
    if (!(classifier || looks_like_scores(descs[i].shape))) continue;
    if (descs[i].shape.size() < 2 || descs[i].shape[0] < 1) continue;
    dev.classifier = true;
    const int64_t rows = descs[i].shape[0], classes = a[i].size() / rows;
    for (int64_t r = 0; r < rows; ++r) {
      auto ta = top_classes(a[i], descs[i], r, classes, 5), tb = top_classes(b[i], descs[i], r, classes, 5);
      ++dev.rows;
      if (ta[0] != tb[0]) ++dev.top1_changes;
      std::sort(ta.begin(), ta.end());
      std::sort(tb.begin(), tb.end());
      if (ta != tb) ++dev.top5_changes;
    }
  }
  return dev;
}

Report run(const Model& model, const std::string& model_name, const std::vector<InputSet>& inputs, const Plan& plan,
           const ProgressFn& progress) {
  const auto start = std::chrono::steady_clock::now();
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  Report rep;
  rep.model = model_name;
  for (const auto& in : inputs) rep.inputs.push_back(in.what);
  const std::vector<Configuration> configs = expand(plan, &rep.unusable);
  const std::vector<TensorDesc> descs = model.outputs();
  const bool classifier = model.metadata().output_kind != OutputKind::Unknown;
  auto run_all_sets = [&](Session& s) {
    Outputs o;
    for (const auto& in : inputs) o.push_back(s.run(in.tensors));
    return o;
  };

  // The float64 reference.
  Outputs reference;
  try {
    SessionOptions ro = plan.base;
    ro.backend = "reference";
    ro.threads = 1;
    if (plan.reference_f64) ro.reference.accumulation = ReferencePrecision::Float64;
    say(std::string("reference backend, ") + (plan.reference_f64 ? "float64" : "float32") + " accumulation");
    Session s(model, ro);
    reference = run_all_sets(s);
    rep.reference = plan.reference_f64 ? "reference f64" : "reference f32";
    rep.reference_ok = true;
  } catch (const Error& e) {
    rep.reference = std::string("none: ") + e.what();
  }

  // Every configuration, grouped by its output bits as it finishes.
  std::vector<Outputs> class_outputs;
  for (size_t i = 0; i < configs.size(); ++i) {
    const Configuration& c = configs[i];
    say(fmt::format("configuration {} of {}: {}", i + 1, configs.size(), c.label()));
    ConfigResult r;
    r.config = c;
    try {
      Session s(model, c.options(plan.base));
      const auto t0 = std::chrono::steady_clock::now();
      Outputs first = run_all_sets(s);
      r.ms_per_run = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() /
                     static_cast<double>(inputs.size());
      r.conv_algorithms = conv_algorithms_of(s);
      if (c.algorithm.rfind("fixed:", 0) == 0 && !r.conv_algorithms.count(c.algorithm.substr(6))) {
        r.status = "not applicable";
        r.error = "no convolution of this model can use " + c.algorithm.substr(6);
        rep.configurations.push_back(std::move(r));
        continue;
      }
      for (int k = 1; k < plan.repeats; ++k)
        if (!same_bits(run_all_sets(s), first)) r.runs_agree = false;
      const std::string h = hash_of(first);
      int found = -1;
      for (size_t k = 0; k < rep.classes.size() && found < 0; ++k)
        if (rep.classes[k].hash == h && same_bits(class_outputs[k], first)) found = static_cast<int>(k);
      if (found < 0) {
        EquivalenceClass ec;
        ec.hash = h;
        if (rep.reference_ok) ec.vs_reference = deviation_of(first, reference, descs, classifier);
        rep.classes.push_back(std::move(ec));
        class_outputs.push_back(std::move(first));
        found = static_cast<int>(rep.classes.size() - 1);
      }
      r.cls = found;
      rep.classes[static_cast<size_t>(found)].members.push_back(rep.configurations.size());
    } catch (const Error& e) {
      r.status = "failed";
      r.error = e.what();
    }
    rep.configurations.push_back(std::move(r));
  }
  if (rep.classes.empty()) {
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return rep;
  }

  // The baseline: the class closest to the reference (the first without one).
  size_t base = 0;
  for (size_t k = 1; k < rep.classes.size() && rep.reference_ok; ++k)
    if (rep.classes[k].vs_reference.max_rel < rep.classes[base].vs_reference.max_rel) base = k;
  rep.classes[base].baseline = true;

  // Runs keeping every tensor, on the first input set where the outputs differ.
  auto first_differing_set = [&](size_t a, size_t b) {
    for (size_t s = 0; s < inputs.size(); ++s)
      if (!same_bits({class_outputs[a][s]}, {class_outputs[b][s]})) return s;
    return size_t{0};
  };
  auto traced_run = [&](size_t cls, size_t set, EquivalenceClass* note) {
    const Configuration& c = rep.configurations[rep.classes[cls].members[0]].config;
    SessionOptions o = c.options(plan.base);
    o.keep_intermediates = true;
    Session s(model, o);
    std::vector<NodeOutput> all = s.run_all(inputs[set].tensors);
    if (note) {
      note->traced = true;
      note->trace_matches_run = same_bits({graph_outputs_of(all, descs)}, {class_outputs[cls][set]});
    }
    return all;
  };
  std::map<size_t, std::vector<NodeDeviation>> traces;  // class -> its trace against the baseline
  std::optional<std::pair<size_t, std::vector<NodeOutput>>> base_run;  // (input set, kept tensors)
  for (size_t k = 0; k < rep.classes.size(); ++k) {
    if (k == base) continue;
    EquivalenceClass& ec = rep.classes[k];
    say(fmt::format("tracing class {} of {} against the baseline, every node output kept", k + 1, rep.classes.size()));
    try {
      const size_t set = first_differing_set(k, base);
      if (!base_run || base_run->first != set) base_run.emplace(set, traced_run(base, set, &rep.classes[base]));
      const std::vector<NodeOutput> mine = traced_run(k, set, &ec);
      std::vector<NodeDeviation> t = trace(mine, base_run->second);
      for (const NodeDeviation& n : t) {
        if (!ec.first_differing && !n.bitwise_equal) ec.first_differing = n;
        if (!ec.first_over_1e6 && n.rel > 1e-6) ec.first_over_1e6 = n;
      }
      traces[k] = std::move(t);
    } catch (const Error& e) {
      ec.trace_error = e.what();
    }
  }

  // The propagation profile of the two classes furthest apart.
  if (rep.classes.size() > 1) {
    size_t pa = 0, pb = 0;
    double worst = -1;
    for (size_t a = 0; a < rep.classes.size(); ++a)
      for (size_t b = a + 1; b < rep.classes.size(); ++b) {
        const double d = distance(class_outputs[a], class_outputs[b], descs);
        if (d > worst) worst = d, pa = a, pb = b;
      }
    if (pa == base) std::swap(pa, pb);  // b is the baseline side where it is one of the two
    if (pb == base && traces.count(pa)) {
      rep.propagation_classes = {pa, pb};
      rep.propagation = traces[pa];
    } else {
      say("tracing the two classes furthest apart");
      try {
        const size_t set = first_differing_set(pa, pb);
        rep.propagation = trace(traced_run(pa, set, nullptr), traced_run(pb, set, nullptr));
        rep.propagation_classes = {pa, pb};
      } catch (const Error& e) {
        rep.classes[pa].trace_error = e.what();
      }
    }
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return rep;
}

std::string propagation_csv(const Report& rep) {
  std::string csv = "node_index,node,op,tensor,bitwise_equal,max_abs,rel\n";
  for (const NodeDeviation& n : rep.propagation)
    csv += fmt::format("{},{},{},{},{},{:.6g},{:.6g}\n", n.node_index, n.node, n.op, n.tensor, n.bitwise_equal ? 1 : 0,
                       n.max_abs, n.rel);
  return csv;
}

nlohmann::json to_json(const Report& rep) {
  nlohmann::json j;
  j["model"] = rep.model;
  j["inputs"] = rep.inputs;
  j["reference"] = rep.reference;
  j["seconds"] = rep.seconds;
  j["unusable_backends"] = nlohmann::json::array();
  for (const auto& u : rep.unusable) j["unusable_backends"].push_back({{"backend", u.backend}, {"reason", u.reason}});
  j["configurations"] = nlohmann::json::array();
  for (size_t i = 0; i < rep.configurations.size(); ++i) {
    const ConfigResult& r = rep.configurations[i];
    nlohmann::json c = {{"index", i},
                        {"label", r.config.label()},
                        {"backend", r.config.backend},
                        {"isa", r.config.isa},
                        {"threads", r.config.threads},
                        {"algorithm", r.config.algorithm},
                        {"deterministic", r.config.deterministic},
                        {"fp16_storage", r.config.fp16_storage},
                        {"run_flags", r.config.run_flags()},
                        {"status", r.status},
                        {"class", r.cls >= 0 ? nlohmann::json(r.cls) : nlohmann::json(nullptr)},
                        {"runs_agree", r.runs_agree},
                        {"conv_algorithms", r.conv_algorithms}};
    if (r.ms_per_run > 0) c["first_run_ms"] = r.ms_per_run;
    if (!r.error.empty()) c["error"] = r.error;
    j["configurations"].push_back(std::move(c));
  }
  j["classes"] = nlohmann::json::array();
  for (size_t k = 0; k < rep.classes.size(); ++k) {
    const EquivalenceClass& ec = rep.classes[k];
    nlohmann::json labels = nlohmann::json::array();
    for (size_t m : ec.members) labels.push_back(rep.configurations[m].config.label());
    nlohmann::json c = {{"index", k},
                        {"hash", ec.hash},
                        {"baseline", ec.baseline},
                        {"configurations", labels},
                        {"configuration_indices", ec.members}};
    if (rep.reference_ok) {
      const Deviation& d = ec.vs_reference;
      c["vs_reference"] = {{"max_abs", d.max_abs},         {"max_rel", number(d.max_rel)},
                           {"max_ulp", d.max_ulp},         {"nonfinite", d.nonfinite},
                           {"classifier", d.classifier},   {"rows", d.rows},
                           {"top1_changes", d.top1_changes}, {"top5_changes", d.top5_changes}};
    }
    if (!ec.baseline) {
      c["first_differing_node"] = node_json(ec.first_differing);
      c["first_node_over_1e-6"] = node_json(ec.first_over_1e6);
      c["traced"] = ec.traced;
      c["trace_matches_run"] = ec.trace_matches_run;
      if (!ec.trace_error.empty()) c["trace_error"] = ec.trace_error;
    }
    j["classes"].push_back(std::move(c));
  }
  if (rep.propagation_classes) {
    j["propagation"] = {{"classes", {rep.propagation_classes->first, rep.propagation_classes->second}},
                        {"csv", propagation_csv(rep)}};
  } else {
    j["propagation"] = nullptr;
  }
  return j;
}

InputSet random_inputs(const std::vector<TensorDesc>& inputs, uint64_t seed) {
  InputSet set;
  set.what = fmt::format("random, seed {}", seed);
  std::mt19937_64 rng(seed);
  for (const TensorDesc& d : inputs) {
    Tensor t(d.shape, d.type);
    if (d.type == ElementType::Float32) {
      std::uniform_real_distribution<float> u(-1.0f, 1.0f);
      for (float& v : t.values()) v = u(rng);
    } else {
      std::uniform_int_distribution<int> u(0, 255);
      auto* p = static_cast<uint8_t*>(t.raw());
      for (int64_t i = 0; i < t.size(); ++i) p[i] = static_cast<uint8_t>(u(rng));
    }
    set.tensors.push_back(std::move(t));
  }
  return set;
}

std::vector<InputSet> image_inputs(const std::vector<TensorDesc>& inputs, const ModelMetadata& meta,
                                   const std::vector<std::string>& paths) {
  if (inputs.size() != 1 || inputs[0].shape.size() != 4 || inputs[0].shape[1] != 3 ||
      inputs[0].shape[2] != inputs[0].shape[3])
    throw Error(ErrorCode::InvalidArgument, "--images needs a model with one image input [N,3,S,S]");
  if (meta.preprocess == Preprocess::Unknown)
    throw Error(ErrorCode::InvalidArgument,
                "the model carries no preprocessing preset: pass --preprocess imagenet|inception|caffe|raw|centered128");
  const TensorDesc& d = inputs[0];
  const int64_t batch = d.shape[0];
  const int size = static_cast<int>(d.shape[2]);
  const int64_t per_image = 3LL * size * size;
  std::vector<InputSet> sets;
  for (size_t next = 0; next < paths.size();) {
    InputSet set;
    Tensor x(d.shape);
    for (int64_t b = 0; b < batch; ++b) {
      // A last partial batch repeats its last image.
      const std::string& p = paths[std::min(next + static_cast<size_t>(b), paths.size() - 1)];
      preprocess_image_into(load_image(p), size, meta.preprocess, meta.resize, meta.resize_filter,
                            x.data() + b * per_image);
      if (b) set.what += ' ';
      set.what += p;
    }
    next += static_cast<size_t>(batch);
    if (d.type == ElementType::Float32) {
      set.tensors.push_back(std::move(x));
    } else {
      Tensor q(d.shape, d.type);
      classify::quantize_into(x, d, q);
      set.tensors.push_back(std::move(q));
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

}  // namespace kiln::compare
