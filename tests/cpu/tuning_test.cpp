// algorithm "tune": every candidate is timed once per distinct layer and the
// winner is appended to the tuning-cache file; a later session with the same
// cache reads it instead of timing. Bad algorithm and ISA names are errors
// that name the problem.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "gmock/gmock.h"
#include "kernels/cpu/conv/conv_algorithm.hpp"
#include "kernels/cpu/isa.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"
#include "tests/cpu/cpu_test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;
using O = OpType;
using K = fb::ActivationKind;

// Six convolutions, five distinct layers: "c1x1_b" repeats "c1x1_a"'s shape.
Graph tuning_graph() {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 3, 12, 10});
  auto conv = [&](TensorId in, int64_t cout, int32_t k, int32_t stride, int32_t group, fb::FusedActivation a,
                  const std::string& name, uint32_t seed) {
    const int64_t cin = b.graph().shape(in)[1];
    const TensorId w = b.random_constant(name + "_w", {cout, cin / group, k, k}, seed, -0.5f, 0.5f);
    const TensorId bias = b.random_constant(name + "_b", {cout}, seed + 1);
    return b.node(O::Conv, {in, w, bias}, conv_attrs({k, k}, {stride, stride}, {k / 2, k / 2, k / 2, k / 2}, {}, group, a),
                  name);
  };
  // No 1x1 next to the depthwise: a fused expand/depthwise/project chain is not a layer of its own.
  TensorId t = conv(x, 16, 3, 1, 1, act(K::Relu), "c3x3", 1);
  t = conv(t, 16, 1, 1, 1, act(K::Clip, 0, 6), "c1x1_a", 3);
  t = conv(t, 16, 1, 1, 1, act(K::Clip, 0, 6), "c1x1_b", 5);
  t = conv(t, 24, 5, 1, 1, {}, "c5x5", 9);
  t = conv(t, 24, 3, 2, 24, act(K::Relu), "dw", 7);
  t = conv(t, 12, 3, 1, 3, act(K::Sigmoid), "grouped", 11);
  b.output(t);
  return b.build();
}
constexpr size_t kDistinctLayers = 5;
const char* const kConvs[] = {"c3x3", "c1x1_a", "c1x1_b", "c5x5", "dw", "grouped"};

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  return lines;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream ss(line);
  for (std::string f; std::getline(ss, f, '\t');) fields.push_back(f);
  return fields;
}

SessionOptions tune_options(const std::string& cache, int threads = 1) {
  SessionOptions o = cpu_options(threads, "", "tune");
  o.tuning_cache = cache;
  return o;
}

TEST(CpuTuning, WritesOneLinePerDistinctLayerAndTheNextSessionReadsIt) {
  const Graph g = tuning_graph();
  const Model model(std::make_shared<Graph>(g));
  const std::vector<Tensor> in = random_inputs(g, 3);
  const std::vector<Tensor> expected = run_model(model, reference_options(), in);
  TempPath dir("kiln_cpu_tuning", "");
  const std::string cache = (std::filesystem::path(dir.str()) / "sub" / "cpu-tuning.tsv").string();

  {  // first session: times the candidates, creates the folder and the file
    Session s(model, tune_options(cache));
    EXPECT_TRUE(tensors_close(s.run(in)[0], expected[0], 1e-4));
    for (const char* name : kConvs) {
      const std::string d = node_detail(s, name);
      EXPECT_TRUE(d.find("[tuned") != std::string::npos || d.find("[tuning cache") != std::string::npos)
          << name << ": " << d;
      if (d.find("[tuned") != std::string::npos) {
        EXPECT_THAT(d, HasSubstr("measured")) << name << ": a tuned layer reports its measured time";
      }
    }
    // The repeated layer is timed once: the second one comes from the cache of this session.
    EXPECT_THAT(node_detail(s, "c1x1_a"), HasSubstr("[tuned"));
    EXPECT_THAT(node_detail(s, "c1x1_b"), HasSubstr("[tuning cache"));
  }
  ASSERT_TRUE(std::filesystem::exists(cache)) << "the tuning cache was not written";
  const std::vector<std::string> lines = lines_of(cache);
  ASSERT_EQ(lines.size(), kDistinctLayers) << "one line per distinct layer";
  std::set<std::string> keys;
  for (const std::string& line : lines) {
    const auto f = split_tabs(line);
    ASSERT_EQ(f.size(), 6u) << "signature, threads, shape, residual, algorithm, ms: '" << line << "'";
    EXPECT_EQ(f[0], cpu::cpu_signature(cpu::best_isa())) << line;
    EXPECT_EQ(f[1], "1") << line;
    EXPECT_NE(cpu::find_conv_algorithm(f[4]), nullptr) << "unknown algorithm in '" << line << "'";
    EXPECT_GE(std::stod(f[5]), 0.0) << line;
    keys.insert(f[2] + "\t" + f[3]);
  }
  EXPECT_EQ(keys.size(), kDistinctLayers) << "a layer was written twice";

  {  // second session, same cache: nothing is timed, nothing appended
    Session s(model, tune_options(cache));
    EXPECT_TRUE(tensors_close(s.run(in)[0], expected[0], 1e-4));
    for (const char* name : kConvs) EXPECT_THAT(node_detail(s, name), HasSubstr("tuning cache")) << name;
    for (const NodeProfile& p : s.profile()) {
      if (p.op == "Conv") {
        EXPECT_THAT(p.detail, HasSubstr("tuning cache")) << p.name;
      }
    }
  }
  EXPECT_EQ(lines_of(cache), lines) << "a session that found everything in the cache appended to it";

  {  // another thread count is another key
    Session s(model, tune_options(cache, 2));
    EXPECT_TRUE(tensors_close(s.run(in)[0], expected[0], 1e-4));
    EXPECT_THAT(node_detail(s, "c3x3"), HasSubstr("[tuned"));
  }
  EXPECT_EQ(lines_of(cache).size(), 2 * kDistinctLayers);
}

// Every ISA level and thread count still gives the reference's outputs when tuned.
// An expand -> depthwise -> project chain: tune times it fused and apart,
// stores the verdict as a "chain:" line, and the next session reads it.
TEST(CpuTuning, ChainsAreDecidedByTimingAndTheVerdictIsCached) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 8, 20, 20});
  auto conv = [&](TensorId in, int64_t cout, int32_t k, int32_t group, const std::string& name, uint32_t seed) {
    const int64_t cin = b.graph().shape(in)[1];
    const TensorId w = b.random_constant(name + "_w", {cout, cin / group, k, k}, seed, -0.5f, 0.5f);
    return b.node(O::Conv, {in, w}, conv_attrs({k, k}, {1, 1}, {k / 2, k / 2, k / 2, k / 2}, {}, group, act(K::Relu)),
                  name);
  };
  TensorId t = conv(x, 32, 1, 1, "expand", 1);
  t = conv(t, 32, 3, 32, "dw", 2);
  b.output(conv(t, 8, 1, 1, "project", 3));
  const Model model(std::make_shared<Graph>(b.build()));
  const std::vector<Tensor> in = random_inputs(model.graph(), 5);
  const std::vector<Tensor> want = run_model(model, reference_options(), in);
  TempPath cache("kiln_tune_chain", ".tsv");

  Session first(model, tune_options(cache.str()));
  EXPECT_TRUE(tensors_close(first.run(in)[0], want[0], 1e-4));
  std::vector<std::string> chain_lines;
  for (const std::string& line : lines_of(cache.str()))
    if (line.find("\tchain:") != std::string::npos) chain_lines.push_back(line);
  ASSERT_EQ(chain_lines.size(), 1u) << "expected one chain verdict in " << cache.str();
  const std::vector<std::string> f = split_tabs(chain_lines[0]);
  ASSERT_EQ(f.size(), 6u) << chain_lines[0];
  ASSERT_TRUE(f[4] == "fused" || f[4] == "separate") << chain_lines[0];
  EXPECT_GT(std::stod(f[5]), 0.0);
  const bool fused = f[4] == "fused";
  EXPECT_EQ(node_detail(first, "expand").rfind("fused", 0) == 0, fused) << node_detail(first, "expand");
  if (fused) {
    EXPECT_THAT(node_detail(first, "expand"), HasSubstr("tuned"));
  }

  // The second session times nothing: the same verdict, read from the cache.
  const size_t lines_before = lines_of(cache.str()).size();
  Session second(model, tune_options(cache.str()));
  EXPECT_EQ(lines_of(cache.str()).size(), lines_before);
  EXPECT_EQ(node_detail(second, "expand").rfind("fused", 0) == 0, fused);
  if (fused) {
    EXPECT_THAT(node_detail(second, "expand"), HasSubstr("tuning cache"));
  }
  EXPECT_TRUE(tensors_close(second.run(in)[0], want[0], 1e-4));
}

TEST(CpuTuning, TunedSessionsMatchTheReference) {
  const Graph g = tuning_graph();
  const Model model(std::make_shared<Graph>(g));
  const std::vector<Tensor> in = random_inputs(g, 4);
  const std::vector<Tensor> expected = run_model(model, reference_options(), in);
  TempPath cache("kiln_cpu_tuning_all", ".tsv");
  for (const std::string& isa : cpu_isa_names())
    for (int threads : {1, 2}) {
      SessionOptions o = tune_options(cache.str(), threads);
      o.cpu.isa = isa;
      EXPECT_TRUE(tensors_close(run_model(model, o, in)[0], expected[0], 1e-4)) << isa << ", threads " << threads;
    }
}

TEST(CpuTuning, CacheEntriesForAnotherCpuOrUnknownAlgorithmsAreIgnored) {
  const Graph g = tuning_graph();
  const Model model(std::make_shared<Graph>(g));
  TempPath cache("kiln_cpu_tuning_bad", ".tsv");
  {
    // A line for another machine, a line naming an algorithm that does not
    // exist for this machine's first layer, a comment and a truncated line.
    Session probe(model, tune_options(cache.str()));
  }
  std::vector<std::string> lines = lines_of(cache.str());
  ASSERT_EQ(lines.size(), kDistinctLayers);
  {
    std::ofstream out(cache.str(), std::ios::trunc);
    out << "# comment line\n";
    for (std::string line : lines) {
      auto f = split_tabs(line);
      out << "Another CPU/avx2" << '\t' << f[1] << '\t' << f[2] << '\t' << f[3] << '\t' << f[4] << '\t' << f[5] << '\n';
      out << f[0] << '\t' << f[1] << '\t' << f[2] << '\t' << f[3] << '\t' << "nonexistent_algorithm" << '\t' << f[5]
          << '\n';
    }
    out << "truncated\tline\n";
  }
  Session s(model, tune_options(cache.str()));
  for (const char* name : kConvs)
    EXPECT_THAT(node_detail(s, name), ::testing::AnyOf(HasSubstr("[tuned"), HasSubstr("[tuning cache")));
  EXPECT_THAT(node_detail(s, "c3x3"), HasSubstr("[tuned")) << "a bad cache entry must not be used";
  const auto g_in = random_inputs(g, 5);
  EXPECT_TRUE(tensors_close(s.run(g_in)[0], run_model(model, reference_options(), g_in)[0], 1e-4));
}

TEST(CpuTuning, UnwritableCacheStillRuns) {
  const Graph g = tuning_graph();
  const Model model(std::make_shared<Graph>(g));
  TempPath file("kiln_cpu_tuning_file", ".txt");
  { std::ofstream(file.str()) << "a regular file, so nothing can be created below it\n"; }
  Session s(model, tune_options(file.str() + "/sub/cache.tsv"));
  const auto in = random_inputs(g, 6);
  EXPECT_TRUE(tensors_close(s.run(in)[0], run_model(model, reference_options(), in)[0], 1e-4));
}

// ---- errors -------------------------------------------------------------------------------------

template <class F>
::testing::AssertionResult throws_error(F&& f, ErrorCode code, const std::vector<std::string>& needles) {
  try {
    f();
  } catch (const Error& e) {
    const std::string what = e.what();
    if (e.code() != code)
      return ::testing::AssertionFailure() << "error code " << error_code_name(e.code()) << ": " << what;
    for (const std::string& n : needles)
      if (what.find(n) == std::string::npos) return ::testing::AssertionFailure() << "'" << what << "' lacks '" << n << "'";
    return ::testing::AssertionSuccess() << what;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "not a kiln::Error: " << e.what();
  }
  return ::testing::AssertionFailure() << "no exception";
}

TEST(CpuTuning, UnknownFixedAlgorithmIsAnError) {
  const Model model(std::make_shared<Graph>(tuning_graph()));
  EXPECT_TRUE(throws_error([&] { Session s(model, cpu_options(1, "", "fixed:nope")); }, ErrorCode::InvalidArgument,
                           {"nope", "im2col", "direct"}));
  EXPECT_TRUE(throws_error([&] { Session s(model, cpu_options(1, "", "fixed:")); }, ErrorCode::InvalidArgument,
                           {"algorithm"}));
  EXPECT_TRUE(throws_error([&] { Session s(model, cpu_options(1, "", "fastest")); }, ErrorCode::InvalidArgument,
                           {"fastest", "heuristic", "tune", "fixed:"}));
}

TEST(CpuTuning, UnknownIsaIsAnError) {
  const Model model(std::make_shared<Graph>(tuning_graph()));
  EXPECT_TRUE(throws_error([&] { Session s(model, cpu_options(1, "sse9")); }, ErrorCode::InvalidArgument,
                           {"sse9", "avx2", "generic"}));
  EXPECT_TRUE(throws_error([&] { Session s(model, cpu_options(1, "AVX2")); }, ErrorCode::InvalidArgument, {"AVX2"}));
  for (cpu::Isa isa : {cpu::Isa::Avx512, cpu::Isa::Avx512Vnni}) {
    if (static_cast<int>(cpu::best_isa()) >= static_cast<int>(isa)) continue;
    const std::string name = cpu::isa_name(isa);
    EXPECT_TRUE(throws_error([&] { Session s(model, cpu_options(1, name)); }, ErrorCode::Unsupported,
                             {name, cpu::isa_name(cpu::best_isa())}));
  }
  for (const std::string& isa : cpu_isa_names()) {
    Session s(model, cpu_options(1, isa));  // every supported level is accepted
    EXPECT_EQ(s.backend(), "cpu");
  }
}

TEST(CpuTuning, ThreadsNegativeIsAnErrorZeroIsEveryCore) {
  const Model model(std::make_shared<Graph>(tuning_graph()));
  EXPECT_TRUE(throws_error([&] { Session s(model, cpu_options(-2)); }, ErrorCode::InvalidArgument, {"threads", "-2"}));
  Session every(model, cpu_options(0));
  EXPECT_EQ(every.threads(), available_cores());
  EXPECT_EQ(Session(model, cpu_options(2)).threads(), 2);
}

}  // namespace
}  // namespace kiln::test
