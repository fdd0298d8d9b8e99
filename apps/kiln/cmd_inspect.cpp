#include <fmt/format.h>

#include "apps/kiln/commands.hpp"
#include "apps/kiln/console.hpp"
#include "apps/kiln/session_flags.hpp"
#include "apps/kiln/table.hpp"
#include "kiln/kiln.hpp"
#include "kiln/vision.hpp"

namespace kiln::cli {

namespace {
// "1.2, checksums of the graph and weights verified", or why they were not.
std::string describe_format(const ModelFileInfo& file) {
  std::string s = fmt::format("{}.{}, ", file.format_major, file.format_minor);
  if (file.checksums_verified) return s + "checksums of the graph and weights verified";
  if (file.has_checksums) return s + "checksums not verified (--no-verify)";
  return s + "no checksums (convert it again to get them)";
}
}  // namespace

Command add_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show a model (.kiln or ONNX): inputs, outputs, nodes, memory, and the session it gets");
  struct Args {
    std::string model;
    SessionOptions session;
    LoadOptions load;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Kiln model (.kiln) or ONNX model (.onnx)")->required();
  add_session_flags(cmd, args->session);  // the backend and options whose memory plan and per-node choices to show
  add_load_flags(cmd, args->load);
  return [args] {
    const Model model = load_model_file(args->model, args->load);
    const ModelMetadata meta = model.metadata();
    fmt::print("model     {}\n", args->model);
    fmt::print("producer  {}\n", model.producer());
    if (model.file_info().format_major > 0) fmt::print("format    {}\n", describe_format(model.file_info()));
    if (!meta.name.empty()) {
      fmt::print("known as  {} (preprocess {}, {} labels, class offset {})\n", meta.name,
                 preprocess_name(meta.preprocess), meta.labels.size(), meta.class_offset);
      fmt::print("source    {}\n", meta.source_url);
    }
    auto type_str = [](const TensorDesc& t) {
      return t.type == ElementType::Float32
                 ? std::string()
                 : fmt::format(" {} (scale {}, zero point {})", element_type_name(t.type), t.scale, t.zero_point);
    };
    for (const auto& t : model.inputs()) fmt::print("input     {} {}{}\n", t.name, shape_str(t.shape), type_str(t));
    for (const auto& t : model.outputs()) fmt::print("output    {} {}{}\n", t.name, shape_str(t.shape), type_str(t));
    size_t quantized = 0;
    for (const auto& n : model.nodes()) quantized += n.dtype.rfind("u8", 0) == 0 || n.dtype.rfind("i8", 0) == 0;
    if (quantized > 0)
      fmt::print("quantized {} of {} nodes compute on integers (reference and cpu); vulkan and cuda run this model in "
                 "float32 with its weights dequantized at load\n",
                 quantized, model.nodes().size());
    const auto passes = model.passes_applied();
    fmt::print("passes    {}\n", passes.empty() ? std::string("none (converted with --no-optimize)")
                                                 : std::to_string(passes.size()) + " applied at conversion");
    for (const auto& p : passes) fmt::print("          {}\n", p);

    Session session = open_session(model, args->session);
    fmt::print("session   {}\n", describe_session(session, args->session));
    const auto profile = session.profile();
    const auto nodes = model.nodes();
    Table table({"#", "node", "op", "output shape", "dtype", "attributes", "params", "FLOPs", "backend detail"});
    int64_t total_params = 0, total_flops = 0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      const NodeInfo& n = nodes[i];
      total_params += n.params;
      total_flops += n.flops;
      std::string shapes;
      for (const auto& s : n.output_shapes) {
        if (!shapes.empty()) shapes += ' ';
        shapes += shape_str(s);
      }
      table.add({std::to_string(i), n.name, n.op, shapes, n.dtype, n.attributes, human_count(static_cast<double>(n.params)),
                 human_count(static_cast<double>(n.flops)), i < profile.size() ? profile[i].detail : ""});
    }
    fmt::print("\n{}\n", table.str());
    const MemoryReport mem = session.memory();
    fmt::print("nodes     {}\n", nodes.size());
    fmt::print("params    {} ({})\n", human_count(static_cast<double>(total_params)),
               human_bytes(static_cast<double>(mem.weights_bytes)));
    fmt::print("FLOPs     {} per inference\n", human_count(static_cast<double>(total_flops)));
    fmt::print("arena     {} on backend '{}' (naive sum of activations {}, {:.1f}x smaller)\n",
               human_bytes(static_cast<double>(mem.arena_bytes)), session.backend(),
               human_bytes(static_cast<double>(mem.naive_bytes)),
               mem.arena_bytes ? static_cast<double>(mem.naive_bytes) / static_cast<double>(mem.arena_bytes) : 0.0);
    return 0;
  };
}

}  // namespace kiln::cli
