#pragma once
// The convolution-algorithm selection plumbing the CPU, Vulkan and CUDA
// backends share: the algorithm mode, parsed once at the API boundary, the
// tuning-cache file, and the "cheapest applicable algorithm" loop. What
// differs between backends stays with them: the algorithm registry, the cost
// model, how a candidate is timed and what a cache key holds.
#include <cstddef>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runtime/backend.hpp"

namespace kiln {

// Parses a SessionOptions::algorithm string ("" or "heuristic", "tune",
// "fixed:NAME"); throws InvalidArgument for an unknown mode, a NAME not in
// `names` (every name fixed:NAME accepts, listed in the message, which names
// `backend`) or tune with `deterministic`. Called once, by the session.
SelectionMode parse_selection_mode(std::string_view algorithm, Determinism deterministic,
                                   const std::vector<std::string>& names, std::string_view backend);

// A tuning-cache file: a format line, then one tab-separated line per timed
// choice: the key's fields, then the value (an algorithm name, or a backend's
// own verdict such as the CPU's fused/separate), then the measured
// milliseconds. Each backend has its own key layout (field count); lines with
// too few fields and lines starting with '#' are skipped, and later lines win
// over earlier ones.
class TuningCache {
 public:
  using Key = std::vector<std::string>;

  // Reads `path` if it exists; a missing or unreadable file is an empty
  // cache, and one of an older format (no format line) is ignored with a
  // one-line note on stderr and replaced on the first record().
  TuningCache(std::string path, size_t key_fields);
  // $XDG_CACHE_HOME/kiln/<backend>-tuning.tsv, else ~/.cache/kiln/..., else
  // kiln-<backend>-tuning.tsv in the working directory.
  static std::string default_path(std::string_view backend);
  // options.tuning_cache, or the default path when that is empty.
  static std::string path_for(const BackendOptions& options, std::string_view backend);

  const std::string* find(const Key& key) const;
  // Remembers `value` for this session and appends it to the file (creating
  // its directory). A file that cannot be written is a warning, not an error:
  // tuning still works, it is only not remembered across sessions.
  void record(const Key& key, const std::string& value, double ms);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  size_t key_fields_;
  std::map<Key, std::string> entries_;
  bool rewrite_ = false;  // the file holds an older format: replace it on the first record
};

// What a backend's selector chose for one layer.
template <class Algorithm>
struct Selection {
  const Algorithm* algorithm = nullptr;
  double estimated_ms = 0;
  double measured_ms = -1;  // tune only
  std::string how;          // "heuristic", "tuned", "tuning cache", "fixed", ...
};

// A registry's algorithm called `name` (nullptr if none), and every name in it
// (in registry order) followed by `more` (names fixed:NAME also takes, such as
// fused pairs that are not single-layer algorithms).
template <class Algorithm>
const Algorithm* find_by_name(const std::vector<const Algorithm*>& registry, std::string_view name) {
  for (const Algorithm* a : registry)
    if (name == a->name()) return a;
  return nullptr;
}
template <class Algorithm>
std::vector<std::string> names_of(const std::vector<const Algorithm*>& registry,
                                  std::initializer_list<const char*> more = {}) {
  std::vector<std::string> names;
  for (const Algorithm* a : registry) names.emplace_back(a->name());
  for (const char* m : more) names.emplace_back(m);
  return names;
}

// The algorithm with the lowest `cost` among those `usable` says yes to, in
// registry order, so ties go to the earlier one; nullptr when none is usable.
// `cost` is a backend's estimate (heuristic) or a timing (tune).
template <class Algorithm>
struct Cheapest {
  const Algorithm* algorithm = nullptr;
  double ms = 0;
};
template <class Algorithm, class Usable, class Cost>
Cheapest<Algorithm> cheapest(const std::vector<const Algorithm*>& algorithms, Usable usable, Cost cost) {
  Cheapest<Algorithm> best;
  for (const Algorithm* a : algorithms) {
    if (!usable(*a)) continue;
    const double ms = cost(*a);
    if (!best.algorithm || ms < best.ms) best = {a, ms};
  }
  return best;
}

}  // namespace kiln
