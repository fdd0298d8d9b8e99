// One Session shared by many threads: concurrent run() calls on the
// reference, cpu and (when a device exists) vulkan backends give bitwise the
// outputs each input gets alone, as does the C API; the context pool never
// holds more contexts than allowed; `threads` beyond the cores is capped.
// CI also runs this suite under ThreadSanitizer (label `concurrency`).
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>

#include "engine/format/kiln_file.hpp"
#include "engine/runtime/context_pool.hpp"
#include "gmock/gmock.h"
#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/model_util.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;

bool same_bits(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].size_bytes() != b[i].size_bytes() || std::memcmp(a[i].raw(), b[i].raw(), a[i].size_bytes()) != 0)
      return false;
  return true;
}

// Distinct inputs (each graph input filled from its own seed), in the inputs' element types.
std::vector<std::vector<Tensor>> distinct_inputs(const Session& s, int count) {
  std::vector<std::vector<Tensor>> sets;
  for (int k = 0; k < count; ++k) {
    std::vector<Tensor> set;
    for (size_t i = 0; i < s.inputs().size(); ++i) {
      const TensorDesc& d = s.inputs()[i];
      const uint32_t seed = 1000u * static_cast<uint32_t>(k) + static_cast<uint32_t>(i) + 1;
      if (d.type == ElementType::Float32) {
        set.push_back(random_tensor(d.shape, seed));
      } else {
        Tensor t(d.shape, d.type);
        auto* bytes = static_cast<uint8_t*>(t.raw());
        uint32_t x = seed;
        for (size_t j = 0; j < t.size_bytes(); ++j) bytes[j] = static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
        set.push_back(std::move(t));
      }
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

// `threads` callers each run `runs` times on the one session, cycling through
// the inputs from different starting points, and count outputs that differ
// from the input's solo result.
int mismatches_under_contention(Session& session, int threads, int runs) {
  const auto inputs = distinct_inputs(session, 4);
  std::vector<std::vector<Tensor>> expected;
  for (const auto& in : inputs) expected.push_back(session.run(in));
  std::atomic<int> bad{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        for (int r = 0; r < runs; ++r) {
          const size_t k = static_cast<size_t>(t + r) % inputs.size();
          if (!same_bits(session.run(inputs[k]), expected[k])) ++bad;
        }
      } catch (const std::exception&) {
        ++failures;
      }
    });
  for (auto& th : pool) th.join();
  EXPECT_EQ(failures.load(), 0) << "a concurrent run threw";
  return bad.load();
}

SessionOptions on(const std::string& backend, int threads = 1) {
  SessionOptions o;
  o.backend = backend;
  o.threads = threads;
  return o;
}

TEST(SessionConcurrency, ReferenceEveryOp) {
  Session s(Model(std::make_shared<Graph>(all_ops_graph())), on("reference"));
  EXPECT_EQ(mismatches_under_contention(s, 3, 6), 0);
}

TEST(SessionConcurrency, CpuEveryOp) {
  Session s(Model(std::make_shared<Graph>(all_ops_graph())), on("cpu", 2));
  EXPECT_EQ(mismatches_under_contention(s, 3, 6), 0);
}

// Real models exercise every CPU convolution path: fused expand→depthwise→project
// chains (l2_bytes 0 makes the cost model fuse every chain it can), Winograd
// and im2col layers, and the int8 kernels of a QDQ model.
struct ModelRun {
  std::string id;       // a model case (tests/common/model_util.hpp)
  std::string backend;
  int threads;
  bool fuse_every_chain;
};

void PrintTo(const ModelRun& r, std::ostream* os) { *os << r.id << " on " << r.backend; }

class SessionConcurrencyModels : public ::testing::TestWithParam<ModelRun> {};

TEST_P(SessionConcurrencyModels, ConcurrentRunsMatchSoloRuns) {
  const ModelRun& p = GetParam();
  const Model* model = nullptr;
  Tensor unused;
  std::string skip;
  if (!load_model_case(model_case(p.id), &model, &unused, &skip)) GTEST_SKIP() << skip;
  SessionOptions o = on(p.backend, p.threads);
  if (p.fuse_every_chain) o.cpu.l2_bytes = 0;
  Session s(*model, o);
  EXPECT_EQ(mismatches_under_contention(s, 3, 3), 0);
  EXPECT_LE(s.memory().arena_bytes, s.memory().naive_bytes + (size_t{64} << 20));
}

INSTANTIATE_TEST_SUITE_P(Models, SessionConcurrencyModels,
                         ::testing::Values(ModelRun{"mobilenet_v1_0_25_128", "cpu", 2, true},
                                           ModelRun{"mobilenet_v2_1_0_224", "cpu", 1, true},
                                           ModelRun{"resnet20_cifar", "cpu", 2, false},
                                           ModelRun{"resnet8_tiny_cifar", "reference", 1, false}),
                         [](const auto& info) { return info.param.id + "_" + info.param.backend; });

TEST(SessionConcurrency, CpuInt8QdqModel) {
  const auto onnx = shared_model("mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_qdq.onnx");
  if (!onnx || !have_converter()) GTEST_SKIP() << missing_shared("mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_qdq.onnx");
  Session s(import_model(*onnx), on("cpu", 2));
  EXPECT_EQ(mismatches_under_contention(s, 3, 4), 0);
}

TEST(SessionConcurrency, VulkanRunsOneCallAtATime) {
  const auto backends = available_backends();
  if (std::find(backends.begin(), backends.end(), "vulkan") == backends.end())
    GTEST_SKIP() << "this build has no vulkan backend";
  try {
    if (list_devices("vulkan").empty()) GTEST_SKIP() << "no Vulkan device";
  } catch (const Error& e) {
    GTEST_SKIP() << e.what();
  }
  Session s(Model(std::make_shared<Graph>(all_ops_graph())), on("vulkan"));
  EXPECT_EQ(mismatches_under_contention(s, 3, 4), 0);
}

TEST(SessionConcurrency, OneContextAtATimeStillCorrect) {
  SessionOptions o = on("cpu", 1);
  o.max_concurrent_runs = 1;
  Session s(Model(std::make_shared<Graph>(all_ops_graph())), o);
  EXPECT_EQ(mismatches_under_contention(s, 3, 4), 0);
}

TEST(SessionConcurrency, ProfileWhileRunning) {
  Session s(Model(std::make_shared<Graph>(all_ops_graph())), on("cpu", 1));
  const auto inputs = distinct_inputs(s, 1);
  std::atomic<bool> stop{false};
  std::thread runner([&] {
    for (int i = 0; i < 20; ++i) s.run(inputs[0]);
    stop = true;
  });
  size_t rows = 0;
  do {
    rows = s.profile().size();
  } while (!stop);
  runner.join();
  EXPECT_EQ(rows, s.profile().size());
  EXPECT_GT(rows, 0u);
}

TEST(SessionConcurrency, CApiSharedSession) {
  const std::string path = (std::filesystem::temp_directory_path() / numbered("kiln_concurrency_", ::getpid()))
                               .string() + ".kiln";
  const Graph g = all_ops_graph();
  save_graph(g, path);
  kiln_model* model = nullptr;
  kiln_session* session = nullptr;
  ASSERT_EQ(kiln_model_load(path.c_str(), &model), KILN_OK) << kiln_last_error();
  ASSERT_EQ(kiln_session_create(model, "cpu", 1, &session), KILN_OK) << kiln_last_error();
  Session cpp(Model(std::make_shared<Graph>(g)), on("cpu", 1));
  const auto inputs = distinct_inputs(cpp, 3);
  std::vector<std::vector<Tensor>> expected;
  for (const auto& in : inputs) expected.push_back(cpp.run(in));
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 4; ++r) {
        const size_t k = static_cast<size_t>(t + r) % inputs.size();
        std::vector<const float*> in;
        for (const Tensor& x : inputs[k]) in.push_back(x.data());
        std::vector<Tensor> out;
        std::vector<float*> out_ptrs;
        for (const TensorDesc& d : cpp.outputs()) out.emplace_back(d.shape, d.type);
        for (Tensor& y : out) out_ptrs.push_back(y.data());
        if (kiln_session_run(session, in.data(), out_ptrs.data()) != KILN_OK || !same_bits(out, expected[k])) ++bad;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  kiln_session_free(session);
  kiln_model_free(model);
  std::filesystem::remove(path);
}

// The pool reuses idle contexts, makes at most `max`, and makes callers wait beyond that.
TEST(ContextPool, NeverMoreThanMaxContexts) {
  struct Counted {
    explicit Counted(std::atomic<int>& made) { ++made; }
    std::atomic<int> holders{0};
  };
  std::atomic<int> made{0};
  ContextPool<Counted> pool([&] { return std::make_unique<Counted>(made); }, 2);
  EXPECT_EQ(made.load(), 1);  // the first is made up front
  std::atomic<int> in_use{0}, peak{0}, shared{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&] {
      for (int r = 0; r < 50; ++r) {
        auto lease = pool.acquire();
        if (lease->holders.fetch_add(1) != 0) ++shared;  // two callers in one context
        const int now = ++in_use;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        std::this_thread::yield();
        --in_use;
        lease->holders.fetch_sub(1);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_LE(made.load(), 2);
  EXPECT_LE(peak.load(), 2);
  EXPECT_EQ(shared.load(), 0);
  EXPECT_EQ(pool.size(), static_cast<size_t>(made.load()));
}

TEST(SessionThreads, CappedAtUsableCoresWithAWarning) {
  const int cores = available_cores();
  Session s(Model(std::make_shared<Graph>(all_ops_graph())), on("cpu", cores + 1000));
  EXPECT_EQ(s.threads(), cores);
  ASSERT_EQ(s.warnings().size(), 1u);
  EXPECT_THAT(s.warnings()[0], HasSubstr("capped at " + std::to_string(cores)));
  Session fine(Model(std::make_shared<Graph>(all_ops_graph())), on("cpu", 1));
  EXPECT_TRUE(fine.warnings().empty());
}

TEST(SessionThreads, NegativeMaxConcurrentRunsRefused) {
  SessionOptions o = on("reference");
  o.max_concurrent_runs = -1;
  try {
    Session s(Model(std::make_shared<Graph>(all_ops_graph())), o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("max_concurrent_runs"));
  }
}

}  // namespace
}  // namespace kiln::test
