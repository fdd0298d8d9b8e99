#include <fmt/format.h>

#include <filesystem>

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
}  // namespace

Command add_run(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Run a model (.kiln or ONNX) on input tensors and save every output as .npy");
  struct Args {
    std::string model, output_dir;
    std::vector<std::string> inputs;
    SessionOptions session;
    LoadOptions load;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Kiln model (.kiln) or ONNX model (.onnx)")->required();
  cmd->add_option("--input,-i", args->inputs, "NAME=FILE (.npy float32 or, for quantized inputs, uint8/int8, C-order; or ONNX TensorProto .pb); "
                                              "FILE alone for a single-input model")->required();
  cmd->add_option("--output-dir,-o", args->output_dir, "Folder for the outputs (NAME.npy each)")->required();
  add_session_flags(cmd, args->session);
  add_load_flags(cmd, args->load);
  return [args] {
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

    const std::vector<Tensor> outputs = session.run(inputs);
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
