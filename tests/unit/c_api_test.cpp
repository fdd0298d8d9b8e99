// The C API (kiln.h): load, create a session, query it, run, and compare with
// the C++ API; every error path returns the right status and a message.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/format/kiln_file.hpp"
#include "gmock/gmock.h"
#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StrEq;

class CApi : public ::testing::Test {
 protected:
  void SetUp() override {
    graph_ = all_ops_graph();
    path_ = (std::filesystem::temp_directory_path() /
             (numbered("kiln_c_api_", ::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".kiln"))
                .string();
    save_graph(graph_, path_);
  }
  void TearDown() override {
    if (session_) kiln_session_free(session_);
    if (model_) kiln_model_free(model_);
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  void open_session() {
    ASSERT_EQ(kiln_model_load(path_.c_str(), &model_), KILN_OK) << kiln_last_error();
    ASSERT_NE(model_, nullptr);
    ASSERT_EQ(kiln_session_create(model_, "reference", 1, &session_), KILN_OK) << kiln_last_error();
    ASSERT_NE(session_, nullptr);
  }

  Graph graph_;
  std::string path_;
  kiln_model* model_ = nullptr;
  kiln_session* session_ = nullptr;
};

TEST_F(CApi, InfoMatchesTheModel) {
  open_session();
  ASSERT_EQ(kiln_session_input_count(session_), 1u);
  ASSERT_EQ(kiln_session_output_count(session_), graph_.outputs.size());
  const char* name = nullptr;
  const int64_t* shape = nullptr;
  size_t rank = 0;
  ASSERT_EQ(kiln_session_input_info(session_, 0, &name, &shape, &rank), KILN_OK);
  EXPECT_THAT(name, StrEq("x"));
  ASSERT_EQ(rank, 4u);
  EXPECT_EQ(std::vector<int64_t>(shape, shape + rank), (std::vector<int64_t>{1, 4, 9, 9}));
  for (size_t i = 0; i < graph_.outputs.size(); ++i) {
    ASSERT_EQ(kiln_session_output_info(session_, i, &name, &shape, &rank), KILN_OK);
    const TensorInfo& t = graph_.tensor(graph_.outputs[i]);
    EXPECT_EQ(std::string(name), t.name);
    EXPECT_EQ(std::vector<int64_t>(shape, shape + rank), t.shape);
  }
  // Any of name/shape/rank may be NULL.
  EXPECT_EQ(kiln_session_output_info(session_, 1, nullptr, nullptr, &rank), KILN_OK);
  EXPECT_EQ(rank, 1u);
}

TEST_F(CApi, RunMatchesTheCppApi) {
  open_session();
  const std::vector<Tensor> inputs = random_inputs(graph_, 42);
  std::vector<Tensor> outputs;
  for (TensorId t : graph_.outputs) outputs.emplace_back(graph_.shape(t));
  const float* in_ptrs[] = {inputs[0].data()};
  std::vector<float*> out_ptrs;
  for (auto& o : outputs) out_ptrs.push_back(o.data());
  ASSERT_EQ(kiln_session_run(session_, in_ptrs, out_ptrs.data()), KILN_OK) << kiln_last_error();
  EXPECT_THAT(kiln_last_error(), StrEq(""));

  const Model model = Model::load(path_);
  Session cpp(model, reference_options());  // the C session is on "reference" too
  const std::vector<Tensor> expected = cpp.run(inputs);
  ASSERT_EQ(expected.size(), outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) EXPECT_TRUE(tensors_close(outputs[i], expected[i], 0.0)) << i;

  // New buffers on a second call receive the results too.
  const std::vector<Tensor> inputs2 = random_inputs(graph_, 43);
  std::vector<Tensor> outputs2;
  for (TensorId t : graph_.outputs) outputs2.emplace_back(graph_.shape(t));
  const float* in2[] = {inputs2[0].data()};
  std::vector<float*> out2;
  for (auto& o : outputs2) out2.push_back(o.data());
  ASSERT_EQ(kiln_session_run(session_, in2, out2.data()), KILN_OK) << kiln_last_error();
  const std::vector<Tensor> expected2 = cpp.run(inputs2);
  for (size_t i = 0; i < outputs2.size(); ++i) EXPECT_TRUE(tensors_close(outputs2[i], expected2[i], 0.0)) << i;
  // The first buffers were not touched by the second run.
  for (size_t i = 0; i < outputs.size(); ++i) EXPECT_TRUE(tensors_close(outputs[i], expected[i], 0.0)) << i;
  // Different inputs give different results (the runs really happened).
  bool differs = false;
  for (size_t i = 0; i < outputs2.size(); ++i) differs = differs || !tensors_close(outputs2[i], expected[i], 1e-6);
  EXPECT_TRUE(differs);
}

TEST_F(CApi, NullOrAutoBackendAndZeroThreadsAreTheDefaults) {
  ASSERT_EQ(kiln_model_load(path_.c_str(), &model_), KILN_OK);
  const auto names = available_backends();
  const std::string expected = std::find(names.begin(), names.end(), "cpu") != names.end() ? "cpu" : "reference";
  for (const char* backend : {static_cast<const char*>(nullptr), "auto"}) {
    kiln_session* s = nullptr;
    ASSERT_EQ(kiln_session_create(model_, backend, 0, &s), KILN_OK) << kiln_last_error();
    EXPECT_EQ(kiln_session_input_count(s), 1u);
    EXPECT_STREQ(kiln_session_backend(s), expected.c_str());
    EXPECT_THAT(kiln_session_backend_choice(s), HasSubstr("auto"));
    EXPECT_EQ(kiln_session_threads(s), available_cores());
    // It computes what the reference does.
    const std::vector<Tensor> inputs = random_inputs(graph_, 7);
    std::vector<Tensor> outputs;
    for (TensorId t : graph_.outputs) outputs.emplace_back(graph_.shape(t));
    const float* in_ptrs[] = {inputs[0].data()};
    std::vector<float*> out_ptrs;
    for (auto& o : outputs) out_ptrs.push_back(o.data());
    ASSERT_EQ(kiln_session_run(s, in_ptrs, out_ptrs.data()), KILN_OK) << kiln_last_error();
    const std::vector<Tensor> want = run_graph(graph_, inputs, "reference");
    for (size_t i = 0; i < outputs.size(); ++i) EXPECT_TRUE(tensors_close(outputs[i], want[i], 1e-4)) << i;
    kiln_session_free(s);
  }
}

TEST_F(CApi, NamedBackendAndThreadCountAreKept) {
  open_session();  // "reference", 1 thread
  EXPECT_STREQ(kiln_session_backend(session_), "reference");
  EXPECT_STREQ(kiln_session_backend_choice(session_), "asked for");
  EXPECT_EQ(kiln_session_threads(session_), 1);
  EXPECT_STREQ(kiln_session_backend(nullptr), "");
  EXPECT_STREQ(kiln_session_backend_choice(nullptr), "");
  EXPECT_EQ(kiln_session_threads(nullptr), 0);
}

TEST_F(CApi, MissingFileIsAnIoError) {
  kiln_model* m = reinterpret_cast<kiln_model*>(0x1);
  EXPECT_EQ(kiln_model_load("/nonexistent/model.kiln", &m), KILN_ERROR_IO);
  EXPECT_EQ(m, nullptr);
  EXPECT_THAT(kiln_last_error(), AllOf(HasSubstr("/nonexistent/model.kiln"), HasSubstr("cannot open")));
}

TEST_F(CApi, CorruptFileIsAnInvalidModel) {
  std::vector<uint8_t> bytes = serialize_graph(graph_);
  bytes[9] = 'X';  // inside the "KILN" identifier
  {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  EXPECT_EQ(kiln_model_load(path_.c_str(), &model_), KILN_ERROR_INVALID_MODEL);
  EXPECT_EQ(model_, nullptr);
  EXPECT_THAT(kiln_last_error(), AllOf(HasSubstr(path_), HasSubstr("identifier")));
}

TEST_F(CApi, NullArgumentsAreInvalidArguments) {
  EXPECT_EQ(kiln_model_load(nullptr, &model_), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(kiln_last_error(), HasSubstr("path must not be NULL"));
  EXPECT_EQ(kiln_model_load(path_.c_str(), nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(kiln_last_error(), HasSubstr("out_model must not be NULL"));

  kiln_session* s = nullptr;
  EXPECT_EQ(kiln_session_create(nullptr, "reference", 1, &s), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(kiln_last_error(), HasSubstr("model must not be NULL"));
  open_session();
  EXPECT_EQ(kiln_session_create(model_, "reference", 1, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(kiln_last_error(), HasSubstr("out_session must not be NULL"));

  EXPECT_EQ(kiln_session_input_count(nullptr), 0u);
  EXPECT_EQ(kiln_session_output_count(nullptr), 0u);
  size_t rank = 0;
  EXPECT_EQ(kiln_session_input_info(nullptr, 0, nullptr, nullptr, &rank), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(kiln_last_error(), HasSubstr("session must not be NULL"));
  EXPECT_EQ(kiln_session_output_info(nullptr, 0, nullptr, nullptr, &rank), KILN_ERROR_INVALID_ARGUMENT);

  Tensor in({1, 4, 9, 9});
  const float* in_ptrs[] = {in.data()};
  std::vector<Tensor> outs;
  for (TensorId t : graph_.outputs) outs.emplace_back(graph_.shape(t));
  std::vector<float*> out_ptrs;
  for (auto& o : outs) out_ptrs.push_back(o.data());
  EXPECT_EQ(kiln_session_run(nullptr, in_ptrs, out_ptrs.data()), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(kiln_last_error(), HasSubstr("session must not be NULL"));
  EXPECT_EQ(kiln_session_run(session_, nullptr, out_ptrs.data()), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(kiln_last_error(), HasSubstr("inputs must not be NULL"));
  EXPECT_EQ(kiln_session_run(session_, in_ptrs, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(kiln_last_error(), HasSubstr("outputs must not be NULL"));
  const float* null_in[] = {nullptr};
  EXPECT_EQ(kiln_session_run(session_, null_in, out_ptrs.data()), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(kiln_last_error(), HasSubstr("input 0 ('x') is null"));
  out_ptrs[2] = nullptr;
  EXPECT_EQ(kiln_session_run(session_, in_ptrs, out_ptrs.data()), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(kiln_last_error(), HasSubstr("output 2 ("));

  // Freeing NULL is allowed.
  kiln_model_free(nullptr);
  kiln_session_free(nullptr);
}

TEST_F(CApi, BadIndexIsAnInvalidArgument) {
  open_session();
  const char* name = nullptr;
  EXPECT_EQ(kiln_session_input_info(session_, 1, &name, nullptr, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(kiln_last_error(), AllOf(HasSubstr("index 1"), HasSubstr("out of range")));
  EXPECT_EQ(name, nullptr);
  EXPECT_EQ(kiln_session_output_info(session_, 4, &name, nullptr, nullptr), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(kiln_last_error(), AllOf(HasSubstr("index 4"), HasSubstr("(4)")));
}

TEST_F(CApi, UnknownBackendAndBadThreads) {
  ASSERT_EQ(kiln_model_load(path_.c_str(), &model_), KILN_OK);
  kiln_session* s = reinterpret_cast<kiln_session*>(0x1);
  EXPECT_EQ(kiln_session_create(model_, "warp-drive", 1, &s), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  EXPECT_THAT(kiln_last_error(), AllOf(HasSubstr("'warp-drive'"), HasSubstr("reference")));
  EXPECT_EQ(kiln_session_create(model_, "reference", -1, &s), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  EXPECT_THAT(kiln_last_error(), AllOf(HasSubstr("threads"), HasSubstr("-1")));
}

TEST_F(CApi, LastErrorIsClearedBySuccessAndPerThread) {
  EXPECT_EQ(kiln_model_load("/nonexistent/a.kiln", &model_), KILN_ERROR_IO);
  EXPECT_STRNE(kiln_last_error(), "");
  std::string other_thread;
  std::thread([&] { other_thread = kiln_last_error(); }).join();
  EXPECT_EQ(other_thread, "");
  ASSERT_EQ(kiln_model_load(path_.c_str(), &model_), KILN_OK);
  EXPECT_STREQ(kiln_last_error(), "");
}

}  // namespace
}  // namespace kiln::test
