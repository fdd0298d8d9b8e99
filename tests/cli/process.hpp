#pragma once
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

}  // namespace kiln::test
