// ONNX conformance: the backend test data that ONNX ships (Debian package
// libonnx-testdata), for every op Kiln claims.
//
// A test is "claimed" when every node of its model is a Kiln op (or Constant).
// Each claimed test is imported with default options and run on the reference
// backend on every test_data_set_*; every output must match within
// |a - b| <= 1e-5 + 1e-4 |b| (NaN matches NaN). It is then imported again with
// optimize = false and must give the same outcome.
//
// Outcomes: pass; unsupported (the import threw ErrorCode::Unsupported);
// fail (anything else). The test fails if any claimed test fails, if a test is
// unsupported without being listed in kExpectedUnsupported below, or if a
// listed test no longer is unsupported (so the list stays honest).
//
// Parameter inputs. Many node tests feed an op's parameters (Reshape's shape,
// Slice's starts/ends/axes/steps, Pad's pads and value, Split's sizes,
// Squeeze/Unsqueeze's axes, Clip's bounds, Dropout's ratio and training mode)
// as graph inputs, to exercise run-time parameters. Kiln has static shapes and
// reads these at conversion time, as real exports provide them (initializers or
// Constant nodes). So a graph input that only ever feeds such parameter slots
// is frozen: the harness turns it into an initializer holding that data set's
// value before importing. Frozen inputs are printed with the results.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "engine/core/op_info.hpp"
#include "kiln/convert.hpp"
#include "kiln/kiln.hpp"
#include "onnx/onnx_pb.h"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

// Tests expected to be unsupported, with the reason (keyed "<folder>/<test>").
const std::map<std::string, std::string> kExpectedUnsupported = {
    {"node/test_add_uint8", "uint8 inputs (Kiln computes in float32)"},
    {"node/test_sub_uint8", "uint8 inputs"},
    {"node/test_mul_uint8", "uint8 inputs"},
    {"node/test_div_uint8", "uint8 inputs"},
    {"node/test_maxpool_2d_uint8", "uint8 inputs"},
    {"node/test_clip_default_int8_inbounds", "int8 inputs"},
    {"node/test_clip_default_int8_max", "int8 inputs"},
    {"node/test_clip_default_int8_min", "int8 inputs"},
    {"node/test_edge_pad", "int32 input (and edge mode)"},
    {"node/test_reflect_pad", "int32 input (and reflect mode)"},
    {"pytorch-converted/test_ReflectionPad2d", "Pad mode reflect"},
    {"pytorch-converted/test_ReplicationPad2d", "Pad mode edge"},
    {"pytorch-operator/test_operator_pad", "Pad mode reflect"},
    {"pytorch-operator/test_operator_add_broadcast", "double inputs"},
    {"pytorch-operator/test_operator_add_size1_broadcast", "double inputs"},
    {"pytorch-operator/test_operator_add_size1_right_broadcast", "double inputs"},
    {"pytorch-operator/test_operator_add_size1_singleton_broadcast", "double inputs"},
    {"pytorch-operator/test_operator_addconstant", "double inputs"},
    {"pytorch-operator/test_operator_non_float_params", "int64 inputs"},
    {"node/test_batchnorm_epsilon_training_mode", "BatchNormalization training_mode = 1"},
    {"node/test_batchnorm_example_training_mode", "BatchNormalization training_mode = 1"},
    {"node/test_dropout_default_mask", "Dropout mask output used"},
    {"node/test_dropout_default_mask_ratio", "Dropout mask output used"},
    {"node/test_training_dropout", "Dropout training_mode = true"},
    {"node/test_training_dropout_default", "Dropout training_mode = true"},
    {"node/test_training_dropout_default_mask", "Dropout training_mode = true (and mask output)"},
    {"node/test_training_dropout_mask", "Dropout training_mode = true (and mask output)"},
    {"node/test_training_dropout_zero_ratio", "Dropout training_mode = true"},
    {"node/test_training_dropout_zero_ratio_mask", "Dropout training_mode = true (and mask output)"},
    {"node/test_maxpool_with_argmax_2d_precomputed_pads", "MaxPool Indices output used"},
    {"node/test_maxpool_with_argmax_2d_precomputed_strides", "MaxPool Indices output used"},
    {"node/test_identity_opt", "optional-typed input"},
    {"node/test_identity_sequence", "sequence-typed input"},
    {"node/test_constant", "no graph inputs (a Kiln model needs at least one; validate_graph)"},
    // Kiln reads a Q/DQ scale and zero point at conversion time (they become
    // the tensor's QuantParams); these tests feed them as graph inputs.
    {"node/test_quantizelinear", "scale and zero point given as run-time inputs"},
    {"node/test_quantizelinear_axis", "scale and zero point given as run-time inputs"},
    {"node/test_dequantizelinear", "scale and zero point given as run-time inputs"},
    {"node/test_dequantizelinear_axis", "scale and zero point given as run-time inputs"},
};

// Parameter slots: (op, input index) pairs that Kiln reads at conversion time.
bool is_parameter_slot(const std::string& op, int index) {
  static const std::map<std::string, std::set<int>> kSlots = {
      {"Reshape", {1}},   {"Slice", {1, 2, 3, 4}}, {"Pad", {1, 2}},     {"Split", {1}},
      {"Squeeze", {1}},   {"Unsqueeze", {1}},      {"Clip", {1, 2}},    {"Dropout", {1, 2}},
  };
  auto it = kSlots.find(op);
  return it != kSlots.end() && it->second.count(index) != 0;
}

enum class Kind { Pass, Unsupported, Fail };
const char* kind_name(Kind k) { return k == Kind::Pass ? "pass" : k == Kind::Unsupported ? "unsupported" : "fail"; }

struct Outcome {
  Kind kind = Kind::Pass;
  std::string message;
};

template <class Message>
bool parse_file(const fs::path& path, Message& message) {
  std::ifstream in(path, std::ios::binary);
  return in && message.ParseFromIstream(&in);
}

struct TestCase {
  std::string key;  // "<folder>/<test>"
  fs::path dir;
  onnx::ModelProto model;
  std::set<std::string> op_types;
  std::vector<std::string> runtime_inputs;  // non-initializer graph inputs, in order
  std::set<std::string> frozen;             // inputs frozen as initializers
};

std::vector<fs::path> data_sets(const fs::path& dir) {
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  return sets;
}

bool close(float a, float b) {
  if (std::isnan(b)) return std::isnan(a);
  if (std::isinf(b)) return a == b;
  return std::fabs(static_cast<double>(a) - b) <= 1e-5 + 1e-4 * std::fabs(static_cast<double>(b));
}

// Writes the model with the frozen inputs of `set` turned into initializers.
std::string frozen_model(const TestCase& tc, const fs::path& set, const fs::path& out_dir) {
  onnx::ModelProto m = tc.model;
  if (!tc.frozen.empty()) {
    auto* g = m.mutable_graph();
    for (size_t i = 0; i < tc.runtime_inputs.size(); ++i) {
      const std::string& name = tc.runtime_inputs[i];
      if (!tc.frozen.count(name)) continue;
      onnx::TensorProto t;
      if (!parse_file(set / ("input_" + std::to_string(i) + ".pb"), t))
        throw std::runtime_error("cannot read input_" + std::to_string(i) + ".pb");
      t.set_name(name);
      *g->add_initializer() = t;
    }
  }
  const fs::path path = out_dir / (tc.key.substr(tc.key.find('/') + 1) + "_" + set.filename().string() + ".onnx");
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
  return path.string();
}

// Totals over every run, printed with the results so that an empty run shows.
struct Checked {
  int data_sets = 0;
  int64_t values = 0;
};
Checked g_checked;

Outcome run_case(const TestCase& tc, bool optimize, const fs::path& work_dir) {
  try {
    for (const fs::path& set : data_sets(tc.dir)) {
      const std::string path = frozen_model(tc, set, work_dir);
      ConvertOptions options;
      options.optimize = optimize;
      Graph graph;
      try {
        graph = import_onnx(path, options);
      } catch (const Error& e) {
        // Drop the temporary file's name that the message starts with.
        std::string msg = e.what();
        if (msg.rfind(path + ": ", 0) == 0) msg = msg.substr(path.size() + 2);
        return {e.code() == ErrorCode::Unsupported ? Kind::Unsupported : Kind::Fail, msg};
      }
      Model model(std::make_shared<Graph>(std::move(graph)));
      Session session(model, reference_options());
      std::vector<Tensor> inputs(session.inputs().size());
      for (size_t i = 0; i < tc.runtime_inputs.size(); ++i) {
        if (tc.frozen.count(tc.runtime_inputs[i])) continue;
        const NamedTensor t = read_tensor_proto((set / ("input_" + std::to_string(i) + ".pb")).string());
        inputs.at(session.input_index(tc.runtime_inputs[i])) = t.tensor;
      }
      const std::vector<Tensor> outputs = session.run(inputs);
      ++g_checked.data_sets;
      const auto& onnx_outputs = tc.model.graph().output();
      for (int k = 0; k < onnx_outputs.size(); ++k) {
        const NamedTensor want = read_tensor_proto((set / ("output_" + std::to_string(k) + ".pb")).string());
        const Tensor& got = outputs.at(session.output_index(onnx_outputs[k].name()));
        std::ostringstream where;
        where << set.filename().string() << " output '" << onnx_outputs[k].name() << "'";
        if (got.shape() != want.tensor.shape())
          return {Kind::Fail, where.str() + ": shape " + shape_to_string(got.shape()) + ", expected " +
                                  shape_to_string(want.tensor.shape())};
        g_checked.values += got.size();
        for (int64_t j = 0; j < got.size(); ++j) {
          if (!close(got.data()[j], want.tensor.data()[j])) {
            std::ostringstream m;
            m << where.str() << ": element " << j << " is " << got.data()[j] << ", expected "
              << want.tensor.data()[j];
            return {Kind::Fail, m.str()};
          }
        }
      }
    }
  } catch (const Error& e) {
    return {Kind::Fail, std::string("error after import: ") + e.what()};
  } catch (const std::exception& e) {
    return {Kind::Fail, std::string("exception: ") + e.what()};
  }
  return {Kind::Pass, ""};
}

bool is_claimed(const std::string& op) { return op == "Constant" || op_from_name(op).has_value(); }

std::optional<TestCase> load_case(const std::string& folder, const fs::path& dir) {
  TestCase tc;
  tc.key = folder + "/" + dir.filename().string();
  tc.dir = dir;
  if (!parse_file(dir / "model.onnx", tc.model)) return std::nullopt;
  std::set<std::string> initializers;
  for (const auto& t : tc.model.graph().initializer()) initializers.insert(t.name());
  for (const auto& n : tc.model.graph().node()) {
    if (!n.domain().empty() && n.domain() != "ai.onnx") return std::nullopt;
    if (!is_claimed(n.op_type())) return std::nullopt;
    tc.op_types.insert(n.op_type());
  }
  for (const auto& in : tc.model.graph().input())
    if (!initializers.count(in.name())) tc.runtime_inputs.push_back(in.name());
  // Freeze inputs read only at parameter slots.
  for (const std::string& name : tc.runtime_inputs) {
    bool any_use = false, only_parameters = true;
    for (const auto& n : tc.model.graph().node())
      for (int i = 0; i < n.input_size(); ++i)
        if (n.input(i) == name) {
          any_use = true;
          only_parameters = only_parameters && is_parameter_slot(n.op_type(), i);
        }
    for (const auto& out : tc.model.graph().output()) only_parameters = only_parameters && out.name() != name;
    if (any_use && only_parameters) tc.frozen.insert(name);
  }
  return tc;
}

struct Counts {
  int passed = 0, unsupported = 0, failed = 0;
  int total() const { return passed + unsupported + failed; }
  void add(Kind k) { (k == Kind::Pass ? passed : k == Kind::Unsupported ? unsupported : failed)++; }
};

TEST(Conformance, OnnxBackendTestData) {
  const fs::path root = KILN_ONNX_TESTDATA_DIR;
  const std::vector<std::string> folders = {"node", "pytorch-converted", "pytorch-operator", "simple"};
  for (const auto& f : folders)
    ASSERT_TRUE(fs::is_directory(root / f))
        << "ONNX test data not found at " << (root / f) << ": install libonnx-testdata (run scripts/install-deps.sh)";

  const fs::path work_dir = fs::temp_directory_path() / ("kiln_conformance_" + std::to_string(::getpid()));
  fs::create_directories(work_dir);

  std::map<std::string, Counts> per_op;
  Counts totals;
  std::vector<std::pair<std::string, std::string>> unsupported, failures, frozen;
  std::set<std::string> seen;
  for (const auto& folder : folders) {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(root / folder))
      if (e.is_directory()) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const fs::path& dir : dirs) {
      std::optional<TestCase> tc = load_case(folder, dir);
      if (!tc) continue;
      seen.insert(tc->key);
      Outcome a = run_case(*tc, true, work_dir);
      const Outcome b = run_case(*tc, false, work_dir);
      if (a.kind != b.kind) {
        a = {Kind::Fail, std::string("optimised: ") + kind_name(a.kind) + " (" + a.message + "), unoptimised: " +
                             kind_name(b.kind) + " (" + b.message + ")"};
      }
      const std::string group = tc->op_types.size() == 1 ? *tc->op_types.begin() : "multi-op";
      per_op[group].add(a.kind);
      totals.add(a.kind);
      if (!tc->frozen.empty()) {
        std::string names;
        for (const auto& n : tc->frozen) names += (names.empty() ? "" : ", ") + n;
        frozen.emplace_back(tc->key, names);
      }
      if (a.kind == Kind::Unsupported) unsupported.emplace_back(tc->key, a.message);
      if (a.kind == Kind::Fail) failures.emplace_back(tc->key, a.message);
      const bool listed = kExpectedUnsupported.count(tc->key) != 0;
      if (a.kind == Kind::Unsupported && !listed)
        ADD_FAILURE() << tc->key << " is unsupported but not listed in kExpectedUnsupported: " << a.message;
      if (a.kind != Kind::Unsupported && listed)
        ADD_FAILURE() << tc->key << " is listed in kExpectedUnsupported but now " << kind_name(a.kind)
                      << "es; update the list";
      if (a.kind == Kind::Fail) ADD_FAILURE() << tc->key << " failed: " << a.message;
    }
  }
  for (const auto& [key, reason] : kExpectedUnsupported)
    if (!seen.count(key)) ADD_FAILURE() << key << " is listed in kExpectedUnsupported but is not a claimed test";
  std::error_code ec;
  fs::remove_all(work_dir, ec);

  std::ostringstream t;
  t << "\nONNX conformance (libonnx-testdata, reference backend; optimised and unoptimised agree)\n";
  t << std::left << std::setw(22) << "op" << std::right << std::setw(8) << "passed" << std::setw(13) << "unsupported"
    << std::setw(8) << "failed" << std::setw(7) << "total" << "\n";
  auto row = [&](const std::string& name, const Counts& c) {
    t << std::left << std::setw(22) << name << std::right << std::setw(8) << c.passed << std::setw(13)
      << c.unsupported << std::setw(8) << c.failed << std::setw(7) << c.total() << "\n";
  };
  for (const auto& [op, c] : per_op)
    if (op != "multi-op") row(op, c);
  if (per_op.count("multi-op")) row("multi-op", per_op["multi-op"]);
  row("TOTAL", totals);
  t << "(" << g_checked.data_sets << " data-set runs, " << g_checked.values << " output values compared)\n";
  t << "\nUnsupported (" << unsupported.size() << "):\n";
  for (const auto& [key, msg] : unsupported) t << "  " << key << ": " << msg << "\n";
  if (!failures.empty()) {
    t << "\nFailed (" << failures.size() << "):\n";
    for (const auto& [key, msg] : failures) t << "  " << key << ": " << msg << "\n";
  }
  t << "\nInputs frozen to the data set's values (parameters Kiln reads at conversion time):\n";
  for (const auto& [key, names] : frozen) t << "  " << key << ": " << names << "\n";
  std::cout << t.str() << std::flush;
  EXPECT_GT(totals.passed, 0);
}

}  // namespace
}  // namespace kiln::test
