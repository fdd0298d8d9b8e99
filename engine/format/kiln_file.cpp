#include "engine/format/kiln_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>

#include "engine/core/checked_size.hpp"
#include "engine/core/validate.hpp"
#include "flatbuffers/flatbuffers.h"
#include "xxhash.h"
// The x86 library's dispatcher hashes with AVX2 or AVX-512 where the CPU has
// them, three times as fast as the SSE2 code of XXH3_64bits (cmake/FindXxHash.cmake
// finds out whether it is there); its header makes XXH3_64bits call it.
#if KILN_XXH3_X86_DISPATCH
#include "xxh_x86dispatch.h"
#endif

namespace kiln {

namespace {

constexpr size_t kAlign = 64;
constexpr size_t kPrefix = sizeof(flatbuffers::uoffset_t);

size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

[[noreturn]] void corrupt(const std::string& source, const std::string& what) {
  throw Error(ErrorCode::InvalidModel, source + ": " + what);
}

template <class T>
std::vector<T> to_vector(const flatbuffers::Vector<T>* v) {
  return v ? std::vector<T>(v->begin(), v->end()) : std::vector<T>{};
}

// The FlatBuffers verifier checks the alignment of a vector's length field but
// not of its elements, so in a corrupt file a vector of 8-byte values can be
// misaligned, and reading it would be undefined behaviour. Offsets count from
// the start of the buffer, as in the verifier.
template <class T>
bool elements_aligned(const flatbuffers::Vector<T>* v, const uint8_t* base) {
  return !v || v->size() == 0 ||
         static_cast<size_t>(reinterpret_cast<const uint8_t*>(v->Data()) - base) % sizeof(T) == 0;
}

// The attribute tables holding [long] vectors.
bool attribute_vectors_aligned(const fb::Node* n, const uint8_t* base) {
  switch (n->attributes_type()) {
    case fb::Attributes::ReshapeAttrs: return elements_aligned(n->attributes_as_ReshapeAttrs()->shape(), base);
    case fb::Attributes::SplitAttrs: return elements_aligned(n->attributes_as_SplitAttrs()->sizes(), base);
    case fb::Attributes::SliceAttrs: {
      const auto* a = n->attributes_as_SliceAttrs();
      return elements_aligned(a->starts(), base) && elements_aligned(a->ends(), base) &&
             elements_aligned(a->steps(), base);
    }
    case fb::Attributes::PadAttrs: return elements_aligned(n->attributes_as_PadAttrs()->pads(), base);
    default: return true;
  }
}

// ---- Checksums (format 1.2 on) ----------------------------------------------
// The footer, the file's last kChecksumFooterSize bytes: three little-endian
// u64, the XXH3-64 of the graph section (bytes [0, weights start): size
// prefix, FlatBuffer and padding), the XXH3-64 of the weights region, and the
// magic "KILNXXH3". It sits at the end, where neither FlatBuffers nor the
// weights' alignment is disturbed and readers of format 1.1 never look. The
// graph checksum covers the version and weights_size fields, so a damaged one
// is a checksum mismatch rather than a misread file.

constexpr char kFooterMagic[8] = {'K', 'I', 'L', 'N', 'X', 'X', 'H', '3'};
static_assert(kChecksumFooterSize == 2 * sizeof(uint64_t) + sizeof(kFooterMagic));

struct ChecksumFooter {
  uint64_t graph = 0;
  uint64_t weights = 0;
};

uint64_t checksum(std::span<const uint8_t> bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

// The footer `bytes` end with, if they end with its magic.
std::optional<ChecksumFooter> find_footer(std::span<const uint8_t> bytes) {
  if (bytes.size() < kChecksumFooterSize) return std::nullopt;
  const uint8_t* f = bytes.data() + bytes.size() - kChecksumFooterSize;
  if (std::memcmp(f + 16, kFooterMagic, sizeof kFooterMagic) != 0) return std::nullopt;
  return ChecksumFooter{get_u64(f), get_u64(f + 8)};
}

bool format_has_checksums(uint16_t major, uint16_t minor) { return major > 1 || (major == 1 && minor >= 2); }

std::string format_name(const fb::Model* model) {
  return std::to_string(model->format_major()) + "." + std::to_string(model->format_minor());
}

void verify_checksum(std::span<const uint8_t> section, size_t offset, uint64_t expected, const char* name,
                     const std::string& source) {
  if (checksum(section) == expected) return;
  std::string what = "checksum mismatch in ";
  what += name;
  what += " (the " + std::to_string(section.size()) + " bytes at offset " + std::to_string(offset) +
          "): the file is damaged; copy or convert it again";
  corrupt(source, what);
}

// `body`: the file without its footer.
void verify_graph_checksum(std::span<const uint8_t> body, size_t weights_start, uint64_t expected,
                           const std::string& source) {
  if (weights_start > body.size())
    corrupt(source, "truncated: the graph section and its padding need " + std::to_string(weights_start) +
                        " bytes, the file has " + std::to_string(body.size()) + " before its checksum footer");
  verify_checksum(body.first(weights_start), 0, expected, "graph", source);
}

// Two things say whether a file has checksums, the footer's magic and the
// version field, and they must agree. With verification on, a damaged version
// field is already a graph checksum mismatch; this catches a damaged magic
// (a 1.2 file that no longer ends with a footer) and, with verification off,
// a damaged version field.
void check_footer_matches_format(const fb::Model* model, bool has_footer, const std::string& source) {
  const bool expected = format_has_checksums(model->format_major(), model->format_minor());
  if (expected && !has_footer)
    corrupt(source, "truncated or damaged: a file of format " + format_name(model) + " ends with a " +
                        std::to_string(kChecksumFooterSize) + "-byte checksum footer (magic 'KILNXXH3'), " +
                        "and this one does not");
  if (!expected && has_footer)
    corrupt(source, "damaged: the file ends with a checksum footer but says format " + format_name(model) +
                        ", which has none");
}

// A checksummed file holds nothing but its sections: bytes between the
// weights region and the footer would be covered by neither checksum.
void check_weights_end_at_footer(size_t weights_start, uint64_t weights_size, size_t footer_start,
                                 const std::string& source) {
  if (weights_start <= footer_start && weights_size == footer_start - weights_start) return;
  corrupt(source, "the weights region (" + std::to_string(weights_size) + " bytes at offset " +
                      std::to_string(weights_start) + ") does not end where the checksum footer starts (offset " +
                      std::to_string(footer_start) + ")");
}

ModelFileInfo describe_file(const fb::Model* model, bool has_footer, bool verified, const std::string& source) {
  ModelFileInfo info;
  info.format_major = model->format_major();
  info.format_minor = model->format_minor();
  info.has_checksums = has_footer;
  info.checksums_verified = has_footer && verified;
  if (!has_footer)
    info.notes.push_back(source + ": the file has no checksums (format " + format_name(model) +
                         "), so damage to it goes unnoticed; convert it again to get them");
  return info;
}

}  // namespace

void append_checksum_footer(std::vector<uint8_t>& file) {
  if (file.size() < kPrefix) throw Error(ErrorCode::Internal, "append_checksum_footer: no size prefix");
  const size_t weights_start = align_up(kPrefix + flatbuffers::GetPrefixedSize(file.data()));
  if (weights_start > file.size())
    throw Error(ErrorCode::Internal, "append_checksum_footer: the graph section is cut short");
  const std::span<const uint8_t> bytes(file);
  uint8_t footer[kChecksumFooterSize];
  put_u64(footer, checksum(bytes.first(weights_start)));
  put_u64(footer + 8, checksum(bytes.subspan(weights_start)));
  std::memcpy(footer + 16, kFooterMagic, sizeof kFooterMagic);
  file.insert(file.end(), footer, footer + kChecksumFooterSize);
}

std::vector<uint8_t> serialize_graph(const Graph& graph) {
  flatbuffers::FlatBufferBuilder fbb(1 << 16);

  // Lay out the weights region first: one 64-byte-aligned slot per constant.
  std::vector<uint64_t> offsets(graph.tensors.size(), 0);
  uint64_t weights_size = 0;
  for (size_t i = 0; i < graph.tensors.size(); ++i) {
    const auto& t = graph.tensors[i];
    if (!t.constant) continue;
    offsets[i] = weights_size;
    weights_size = align_up(weights_size + t.constant->size_bytes());
  }

  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  for (size_t i = 0; i < graph.tensors.size(); ++i) {
    const auto& t = graph.tensors[i];
    auto name = fbb.CreateString(t.name);
    auto shape = fbb.CreateVector(t.shape);
    fb::ConstantRef ref(offsets[i], t.constant ? t.constant->size_bytes() : 0);
    flatbuffers::Offset<fb::QuantParams> quant;
    if (t.quant)
      quant = fb::CreateQuantParams(fbb, fbb.CreateVector(t.quant->scale), fbb.CreateVector(t.quant->zero_point),
                                    t.quant->axis);
    tensors.push_back(fb::CreateTensor(fbb, name, t.dtype, shape, t.constant ? &ref : nullptr, quant));
  }
  std::vector<flatbuffers::Offset<fb::Node>> nodes;
  for (const auto& n : graph.nodes) {
    auto name = fbb.CreateString(n.name);
    auto inputs = fbb.CreateVector(n.inputs);
    auto outputs = fbb.CreateVector(n.outputs);
    auto attrs = n.attrs.Pack(fbb);
    nodes.push_back(fb::CreateNode(fbb, name, n.op, inputs, outputs, n.attrs.type, attrs));
  }
  auto tensors_v = fbb.CreateVector(tensors);
  auto nodes_v = fbb.CreateVector(nodes);
  auto inputs_v = fbb.CreateVector(graph.inputs);
  auto outputs_v = fbb.CreateVector(graph.outputs);
  auto passes_v = fbb.CreateVectorOfStrings(graph.passes_applied);
  auto producer = fbb.CreateString(graph.producer);
  auto info = fb::CreateModelInfo(fbb, &graph.info);
  auto model = fb::CreateModel(fbb, kFormatMajor, kFormatMinor, producer, tensors_v, nodes_v, inputs_v, outputs_v,
                               passes_v, info, weights_size);
  fbb.FinishSizePrefixed(model, fb::ModelIdentifier());

  const size_t fb_size = fbb.GetSize();
  const size_t weights_start = align_up(fb_size);
  std::vector<uint8_t> file(weights_start + weights_size, 0);
  std::memcpy(file.data(), fbb.GetBufferPointer(), fb_size);
  for (size_t i = 0; i < graph.tensors.size(); ++i) {
    const auto& t = graph.tensors[i];
    if (t.constant && t.constant->size_bytes())
      std::memcpy(file.data() + weights_start + offsets[i], t.constant->bytes(), t.constant->size_bytes());
  }
  append_checksum_footer(file);
  return file;
}

// Written to a temporary file beside the target and renamed over it: a process
// that has the old file memory-mapped keeps reading the old bytes (truncating
// it in place would raise SIGBUS there), and a failed write never leaves a
// half-written .kiln behind.
void save_graph(const Graph& graph, const std::string& path) {
  const std::vector<uint8_t> bytes = serialize_graph(graph);
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorCode::Io, path + ": cannot open for writing: " + std::strerror(errno));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::remove(temp.c_str());
      throw Error(ErrorCode::Io, path + ": write failed");
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp.c_str());
    throw Error(ErrorCode::Io, path + ": cannot replace the file: " + reason);
  }
}

Graph parse_graph(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes, const std::string& source,
                  const LoadOptions& options, ModelFileInfo* file) {
  if (bytes.empty()) corrupt(source, "the file is empty");
  if (bytes.size() < kPrefix + 8 || !flatbuffers::BufferHasIdentifier(bytes.data(), fb::ModelIdentifier(), true))
    corrupt(source, "not a .kiln file (the 'KILN' identifier is missing)");
  // The footer is found by its magic, not by the version field, so that the
  // bytes are checked before anything in them is believed.
  const std::optional<ChecksumFooter> footer = find_footer(bytes);
  const std::span<const uint8_t> body = footer ? bytes.first(bytes.size() - kChecksumFooterSize) : bytes;
  const bool verify = footer && options.verify_checksums;
  const size_t fb_size = kPrefix + flatbuffers::GetPrefixedSize(bytes.data());
  if (fb_size > body.size())
    corrupt(source, "truncated: the header says " + std::to_string(fb_size) + " bytes of graph, the file has " +
                        std::to_string(body.size()));
  const size_t weights_start = align_up(fb_size);
  if (verify) verify_graph_checksum(body, weights_start, footer->graph, source);

  flatbuffers::Verifier verifier(bytes.data(), fb_size);
  if (!fb::VerifySizePrefixedModelBuffer(verifier))
    corrupt(source, "the graph section fails FlatBuffers verification (corrupt or truncated file)");
  const fb::Model* model = fb::GetSizePrefixedModel(bytes.data());

  if (model->format_major() > kFormatMajor)
    throw Error(ErrorCode::Unsupported,
                source + ": written in .kiln format " + std::to_string(model->format_major()) + "." +
                    std::to_string(model->format_minor()) + "; this build of Kiln reads format " +
                    std::to_string(kFormatMajor) + ".x: upgrade Kiln or convert the model again");

  const uint64_t weights_size = model->weights_size();
  if (weights_size > 0 && !range_within(weights_start, weights_size, body.size()))
    corrupt(source, "truncated: the weights region needs " + std::to_string(weights_size) + " bytes at offset " +
                        std::to_string(weights_start) + ", the file has " + std::to_string(body.size()));
  check_footer_matches_format(model, footer.has_value(), source);
  if (footer) {
    check_weights_end_at_footer(weights_start, weights_size, body.size(), source);
    if (verify)
      verify_checksum(body.subspan(weights_start, weights_size), weights_start, footer->weights, "weights", source);
  }
  const uint8_t* weights = bytes.data() + weights_start;
  // Zero-copy only when the caller keeps the bytes alive and they are aligned.
  const bool borrow = owner && reinterpret_cast<uintptr_t>(weights) % kAlign == 0;

  Graph g;
  g.producer = model->producer() ? model->producer()->str() : "";
  for (const fb::Tensor* t : *model->tensors()) {
    TensorInfo info;
    info.name = t->name()->str();
    info.dtype = t->dtype();
    if (!elements_aligned(t->shape(), bytes.data()))
      corrupt(source, "tensor '" + info.name + "' has a misaligned shape vector");
    info.shape = to_vector(t->shape());
    if (static_cast<int>(info.dtype) > static_cast<int>(DataType::MAX))
      corrupt(source, "tensor '" + info.name + "' has an unknown data type code");
    if (const fb::QuantParams* q = t->quant()) {
      if (!elements_aligned(q->scale(), bytes.data()) || !elements_aligned(q->zero_point(), bytes.data()))
        corrupt(source, "tensor '" + info.name + "' has misaligned quantization vectors");
      info.quant = QuantParams{to_vector(q->scale()), to_vector(q->zero_point()), q->axis()};
    }
    if (const fb::ConstantRef* ref = t->constant()) {
      if (ref->offset() % kAlign != 0)
        corrupt(source, "constant '" + info.name + "' is not 64-byte aligned in the weights region");
      if (!range_within(ref->offset(), ref->size(), weights_size))
        corrupt(source, "constant '" + info.name + "' lies outside the weights region");
      const uint8_t* p = weights + ref->offset();
      info.constant = borrow ? ConstantData::borrow(owner, p, ref->size()) : ConstantData::copy_of(p, ref->size());
    }
    g.tensors.push_back(std::move(info));
  }
  for (const fb::Node* n : *model->nodes()) {
    Node node;
    node.name = n->name() ? n->name()->str() : "";
    node.op = n->op();
    node.inputs = to_vector(n->inputs());
    node.outputs = to_vector(n->outputs());
    node.attrs.type = n->attributes_type();
    if (n->attributes() && !attribute_vectors_aligned(n, bytes.data()))
      corrupt(source, "node '" + node.name + "' has misaligned attribute vectors");
    // The verifier accepts a union type without its table; UnPack would then
    // dereference null, so a missing table means no attributes.
    node.attrs.value = n->attributes() ? fb::AttributesUnion::UnPack(n->attributes(), n->attributes_type(), nullptr)
                                       : nullptr;
    if (node.attrs.value == nullptr) node.attrs.type = fb::Attributes::NONE;
    if (node.name.empty()) node.name = "node" + std::to_string(g.nodes.size());
    g.nodes.push_back(std::move(node));
  }
  g.inputs = to_vector(model->inputs());
  g.outputs = to_vector(model->outputs());
  if (model->passes_applied())
    for (const auto* s : *model->passes_applied()) g.passes_applied.push_back(s->str());
  if (model->info()) model->info()->UnPackTo(&g.info);

  try {
    validate_graph(g);
  } catch (const Error& e) {
    throw Error(e.code(), source + ": " + e.what());
  }
  if (file) *file = describe_file(model, footer.has_value(), verify, source);
  return g;
}

Graph load_graph(const std::string& path, const LoadOptions& options, ModelFileInfo* file) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::Io, path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::Io, path + ": not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    corrupt(path, "the file is empty");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw Error(ErrorCode::Io, path + ": cannot map: " + std::strerror(errno));
  std::shared_ptr<const void> owner(map, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
  return parse_graph(owner, {static_cast<const uint8_t*>(map), size}, path, options, file);
}

}  // namespace kiln
