#include "engine/runtime/memory_budget.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>

#include "engine/runtime/memory_planner.hpp"
#include "kiln/kiln.hpp"

namespace kiln {

std::string format_bytes(size_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= double(1ull << 30)) return fmt::format("{:.2f} GiB", b / double(1ull << 30));
  if (b >= double(1ull << 20)) return fmt::format("{:.1f} MiB", b / double(1ull << 20));
  if (b >= double(1ull << 10)) return fmt::format("{:.1f} KiB", b / double(1ull << 10));
  return fmt::format("{} B", bytes);
}

namespace {
// "MemAvailable:  123456 kB" from /proc/meminfo, in bytes; 0 when unreadable.
size_t meminfo_available() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  unsigned long long kib = 0;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return static_cast<size_t>(kib) * 1024;
  }
  return 0;
}

// memory.max − memory.current of this process's cgroup (v2), or SIZE_MAX when
// there is no limit or no cgroup file to read.
size_t cgroup_remaining() {
  std::ifstream cg("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(cg, line))
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  if (path.empty()) return SIZE_MAX;
  const std::string dir = "/sys/fs/cgroup" + path;
  std::ifstream max_file(dir + "/memory.max"), current_file(dir + "/memory.current");
  std::string max_text;
  unsigned long long current = 0, max = 0;
  if (!(max_file >> max_text) || max_text == "max" || !(current_file >> current)) return SIZE_MAX;
  try {
    max = std::stoull(max_text);
  } catch (const std::exception&) {
    return SIZE_MAX;
  }
  return max > current ? static_cast<size_t>(max - current) : 0;
}
}  // namespace

size_t available_memory() {
  size_t bytes = meminfo_available();
  if (bytes == 0) {
    const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    bytes = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : SIZE_MAX;
  }
  return std::min(bytes, cgroup_remaining());
}

MemoryNeed minimum_memory_need(const Graph& graph) {
  MemoryNeed need;
  need.activations = plan_memory_dense(graph).arena_bytes;
  for (const TensorInfo& t : graph.tensors)
    if (t.constant) need.weights += t.constant->size_bytes();
  return need;
}

size_t contexts_within_limit(size_t weights, size_t per_context, size_t limit, size_t wanted, const std::string& who) {
  if (weights > limit || per_context > limit - weights) {
    std::string m = who + " needs " + format_bytes(weights + per_context) + " (weights " + format_bytes(weights);
    m += ", activations and scratch of one run " + format_bytes(per_context) + "), more than the memory limit of ";
    m += format_bytes(limit) + " (SessionOptions::memory_limit; by default the memory available now)";
    throw Error(ErrorCode::InvalidArgument, m);
  }
  const size_t fit = per_context == 0 ? wanted : (limit - weights) / per_context;
  return std::clamp<size_t>(fit, 1, std::max<size_t>(wanted, 1));
}

}  // namespace kiln
