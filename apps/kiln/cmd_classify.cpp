#include <fmt/format.h>

#include <filesystem>

#include "apps/common/classify.hpp"
#include "apps/common/compare.hpp"
#include "apps/common/npy.hpp"
#include "apps/kiln/commands.hpp"
#include "apps/kiln/console.hpp"
#include "apps/kiln/session_flags.hpp"
#include "kiln/kiln.hpp"
#include "kiln/vision.hpp"
#include "models/manifest.hpp"

namespace kiln::cli {

Command add_classify(CLI::App& app) {
  auto* cmd = app.add_subcommand("classify", "Classify images (JPEG, PNG, BMP) with an image classification model");
  struct Args {
    std::string model, labels, preprocess, save_inputs;
    std::vector<std::string> images;
    int top = 5;
    SessionOptions session;
    LoadOptions load;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Kiln model (.kiln) or ONNX model (.onnx)")->required();
  cmd->add_option("images", args->images, "Image files")->required();
  cmd->add_option("--labels", args->labels, "Labels file, one class per line (default: the labels in the model)");
  cmd->add_option("--top", args->top, "How many classes to show")->check(CLI::PositiveNumber);
  cmd->add_option("--preprocess", args->preprocess, "imagenet | inception | caffe | raw | centered128 (default: from the model)");
  cmd->add_option("--save-inputs", args->save_inputs,
                  "Folder for each image's preprocessed input tensor, as IMAGE.npy with batch 1 (to feed the same "
                  "input to another engine with kiln run or ONNX Runtime)");
  add_session_flags(cmd, args->session);
  add_load_flags(cmd, args->load);
  return [args] {
    const Model model = load_model_file(args->model, args->load);
    ModelMetadata meta = model.metadata();
    if (!args->preprocess.empty()) meta.preprocess = parse_preprocess_name(args->preprocess);
    if (meta.preprocess == Preprocess::Unknown)
      throw Error(ErrorCode::InvalidArgument, args->model + ": the model carries no preprocessing preset; pass "
                                                            "--preprocess imagenet|inception|caffe|raw|centered128");
    if (!args->labels.empty()) meta.labels = models::read_labels(args->labels);
    Session session = open_session(model, args->session);
    if (!quiet()) fmt::print(stderr, "kiln: session {}\n", describe_session(session, args->session));
    classify::Classifier classifier(session, meta, args->model);
    if (!args->save_inputs.empty()) {
      std::filesystem::create_directories(args->save_inputs);
      std::vector<TensorDesc> one = session.inputs();
      one[0].shape[0] = 1;
      for (const std::string& image : args->images) {
        const std::string file = std::filesystem::path(image).filename().string() + ".npy";
        const auto path = std::filesystem::path(args->save_inputs) / file;
        npy::write(path.string(), compare::image_inputs(one, meta, {image}).at(0).tensors.at(0));
      }
    }
    int failures = 0;
    for (const classify::ImageResult& r : classifier.run(args->images, args->top)) {
      if (!r.error.empty()) {
        fmt::print(stderr, "kiln: error: {}\n", r.error);
        ++failures;
        continue;
      }
      fmt::print("{}\n", r.path);
      for (size_t k = 0; k < r.top.size(); ++k)
        fmt::print("  {}. {:.4f}  {}{}\n", k + 1, r.top[k].probability, r.top[k].label.empty() ? "class" : r.top[k].label,
                   r.top[k].class_index >= 0 ? fmt::format(" ({})", r.top[k].class_index) : "");
    }
    return failures ? 1 : 0;
  };
}

}  // namespace kiln::cli
