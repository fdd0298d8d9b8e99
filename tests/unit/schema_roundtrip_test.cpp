// .kiln schema round trip: Graph -> serialize_graph -> parse_graph -> the same
// Graph, and save_graph/load_graph through a real (memory-mapped) file.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "engine/core/op_info.hpp"
#include "engine/format/kiln_file.hpp"
#include "kiln/kiln.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

// The graph of the round trip: every op, plus model info and pass records.
Graph rich_graph() {
  Graph g = all_ops_graph();
  g.info.name = "tiny-every-op";
  g.info.source_url = "https://example.org/models/tiny.onnx";
  g.info.source_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  g.info.preprocess = fb::Preprocess::Caffe;
  g.info.resize = fb::ResizePolicy::SquareCrop;
  g.info.resize_filter = fb::ResizeFilter::AntialiasedBilinear;
  g.info.output_kind = fb::OutputKind::Probabilities;
  g.info.class_offset = 1;
  g.info.labels = {"background", "tabby cat", "dog, with a comma", "caf\xc3\xa9", ""};
  g.passes_applied = {"eliminate_identity: 0 rewrites", "fold_batchnorm: 1 rewrites"};
  g.producer = "kiln-tests 1.2.3";
  return g;
}

// A table of type `type` holding only default values.
fb::AttributesUnion default_table(fb::Attributes type) {
  fb::AttributesUnion u;
  switch (type) {
    case fb::Attributes::ConvAttrs: u.Set(fb::ConvAttrsT{}); break;
    case fb::Attributes::PoolAttrs: u.Set(fb::PoolAttrsT{}); break;
    case fb::Attributes::BatchNormAttrs: u.Set(fb::BatchNormAttrsT{}); break;
    case fb::Attributes::ClipAttrs: u.Set(fb::ClipAttrsT{}); break;
    case fb::Attributes::LeakyReluAttrs: u.Set(fb::LeakyReluAttrsT{}); break;
    case fb::Attributes::HardSigmoidAttrs: u.Set(fb::HardSigmoidAttrsT{}); break;
    case fb::Attributes::BinaryAttrs: u.Set(fb::BinaryAttrsT{}); break;
    case fb::Attributes::GemmAttrs: u.Set(fb::GemmAttrsT{}); break;
    case fb::Attributes::FlattenAttrs: u.Set(fb::FlattenAttrsT{}); break;
    case fb::Attributes::ReshapeAttrs: u.Set(fb::ReshapeAttrsT{}); break;
    case fb::Attributes::AxesAttrs: u.Set(fb::AxesAttrsT{}); break;
    case fb::Attributes::TransposeAttrs: u.Set(fb::TransposeAttrsT{}); break;
    case fb::Attributes::ConcatAttrs: u.Set(fb::ConcatAttrsT{}); break;
    case fb::Attributes::SplitAttrs: u.Set(fb::SplitAttrsT{}); break;
    case fb::Attributes::SliceAttrs: u.Set(fb::SliceAttrsT{}); break;
    case fb::Attributes::PadAttrs: u.Set(fb::PadAttrsT{}); break;
    case fb::Attributes::ReduceAttrs: u.Set(fb::ReduceAttrsT{}); break;
    case fb::Attributes::SoftmaxAttrs: u.Set(fb::SoftmaxAttrsT{}); break;
    case fb::Attributes::NONE: break;
  }
  return u;
}

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

TEST(SchemaRoundTrip, TestGraphUsesEveryOpWithNonDefaultAttributes) {
  const Graph g = rich_graph();
  std::set<int> ops;
  for (const Node& n : g.nodes) {
    ops.insert(static_cast<int>(n.op));
    EXPECT_EQ(n.attrs.type, op_info(n.op).attributes) << n.name;
    if (n.attrs.type != fb::Attributes::NONE) {
      EXPECT_FALSE(n.attrs == default_table(n.attrs.type)) << n.name << " has only default attributes";
    }
  }
  EXPECT_EQ(ops.size(), static_cast<size_t>(fb::OpType::MAX) + 1);
  EXPECT_TRUE(ops.count(static_cast<int>(OpType::QuantizeLinear)));
  EXPECT_TRUE(ops.count(static_cast<int>(OpType::DequantizeLinear)));
  size_t constants = 0;
  for (const auto& t : g.tensors) constants += t.is_constant();
  EXPECT_GE(constants, 10u);
  // Quantized tensors of both kinds: uint8 per tensor and int8 per axis.
  bool u8_per_tensor = false, i8_per_axis = false;
  for (const auto& t : g.tensors) {
    u8_per_tensor |= t.dtype == DataType::UInt8 && t.quant && !t.quant->per_axis();
    i8_per_axis |= t.dtype == DataType::Int8 && t.quant && t.quant->per_axis() && t.quant->scale.size() > 1;
  }
  EXPECT_TRUE(u8_per_tensor);
  EXPECT_TRUE(i8_per_axis);
}

TEST(SchemaRoundTrip, SerializeParseGivesTheSameGraph) {
  const Graph g = rich_graph();
  const std::vector<uint8_t> bytes = serialize_graph(g);
  const Graph back = parse_graph(nullptr, bytes, "roundtrip.kiln");
  EXPECT_TRUE(graphs_equal(g, back));
  // The parsed graph carries exactly what was written, field by field.
  EXPECT_EQ(back.info.labels.size(), 5u);
  EXPECT_EQ(back.info.labels[3], "caf\xc3\xa9");
  EXPECT_EQ(back.info.preprocess, fb::Preprocess::Caffe);
  EXPECT_EQ(back.info.resize, fb::ResizePolicy::SquareCrop);
  EXPECT_EQ(back.info.resize_filter, fb::ResizeFilter::AntialiasedBilinear);
  EXPECT_EQ(back.info.output_kind, fb::OutputKind::Probabilities);
  EXPECT_EQ(back.info.class_offset, 1);
  EXPECT_EQ(back.passes_applied, g.passes_applied);
  int quantized = 0;
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    EXPECT_EQ(back.tensors[i].dtype, g.tensors[i].dtype) << g.tensors[i].name;
    EXPECT_EQ(back.tensors[i].quant, g.tensors[i].quant) << g.tensors[i].name;
    quantized += g.tensors[i].quant.has_value();
  }
  EXPECT_GE(quantized, 2);
  // Serialising the parsed graph again gives the same bytes.
  EXPECT_EQ(serialize_graph(back), bytes);
}

TEST(SchemaRoundTrip, ComparisonDetectsDifferences) {
  // graphs_equal must not be vacuous: each kind of change is noticed.
  const Graph g = rich_graph();
  {
    Graph h = g;
    h.info.labels[1] = "tabby";
    EXPECT_FALSE(graphs_equal(g, h));
  }
  {
    Graph h = g;
    auto& conv = attrs_as<fb::ConvAttrsT>(h.nodes[0]);
    conv.pads[2] = 3;
    EXPECT_FALSE(graphs_equal(g, h));
  }
  {
    Graph h = g;
    std::vector<float> w(h.tensor(1).constant->floats(), h.tensor(1).constant->floats() + 6 * 2 * 3 * 3);
    w[17] += 1.0f;
    h.tensor(1).constant = ConstantData::from_floats(w);
    EXPECT_FALSE(graphs_equal(g, h));
  }
  {
    Graph h = g;
    h.passes_applied.pop_back();
    EXPECT_FALSE(graphs_equal(g, h));
  }
  // Quantization parameters: a scale, a zero point, the axis.
  for (int field = 0; field < 3; ++field) {
    Graph h = g;
    bool changed = false;
    for (auto& t : h.tensors) {
      if (!t.quant || changed) continue;
      if (field == 0) t.quant->scale[0] *= 1.5f;
      if (field == 1) t.quant->zero_point[0] += 1;
      if (field == 2) t.quant->axis = t.quant->per_axis() ? -1 : 0;
      changed = true;
    }
    ASSERT_TRUE(changed);
    EXPECT_FALSE(graphs_equal(g, h)) << "field " << field;
  }
}

TEST(SchemaRoundTrip, FileLayoutHeaderAndAlignedWeights) {
  const Graph g = rich_graph();
  const std::vector<uint8_t> bytes = serialize_graph(g);
  ASSERT_GT(bytes.size(), 12u);
  EXPECT_EQ(std::memcmp(bytes.data() + 8, "KILN", 4), 0);
  uint32_t prefix = 0;
  std::memcpy(&prefix, bytes.data(), 4);
  const size_t weights_start = align64(4 + prefix);
  // The weights region fills whole 64-byte slots, and the checksum footer follows it.
  const size_t footer_start = bytes.size() - kChecksumFooterSize;
  EXPECT_EQ(footer_start % 64, 0u);
  EXPECT_EQ(std::memcmp(bytes.data() + bytes.size() - 8, "KILNXXH3", 8), 0);

  const fb::Model* m = fb::GetSizePrefixedModel(bytes.data());
  EXPECT_EQ(m->format_major(), kFormatMajor);
  EXPECT_EQ(m->format_minor(), kFormatMinor);
  EXPECT_EQ(weights_start + m->weights_size(), footer_start);
  ASSERT_EQ(m->tensors()->size(), g.tensors.size());
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    const fb::Tensor* t = m->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i));
    const TensorInfo& info = g.tensors[i];
    ASSERT_EQ(t->constant() != nullptr, info.is_constant()) << info.name;
    if (!info.is_constant()) continue;
    EXPECT_EQ(t->constant()->offset() % 64, 0u) << info.name;
    EXPECT_EQ(t->constant()->size(), info.constant->size_bytes()) << info.name;
    ASSERT_LE(weights_start + t->constant()->offset() + t->constant()->size(), footer_start);
    EXPECT_EQ(std::memcmp(bytes.data() + weights_start + t->constant()->offset(), info.constant->bytes(),
                          info.constant->size_bytes()),
              0)
        << info.name;
  }
}

TEST(SchemaRoundTrip, DefaultInfoAndNoPassesRoundTrip) {
  Graph g = all_ops_graph();
  g.producer.clear();
  const Graph back = parse_graph(nullptr, serialize_graph(g), "plain.kiln");
  EXPECT_TRUE(graphs_equal(g, back));
  EXPECT_TRUE(back.passes_applied.empty());
  EXPECT_TRUE(back.info.labels.empty());
}

TEST(SchemaRoundTrip, SaveAndLoadThroughAMappedFileBorrowsAlignedConstants) {
  const Graph g = rich_graph();
  TempPath path("kiln_roundtrip");
  save_graph(g, path.str());
  Graph loaded = load_graph(path.str());
  EXPECT_TRUE(graphs_equal(g, loaded));

  // Constants point into one mapping: 64-byte aligned, and their address
  // differences equal their offset differences in the weights region.
  const std::vector<uint8_t> bytes = serialize_graph(g);
  const fb::Model* m = fb::GetSizePrefixedModel(bytes.data());
  const std::byte* first = nullptr;
  uint64_t first_offset = 0;
  int checked = 0;
  for (size_t i = 0; i < loaded.tensors.size(); ++i) {
    const TensorInfo& t = loaded.tensors[i];
    if (!t.is_constant()) continue;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.constant->bytes()) % 64, 0u) << t.name;
    const uint64_t offset = m->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i))->constant()->offset();
    if (!first) {
      first = t.constant->bytes();
      first_offset = offset;
      continue;
    }
    EXPECT_EQ(t.constant->bytes() - first, static_cast<std::ptrdiff_t>(offset - first_offset)) << t.name;
    ++checked;
  }
  EXPECT_GE(checked, 5);

  // The mapping outlives the file's name.
  std::filesystem::remove(path.str());
  const Graph again = loaded;
  EXPECT_TRUE(graphs_equal(g, again));
}

// Saving over a file that another graph has memory-mapped replaces the file
// rather than truncating it in place (which would make the mapped graph's
// reads fault with SIGBUS, as parallel test processes once did).
TEST(SchemaRoundTrip, SavingOverAMappedFileLeavesTheMappedGraphIntact) {
  const Graph g = rich_graph();
  TempPath path("kiln_overwrite");
  save_graph(g, path.str());
  const Graph mapped = load_graph(path.str());

  Graph other = rich_graph();
  other.info.name = "replacement";
  for (auto& t : other.tensors)  // different weights (same sizes, any dtype), so that stale reads would show
    if (t.is_constant()) {
      const std::vector<uint8_t> bytes(t.constant->size_bytes(), 0x3f);
      t.constant = ConstantData::copy_of(bytes.data(), bytes.size());
    }
  save_graph(other, path.str());

  EXPECT_TRUE(graphs_equal(g, mapped)) << "the mapped graph changed under it";
  EXPECT_EQ(load_graph(path.str()).info.name, "replacement");
  // No temporary file is left beside the target.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path.str()).parent_path()))
    files += entry.path().string().starts_with(path.str());
  EXPECT_EQ(files, 1);
}

TEST(SchemaRoundTrip, ParseBorrowsFromAlignedOwnerAndCopiesWithoutOne) {
  const Graph g = rich_graph();
  const std::vector<uint8_t> bytes = serialize_graph(g);
  // An owned, 64-byte-aligned copy of the file.
  std::shared_ptr<uint8_t[]> buffer(new (std::align_val_t(64)) uint8_t[bytes.size()], [](uint8_t* p) {
    ::operator delete[](p, std::align_val_t(64));
  });
  std::memcpy(buffer.get(), bytes.data(), bytes.size());
  const uint8_t* lo = buffer.get();
  const uint8_t* hi = lo + bytes.size();

  Graph borrowed = parse_graph(std::shared_ptr<const void>(buffer, buffer.get()), {lo, bytes.size()}, "mem");
  Graph copied = parse_graph(nullptr, {lo, bytes.size()}, "mem");
  int constants = 0;
  for (size_t i = 0; i < borrowed.tensors.size(); ++i) {
    if (!borrowed.tensors[i].is_constant()) continue;
    ++constants;
    const auto* pb = reinterpret_cast<const uint8_t*>(borrowed.tensors[i].constant->bytes());
    const auto* pc = reinterpret_cast<const uint8_t*>(copied.tensors[i].constant->bytes());
    EXPECT_TRUE(pb >= lo && pb < hi) << "constant not borrowed: " << borrowed.tensors[i].name;
    EXPECT_FALSE(pc >= lo && pc < hi) << "constant not copied: " << copied.tensors[i].name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(pc) % 64, 0u);
  }
  EXPECT_GT(constants, 0);
  // Both stay valid after the caller drops its handle (the graph keeps the owner).
  buffer.reset();
  EXPECT_TRUE(graphs_equal(g, borrowed));
  EXPECT_TRUE(graphs_equal(g, copied));
}

TEST(SchemaRoundTrip, PublicApiSeesTheSavedMetadata) {
  const Graph g = rich_graph();
  TempPath path("kiln_api_meta");
  save_graph(g, path.str());
  const Model model = Model::load(path.str());
  const ModelMetadata meta = model.metadata();
  EXPECT_EQ(meta.name, "tiny-every-op");
  EXPECT_EQ(meta.source_url, g.info.source_url);
  EXPECT_EQ(meta.source_sha256, g.info.source_sha256);
  EXPECT_EQ(meta.preprocess, Preprocess::Caffe);
  EXPECT_EQ(meta.resize, ResizePolicy::SquareCrop);
  EXPECT_EQ(meta.resize_filter, ResizeFilter::AntialiasedBilinear);
  EXPECT_EQ(meta.output_kind, OutputKind::Probabilities);
  EXPECT_EQ(meta.class_offset, 1);
  EXPECT_EQ(meta.labels, g.info.labels);
  EXPECT_EQ(model.passes_applied(), g.passes_applied);
  EXPECT_EQ(model.producer(), "kiln-tests 1.2.3");
  ASSERT_EQ(model.inputs().size(), 1u);
  EXPECT_EQ(model.inputs()[0].name, "x");
  EXPECT_EQ(model.inputs()[0].shape, (std::vector<int64_t>{1, 4, 9, 9}));
  EXPECT_EQ(model.outputs().size(), 4u);
  EXPECT_EQ(model.nodes().size(), g.nodes.size());

  const std::vector<uint8_t> bytes = serialize_graph(g);
  const Model from_bytes = Model::from_bytes(bytes, "inline");
  EXPECT_TRUE(graphs_equal(g, from_bytes.graph()));
}

}  // namespace
}  // namespace kiln::test
