// The checksums of .kiln files (format 1.2): any single changed byte anywhere
// in a file is refused with a message naming the damaged part; files of format
// 1.1 (no checksums) still load, with a note; verification can be turned off.
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "engine/format/kiln_file.hpp"
#include "gmock/gmock.h"
#include "kiln/kiln.h"
#include "kiln/kiln.hpp"
#include "tests/common/graph_builder.hpp"
#include "tests/common/kiln_file_edit.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr LoadOptions kNoVerify{.verify_checksums = false};

struct Outcome {
  bool loaded = false;
  ErrorCode code = ErrorCode::Internal;
  std::string message;
  ModelFileInfo file;
};

Outcome try_parse(const std::vector<uint8_t>& bytes, const LoadOptions& options = {}) {
  Outcome o;
  try {
    parse_graph(nullptr, bytes, "flip.kiln", options, &o.file);
    o.loaded = true;
  } catch (const Error& e) {
    o.code = e.code();
    o.message = e.what();
  }
  return o;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// What a file of format 1.2 says when byte `pos` is changed: each part of the
// file is covered by exactly one check.
std::string expected_message(const KilnLayout& layout, size_t pos) {
  if (pos >= 8 && pos < 12) return "not a .kiln file";  // the 'KILN' identifier, read before anything else
  if (pos < layout.weights_start) return "checksum mismatch in graph";
  if (pos < layout.footer_start) return "checksum mismatch in weights";
  const size_t in_footer = pos - layout.footer_start;
  if (in_footer < 8) return "checksum mismatch in graph";  // the stored graph checksum
  if (in_footer < 16) return "checksum mismatch in weights";
  return "checksum footer";  // its magic: the file no longer ends with a footer
}

// Changes every byte of `file` in turn (three ways each) and expects each
// version to be refused with the message for that part. The size prefix may
// instead be refused as "truncated" when it points past the end.
void expect_every_change_refused(const std::vector<uint8_t>& file) {
  const KilnLayout layout = kiln_layout(file);
  ASSERT_LT(layout.weights_start, layout.footer_start) << "test setup: the file has no weights";
  std::vector<uint8_t> bytes = file;
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    const uint8_t original = bytes[pos];
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      bytes[pos] = static_cast<uint8_t>(original ^ mask);
      const Outcome o = try_parse(bytes);
      ASSERT_FALSE(o.loaded) << "byte " << pos << " of " << bytes.size() << " changed (^" << int{mask}
                             << ") and the file still loaded";
      ASSERT_EQ(o.code, ErrorCode::InvalidModel) << o.message;
      ASSERT_THAT(o.message, HasSubstr("flip.kiln"));
      const std::string expected = expected_message(layout, pos);
      if (pos < 4 && o.message.find("truncated") != std::string::npos) continue;
      ASSERT_THAT(o.message, HasSubstr(expected)) << "byte " << pos << " (^" << int{mask} << ")";
    }
    bytes[pos] = original;
  }
}

TEST(Checksums, EveryChangedByteIsRefusedNamingThePart) {
  expect_every_change_refused(serialize_graph(all_ops_graph()));
}

// A second graph: integer weights and quantization parameters in the graph section.
TEST(Checksums, EveryChangedByteOfAQuantizedModelIsRefused) {
  GraphBuilder b;
  Graph& g = b.graph();
  const TensorId x = b.input("x", {1, 2, 4, 4});
  const TensorId xq = b.node(OpType::QuantizeLinear, {x}, {}, "quantize");
  g.tensor(xq).dtype = DataType::UInt8;
  g.tensor(xq).quant = QuantParams{{0.02f}, {128}, -1};
  std::vector<int8_t> w(3 * 2 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
  const TensorId wq = g.add_constant("w_q", {3, 2, 3, 3}, DataType::Int8, ConstantData::copy_of(w.data(), w.size()),
                                     QuantParams{{0.01f, 0.02f, 0.03f}, {0, 0, 0}, 0});
  const TensorId yq = b.node(OpType::Conv, {xq, wq}, conv_attrs({3, 3}, {}, {1, 1, 1, 1}), "conv");
  g.tensor(yq).dtype = DataType::UInt8;
  g.tensor(yq).quant = QuantParams{{0.05f}, {10}, -1};
  b.output(b.node(OpType::DequantizeLinear, {yq}, {}, "dequantize"));
  const std::vector<uint8_t> file = serialize_graph(b.build());
  ASSERT_TRUE(try_parse(file).loaded) << try_parse(file).message;
  expect_every_change_refused(file);
}

TEST(Checksums, FileInfoOfAFreshFile) {
  const Outcome o = try_parse(serialize_graph(all_ops_graph()));
  ASSERT_TRUE(o.loaded) << o.message;
  EXPECT_EQ(o.file.format_major, kFormatMajor);
  EXPECT_EQ(o.file.format_minor, kFormatMinor);
  EXPECT_TRUE(o.file.has_checksums);
  EXPECT_TRUE(o.file.checksums_verified);
  EXPECT_THAT(o.file.notes, IsEmpty());
}

TEST(Checksums, LayoutEndsWithTheFooter) {
  const std::vector<uint8_t> file = serialize_graph(all_ops_graph());
  const KilnLayout layout = kiln_layout(file);
  EXPECT_EQ(layout.weights_start % 64, 0u);
  EXPECT_EQ(layout.weights_start + fb::GetSizePrefixedModel(file.data())->weights_size(), layout.footer_start);
  EXPECT_EQ(std::string(file.end() - 8, file.end()), "KILNXXH3");
}

// The same damage, through Model::load on a file: the message names the file.
TEST(Checksums, DamagedWeightsOnDiskNameTheFileAndTheSection) {
  std::vector<uint8_t> file = serialize_graph(all_ops_graph());
  file[kiln_layout(file).weights_start + 5] ^= 0x10;
  TempPath path("kiln_damaged_weights");
  write_file(path.str(), file);
  try {
    Model::load(path.str());
    ADD_FAILURE() << "a file with damaged weights loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidModel);
    EXPECT_THAT(e.what(), AllOf(HasSubstr(path.str()), HasSubstr("checksum mismatch in weights"),
                                HasSubstr("convert it again")));
  }
}

TEST(Checksums, VerificationOffLoadsDamagedWeights) {
  std::vector<uint8_t> file = serialize_graph(all_ops_graph());
  const size_t pos = kiln_layout(file).weights_start + 1;
  file[pos] ^= 0x40;
  EXPECT_THAT(try_parse(file).message, HasSubstr("checksum mismatch in weights"));
  const Outcome o = try_parse(file, kNoVerify);
  ASSERT_TRUE(o.loaded) << o.message;
  EXPECT_TRUE(o.file.has_checksums);
  EXPECT_FALSE(o.file.checksums_verified);
  EXPECT_THAT(o.file.notes, IsEmpty());
  // Through the public API, from memory and from a file.
  const Model from_memory = Model::from_bytes(file, "mem.kiln", kNoVerify);
  EXPECT_FALSE(from_memory.file_info().checksums_verified);
  TempPath path("kiln_no_verify");
  write_file(path.str(), file);
  EXPECT_FALSE(Model::load(path.str(), kNoVerify).file_info().checksums_verified);
}

// The structure checks still run without verification: a footer that does not
// match the file's format or layout is refused either way.
TEST(Checksums, FooterAndFormatMustAgree) {
  const std::vector<uint8_t> file = serialize_graph(all_ops_graph());
  for (const LoadOptions& options : {LoadOptions{}, kNoVerify}) {
    // Format 1.2 without its footer (e.g. the last bytes cut off).
    const std::vector<uint8_t> no_footer(file.begin(), file.end() - kChecksumFooterSize);
    EXPECT_THAT(try_parse(no_footer, options).message,
                AllOf(HasSubstr("truncated or damaged"), HasSubstr("format 1.2"), HasSubstr("checksum footer")));
    // A file that says 1.1 but ends with a footer.
    std::vector<uint8_t> old = without_checksums(file);
    append_checksum_footer(old);
    EXPECT_THAT(try_parse(old, options).message,
                AllOf(HasSubstr("ends with a checksum footer but says format 1.1"), HasSubstr("flip.kiln")));
    // Bytes between the weights region and the footer, which no checksum covers.
    std::vector<uint8_t> padded(file.begin(), file.end() - kChecksumFooterSize);
    padded.insert(padded.end(), 64, 0);
    append_checksum_footer(padded);
    EXPECT_THAT(try_parse(padded, options).message,
                HasSubstr("does not end where the checksum footer starts"));
  }
}

TEST(Checksums, OlderFormatsWithoutChecksumsLoadWithANote) {
  const Graph g = all_ops_graph();
  for (uint16_t minor : {0, 1}) {
    SCOPED_TRACE(minor);
    const std::vector<uint8_t> old = without_checksums(serialize_graph(g), minor);
    const Outcome o = try_parse(old);
    ASSERT_TRUE(o.loaded) << o.message;
    EXPECT_EQ(o.file.format_major, 1);
    EXPECT_EQ(o.file.format_minor, minor);
    EXPECT_FALSE(o.file.has_checksums);
    EXPECT_FALSE(o.file.checksums_verified);
    ASSERT_EQ(o.file.notes.size(), 1u);
    std::string format = "(format 1.";
    format += std::to_string(minor);
    format += ")";
    EXPECT_THAT(o.file.notes[0], AllOf(HasSubstr("flip.kiln"), HasSubstr("no checksums"), HasSubstr(format),
                                       HasSubstr("convert it again")));
    // Same graph as the checksummed file.
    EXPECT_TRUE(graphs_equal(parse_graph(nullptr, old, "old.kiln"), g));
  }
  // Through Model::load from a file.
  TempPath path("kiln_format_1_1");
  write_file(path.str(), without_checksums(serialize_graph(g)));
  const Model model = Model::load(path.str());
  EXPECT_THAT(model.file_info().notes, ElementsAre(AllOf(HasSubstr(path.str()), HasSubstr("no checksums"))));
}

TEST(Checksums, CApiLoadsWithAndWithoutVerification) {
  std::vector<uint8_t> file = serialize_graph(all_ops_graph());
  file[kiln_layout(file).weights_start + 2] ^= 0x01;
  TempPath path("kiln_c_api_checksum");
  write_file(path.str(), file);
  kiln_model* model = nullptr;
  EXPECT_EQ(kiln_model_load(path.str().c_str(), &model), KILN_ERROR_INVALID_MODEL);
  EXPECT_THAT(kiln_last_error(), AllOf(HasSubstr(path.str()), HasSubstr("checksum mismatch in weights")));
  EXPECT_EQ(kiln_model_load_with_options(path.str().c_str(), nullptr, &model), KILN_ERROR_INVALID_MODEL);
  const kiln_load_options trust{.verify_checksums = 0};
  ASSERT_EQ(kiln_model_load_with_options(path.str().c_str(), &trust, &model), KILN_OK) << kiln_last_error();
  kiln_model_free(model);
}

}  // namespace
}  // namespace kiln::test
