#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/common/npy.hpp"
#include "apps/common/tensor_files.hpp"
#include "apps/kiln/commands.hpp"
#include "apps/kiln/console.hpp"
#include "apps/kiln/session_flags.hpp"
#include "apps/kiln/table.hpp"
#include "kiln/kiln.hpp"

namespace kiln::cli {

namespace {
// Tensor names may hold characters that are unsafe in file names.
std::string file_safe(const std::string& name) {
  std::string s = name;
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) c = '_';
  return s.empty() ? "output" : s;
}

// Every tensor of a run_all as NNNN_NAME.npy (NNNN: its place in node order,
// so that names made alike by file_safe stay apart), and index.json.
void dump_all(const std::vector<NodeOutput>& all, const std::string& dir) {
  std::filesystem::create_directories(dir);
  nlohmann::json index = nlohmann::json::array();
  for (size_t i = 0; i < all.size(); ++i) {
    const NodeOutput& o = all[i];
    const std::string file = fmt::format("{:04}_{}.npy", i, file_safe(o.desc.name));
    npy::write((std::filesystem::path(dir) / file).string(), o.value);
    nlohmann::json e = {{"file", file},          {"tensor", o.desc.name},
                        {"node", o.node},         {"op", o.op},
                        {"node_index", o.node_index}, {"shape", o.desc.shape},
                        {"type", element_type_name(o.desc.type)}, {"graph_output", o.graph_output}};
    if (o.desc.type != ElementType::Float32) {
      e["scale"] = o.desc.scale;
      e["zero_point"] = o.desc.zero_point;
    }
    index.push_back(std::move(e));
  }
  std::ofstream f(std::filesystem::path(dir) / "index.json");
  f << index.dump(1) << "\n";
  if (!f) throw Error(ErrorCode::Io, "cannot write " + (std::filesystem::path(dir) / "index.json").string());
  if (!quiet()) fmt::print(stderr, "kiln: wrote {} node outputs to {}\n", all.size(), dir);
}
}  // namespace

Command add_run(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Run a model (.kiln or ONNX) on input tensors and save every output as .npy");
  struct Args {
    std::string model, output_dir, dump_dir;
    std::vector<std::string> inputs;
    SessionOptions session;
    LoadOptions load;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Kiln model (.kiln) or ONNX model (.onnx)")->required();
  cmd->add_option("--input,-i", args->inputs, "NAME=FILE (.npy float32 or, for quantized inputs, uint8/int8, C-order; or ONNX TensorProto .pb); "
                                              "FILE alone for a single-input model")->required();
  cmd->add_option("--output-dir,-o", args->output_dir, "Folder for the outputs (NAME.npy each)");
  cmd->add_option("--dump-all", args->dump_dir,
                  "Folder for the output of every node as NNNN_TENSOR.npy, in node order, with index.json naming "
                  "each file's node, operator, shape and type (the session keeps every intermediate tensor)");
  add_session_flags(cmd, args->session);
  add_load_flags(cmd, args->load);
  return [args] {
    if (args->output_dir.empty() && args->dump_dir.empty())
      throw Error(ErrorCode::InvalidArgument, "say where to write: --output-dir DIR and/or --dump-all DIR");
    if (!args->dump_dir.empty()) args->session.keep_intermediates = true;
    const Model model = load_model_file(args->model, args->load);
    Session session = open_session(model, args->session);
    if (!quiet()) fmt::print(stderr, "kiln: session {}\n", describe_session(session, args->session));
    const auto& descs = session.inputs();

    std::vector<Tensor> inputs(descs.size());
    std::vector<char> given(descs.size(), 0);
    for (const std::string& spec : args->inputs) {
      const size_t eq = spec.find('=');
      std::string name, file;
      if (eq == std::string::npos) {
        if (descs.size() != 1)
          throw Error(ErrorCode::InvalidArgument, "the model has " + std::to_string(descs.size()) +
                                                      " inputs: name each as --input NAME=FILE");
        name = descs[0].name;
        file = spec;
      } else {
        name = spec.substr(0, eq);
        file = spec.substr(eq + 1);
      }
      const size_t i = session.input_index(name);
      Tensor t = read_tensor_file(file);
      if (t.shape() != descs[i].shape)
        throw Error(ErrorCode::InvalidArgument, file + ": holds shape " + shape_str(t.shape()) + " but input '" +
                                                    name + "' expects " + shape_str(descs[i].shape));
      inputs[i] = std::move(t);
      given[i] = 1;
    }
    for (size_t i = 0; i < descs.size(); ++i)
      if (!given[i]) throw Error(ErrorCode::InvalidArgument, "no file given for input '" + descs[i].name + "'");

    std::vector<Tensor> outputs;
    if (args->dump_dir.empty()) {
      outputs = session.run(inputs);
    } else {
      std::vector<NodeOutput> all = session.run_all(inputs);
      dump_all(all, args->dump_dir);
      outputs.resize(session.outputs().size());
      for (NodeOutput& o : all)
        if (o.graph_output) outputs[session.output_index(o.desc.name)] = o.value;
    }
    if (args->output_dir.empty()) return 0;
    std::filesystem::create_directories(args->output_dir);
    for (size_t i = 0; i < outputs.size(); ++i) {
      const auto path = std::filesystem::path(args->output_dir) / (file_safe(session.outputs()[i].name) + ".npy");
      npy::write(path.string(), outputs[i]);
      fmt::print("wrote {} {}\n", path.string(), shape_str(outputs[i].shape()));
    }
    return 0;
  };
}

}  // namespace kiln::cli
