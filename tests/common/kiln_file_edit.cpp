#include "tests/common/kiln_file_edit.hpp"

#include <cstring>
#include <memory>
#include <stdexcept>

#include "engine/format/kiln_file.hpp"
#include "flatbuffers/flatbuffers.h"

namespace kiln::test {

namespace {
size_t align64(size_t n) { return (n + 63) / 64 * 64; }
}  // namespace

KilnLayout kiln_layout(const std::vector<uint8_t>& file) {
  if (file.size() < 4 + kChecksumFooterSize) throw std::runtime_error("kiln_layout: too short for a .kiln file");
  uint32_t prefix = 0;
  std::memcpy(&prefix, file.data(), 4);
  return {align64(4 + size_t{prefix}), file.size() - kChecksumFooterSize, file.size()};
}

std::vector<uint8_t> rewrite_kiln(const std::vector<uint8_t>& file, const std::function<void(fb::ModelT&)>& edit,
                                  bool seal) {
  const KilnLayout layout = kiln_layout(file);
  std::unique_ptr<fb::ModelT> model(fb::GetSizePrefixedModel(file.data())->UnPack());
  edit(*model);
  flatbuffers::FlatBufferBuilder fbb;
  fbb.FinishSizePrefixed(fb::Model::Pack(fbb, model.get()), fb::ModelIdentifier());
  std::vector<uint8_t> out(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  out.resize(align64(out.size()), 0);
  out.insert(out.end(), file.begin() + static_cast<std::ptrdiff_t>(layout.weights_start),
             file.begin() + static_cast<std::ptrdiff_t>(layout.footer_start));
  if (seal) append_checksum_footer(out);
  return out;
}

std::vector<uint8_t> without_checksums(const std::vector<uint8_t>& file, uint16_t minor) {
  return rewrite_kiln(file, [minor](fb::ModelT& m) { m.format_minor = minor; }, false);
}

}  // namespace kiln::test
