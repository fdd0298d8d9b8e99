#pragma once
// The manifest of known models (models/manifests/*.json): where each came from,
// how to preprocess its input and how to read its output. The converter stores
// the matching entry in the .kiln file so `kiln classify` needs no flags.
#include <string>
#include <vector>

#include "engine/core/graph.hpp"

namespace kiln::models {

struct Manifest {
  std::string name;
  std::string file;    // the ONNX file name in ../shared/models
  std::string sha256;  // of that file
  std::string source_url;
  std::string description;
  int input_size = 224;
  fb::Preprocess preprocess = fb::Preprocess::Unknown;
  fb::ResizePolicy resize = fb::ResizePolicy::ShorterSide;
  fb::ResizeFilter resize_filter = fb::ResizeFilter::Bilinear;
  fb::OutputKind output = fb::OutputKind::Unknown;
  std::string labels_file;
  int class_offset = 0;
};

const std::vector<Manifest>& known_models();
const Manifest* find_by_sha256(const std::string& sha256);
const Manifest* find_by_name(const std::string& name);

// Lowercase hex sha256 of a file's contents.
std::string sha256_file(const std::string& path);

// One label per line (trailing whitespace dropped; a missing final newline is fine).
std::vector<std::string> read_labels(const std::string& path);

// If `onnx_path` is a known model, fills graph.info from its manifest and loads
// its labels file, searched beside the ONNX file, in its parent folders, and in
// `label_dirs`. Returns the manifest name, or "" for an unknown model. Problems
// that do not stop conversion (labels file not found) go to `warnings`.
std::string attach_model_metadata(Graph& graph, const std::string& onnx_path,
                                  const std::vector<std::string>& label_dirs, std::vector<std::string>& warnings);

fb::Preprocess parse_preprocess(const std::string& name);  // throws on unknown names
const char* preprocess_name(fb::Preprocess p);

}  // namespace kiln::models
