#pragma once
// How a .kiln file is read, and what the reader found out about the file
// itself. A header of its own (included by kiln.hpp) so that the file reader
// below the public API fills these very structs.
#include <string>
#include <vector>

namespace kiln {

// Options of Model::load and Model::from_bytes.
struct LoadOptions {
  // Check the checksums of the graph and of the weights (files of format 1.2
  // on carry them). That reads every byte of the file at load; turn it off for
  // files you trust, and only the pages the model uses are read. The structure
  // checks run either way.
  bool verify_checksums = true;
};

// The .kiln file a model was read from.
struct ModelFileInfo {
  // The format the file was written in; 0.0 for a model that was not read from
  // a .kiln file (an ONNX model converted in memory).
  int format_major = 0;
  int format_minor = 0;
  bool has_checksums = false;       // format 1.2 on
  bool checksums_verified = false;  // has_checksums, and LoadOptions::verify_checksums was on
  // What a tool should tell its user about the file, each a sentence naming
  // the file: e.g. that it has no checksums, so damage to it goes unnoticed.
  std::vector<std::string> notes;
};

}  // namespace kiln
