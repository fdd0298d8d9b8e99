// SessionOptions::memory_limit: a model whose activations or weights need
// more than the limit is refused before anything large is allocated, with
// both figures in the message; host backends fit their run contexts to it.
#include <sys/resource.h>

#include "engine/runtime/memory_budget.hpp"
#include "gmock/gmock.h"
#include "kiln/kiln.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using O = OpType;

// One ReLU on an input of `pixels` x `pixels` x 64 channels: 2 activation tensors.
Graph wide_relu(int64_t pixels) {
  GraphBuilder b;
  b.output(b.node(O::Relu, {b.input("x", {1, 64, pixels, pixels})}));
  return b.build();
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

std::string creation_error(const Graph& g, const SessionOptions& o) {
  try {
    Session s(Model(std::make_shared<Graph>(g)), o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MemoryLimit, RefusedBeforeAllocatingOnEveryHostBackend) {
  // 64 x 30000 x 30000 float32 = 215 GiB per tensor: more than any test machine has.
  const Graph g = wide_relu(30000);
  const long before = peak_rss_kib();
  for (const char* backend : {"reference", "cpu"}) {
    SessionOptions o;
    o.backend = backend;
    const std::string m = creation_error(g, o);
    EXPECT_THAT(m, AllOf(HasSubstr("needs"), HasSubstr("GiB"), HasSubstr("memory limit"))) << backend;
  }
  EXPECT_LT(peak_rss_kib() - before, 100 * 1024) << "the refusal allocated the arena first";
}

TEST(MemoryLimit, ExplicitLimitNamesBothFigures) {
  const Graph g = wide_relu(64);  // 2 x 1 MiB of activations
  SessionOptions o;
  o.backend = "cpu";
  o.memory_limit = 100 * 1024;
  EXPECT_THAT(creation_error(g, o), AllOf(HasSubstr("needs "), HasSubstr("MiB"), HasSubstr("limit of 100.0 KiB")));
  o.memory_limit = 64 << 20;
  EXPECT_EQ(creation_error(g, o), "");
}

TEST(MemoryLimit, ContextsCappedToWhatFits) {
  EXPECT_EQ(contexts_within_limit(100, 10, 200, 8, "x"), 8u);
  EXPECT_EQ(contexts_within_limit(100, 30, 200, 8, "x"), 3u);
  EXPECT_EQ(contexts_within_limit(100, 100, 200, 8, "x"), 1u);
  EXPECT_THROW(contexts_within_limit(100, 101, 200, 8, "x"), Error);
  EXPECT_THROW(contexts_within_limit(300, 0, 200, 8, "x"), Error);
}

TEST(MemoryLimit, AvailableMemoryIsPlausible) {
  const size_t avail = available_memory();
  EXPECT_GT(avail, size_t{16} << 20);
  EXPECT_LT(avail, size_t{1} << 50);
}

TEST(MemoryLimit, FormatBytes) {
  EXPECT_EQ(format_bytes(640), "640 B");
  EXPECT_EQ(format_bytes(size_t{3} << 29), "1.50 GiB");
  EXPECT_EQ(format_bytes(size_t{12} << 20), "12.0 MiB");
}

}  // namespace
}  // namespace kiln::test
