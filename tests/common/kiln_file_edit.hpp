#pragma once
// Edits of .kiln file bytes for tests: where the sections lie, the Model table
// re-serialised after an edit, and the checksum footer removed to make a file
// as format 1.1 wrote it.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/core/graph.hpp"

namespace kiln::test {

// Byte offsets in a file of format 1.2: [0, weights_start) the graph section
// (size prefix, FlatBuffer, padding), [weights_start, footer_start) the
// weights region, [footer_start, size) the checksum footer.
struct KilnLayout {
  size_t weights_start = 0;
  size_t footer_start = 0;
  size_t size = 0;
};
KilnLayout kiln_layout(const std::vector<uint8_t>& file);

// The file (of format 1.2) with its Model table re-serialised after `edit` and the same
// weights region, sealed with a fresh checksum footer if `seal` (so that the
// edit reaches the structure checks), else left without one.
std::vector<uint8_t> rewrite_kiln(const std::vector<uint8_t>& file, const std::function<void(fb::ModelT&)>& edit,
                                  bool seal = true);

// The file as format 1.`minor` (before checksums) would hold it.
std::vector<uint8_t> without_checksums(const std::vector<uint8_t>& file, uint16_t minor = 1);

}  // namespace kiln::test
