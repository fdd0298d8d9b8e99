#pragma once
// Reading and writing .kiln files (layout in engine/schema/kiln.fbs).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"
#include "kiln/model_file.hpp"

namespace kiln {

// The complete file contents for `graph`, checksum footer included.
std::vector<uint8_t> serialize_graph(const Graph& graph);
void save_graph(const Graph& graph, const std::string& path);

// Memory-maps `path` and parses it; constants point into the mapping (zero-copy).
// `file`, when given, receives the file's format and checksum state.
Graph load_graph(const std::string& path, const LoadOptions& options = {}, ModelFileInfo* file = nullptr);

// Parses file contents. `owner` keeps `bytes` alive for as long as constants
// refer to them; pass nullptr to make the graph copy its constants. `source`
// names the file in error messages.
Graph parse_graph(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes, const std::string& source,
                  const LoadOptions& options = {}, ModelFileInfo* file = nullptr);

// The footer that ends a file of format 1.2 on: the checksums of its graph
// section and weights region, and a magic number.
inline constexpr size_t kChecksumFooterSize = 24;

// Appends the checksum footer to `file`, which holds the size-prefixed graph
// section, its padding and the weights region. The last step of
// serialize_graph; tests that edit a file use it to seal the edit.
void append_checksum_footer(std::vector<uint8_t>& file);

}  // namespace kiln
