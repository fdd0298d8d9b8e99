// Error reporting: unsupported ops (all listed at once), unsupported attributes
// and data types, and malformed files, which must give kiln::Error naming the
// file, never a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>

#include "tests/common/test_util.hpp"
#include "tests/converter/onnx_builder.hpp"

namespace kiln::test {
namespace {

// Imports `path` and returns the error (fails the test if none is thrown).
Error import_error(const std::string& path, const ConvertOptions& options = {}) {
  try {
    import_onnx(path, options);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "importing " << path << " should have failed";
  return Error(ErrorCode::Internal, "no error");
}

::testing::AssertionResult mentions(const Error& e, const std::vector<std::string>& parts) {
  const std::string msg = e.what();
  for (const auto& p : parts)
    if (msg.find(p) == std::string::npos) return ::testing::AssertionFailure() << "'" << msg << "' lacks '" << p << "'";
  return ::testing::AssertionSuccess();
}

// KILN_FUZZ_ITERATIONS overrides the number of variants (for longer runs
// under the sanitizers: cmake -DKILN_SANITIZE=ON).
int fuzz_iterations(int fallback) {
  const char* env = std::getenv("KILN_FUZZ_ITERATIONS");
  return env ? std::max(1, std::atoi(env)) : fallback;
}

OnnxBuilder relu_model() {
  OnnxBuilder b(13);
  b.input("x", {1, 2, 4, 4}).output("y");
  b.node("Relu", {"x"}, {"y"});
  return b;
}

TEST(ConverterErrors, UnsupportedOpsAreListedWithTheirFirstNode) {
  OnnxBuilder b(13);
  b.input("x", {1, 3, 8, 8}).output("z");
  b.node("Relu", {"x"}, {"a"}, "relu_ok");
  b.node("LSTM", {"a"}, {"b"}, "lstm_0");
  b.node("Resize", {"b"}, {"c"}, "up1");
  b.node("LSTM", {"c"}, {"d"}, "lstm_1");
  b.node("Erf", {"d"}, {"e"});
  auto& custom = b.node("FusedConv", {"e"}, {"z"}, "fused");
  custom.set_domain("com.microsoft");
  const std::string path = b.save();
  const Error e = import_error(path);
  EXPECT_EQ(e.code(), ErrorCode::Unsupported);
  EXPECT_TRUE(mentions(e, {path, "unsupported operators: LSTM (first used by node 'lstm_0'), Resize (first used by "
                                 "node 'up1'), Erf (first used by node 'Erf_4'), com.microsoft.FusedConv (first used "
                                 "by node 'fused')"}));
  EXPECT_EQ(std::string(e.what()).find("lstm_1"), std::string::npos) << "only the first node per op type";
}

struct AttrCase {
  std::string name;
  std::function<void(OnnxBuilder&)> build;
  std::vector<std::string> expected;  // parts of the message
};

TEST(ConverterErrors, UnsupportedAttributesNameNodeOpAndAttribute) {
  std::vector<AttrCase> cases = {
      {"reflect pad",
       [](OnnxBuilder& b) {
         b.input("x", {1, 1, 4, 4}).output("y");
         b.initializer_i64("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
         attr_s(b.node("Pad", {"x", "pads"}, {"y"}, "pad1"), "mode", "reflect");
       },
       {"node 'pad1' (Pad)", "mode = 'reflect'"}},
      {"training batchnorm",
       [](OnnxBuilder& b) {
         b.input("x", {1, 2, 2, 2}).output("y");
         for (const char* p : {"s", "b", "m", "v"}) b.initializer(p, {2}, {1, 1});
         attr_i(b.node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}, "bn1"), "training_mode", 1);
       },
       {"node 'bn1' (BatchNormalization)", "training_mode"}},
      {"unknown auto_pad",
       [](OnnxBuilder& b) {
         b.input("x", {1, 1, 4, 4}).output("y");
         b.initializer("w", {1, 1, 3, 3}, std::vector<float>(9, 1));
         attr_s(b.node("Conv", {"x", "w"}, {"y"}, "conv1"), "auto_pad", "SAME_MIDDLE");
       },
       {"node 'conv1' (Conv)", "auto_pad", "SAME_MIDDLE"}},
      {"maxpool indices",
       [](OnnxBuilder& b) {
         b.input("x", {1, 1, 4, 4}).output("y").output("idx", onnx::TensorProto::INT64);
         attr_ints(b.node("MaxPool", {"x"}, {"y", "idx"}, "pool1"), "kernel_shape", {2, 2});
       },
       {"node 'pool1' (MaxPool)", "Indices"}},
      {"dropout mask",
       [](OnnxBuilder& b) {
         b.input("x", {3}).output("y").output("m", onnx::TensorProto::BOOL);
         b.node("Dropout", {"x"}, {"y", "m"}, "drop1");
       },
       {"node 'drop1' (Dropout)", "mask"}},
      {"4 spatial dims",
       [](OnnxBuilder& b) {
         b.input("x", {1, 1, 2, 2, 2, 2}).output("y");
         b.initializer("w", {1, 1, 1, 1, 1, 1}, {1});
         b.node("Conv", {"x", "w"}, {"y"}, "conv4d");
       },
       {"node 'conv4d' (Conv)", "4 spatial dimensions"}},
      {"int64 input",
       [](OnnxBuilder& b) {
         b.input("ids", {4}, onnx::TensorProto::INT64).output("y");
         b.node("Identity", {"ids"}, {"y"});
       },
       {"graph input 'ids'", "INT64"}},
      {"symbolic spatial dim",
       [](OnnxBuilder& b) {
         b.input("x", {1, 3, -1, 8}).output("y");
         b.node("Relu", {"x"}, {"y"});
       },
       {"graph input 'x'", "symbolic dimension 'D2' at axis 2"}},
      {"run-time Clip bound",
       [](OnnxBuilder& b) {
         b.input("x", {3}).input("lo", {}).output("y");
         b.node("Clip", {"x", "lo"}, {"y"}, "clip1");
       },
       {"node 'clip1' (Clip)", "'min'", "run time"}},
      {"host-only op on a run-time tensor",
       [](OnnxBuilder& b) {
         b.input("x", {4}).output("y");
         b.initializer_i64("idx", {2}, {0, 1});
         b.node("Gather", {"x", "idx"}, {"y"}, "gather1");
       },
       {"node 'gather1' (Gather)", "run-time tensor 'x'"}},
      {"int64 data into a float op",
       [](OnnxBuilder& b) {
         b.input("x", {2}).output("y");
         b.initializer_i64("k", {2}, {1, 2});
         b.node("Relu", {"k"}, {"r"});
         b.node("Add", {"x", "r"}, {"y"}, "add1");
       },
       {"(Relu)", "INT64"}},
      {"external data",
       [](OnnxBuilder& b) {
         b.input("x", {2}).output("y");
         b.initializer("w", {2}, {});
         auto* t = b.graph().mutable_initializer(0);
         t->set_data_location(onnx::TensorProto::EXTERNAL);
         auto* kv = t->add_external_data();
         kv->set_key("location");
         kv->set_value("weights.bin");
         b.node("Add", {"x", "w"}, {"y"});
       },
       {"initializer 'w'", "external"}},
  };
  for (auto& c : cases) {
    OnnxBuilder b(13);
    c.build(b);
    const std::string path = b.save();
    const Error e = import_error(path);
    EXPECT_EQ(e.code(), ErrorCode::Unsupported) << c.name << ": " << e.what();
    EXPECT_TRUE(mentions(e, c.expected)) << c.name;
    EXPECT_TRUE(mentions(e, {path})) << c.name;
  }
}

TEST(ConverterErrors, MalformedContentIsInvalidModel) {
  std::vector<std::pair<std::string, std::function<void(OnnxBuilder&)>>> cases = {
      {"reads tensor 'ghost'",
       [](OnnxBuilder& b) {
         b.input("x", {2}).output("y");
         b.node("Add", {"x", "ghost"}, {"y"}, "add1");
       }},
      {"is not produced",
       [](OnnxBuilder& b) {
         b.input("x", {2}).output("nowhere");
         b.node("Relu", {"x"}, {"y"});
       }},
      {"input 1 is missing",
       [](OnnxBuilder& b) {
         b.input("x", {1, 1, 3, 3}).output("y");
         b.node("Conv", {"x"}, {"y"}, "conv1");
       }},
      {"bytes of raw_data",
       [](OnnxBuilder& b) {
         b.input("x", {4}).output("y");
         onnx::TensorProto t;
         t.set_name("w");
         t.set_data_type(onnx::TensorProto::FLOAT);
         t.add_dims(4);
         t.set_raw_data("abc");
         *b.graph().add_initializer() = t;
         b.node("Add", {"x", "w"}, {"y"});
       }},
      {"holds 1 values",
       [](OnnxBuilder& b) {
         b.input("x", {4}).output("y");
         b.initializer("w", {4}, {1});
         b.node("Add", {"x", "w"}, {"y"});
       }},
      {"already defined",
       [](OnnxBuilder& b) {
         b.input("x", {4}).output("y");
         b.node("Relu", {"x"}, {"y"});
         b.node("Sigmoid", {"x"}, {"y"});
       }},
      {"cannot reshape",
       [](OnnxBuilder& b) {
         b.input("x", {4}).output("y");
         b.initializer_i64("s", {1}, {5});
         b.node("Reshape", {"x", "s"}, {"y"});
       }},
      {"out of range",
       [](OnnxBuilder& b) {
         b.input("x", {4}).output("y");
         b.initializer_i64("i", {1}, {7});
         b.node("Shape", {"x"}, {"s"});
         b.node("Gather", {"s", "i"}, {"g"});
         b.node("Reshape", {"x", "g"}, {"y"});
       }},
  };
  for (auto& [expected, build] : cases) {
    OnnxBuilder b(13);
    build(b);
    const std::string path = b.save();
    const Error e = import_error(path);
    EXPECT_EQ(e.code(), ErrorCode::InvalidModel) << expected << ": " << e.what();
    EXPECT_TRUE(mentions(e, {path, expected}));
  }
}

// A tensor whose claimed size is not matched by bytes in the file, or is
// implausible: an error naming it, before anything of that size exists.
TEST(ConverterErrors, ClaimedSizesNeedTheirBytesAndStayBounded) {
  auto initializer = [](OnnxBuilder& b, std::vector<int64_t> dims, const std::string& raw, int typed_values) {
    onnx::TensorProto t;
    t.set_name("w");
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t.add_dims(d);
    if (!raw.empty()) t.set_raw_data(raw);
    for (int i = 0; i < typed_values; ++i) t.add_float_data(1.0f);
    *b.graph().add_initializer() = t;
  };
  const std::vector<std::pair<std::string, std::function<void(OnnxBuilder&)>>> cases = {
      {"needs 2400000000",  // 600M floats claimed, 16 bytes present
       [&](OnnxBuilder& b) {
         b.input("x", {600000000}).output("y");
         initializer(b, {600000000}, std::string(16, '\0'), 0);
         b.node("Add", {"x", "w"}, {"y"});
       }},
      {"holds 1 values but its shape [34359738368]",
       [&](OnnxBuilder& b) {
         b.input("x", {int64_t{1} << 35}).output("y");
         initializer(b, {int64_t{1} << 35}, "", 1);
         b.node("Add", {"x", "w"}, {"y"});
       }},
      {"implausibly large",  // 2^32 * 2^32 wraps to 0 in int64
       [&](OnnxBuilder& b) {
         b.input("x", {1}).output("y");
         initializer(b, {int64_t{1} << 32, int64_t{1} << 32}, "", 0);
         b.node("Add", {"x", "w"}, {"y"});
       }},
      {"negative dimension",
       [&](OnnxBuilder& b) {
         b.input("x", {3}).output("y");
         initializer(b, {-3}, "", 0);
         b.node("Add", {"x", "w"}, {"y"});
       }},
      {"graph input 'x'",
       [](OnnxBuilder& b) {
         b.input("x", {1 << 20, 1 << 20, 1 << 20}).output("y");
         b.node("Relu", {"x"}, {"y"});
       }},
  };
  for (const auto& [expected, build] : cases) {
    OnnxBuilder b(13);
    build(b);
    const std::string path = b.save();
    const Error e = import_error(path);
    EXPECT_EQ(e.code(), ErrorCode::InvalidModel) << expected << ": " << e.what();
    EXPECT_TRUE(mentions(e, {path, expected}));
  }
}

TEST(ConverterErrors, ASmallConstantPaddedHugeIsNotMaterialisedAtConversion) {
  // A 4-byte constant padded to 2^23 + 1 floats: it stays a Pad node (run
  // at run time) instead of a 32 MiB constant made from a few bytes of model.
  constexpr int64_t kPad = int64_t{1} << 23;
  OnnxBuilder b(13);
  b.input("x", {kPad + 1}).output("y");
  b.initializer("c", {1}, {2.0f});
  b.initializer_i64("pads", {2}, {0, kPad});
  b.node("Pad", {"c", "pads"}, {"p"}, "pad");
  b.node("Add", {"x", "p"}, {"y"});
  const Graph g = b.import();
  bool has_pad = false;
  for (const Node& n : g.nodes) has_pad = has_pad || n.op == OpType::Pad;
  EXPECT_TRUE(has_pad);
  for (const TensorInfo& t : g.tensors)
    EXPECT_LT(t.constant ? t.constant->size_bytes() : 0, size_t{1} << 20) << t.name;
}

TEST(ConverterErrors, BadFiles) {
  const std::string valid = relu_model().model().SerializeAsString();
  const std::vector<std::pair<std::string, std::string>> files = {
      {"empty.onnx", ""},
      {"text.onnx", "this is not a protobuf \x01\x02\x03"},
      {"truncated.onnx", valid.substr(0, valid.size() / 2)},
      {"random.onnx", [] {
         std::mt19937 rng(42);
         std::string s(4096, '\0');
         for (char& c : s) c = static_cast<char>(rng());
         return s;
       }()},
  };
  for (const auto& [name, bytes] : files) {
    const std::string path = write_temp_file(name, bytes);
    const Error e = import_error(path);
    EXPECT_EQ(e.code(), ErrorCode::InvalidModel) << name << ": " << e.what();
    EXPECT_TRUE(mentions(e, {path})) << name;
  }
  const Error missing = import_error(temp_path("no_such_model.onnx"));
  EXPECT_EQ(missing.code(), ErrorCode::Io);
  EXPECT_TRUE(mentions(missing, {"no_such_model.onnx"}));
}

// Random byte flips and truncations of a small real-looking model: every
// outcome is a graph or a kiln::Error, never a crash or another exception.
TEST(ConverterErrors, CorruptedModelsNeverCrash) {
  OnnxBuilder b(13);
  b.input("x", {1, 2, 4, 4}).output("y");
  b.initializer("w", {2, 2, 3, 3}, std::vector<float>(36, 0.5f)).initializer("bias", {2}, {0, 1});
  auto& conv = b.node("Conv", {"x", "w", "bias"}, {"c"});
  attr_ints(conv, "pads", {1, 1, 1, 1});
  b.node("Shape", {"c"}, {"s"});
  b.constant_i64("i", {1}, {0});
  b.node("Gather", {"s", "i"}, {"n"});
  b.constant_i64("m", {1}, {-1});
  attr_i(b.node("Concat", {"n", "m"}, {"t"}), "axis", 0);
  b.node("Reshape", {"c", "t"}, {"r"});
  b.node("Softmax", {"r"}, {"y"});
  const std::string valid = b.model().SerializeAsString();
  ASSERT_NO_THROW(import_onnx(write_temp_file("fuzz_base.onnx", valid), {}));

  std::mt19937 rng(7);
  int imported = 0, errors = 0;
  for (int i = 0; i < fuzz_iterations(400); ++i) {
    std::string bytes = valid;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (i % 5 == 0) bytes.resize(rng() % bytes.size());
    const std::string path = write_temp_file("fuzz.onnx", bytes);
    try {
      import_onnx(path, {});
      ++imported;
    } catch (const Error& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "variant " << i << ": non-kiln exception " << e.what();
    }
  }
  std::printf("[ figures  ] corrupted models: %d imported, %d rejected with kiln::Error\n", imported, errors);
  EXPECT_GT(errors, 0);
}


// Structured corruptions of a model exercising many importer paths: random
// dims, data types, attribute values, op types and input names. Every outcome
// is a graph or a kiln::Error.
TEST(ConverterErrors, StructuredCorruptionsNeverCrash) {
  OnnxBuilder b(13);
  b.input("x", {1, 2, 4, 4}).output("y");
  b.initializer("w", {2, 2, 3, 3}, std::vector<float>(36, 0.5f)).initializer("bias", {2}, {0, 1});
  auto& conv = b.node("Conv", {"x", "w", "bias"}, {"c"});
  attr_ints(conv, "pads", {1, 1, 1, 1});
  attr_ints(conv, "strides", {1, 1});
  b.node("Shape", {"c"}, {"s"});
  b.constant_i64("i", {1}, {0});
  attr_i(b.node("Gather", {"s", "i"}, {"n"}), "axis", 0);
  b.constant_i64("m", {1}, {-1});
  attr_i(b.node("Concat", {"n", "m"}, {"t"}), "axis", 0);
  b.node("Reshape", {"c", "t"}, {"r"});
  b.initializer_i64("starts", {1}, {1}).initializer_i64("ends", {1}, {INT64_MAX}).initializer_i64("axes", {1}, {1});
  b.node("Slice", {"r", "starts", "ends", "axes"}, {"sl"});
  attr_i(b.node("Softmax", {"sl"}, {"y"}), "axis", -1);
  const onnx::ModelProto base = b.model();

  const std::vector<std::string> ops = {"Conv", "Relu", "Add", "Reshape", "Slice", "Concat", "Gather", "Shape",
                                        "Transpose", "Squeeze", "Unsqueeze", "Pad", "Split", "MaxPool", "Gemm",
                                        "MatMul", "Softmax", "Expand", "Range", "ConstantOfShape", "Cast", "Where"};
  const std::vector<int64_t> values = {0, 1, -1, 2, 3, -7, 1000000, INT64_MAX, INT64_MIN, int64_t{1} << 40};
  std::mt19937 rng(1234);
  auto pick = [&](size_t n) { return static_cast<int>(rng() % n); };
  int imported = 0, errors = 0;
  for (int i = 0; i < fuzz_iterations(1500); ++i) {
    onnx::ModelProto m = base;
    auto* g = m.mutable_graph();
    const int mutations = 1 + pick(3);
    for (int k = 0; k < mutations; ++k) {
      switch (pick(7)) {
        case 0: {  // an initializer dim
          auto* t = g->mutable_initializer(pick(static_cast<size_t>(g->initializer_size())));
          if (t->dims_size() > 0) t->set_dims(pick(static_cast<size_t>(t->dims_size())), values[pick(values.size())]);
          break;
        }
        case 1: {  // an initializer data type
          auto* t = g->mutable_initializer(pick(static_cast<size_t>(g->initializer_size())));
          t->set_data_type(pick(17));
          break;
        }
        case 2: {  // an attribute value
          auto* n = g->mutable_node(pick(static_cast<size_t>(g->node_size())));
          for (auto& a : *n->mutable_attribute()) {
            if (a.type() == onnx::AttributeProto::INT) a.set_i(values[pick(values.size())]);
            if (a.type() == onnx::AttributeProto::INTS && a.ints_size() > 0)
              a.set_ints(pick(static_cast<size_t>(a.ints_size())), values[pick(values.size())]);
          }
          break;
        }
        case 3:  // an op type
          g->mutable_node(pick(static_cast<size_t>(g->node_size())))->set_op_type(ops[pick(ops.size())]);
          break;
        case 4: {  // an input name, to another known name
          auto* n = g->mutable_node(pick(static_cast<size_t>(g->node_size())));
          const std::vector<std::string> names = {"x", "w", "bias", "c", "s", "i", "n", "m", "t", "r", "starts", "", "y"};
          if (n->input_size() > 0) n->set_input(pick(static_cast<size_t>(n->input_size())), names[pick(names.size())]);
          break;
        }
        case 5: {  // a graph input dim
          auto* shape = g->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
          shape->mutable_dim(pick(4))->set_dim_value(values[pick(values.size())]);
          break;
        }
        default: {  // a Constant's value
          for (auto& n : *g->mutable_node())
            if (n.op_type() == "Constant" && pick(2) == 0) {
              auto* t = n.mutable_attribute(0)->mutable_t();
              t->set_int64_data(0, values[pick(values.size())]);
            }
          break;
        }
      }
    }
    const std::string path = write_temp_file("structured.onnx", m.SerializeAsString());
    try {
      const Graph graph = import_onnx(path, {});
      ++imported;
      // What imports must also run.
      std::vector<Tensor> inputs;
      for (TensorId t : graph.inputs) inputs.emplace_back(graph.shape(t));
      if (element_count(graph.shape(graph.inputs.at(0))) <= (1 << 16)) run_model(graph, inputs);
    } catch (const Error&) {
      ++errors;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "variant " << i << ": non-kiln exception " << e.what();
    }
  }
  std::printf("[ figures  ] structured corruptions: %d imported, %d rejected with kiln::Error\n", imported, errors);
  EXPECT_GT(errors, 0);
  EXPECT_GT(imported, 0);
}

}  // namespace
}  // namespace kiln::test
