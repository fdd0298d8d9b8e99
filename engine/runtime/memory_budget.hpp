#pragma once
// The memory a session may take (SessionOptions::memory_limit), checked before
// anything large is allocated: a model whose shapes claim more memory than the
// machine has is refused with both figures, not ended by std::bad_alloc or the
// kernel's OOM killer.
#include <cstddef>
#include <string>

#include "engine/core/graph.hpp"

namespace kiln {

// "1.50 GiB", "12.0 MiB", "640 B".
std::string format_bytes(size_t bytes);

// What a graph needs at least on any backend: its activations as the dense
// memory planner places them (one run) and its constants.
struct MemoryNeed {
  size_t activations = 0;
  size_t weights = 0;
  size_t total() const { return activations + weights; }
};
MemoryNeed minimum_memory_need(const Graph& graph);

// Throws kiln::Error when `weights` plus one context of `per_context` bytes
// exceed `limit`; otherwise returns how many contexts (at most `wanted`, at
// least 1) fit beside the weights. `who` names the backend in the message.
size_t contexts_within_limit(size_t weights, size_t per_context, size_t limit, size_t wanted, const std::string& who);

}  // namespace kiln
