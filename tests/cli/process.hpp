#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace kiln::test {

struct ProcessResult {
  int exit_code = -1;   // valid when !signaled
  bool signaled = false;
  int signal = 0;
  std::string out, err;
  long max_rss_kib = 0;  // the child's peak resident memory
};

// Runs the kiln CLI with `args` (no shell), capturing stdout and stderr.
ProcessResult run_kiln(const std::vector<std::string>& args);

// A file's bytes ("" when it cannot be read).
std::string read_file(const std::filesystem::path& p);
// `kiln convert onnx dir/name.kiln` unless that file exists already (one
// conversion per test process); a failed conversion is a test failure.
std::filesystem::path convert_once(const std::filesystem::path& onnx, const std::filesystem::path& dir,
                                   const std::string& name);

}  // namespace kiln::test
