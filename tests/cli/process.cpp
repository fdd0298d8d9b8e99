#include "tests/cli/process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace kiln::test {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ProcessResult run_kiln(const std::vector<std::string>& args) {
  static int counter = 0;
  const auto dir = std::filesystem::temp_directory_path() / "kiln_cli_test";
  std::filesystem::create_directories(dir);
  const auto out_path = dir / ("out" + std::to_string(::getpid()) + "_" + std::to_string(counter));
  const auto err_path = dir / ("err" + std::to_string(::getpid()) + "_" + std::to_string(counter++));

  std::vector<std::string> argv_s{KILN_CLI_PATH};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  if (posix_spawn(&pid, KILN_CLI_PATH, &actions, nullptr, argv.data(), environ) != 0)
    throw std::runtime_error("cannot start " KILN_CLI_PATH);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);

  ProcessResult r;
  r.max_rss_kib = usage.ru_maxrss;
  r.signaled = WIFSIGNALED(status);
  if (r.signaled) r.signal = WTERMSIG(status);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return r;
}

std::filesystem::path convert_once(const std::filesystem::path& onnx, const std::filesystem::path& dir,
                                   const std::string& name) {
  std::filesystem::create_directories(dir);
  const std::filesystem::path out = dir / (name + ".kiln");
  if (!std::filesystem::exists(out)) {
    const ProcessResult r = run_kiln({"convert", onnx.string(), out.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  return out;
}

}  // namespace kiln::test
