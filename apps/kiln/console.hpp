#pragma once
// What the `kiln` commands tell the person at the terminal besides their
// results: a single updating progress line on stderr for long work (only when
// stderr is a terminal and --quiet was not given, so logs and pipes never see
// one), and the model loading every command shares (.kiln or ONNX).
#include <CLI/CLI.hpp>
#include <chrono>
#include <string>

#include "kiln/kiln.hpp"

namespace kiln::cli {

// Registers --quiet,-q on `cmd` (every command shares one setting).
void add_quiet_flag(CLI::App* cmd);
bool quiet();
// Whether progress lines are shown: stderr is a terminal and not --quiet.
bool progress_enabled();

// One line on stderr rewritten in place ("\r"), the cursor left at its start so
// that any other message overwrites it. Does nothing unless progress_enabled().
class ProgressLine {
 public:
  ProgressLine();
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  bool enabled() const { return enabled_; }
  // Shows `text` (at most every 100 ms unless `force`).
  void update(const std::string& text, bool force = false);
  // Erases the line (also on destruction).
  void clear();

 private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// Creates the session; with algorithm "tune" on a terminal, shows "tuning
// convolution layers i of N" meanwhile.
Session open_session(const Model& model, const SessionOptions& options);

// Registers --no-verify on `cmd`, which writes into `options` (keep it in the
// command's shared argument struct, as for add_session_flags).
void add_load_flags(CLI::App* cmd, LoadOptions& options);

// A .kiln file or an ONNX file (converted in memory, with its known-model
// metadata, as `kiln convert` would write it); told by the file's contents
// (a file named *.kiln is always read as .kiln, so damage is reported as such).
// For ONNX, says so on stderr with the conversion time (unless --quiet), and
// on a terminal shows a line while a conversion takes over 2 s. For .kiln,
// the file's notes (e.g. that it has no checksums) go to stderr unless --quiet.
Model load_model_file(const std::string& path, const LoadOptions& options);

// "cpu (auto: ...), threads 2 (every core), algorithm heuristic": the session
// as resolved (backend picked, threads) and the options that were given.
std::string describe_session(const Session& session, const SessionOptions& options);

}  // namespace kiln::cli
