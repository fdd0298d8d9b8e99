#include <fmt/format.h>

#include "apps/kiln/commands.hpp"
#include "kiln/convert.hpp"

namespace kiln::cli {

Command add_convert(CLI::App& app) {
  auto* cmd = app.add_subcommand("convert", "Convert an ONNX model into a .kiln file");
  struct Args {
    std::string input, output;
    int64_t batch = 0;
    bool no_optimize = false;
    std::vector<std::string> label_dirs;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("input", args->input, "ONNX model (.onnx)")->required();
  cmd->add_option("output", args->output, "Kiln model to write (.kiln)")->required();
  cmd->add_option("--batch", args->batch, "Override the batch dimension of every input")->check(CLI::PositiveNumber);
  cmd->add_flag("--no-optimize", args->no_optimize, "Keep the graph as imported (no convert-time passes)");
  cmd->add_option("--labels-dir", args->label_dirs, "Extra folder to look for a known model's labels file");
  return [args] {
    ConvertOptions options;
    if (args->batch > 0) options.batch = args->batch;
    options.optimize = !args->no_optimize;
    options.label_search_dirs = args->label_dirs;
    const ConvertReport r = convert_onnx_file(args->input, args->output, options);
    fmt::print("converted {} (opset {}, {} ONNX nodes, producer '{}')\n", args->input, r.opset, r.onnx_nodes,
               r.onnx_producer);
    fmt::print("  folded during import: {} nodes (constants and shape sub-graphs)\n", r.folded_by_importer);
    for (const auto& p : r.passes) fmt::print("  pass {}\n", p);
    if (!options.optimize) fmt::print("  passes: none (--no-optimize)\n");
    fmt::print("  known model: {}\n", r.known_model.empty() ? "no (no manifest matches this file)" : r.known_model);
    for (const auto& w : r.warnings) fmt::print(stderr, "kiln: warning: {}\n", w);
    fmt::print("wrote {}: {} nodes\n", args->output, r.kiln_nodes);
    return 0;
  };
}

}  // namespace kiln::cli
