#include "engine/runtime/algorithm_selection.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kiln/error.hpp"

namespace kiln {

SelectionMode parse_selection_mode(std::string_view a, Determinism deterministic, const std::vector<std::string>& names,
                                   std::string_view backend) {
  if (a.empty() || a == "heuristic") return {SelectionMode::Kind::Heuristic, {}};
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  if (a == "tune") {
    if (deterministic != Determinism::Off) {
      std::string what = "--algorithm tune picks algorithms by timing, which can differ between runs; it cannot be "
                         "combined with deterministic mode (";
      what += determinism_name(deterministic);
      what += ")";
      throw Error(ErrorCode::InvalidArgument, what);
    }
    return {SelectionMode::Kind::Tune, {}};
  }
  if (a.rfind("fixed:", 0) == 0) {
    std::string name(a.substr(6));
    if (names.empty())
      throw Error(ErrorCode::InvalidArgument, "backend " + std::string(backend) +
                                                  " has one way to run each layer; --algorithm fixed:" + name +
                                                  " is for backends with a choice (cpu, vulkan, cuda)");
    if (std::find(names.begin(), names.end(), name) == names.end())
      throw Error(ErrorCode::InvalidArgument, "unknown convolution algorithm '" + name + "' for backend " +
                                                  std::string(backend) + " (available: " + list + ")");
    return {SelectionMode::Kind::Fixed, std::move(name)};
  }
  throw Error(ErrorCode::InvalidArgument, "unknown algorithm mode '" + std::string(a) +
                                              "' (expected heuristic, tune or fixed:NAME" +
                                              (list.empty() ? std::string() : " with NAME one of " + list) + ")");
}

namespace {
// The first line of every cache file. Keys are ConvGeometry::key() (shared by
// every backend since format 2); a file without this line holds keys of an
// older layout that could be misread, so it is ignored and rewritten.
constexpr const char* kCacheHeader = "# kiln tuning cache, format 2";
}  // namespace

TuningCache::TuningCache(std::string path, size_t key_fields) : path_(std::move(path)), key_fields_(key_fields) {
  std::ifstream in(path_);
  std::string line;
  if (!std::getline(in, line)) return;  // missing or empty: written fresh on the first record
  if (line != kCacheHeader) {
    std::fprintf(stderr,
                 "note: ignoring the tuning cache %s: an older Kiln wrote it with other layer keys; it will be "
                 "rewritten\n",
                 path_.c_str());
    rewrite_ = true;
    return;
  }
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, '\t');) fields.push_back(f);
    if (fields.size() < key_fields_ + 1) continue;  // the milliseconds are not needed to use a line
    entries_[Key(fields.begin(), fields.begin() + static_cast<std::ptrdiff_t>(key_fields_))] = fields[key_fields_];
  }
}

std::string TuningCache::default_path(std::string_view backend) {
  const std::string file = std::string(backend) + "-tuning.tsv";
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/kiln/" + file;
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/kiln/" + file;
  return "kiln-" + file;
}

std::string TuningCache::path_for(const BackendOptions& options, std::string_view backend) {
  return options.tuning_cache.empty() ? default_path(backend) : options.tuning_cache;
}

const std::string* TuningCache::find(const Key& key) const {
  const auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

void TuningCache::record(const Key& key, const std::string& value, double ms) {
  assert(key.size() == key_fields_ && "a key of another layout would be unreadable when loaded");
  entries_[key] = value;
  std::error_code ec;
  const auto dir = std::filesystem::path(path_).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  std::error_code size_ec;
  const bool fresh =
      rewrite_ || !std::filesystem::exists(path_, size_ec) || std::filesystem::file_size(path_, size_ec) == 0;
  std::ofstream out(path_, fresh ? std::ios::trunc : std::ios::app);
  if (!out) {
    std::fprintf(stderr, "warning: cannot write the tuning cache %s; results are kept for this session only\n",
                 path_.c_str());
    return;
  }
  if (fresh) out << kCacheHeader << '\n';
  rewrite_ = false;
  char millis[64];
  std::snprintf(millis, sizeof millis, "%.4f", ms);
  for (const std::string& f : key) out << f << '\t';
  out << value << '\t' << millis << '\n';
}

}  // namespace kiln
