// The selection plumbing the backends share (engine/runtime/algorithm_selection):
// the mode string and its error messages (parsed once, by the session), the
// tuning-cache file (load, append, round trip through a second instance, the
// layouts the CPU, Vulkan and CUDA backends write, an older format ignored and
// rewritten, the warning for an unwritable file) and the cheapest loop.
#include "engine/runtime/algorithm_selection.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "kiln/error.hpp"
#include "kiln/kiln.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const std::vector<std::string> kNames = {"gemm", "direct", "fused"};

SelectionMode parse(const std::string& algorithm, Determinism deterministic = Determinism::Off, std::string_view backend = "cpu",
                    const std::vector<std::string>& names = kNames) {
  return parse_selection_mode(algorithm, deterministic, names, backend);
}

std::string error_of(const std::string& algorithm, Determinism deterministic = Determinism::Off, std::string_view backend = "cpu",
                     const std::vector<std::string>& names = kNames) {
  try {
    parse(algorithm, deterministic, backend, names);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    return e.what();
  }
  ADD_FAILURE() << "'" << algorithm << "' was accepted";
  return {};
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SelectionModeTest, ParsesTheThreeModes) {
  EXPECT_TRUE(parse("").heuristic());
  EXPECT_TRUE(parse("heuristic").heuristic());
  EXPECT_TRUE(parse("tune").tune());
  const SelectionMode f = parse("fixed:direct");
  EXPECT_TRUE(f.fixed());
  EXPECT_EQ(f.fixed_name, "direct");
  EXPECT_EQ(parse("heuristic").fixed_name, "");
  // Deterministic mode is fine with everything but tune.
  EXPECT_TRUE(parse("fixed:fused", Determinism::Threads).fixed());
  EXPECT_TRUE(parse("heuristic", Determinism::Portable).heuristic());
}

TEST(SelectionModeTest, ErrorsListTheAlgorithms) {
  EXPECT_EQ(error_of("fixed:winograd"),
            "unknown convolution algorithm 'winograd' for backend cpu (available: gemm, direct, fused)");
  EXPECT_EQ(error_of("fixed:winograd", Determinism::Off, "vulkan"),
            "unknown convolution algorithm 'winograd' for backend vulkan (available: gemm, direct, fused)");
  EXPECT_EQ(error_of("fixed:"), "unknown convolution algorithm '' for backend cpu (available: gemm, direct, fused)");
  EXPECT_EQ(error_of("fastest"),
            "unknown algorithm mode 'fastest' (expected heuristic, tune or fixed:NAME with NAME one of gemm, direct, "
            "fused)");
  EXPECT_EQ(error_of("Tune"),
            "unknown algorithm mode 'Tune' (expected heuristic, tune or fixed:NAME with NAME one of gemm, direct, "
            "fused)");
  EXPECT_THAT(error_of("tune", Determinism::Threads), HasSubstr("it cannot be combined with deterministic mode"));
  EXPECT_THAT(error_of("tune", Determinism::Threads), HasSubstr("--algorithm tune picks algorithms by timing"));
  EXPECT_THAT(error_of("tune", Determinism::Portable), HasSubstr("deterministic mode (portable)"));
}

// A backend with one way to run each layer (the reference) takes heuristic
// and tune (nothing to choose: no effect) and refuses fixed:NAME by name.
TEST(SelectionModeTest, BackendWithoutAlgorithmsRefusesFixed) {
  EXPECT_TRUE(parse("heuristic", Determinism::Off, "reference", {}).heuristic());
  EXPECT_TRUE(parse("tune", Determinism::Off, "reference", {}).tune());
  EXPECT_EQ(error_of("fixed:direct", Determinism::Off, "reference", {}),
            "backend reference has one way to run each layer; --algorithm fixed:direct is for backends with a "
            "choice (cpu, vulkan, cuda)");
  EXPECT_EQ(error_of("fastest", Determinism::Off, "reference", {}),
            "unknown algorithm mode 'fastest' (expected heuristic, tune or fixed:NAME)");
}

// The session parses the mode once, against the backend's own names.
TEST(SelectionModeTest, TheSessionParsesOnceAgainstTheBackendsNames) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 2, 5, 5});
  b.output(b.node(OpType::Conv, {x, b.random_constant("w", {3, 2, 3, 3}, 1)}, conv_attrs({3, 3})));
  const Model model(std::make_shared<Graph>(b.build()));
  SessionOptions o;
  o.backend = "reference";
  o.algorithm = "fixed:direct";
  try {
    Session s(model, o);
    ADD_FAILURE() << "fixed:direct was accepted by the reference backend";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("backend reference has one way to run each layer"));
  }
  o.algorithm = "heuristic";
  EXPECT_NO_THROW(Session(model, o));
}

TEST(TuningCacheTest, DefaultPathFollowsXdgThenHome) {
  {
    ScopedEnv xdg("XDG_CACHE_HOME", "/x/cache");
    EXPECT_EQ(TuningCache::default_path("cpu"), "/x/cache/kiln/cpu-tuning.tsv");
  }
  {
    ScopedEnv xdg("XDG_CACHE_HOME", "");
    ScopedEnv home("HOME", "/home/k");
    EXPECT_EQ(TuningCache::default_path("vulkan"), "/home/k/.cache/kiln/vulkan-tuning.tsv");
    BackendOptions o;
    EXPECT_EQ(TuningCache::path_for(o, "cuda"), "/home/k/.cache/kiln/cuda-tuning.tsv");
    o.tuning_cache = "/tmp/mine.tsv";
    EXPECT_EQ(TuningCache::path_for(o, "cuda"), "/tmp/mine.tsv");
  }
}

TEST(TuningCacheTest, AppendsCreatesTheDirectoryAndRoundTrips) {
  TempPath dir("kiln_tuning_cache", "");
  const std::string path = (fs::path(dir.str()) / "sub" / "cpu-tuning.tsv").string();
  {
    TuningCache cache(path, 4);
    EXPECT_EQ(cache.find({"sig", "2", "N1 H8", "0"}), nullptr);
    cache.record({"sig", "2", "N1 H8", "0"}, "gemm", 1.23456);
    cache.record({"sig", "2", "chain:a|b|-", "0"}, "fused", 0.5);
    ASSERT_NE(cache.find({"sig", "2", "N1 H8", "0"}), nullptr);
    EXPECT_EQ(*cache.find({"sig", "2", "N1 H8", "0"}), "gemm");
  }
  // The format line, then key fields, value and milliseconds with four
  // decimals, tab-separated.
  EXPECT_EQ(read(path), "# kiln tuning cache, format 2\nsig\t2\tN1 H8\t0\tgemm\t1.2346\n"
                        "sig\t2\tchain:a|b|-\t0\tfused\t0.5000\n");
  TuningCache again(path, 4);
  ASSERT_NE(again.find({"sig", "2", "N1 H8", "0"}), nullptr);
  EXPECT_EQ(*again.find({"sig", "2", "N1 H8", "0"}), "gemm");
  ASSERT_NE(again.find({"sig", "2", "chain:a|b|-", "0"}), nullptr);
  EXPECT_EQ(*again.find({"sig", "2", "chain:a|b|-", "0"}), "fused");
  EXPECT_EQ(again.find({"sig", "1", "N1 H8", "0"}), nullptr);
}

TEST(TuningCacheTest, ReadsEachBackendsExistingLayout) {
  TempPath file("kiln_tuning_layouts", ".tsv");
  std::ofstream(file.str()) << "# kiln tuning cache, format 2\n"
                            << "# comment\tx\ty\tz\tw\n"
                            << "\n"
                            << "AMD EPYC avx2\t4\tN1 H56 W56 C64 K64 k3x3 s1x1 d1x1 p1,1,1,1 g1\t1\twinograd\t0.8000\n"
                            << "too\tfew\n"
                            << "dev\tN1 C3\tdirect\t2.0000\n"
                            << "dev\tN1 C3\tgemm1x1\t1.0000\n";  // a later line wins
  const TuningCache cpu(file.str(), 4);
  ASSERT_NE(cpu.find({"AMD EPYC avx2", "4", "N1 H56 W56 C64 K64 k3x3 s1x1 d1x1 p1,1,1,1 g1", "1"}), nullptr);
  EXPECT_EQ(*cpu.find({"AMD EPYC avx2", "4", "N1 H56 W56 C64 K64 k3x3 s1x1 d1x1 p1,1,1,1 g1", "1"}), "winograd");
  EXPECT_EQ(cpu.find({"# comment", "x", "y", "z"}), nullptr);
  // Vulkan: device, shape, residual; CUDA: device, shape+activation.
  const TuningCache vulkan(file.str(), 3);
  ASSERT_NE(vulkan.find({"dev", "N1 C3", "gemm1x1"}), nullptr);  // the 4-field line read as 3 + value
  EXPECT_EQ(*vulkan.find({"dev", "N1 C3", "gemm1x1"}), "1.0000");
  const TuningCache cuda(file.str(), 2);
  ASSERT_NE(cuda.find({"dev", "N1 C3"}), nullptr);
  EXPECT_EQ(*cuda.find({"dev", "N1 C3"}), "gemm1x1");
  EXPECT_EQ(cuda.find({"too", "few"}), nullptr);  // no value field
}

// Keys changed with the shared ConvGeometry (format 2): a file an older Kiln
// wrote (no format line) is ignored with one line on stderr, never misread,
// and replaced by the first record.
TEST(TuningCacheTest, AnOlderFormatIsIgnoredWithANoteAndRewritten) {
  TempPath file("kiln_tuning_old", ".tsv");
  std::ofstream(file.str()) << "dev\tN1 H56 W56 C64 K64 k3x3 s1x1 d1x1 p1,1,1,1 g1\twinograd\t0.8000\n";
  ::testing::internal::CaptureStderr();
  TuningCache cache(file.str(), 2);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "note: ignoring the tuning cache " + file.str() +
                     ": an older Kiln wrote it with other layer keys; it will be rewritten\n");
  EXPECT_EQ(cache.find({"dev", "N1 H56 W56 C64 K64 k3x3 s1x1 d1x1 p1,1,1,1 g1"}), nullptr);
  cache.record({"dev", "N1 C64 H56"}, "direct", 1.0);
  cache.record({"dev", "N1 C64 H28"}, "gemm", 2.0);
  EXPECT_EQ(read(file.str()), "# kiln tuning cache, format 2\ndev\tN1 C64 H56\tdirect\t1.0000\n"
                              "dev\tN1 C64 H28\tgemm\t2.0000\n");
  ::testing::internal::CaptureStderr();
  const TuningCache again(file.str(), 2);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  ASSERT_NE(again.find({"dev", "N1 C64 H56"}), nullptr);
  EXPECT_EQ(*again.find({"dev", "N1 C64 H56"}), "direct");
}

TEST(TuningCacheTest, MissingFileIsEmpty) {
  const TuningCache cache("/nonexistent/kiln/cuda-tuning.tsv", 2);
  EXPECT_EQ(cache.find({"a", "b"}), nullptr);
}

TEST(TuningCacheTest, UnwritableFileWarnsAndKeepsTheResult) {
  TempPath dir("kiln_tuning_unwritable", "");
  fs::create_directories(dir.str());
  const std::string blocker = (fs::path(dir.str()) / "file").string();
  std::ofstream(blocker) << "not a directory\n";
  const std::string path = blocker + "/cache.tsv";  // its "directory" is a file: never writable, even as root
  TuningCache cache(path, 2);
  ::testing::internal::CaptureStderr();
  cache.record({"dev", "shape"}, "direct", 1.0);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "warning: cannot write the tuning cache " + path +
                     "; results are kept for this session only\n");
  ASSERT_NE(cache.find({"dev", "shape"}), nullptr) << "the result is kept for this session";
  EXPECT_EQ(*cache.find({"dev", "shape"}), "direct");
}

struct Algo {
  const char* name;
  bool ok;
  double cost;
};

TEST(CheapestTest, LowestCostAmongUsableTiesToTheEarlier) {
  const Algo a{"a", true, 3}, b{"b", false, 1}, c{"c", true, 2}, d{"d", true, 2};
  const std::vector<const Algo*> all = {&a, &b, &c, &d};
  std::vector<std::string> costed;
  const auto best = cheapest(
      all, [](const Algo& x) { return x.ok; },
      [&](const Algo& x) {
        costed.emplace_back(x.name);
        return x.cost;
      });
  EXPECT_EQ(best.algorithm, &c);
  EXPECT_EQ(best.ms, 2);
  EXPECT_EQ(costed, (std::vector<std::string>{"a", "c", "d"})) << "only usable ones are costed, in order";
  EXPECT_EQ(cheapest(all, [](const Algo&) { return false; }, [](const Algo& x) { return x.cost; }).algorithm, nullptr);
}

}  // namespace
}  // namespace kiln::test
