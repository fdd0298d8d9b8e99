// kiln: convert, inspect, run, classify and benchmark with the Kiln inference engine.
// Exit codes: 0 success, 1 an error (message on stderr naming the file and the
// problem), 2 a usage error.
#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "apps/kiln/commands.hpp"
#include "kiln/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"kiln: a CNN inference engine (convert ONNX models, inspect, run, classify, bench, compare, quantize to int8, list devices)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kiln 0.1.0");
  std::vector<std::pair<CLI::App*, kiln::cli::Command>> commands;
  auto add = [&](kiln::cli::Command (*make)(CLI::App&)) {
    kiln::cli::Command cmd = make(app);
    commands.emplace_back(app.get_subcommands({}).back(), std::move(cmd));
  };
  add(kiln::cli::add_convert);
  add(kiln::cli::add_inspect);
  add(kiln::cli::add_run);
  add(kiln::cli::add_classify);
  add(kiln::cli::add_bench);
  add(kiln::cli::add_devices);
  add(kiln::cli::add_compare);
  add(kiln::cli::add_quantize);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  try {
    for (auto& [sub, run] : commands)
      if (sub->parsed()) return run();
    return 2;
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return 1;
  }
}
