// The .kiln loader's checks: whatever the bytes, parse_graph/load_graph either
// returns a valid graph or throws kiln::Error naming the problem; it never
// crashes (run this binary under -DKILN_SANITIZE=ON too).
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>

#include "engine/format/kiln_file.hpp"
#include "flatbuffers/flatbuffers.h"
#include "gmock/gmock.h"
#include "kiln/kiln.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/kiln_file_edit.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Parses `bytes` from an exactly-sized heap copy (so that AddressSanitizer sees
// any read past the end) and returns the error, or nullopt if it loaded.
struct Outcome {
  bool loaded = false;
  ErrorCode code = ErrorCode::Internal;
  std::string message;
};

Outcome try_parse(const std::vector<uint8_t>& bytes, const std::string& source = "test.kiln") {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[std::max<size_t>(bytes.size(), 1)]);
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  Outcome o;
  try {
    Graph g = parse_graph(nullptr, {copy.get(), bytes.size()}, source);
    o.loaded = true;
  } catch (const Error& e) {
    o.code = e.code();
    o.message = e.what();
  }
  return o;
}

// The message of the kiln::Error that parsing `bytes` throws (fails the test
// if it loads).
std::string parse_error(const std::vector<uint8_t>& bytes, ErrorCode expected = ErrorCode::InvalidModel) {
  const Outcome o = try_parse(bytes);
  EXPECT_FALSE(o.loaded) << "the file loaded but should have been rejected";
  EXPECT_EQ(o.code, expected) << error_code_name(o.code) << ": " << o.message;
  return o.message;
}

std::vector<uint8_t> valid_file() { return serialize_graph(all_ops_graph()); }

// Re-serialises the Model table after `edit`, keeping the weights region, and
// seals it with fresh checksums so that the edit reaches the structure checks.
std::vector<uint8_t> rewrite(const std::vector<uint8_t>& file, const std::function<void(fb::ModelT&)>& edit) {
  return rewrite_kiln(file, edit);
}

// Index of the first node with op `op` in the test graph.
size_t node_index(const Graph& g, OpType op) {
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (g.nodes[i].op == op) return i;
  throw std::runtime_error("no such node");
}

TEST(Loader, ValidFileLoadsAndTheRewriteHelperIsFaithful) {
  const std::vector<uint8_t> file = valid_file();
  EXPECT_TRUE(try_parse(file).loaded);
  const std::vector<uint8_t> same = rewrite(file, [](fb::ModelT&) {});
  const Outcome o = try_parse(same);
  EXPECT_TRUE(o.loaded) << o.message;
  EXPECT_TRUE(graphs_equal(parse_graph(nullptr, file, "a"), parse_graph(nullptr, same, "b")));
}

TEST(Loader, EmptyFile) {
  EXPECT_THAT(parse_error({}), HasSubstr("empty"));
  TempPath path("kiln_empty");
  write_file(path.str(), {});
  try {
    load_graph(path.str());
    ADD_FAILURE() << "an empty file loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidModel);
    EXPECT_THAT(e.what(), AllOf(HasSubstr("empty"), HasSubstr(path.str())));
  }
}

TEST(Loader, MissingFileAndDirectoryAreIoErrors) {
  try {
    load_graph("/nonexistent/dir/model.kiln");
    ADD_FAILURE() << "loaded a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
    EXPECT_THAT(e.what(), AllOf(HasSubstr("/nonexistent/dir/model.kiln"), HasSubstr("cannot open")));
  }
  TempPath dir("kiln_dir");
  std::filesystem::create_directories(dir.str());
  try {
    load_graph(dir.str());
    ADD_FAILURE() << "loaded a directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
    EXPECT_THAT(e.what(), HasSubstr("not a regular file"));
  }
}

TEST(Loader, WrongIdentifier) {
  std::vector<uint8_t> file = valid_file();
  ASSERT_EQ(std::memcmp(file.data() + 8, "KILN", 4), 0);
  std::memcpy(file.data() + 8, "ONNX", 4);
  EXPECT_THAT(parse_error(file), AllOf(HasSubstr("not a .kiln file"), HasSubstr("identifier")));
  // A file shorter than the header.
  EXPECT_THAT(parse_error({'K', 'I', 'L', 'N'}), HasSubstr("identifier"));
}

TEST(Loader, RandomBytesAreRejected) {
  for (uint32_t seed = 0; seed < 2000; ++seed) {
    std::mt19937 r(seed);
    const size_t n = 1 + r() % 3000;
    std::vector<uint8_t> bytes(n);
    for (auto& b : bytes) b = static_cast<uint8_t>(r());
    const Outcome o = try_parse(bytes);
    ASSERT_FALSE(o.loaded) << "seed " << seed;
    ASSERT_EQ(o.code, ErrorCode::InvalidModel) << o.message;
  }
}

TEST(Loader, RandomBytesBehindAValidHeaderNeverCrash) {
  // Plausible size prefix and the right identifier, random body: exercises the
  // FlatBuffers verifier rather than the identifier check.
  int rejected = 0;
  for (uint32_t seed = 0; seed < 2000; ++seed) {
    std::mt19937 r(seed);
    const size_t n = 16 + r() % 2000;
    std::vector<uint8_t> bytes(n);
    for (auto& b : bytes) b = static_cast<uint8_t>(r());
    const uint32_t prefix = static_cast<uint32_t>(n - 4 - r() % 8);
    std::memcpy(bytes.data(), &prefix, 4);
    const uint32_t root = 8 + r() % 64;
    std::memcpy(bytes.data() + 4, &root, 4);
    std::memcpy(bytes.data() + 8, "KILN", 4);
    const Outcome o = try_parse(bytes);
    if (!o.loaded) {
      ++rejected;
      EXPECT_EQ(o.code, ErrorCode::InvalidModel) << o.message;
    }
  }
  EXPECT_GT(rejected, 1900);
}

TEST(Loader, EveryTruncationIsRejected) {
  const std::vector<uint8_t> file = valid_file();
  ASSERT_GT(file.size(), 1000u);
  for (size_t len = 0; len < file.size(); ++len) {
    const std::vector<uint8_t> part(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(len));
    const Outcome o = try_parse(part);
    ASSERT_FALSE(o.loaded) << "a file truncated to " << len << " of " << file.size() << " bytes loaded";
    ASSERT_EQ(o.code, ErrorCode::InvalidModel) << o.message;
    ASSERT_THAT(o.message, AnyOf(HasSubstr("empty"), HasSubstr("truncated"), HasSubstr("identifier"),
                                 HasSubstr("verification")))
        << "length " << len;
  }
}

TEST(Loader, TruncatedFileOnDiskIsRejected) {
  const std::vector<uint8_t> file = valid_file();
  TempPath path("kiln_truncated");
  write_file(path.str(), std::vector<uint8_t>(file.begin(), file.end() - 64));
  try {
    load_graph(path.str());
    ADD_FAILURE() << "a truncated file loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidModel);
    EXPECT_THAT(e.what(), AllOf(HasSubstr("truncated"), HasSubstr("weights")));
  }
}

// Anything that loads after a corruption must also compile and run (or be
// refused with kiln::Error), never crash. Read with the checksums off, as a
// user who trusts the file does: the structure checks alone must keep the
// loader and the backends safe (checksum_test.cpp has the checksums' side).
void run_if_loaded(const std::vector<uint8_t>& bytes, int& loaded, int& rejected) {
  Graph g;
  try {
    g = parse_graph(nullptr, bytes, "corrupt.kiln", LoadOptions{.verify_checksums = false});
  } catch (const Error&) {
    ++rejected;
    return;
  }
  ++loaded;
  try {
    Model model(std::make_shared<Graph>(g));
    Session session(model, reference_options());
    std::vector<Tensor> inputs;
    for (const auto& d : session.inputs()) inputs.push_back(random_tensor(d.shape, 7));
    const auto outputs = session.run(inputs);
    EXPECT_EQ(outputs.size(), session.outputs().size());
  } catch (const Error&) {
  }
}

TEST(Loader, SingleByteCorruptionsLoadOrThrow) {
  const std::vector<uint8_t> file = valid_file();
  uint32_t prefix = 0;
  std::memcpy(&prefix, file.data(), 4);
  const size_t graph_end = 4 + prefix;
  std::mt19937 rng(2024);
  int loaded = 0, rejected = 0;
  std::vector<uint8_t> bytes = file;
  // Every byte of the graph section, each set to three different values.
  for (size_t pos = 0; pos < graph_end; ++pos) {
    const uint8_t original = bytes[pos];
    for (uint8_t value : {static_cast<uint8_t>(original ^ 0x01), static_cast<uint8_t>(original ^ 0x80),
                          static_cast<uint8_t>(rng() | 1)}) {
      if (value == original) continue;
      bytes[pos] = value;
      run_if_loaded(bytes, loaded, rejected);
    }
    bytes[pos] = original;
  }
  // Random positions anywhere, random values.
  for (int i = 0; i < 3000; ++i) {
    const size_t pos = rng() % bytes.size();
    const uint8_t original = bytes[pos];
    bytes[pos] = static_cast<uint8_t>(rng());
    run_if_loaded(bytes, loaded, rejected);
    bytes[pos] = original;
  }
  // Both outcomes occur: e.g. the identifier bytes are refused, weight bytes load.
  EXPECT_GT(rejected, 100);
  EXPECT_GT(loaded, 100);
  RecordProperty("loaded", loaded);
  RecordProperty("rejected", rejected);
}

TEST(Loader, MultiByteCorruptionsLoadOrThrow) {
  const std::vector<uint8_t> file = valid_file();
  uint32_t prefix = 0;
  std::memcpy(&prefix, file.data(), 4);
  int loaded = 0, rejected = 0;
  // KILN_LOADER_FUZZ_SEEDS=N runs a longer campaign (e.g. under the sanitizers).
  uint32_t seeds = 1500;
  if (const char* env = std::getenv("KILN_LOADER_FUZZ_SEEDS")) seeds = static_cast<uint32_t>(std::strtoul(env, nullptr, 10));
  for (uint32_t seed = 0; seed < seeds; ++seed) {
    std::mt19937 r(seed);
    std::vector<uint8_t> bytes = file;
    const int changes = 2 + static_cast<int>(r() % 8);
    for (int c = 0; c < changes; ++c) bytes[12 + r() % (prefix - 8)] = static_cast<uint8_t>(r());
    run_if_loaded(bytes, loaded, rejected);
  }
  EXPECT_GT(rejected, 0);
  RecordProperty("loaded", loaded);
  RecordProperty("rejected", rejected);
}

// ---- Semantic checks, one per problem --------------------------------------

std::string graph_error(const Graph& g, ErrorCode expected = ErrorCode::InvalidModel) {
  return parse_error(serialize_graph(g), expected);
}

TEST(Loader, OutOfRangeTensorIndexInANode) {
  Graph g = all_ops_graph();
  g.nodes[3].inputs[0] = 999;
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("node 3"), HasSubstr("tensor index 999"), HasSubstr("test.kiln")));
  g = all_ops_graph();
  g.nodes[2].outputs[0] = -1;
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("node 2"), HasSubstr("tensor index -1")));
}

TEST(Loader, OutOfRangeTensorIndexInTheInputAndOutputLists) {
  Graph g = all_ops_graph();
  g.inputs[0] = static_cast<TensorId>(g.tensors.size());
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("input list"), HasSubstr("tensor index")));
  g = all_ops_graph();
  g.outputs[1] = 100000;
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("output list"), HasSubstr("tensor index 100000")));
}

TEST(Loader, NodeReadingATensorProducedLater) {
  Graph g = all_ops_graph();
  std::swap(g.nodes[2], g.nodes[3]);
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("before any node produces it"), HasSubstr("topological order")));
}

TEST(Loader, CycleIsRejected) {
  // a = Relu(b); b = Relu(a)
  Graph g;
  const TensorId x = g.add_tensor("x", {1, 4});
  const TensorId a = g.add_tensor("a", {1, 4});
  const TensorId b = g.add_tensor("b", {1, 4});
  const TensorId y = g.add_tensor("y", {1, 4});
  g.inputs = {x};
  g.nodes.push_back(Node{"n0", OpType::Relu, {b}, {a}, {}});
  g.nodes.push_back(Node{"n1", OpType::Relu, {a}, {b}, {}});
  g.nodes.push_back(Node{"n2", OpType::Add, {x, b}, {y}, make_attrs(fb::BinaryAttrsT{})});
  g.outputs = {y};
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("'n0'"), HasSubstr("reads tensor 'b'"), HasSubstr("cycle")));
}

TEST(Loader, TensorProducedTwice) {
  Graph g = all_ops_graph();
  g.nodes[4].outputs[0] = g.nodes[3].outputs[0];
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("node 4"), HasSubstr("already")));
  // Writing a constant or a graph input is the same mistake.
  g = all_ops_graph();
  g.nodes[0].outputs[0] = g.inputs[0];
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("writes tensor 'x'"), HasSubstr("graph input")));
}

TEST(Loader, ConstantSizeNotMatchingItsShape) {
  Graph g = all_ops_graph();
  const TensorId w = g.nodes[0].inputs[1];
  g.tensor(w).constant = ConstantData::from_floats(std::vector<float>(10, 0.5f));
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("constant 'w1'"), HasSubstr("holds 40 bytes"), HasSubstr("needs 432")));
  // The same through a corrupted ConstantRef size in the file.
  const auto bytes = rewrite(valid_file(), [&](fb::ModelT& m) {
    auto& t = m.tensors[static_cast<size_t>(w)];
    t->constant = std::make_unique<fb::ConstantRef>(t->constant->offset(), t->constant->size() - 4);
  });
  EXPECT_THAT(parse_error(bytes), AllOf(HasSubstr("'w1'"), HasSubstr("holds 428 bytes")));
}

TEST(Loader, ConstantOutsideTheWeightsRegionOrMisaligned) {
  const std::vector<uint8_t> file = valid_file();
  const TensorId w = all_ops_graph().nodes[0].inputs[1];
  auto bytes = rewrite(file, [&](fb::ModelT& m) {
    auto& t = m.tensors[static_cast<size_t>(w)];
    t->constant = std::make_unique<fb::ConstantRef>(m.weights_size, t->constant->size());
  });
  EXPECT_THAT(parse_error(bytes), AllOf(HasSubstr("'w1'"), HasSubstr("outside the weights region")));
  bytes = rewrite(file, [&](fb::ModelT& m) {
    auto& t = m.tensors[static_cast<size_t>(w)];
    t->constant = std::make_unique<fb::ConstantRef>(std::numeric_limits<uint64_t>::max() - 63, 64);
  });
  EXPECT_THAT(parse_error(bytes), HasSubstr("outside the weights region"));
  bytes = rewrite(file, [&](fb::ModelT& m) {
    auto& t = m.tensors[static_cast<size_t>(w)];
    t->constant = std::make_unique<fb::ConstantRef>(t->constant->offset() + 4, t->constant->size());
  });
  EXPECT_THAT(parse_error(bytes), AllOf(HasSubstr("'w1'"), HasSubstr("64-byte aligned")));
  // weights_size larger than the file holds.
  bytes = rewrite(file, [](fb::ModelT& m) { m.weights_size += 64; });
  EXPECT_THAT(parse_error(bytes), AllOf(HasSubstr("truncated"), HasSubstr("weights region")));
}

TEST(Loader, AttributeTableNotMatchingTheOp) {
  Graph g = all_ops_graph();
  const size_t relu = node_index(g, OpType::Relu);
  g.nodes[relu].attrs = make_attrs(conv_attrs({3, 3}));
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr(g.nodes[relu].name), HasSubstr("carries ConvAttrs attributes"),
                                    HasSubstr("expected NONE")));
  g = all_ops_graph();
  g.nodes[0].attrs = make_attrs(pool_attrs({3, 3}));
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("Conv"), HasSubstr("carries PoolAttrs"), HasSubstr("ConvAttrs")));
  g = all_ops_graph();
  g.nodes[0].attrs = fb::AttributesUnion{};
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("carries NONE"), HasSubstr("expected ConvAttrs")));
}

// A one-node model x -> op -> y written with the low-level builder, whose node
// names an attribute table type but stores no table (the verifier allows it).
std::vector<uint8_t> one_node_without_table(OpType op, fb::Attributes type) {
  flatbuffers::FlatBufferBuilder fbb;
  const std::vector<int64_t> shape{1, 3};
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors{
      fb::CreateTensor(fbb, fbb.CreateString("x"), DataType::Float32, fbb.CreateVector(shape)),
      fb::CreateTensor(fbb, fbb.CreateString("y"), DataType::Float32, fbb.CreateVector(shape))};
  const std::vector<int32_t> in{0}, out{1};
  std::vector<flatbuffers::Offset<fb::Node>> nodes{
      fb::CreateNode(fbb, fbb.CreateString("n"), op, fbb.CreateVector(in), fbb.CreateVector(out), type, 0)};
  const auto model = fb::CreateModel(fbb, kFormatMajor, kFormatMinor, 0, fbb.CreateVector(tensors),
                                     fbb.CreateVector(nodes), fbb.CreateVector(in), fbb.CreateVector(out));
  fbb.FinishSizePrefixed(model, fb::ModelIdentifier());
  std::vector<uint8_t> bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  bytes.resize(align64(bytes.size()), 0);
  append_checksum_footer(bytes);
  return bytes;
}

TEST(Loader, UnionTypeWithoutItsTable) {
  // Clip needs its ClipAttrs table: a type code alone is not enough.
  EXPECT_THAT(parse_error(one_node_without_table(OpType::Clip, fb::Attributes::ClipAttrs)),
              AllOf(HasSubstr("'n'"), HasSubstr("carries NONE attributes, expected ClipAttrs")));
  // Relu takes no attributes, so a dangling type code is harmless.
  const Outcome o = try_parse(one_node_without_table(OpType::Relu, fb::Attributes::ConvAttrs));
  EXPECT_TRUE(o.loaded) << o.message;
}

// A [long] vector whose elements sit 4 bytes off an 8-byte boundary; the
// FlatBuffers verifier checks only the alignment of the length field.
flatbuffers::Offset<flatbuffers::Vector<int64_t>> misaligned_longs(flatbuffers::FlatBufferBuilder& fbb,
                                                                   const std::vector<int64_t>& values) {
  if (fbb.GetSize() % 8 != 4) fbb.PushElement<uint32_t>(0);
  fbb.StartVector(values.size() * 2, sizeof(uint32_t));
  for (size_t i = values.size(); i-- > 0;) {  // back to front; little-endian words
    const auto v = static_cast<uint64_t>(values[i]);
    fbb.PushElement<uint32_t>(static_cast<uint32_t>(v >> 32));
    fbb.PushElement<uint32_t>(static_cast<uint32_t>(v));
  }
  return flatbuffers::Offset<flatbuffers::Vector<int64_t>>(fbb.EndVector(values.size()));
}

// x [1,3] -> Reshape([3,1]) -> y, with either x's shape or the Reshape target misaligned.
std::vector<uint8_t> reshape_model(bool misaligned_shape, bool misaligned_attribute) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.ForceDefaults(true);  // writes the 8-byte weights_size, so the buffer is 8-aligned
  const auto x_shape = misaligned_shape ? misaligned_longs(fbb, {1, 3}) : fbb.CreateVector(std::vector<int64_t>{1, 3});
  const auto y_shape = fbb.CreateVector(std::vector<int64_t>{3, 1});
  const auto target = misaligned_attribute ? misaligned_longs(fbb, {3, 1}) : fbb.CreateVector(std::vector<int64_t>{3, 1});
  const auto attrs = fb::CreateReshapeAttrs(fbb, target);
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors{
      fb::CreateTensor(fbb, fbb.CreateString("x"), DataType::Float32, x_shape),
      fb::CreateTensor(fbb, fbb.CreateString("y"), DataType::Float32, y_shape)};
  const std::vector<int32_t> in{0}, out{1};
  std::vector<flatbuffers::Offset<fb::Node>> nodes{fb::CreateNode(fbb, fbb.CreateString("reshape"), OpType::Reshape,
                                                                  fbb.CreateVector(in), fbb.CreateVector(out),
                                                                  fb::Attributes::ReshapeAttrs, attrs.Union())};
  const auto model = fb::CreateModel(fbb, kFormatMajor, kFormatMinor, 0, fbb.CreateVector(tensors),
                                     fbb.CreateVector(nodes), fbb.CreateVector(in), fbb.CreateVector(out));
  fbb.FinishSizePrefixed(model, fb::ModelIdentifier());
  std::vector<uint8_t> bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  bytes.resize(align64(bytes.size()), 0);
  append_checksum_footer(bytes);
  return bytes;
}

TEST(Loader, MisalignedLongVectorsAreRejected) {
  const auto ok = reshape_model(false, false);
  const Outcome o = try_parse(ok);
  EXPECT_TRUE(o.loaded) << o.message;

  const auto bad_shape = reshape_model(true, false);
  const fb::Model* m = fb::GetSizePrefixedModel(bad_shape.data());
  ASSERT_EQ((reinterpret_cast<const uint8_t*>(m->tensors()->Get(0)->shape()->Data()) - bad_shape.data()) % 8, 4)
      << "test setup: the shape vector is not misaligned";
  flatbuffers::Verifier verifier(bad_shape.data(), 4 + flatbuffers::GetPrefixedSize(bad_shape.data()));
  ASSERT_TRUE(fb::VerifySizePrefixedModelBuffer(verifier)) << "test setup: the verifier should accept this";
  EXPECT_THAT(parse_error(bad_shape), AllOf(HasSubstr("'x'"), HasSubstr("misaligned shape")));

  const auto bad_attr = reshape_model(false, true);
  EXPECT_THAT(parse_error(bad_attr), AllOf(HasSubstr("'reshape'"), HasSubstr("misaligned attribute")));
}

TEST(Loader, WrongInputCountForTheOp) {
  Graph g = all_ops_graph();
  const size_t add = node_index(g, OpType::Add);
  g.nodes[add].inputs.pop_back();
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr(g.nodes[add].name), HasSubstr("has 1 inputs, expected 2")));
}

TEST(Loader, UnknownOperatorAndDataTypeCodes) {
  const std::vector<uint8_t> file = valid_file();
  auto bytes = rewrite(file, [](fb::ModelT& m) { m.nodes[2]->op = static_cast<fb::OpType>(200); });
  EXPECT_THAT(parse_error(bytes), HasSubstr("unknown operator code 200"));
  bytes = rewrite(file, [](fb::ModelT& m) { m.tensors[0]->dtype = static_cast<fb::DataType>(77); });
  EXPECT_THAT(parse_error(bytes), AllOf(HasSubstr("'x'"), HasSubstr("unknown data type")));
}

TEST(Loader, NewerFormatMajorAsksForAnUpgrade) {
  const auto bytes = rewrite(valid_file(), [](fb::ModelT& m) {
    m.format_major = kFormatMajor + 1;
    m.format_minor = 3;
  });
  const std::string msg = parse_error(bytes, ErrorCode::Unsupported);
  EXPECT_THAT(msg, AllOf(HasSubstr("upgrade"), HasSubstr(std::to_string(kFormatMajor + 1) + ".3"),
                         HasSubstr("test.kiln")));
}

TEST(Loader, NewerFormatMinorStillLoads) {
  const auto bytes = rewrite(valid_file(), [](fb::ModelT& m) { m.format_minor = kFormatMinor + 5; });
  const Outcome o = try_parse(bytes);
  EXPECT_TRUE(o.loaded) << o.message;
}

TEST(Loader, StoredShapeInconsistentWithInference) {
  Graph g = all_ops_graph();
  const TensorId out = g.nodes[0].outputs[0];
  g.tensor(out).shape = {1, 6, 5, 7};
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr(g.tensor(out).name), HasSubstr("stored with shape [1,6,5,7]"),
                                    HasSubstr("produces [1,6,5,6]")));
}

TEST(Loader, NonFloat32DataTypeIsUnsupported) {
  // Float16 and int64 tensors: Kiln runs neither.
  for (DataType dt : {DataType::Float16, DataType::Int64}) {
    Graph g = all_ops_graph();
    g.tensor(g.nodes[2].outputs[0]).dtype = dt;
    EXPECT_THAT(graph_error(g, ErrorCode::Unsupported),
                AllOf(HasSubstr(fb::EnumNameDataType(dt)), HasSubstr("float32"),
                      HasSubstr(g.tensor(g.nodes[2].outputs[0]).name)));
  }
  // uint8 and int8 are supported, but only with quantization parameters.
  for (DataType dt : {DataType::UInt8, DataType::Int8}) {
    Graph g = all_ops_graph();
    g.tensor(g.nodes[2].outputs[0]).dtype = dt;
    EXPECT_THAT(graph_error(g, ErrorCode::InvalidModel),
                AllOf(HasSubstr(fb::EnumNameDataType(dt)), HasSubstr("no quantization parameters"),
                      HasSubstr(g.tensor(g.nodes[2].outputs[0]).name)));
  }
  // int32 is supported for constants (quantized biases) only.
  Graph g = all_ops_graph();
  g.tensor(g.nodes[2].outputs[0]).dtype = DataType::Int32;
  EXPECT_THAT(graph_error(g, ErrorCode::Unsupported),
              AllOf(HasSubstr(g.tensor(g.nodes[2].outputs[0]).name), HasSubstr("int32 is supported for constants")));
  // A quantized tensor written by a float op (a Relu with a float32 input): the node is named.
  g = all_ops_graph();
  g.tensor(g.nodes[2].outputs[0]).dtype = DataType::UInt8;
  g.tensor(g.nodes[2].outputs[0]).quant = QuantParams{{0.1f}, {0}, -1};
  EXPECT_THAT(graph_error(g, ErrorCode::Unsupported),
              AllOf(HasSubstr(g.nodes[2].name), HasSubstr("only QuantizeLinear makes quantized tensors")));
}

// ---- Quantization parameters --------------------------------------------------------

QuantParams per_tensor(float scale, int32_t zero_point) { return {{scale}, {zero_point}, -1}; }

// x -> QuantizeLinear -> x_q (uint8) -> Conv (int8 weight per output channel,
// int32 bias) -> y_q (uint8) -> DequantizeLinear -> y, with tensor names the
// checks below look for.
Graph quantized_graph() {
  GraphBuilder b;
  Graph& g = b.graph();
  const TensorId x = b.input("x", {1, 3, 5, 5});
  const TensorId xq = b.node(OpType::QuantizeLinear, {x}, {}, "quantize");
  g.tensor(xq).name = "x_q";
  g.tensor(xq).dtype = DataType::UInt8;
  g.tensor(xq).quant = per_tensor(0.02f, 128);
  std::vector<int8_t> w(4 * 3 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
  const TensorId wq = g.add_constant("w_q", {4, 3, 3, 3}, DataType::Int8, ConstantData::copy_of(w.data(), w.size()),
                                     QuantParams{{0.01f, 0.02f, 0.005f, 0.03f}, {0, 0, 0, 0}, 0});
  const std::vector<int32_t> bias{100, -200, 3000, -40};
  const TensorId bq = g.add_constant("bias_q", {4}, DataType::Int32, ConstantData::copy_of(bias.data(), 16),
                                     QuantParams{{0.0002f, 0.0004f, 0.0001f, 0.0006f}, {0, 0, 0, 0}, 0});
  const TensorId yq = b.node(OpType::Conv, {xq, wq, bq}, conv_attrs({3, 3}, {}, {1, 1, 1, 1}), "conv");
  g.tensor(yq).name = "y_q";
  g.tensor(yq).dtype = DataType::UInt8;
  g.tensor(yq).quant = per_tensor(0.05f, 10);
  const TensorId y = b.node(OpType::DequantizeLinear, {yq}, {}, "dequantize");
  g.tensor(y).name = "y";
  b.output(y);
  return b.build();
}

TensorInfo& tensor_named(Graph& g, const std::string& name) {
  for (TensorInfo& t : g.tensors)
    if (t.name == name) return t;
  throw std::runtime_error("no tensor " + name);
}

TEST(LoaderQuantization, ValidQuantizedGraphLoadsAndRuns) {
  const Graph g = quantized_graph();
  const Outcome o = try_parse(serialize_graph(g));
  EXPECT_TRUE(o.loaded) << o.message;
  const auto out = run_graph(g, random_inputs(g, 3));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), (std::vector<int64_t>{1, 4, 5, 5}));
}

struct BadQuant {
  std::string what;
  std::function<void(Graph&)> edit;
  std::vector<std::string> expected;  // substrings of the message, the tensor's name first
};

TEST(LoaderQuantization, BadParametersAreInvalidModelNamingTheTensor) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<BadQuant> cases = {
      {"scale 0",
       [](Graph& g) { tensor_named(g, "x_q").quant->scale[0] = 0.0f; },
       {"'x_q'", "scale 0", "positive and finite"}},
      {"negative scale",
       [](Graph& g) { tensor_named(g, "y_q").quant->scale[0] = -0.05f; },
       {"'y_q'", "scale -0.05", "positive and finite"}},
      {"NaN scale",
       [nan](Graph& g) { tensor_named(g, "w_q").quant->scale[2] = nan; },
       {"'w_q'", "scale nan at index 2", "positive and finite"}},
      {"infinite scale",
       [inf](Graph& g) { tensor_named(g, "x_q").quant->scale[0] = inf; },
       {"'x_q'", "scale inf", "positive and finite"}},
      {"uint8 zero point 256",
       [](Graph& g) { tensor_named(g, "x_q").quant->zero_point[0] = 256; },
       {"'x_q'", "zero point 256", "[0, 255] for UInt8"}},
      {"uint8 zero point -1",
       [](Graph& g) { tensor_named(g, "y_q").quant->zero_point[0] = -1; },
       {"'y_q'", "zero point -1", "[0, 255] for UInt8"}},
      {"int8 zero point -129",
       [](Graph& g) { tensor_named(g, "w_q").quant->zero_point[1] = -129; },
       {"'w_q'", "zero point -129 at index 1", "[-128, 127] for Int8"}},
      {"int8 zero point 128",
       [](Graph& g) { tensor_named(g, "w_q").quant->zero_point[3] = 128; },
       {"'w_q'", "zero point 128 at index 3", "[-128, 127] for Int8"}},
      {"per-axis vector shorter than the axis",
       [](Graph& g) {
         auto& q = *tensor_named(g, "w_q").quant;
         q.scale.pop_back();
         q.zero_point.pop_back();
       },
       {"'w_q'", "axis 0 of size 4 but has 3 scales"}},
      {"per-axis vector longer than the axis",
       [](Graph& g) {
         auto& q = *tensor_named(g, "bias_q").quant;
         q.scale.push_back(0.1f);
         q.zero_point.push_back(0);
       },
       {"'bias_q'", "axis 0 of size 4 but has 5 scales"}},
      {"axis equal to the rank",
       [](Graph& g) { tensor_named(g, "w_q").quant->axis = 4; },
       {"'w_q'", "quantization axis 4 but rank 4"}},
      {"axis below -1", [](Graph& g) { tensor_named(g, "w_q").quant->axis = -2; }, {"'w_q'", "quantization axis -2"}},
      {"more scales than zero points",
       [](Graph& g) { tensor_named(g, "w_q").quant->zero_point.pop_back(); },
       {"'w_q'", "4 scales but 3 zero points"}},
      {"more zero points than scales",
       [](Graph& g) { tensor_named(g, "x_q").quant->zero_point.push_back(128); },
       {"'x_q'", "1 scales but 2 zero points"}},
      {"per-tensor with two scales",
       [](Graph& g) {
         tensor_named(g, "y_q").quant = QuantParams{{0.05f, 0.05f}, {10, 10}, -1};
       },
       {"'y_q'", "per tensor but has 2 scales"}},
      {"no scale", [](Graph& g) { tensor_named(g, "x_q").quant = QuantParams{}; }, {"'x_q'", "without a scale"}},
      {"uint8 without parameters",
       [](Graph& g) { tensor_named(g, "y_q").quant.reset(); },
       {"'y_q'", "UInt8", "no quantization parameters"}},
      {"int8 constant without parameters",
       [](Graph& g) { tensor_named(g, "w_q").quant.reset(); },
       {"'w_q'", "Int8", "no quantization parameters"}},
      {"int32 zero point 5",
       [](Graph& g) { tensor_named(g, "bias_q").quant->zero_point[1] = 5; },
       {"'bias_q'", "zero point 5 at index 1", "{0} for int32"}},
      {"float32 with parameters",
       [](Graph& g) { tensor_named(g, "y").quant = per_tensor(0.1f, 0); },
       {"'y'", "float32 but carries quantization parameters"}},
  };
  for (const BadQuant& c : cases) {
    SCOPED_TRACE(c.what);
    Graph g = quantized_graph();
    c.edit(g);
    const std::string msg = graph_error(g);
    for (const std::string& part : c.expected) EXPECT_THAT(msg, HasSubstr(part));
    EXPECT_THAT(msg, HasSubstr("test.kiln"));
  }
}

// The dtype checks of a quantized node read its inputs and outputs by index:
// a wrong count must be reported, not read out of bounds (a corrupted file did).
TEST(LoaderQuantization, WrongInputCountOfAQuantizedNodeIsInvalid) {
  Graph g = quantized_graph();
  g.nodes[2].inputs.clear();  // DequantizeLinear without its input
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("'dequantize'"), HasSubstr("has 0 inputs")));
  g = quantized_graph();
  g.nodes[1].inputs.resize(1);  // the quantized Conv without weight and bias
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("'conv'"), HasSubstr("has 1 inputs")));
}

// The FlatBuffers table itself: a quant table whose vectors are empty.
TEST(LoaderQuantization, EmptyVectorsInTheFile) {
  const Graph g = quantized_graph();
  const auto bytes = rewrite(serialize_graph(g), [](fb::ModelT& m) {
    for (auto& t : m.tensors)
      if (t->name == "x_q") {
        t->quant->scale.clear();
        t->quant->zero_point.clear();
      }
  });
  EXPECT_THAT(parse_error(bytes), AllOf(HasSubstr("'x_q'"), HasSubstr("without a scale")));
}

TEST(LoaderQuantization, SaveAndLoadKeepDtypesAndParameters) {
  const Graph g = quantized_graph();
  TempPath path("kiln_quantized");
  save_graph(g, path.str());
  Graph loaded = load_graph(path.str());
  EXPECT_TRUE(graphs_equal(g, loaded));
  // Field by field, so that a comparison that ignored them could not hide a loss.
  const TensorInfo& x = tensor_named(loaded, "x_q");
  EXPECT_EQ(x.dtype, DataType::UInt8);
  ASSERT_TRUE(x.quant.has_value());
  EXPECT_EQ(x.quant->scale, std::vector<float>{0.02f});
  EXPECT_EQ(x.quant->zero_point, std::vector<int32_t>{128});
  EXPECT_EQ(x.quant->axis, -1);
  const TensorInfo& w = tensor_named(loaded, "w_q");
  EXPECT_EQ(w.dtype, DataType::Int8);
  ASSERT_TRUE(w.quant.has_value());
  EXPECT_EQ(w.quant->scale, (std::vector<float>{0.01f, 0.02f, 0.005f, 0.03f}));
  EXPECT_EQ(w.quant->zero_point, (std::vector<int32_t>{0, 0, 0, 0}));
  EXPECT_EQ(w.quant->axis, 0);
  EXPECT_EQ(static_cast<int8_t>(w.constant->bytes()[1]), static_cast<int8_t>(37 - 127));
  const TensorInfo& b = tensor_named(loaded, "bias_q");
  EXPECT_EQ(b.dtype, DataType::Int32);
  EXPECT_EQ(b.quant->axis, 0);
  EXPECT_EQ(b.quant->scale[3], 0.0006f);
  EXPECT_EQ(reinterpret_cast<const int32_t*>(b.constant->bytes())[2], 3000);
  const TensorInfo& y = tensor_named(loaded, "y_q");
  EXPECT_EQ(y.dtype, DataType::UInt8);
  EXPECT_EQ(*y.quant, per_tensor(0.05f, 10));
  EXPECT_EQ(tensor_named(loaded, "y").dtype, DataType::Float32);
  EXPECT_FALSE(tensor_named(loaded, "y").quant.has_value());
  // graphs_equal itself notices a changed parameter.
  Graph changed = g;
  tensor_named(changed, "w_q").quant->zero_point[2] = 1;
  EXPECT_FALSE(graphs_equal(changed, loaded));
  // Same outputs before and after the file.
  const auto inputs = random_inputs(g, 5);
  EXPECT_TRUE(bitwise_equal(run_graph(g, inputs), run_graph(loaded, inputs)));
}

TEST(Loader, OtherStructuralProblems) {
  Graph g = all_ops_graph();
  g.inputs.clear();
  EXPECT_THAT(graph_error(g), HasSubstr("no inputs"));
  g = all_ops_graph();
  g.outputs.clear();
  EXPECT_THAT(graph_error(g), HasSubstr("no outputs"));
  g = all_ops_graph();
  g.tensors[3].name = g.tensors[2].name;
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("'" + g.tensors[2].name + "'"), HasSubstr("used twice")));
  g = all_ops_graph();
  g.tensors[5].name.clear();
  EXPECT_THAT(graph_error(g), HasSubstr("empty name"));
  g = all_ops_graph();
  g.inputs.push_back(g.inputs[0]);
  EXPECT_THAT(graph_error(g), HasSubstr("listed twice"));
  g = all_ops_graph();
  g.inputs.push_back(g.nodes[0].inputs[1]);
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("'w1'"), HasSubstr("is a constant")));
  g = all_ops_graph();
  g.outputs.push_back(g.add_tensor("dangling", {1}));
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("'dangling'"), HasSubstr("not produced")));
  g = all_ops_graph();
  g.tensor(g.inputs[0]).shape = {1, -4, 9, 9};
  EXPECT_THAT(graph_error(g), HasSubstr("negative dimension"));
  g = all_ops_graph();
  g.tensor(g.inputs[0]).shape = {1, 4, 9, 9, 1, 1, 1, 1, 1};
  EXPECT_THAT(graph_error(g), HasSubstr("rank 9"));
  g = all_ops_graph();
  g.tensor(g.inputs[0]).shape = {1 << 20, 1 << 20, 1 << 20, 1};
  EXPECT_THAT(graph_error(g), HasSubstr("implausibly large"));
  // A product that wraps around int64 (to 0 here) must not pass as small.
  g = all_ops_graph();
  g.tensor(g.inputs[0]).shape = {int64_t{1} << 32, int64_t{1} << 32, 1, 1};
  EXPECT_THAT(graph_error(g), AllOf(HasSubstr("[4294967296,4294967296,1,1]"), HasSubstr("implausibly large")));
}

TEST(Loader, ConstantShapesAreCheckedBeforeTheirBytes) {
  // A constant claiming 2^32 x 2^32 floats with 4 bytes present: the byte
  // count must not wrap around to match what is there.
  Graph g = all_ops_graph();
  for (TensorInfo& t : g.tensors)
    if (t.constant) {
      t.shape = {int64_t{1} << 32, int64_t{1} << 32};
      t.constant = ConstantData::from_floats({1.0f});
      break;
    }
  EXPECT_THAT(graph_error(g), HasSubstr("implausibly large"));
}

}  // namespace
}  // namespace kiln::test
