#pragma once
// The `kiln` subcommands. Each registers its options on the CLI11 app and
// returns a function that runs it; errors are thrown as kiln::Error and turned
// into a message and exit code by main.cpp.
#include <CLI/CLI.hpp>
#include <functional>

namespace kiln::cli {

using Command = std::function<int()>;

Command add_convert(CLI::App& app);
Command add_inspect(CLI::App& app);
Command add_run(CLI::App& app);
Command add_classify(CLI::App& app);
Command add_bench(CLI::App& app);
Command add_devices(CLI::App& app);
Command add_compare(CLI::App& app);
Command add_quantize(CLI::App& app);

}  // namespace kiln::cli
