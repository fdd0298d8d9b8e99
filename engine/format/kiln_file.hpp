#pragma once
// Reading and writing .kiln files (layout in engine/schema/kiln.fbs).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/core/graph.hpp"

namespace kiln {

// The complete file contents for `graph`.
std::vector<uint8_t> serialize_graph(const Graph& graph);
void save_graph(const Graph& graph, const std::string& path);

// Memory-maps `path` and parses it; constants point into the mapping (zero-copy).
Graph load_graph(const std::string& path);

// Parses file contents. `owner` keeps `bytes` alive for as long as constants
// refer to them; pass nullptr to make the graph copy its constants. `source`
// names the file in error messages.
Graph parse_graph(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes, const std::string& source);

}  // namespace kiln
