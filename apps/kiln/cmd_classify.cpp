#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "apps/kiln/commands.hpp"
#include "apps/kiln/console.hpp"
#include "apps/kiln/session_flags.hpp"
#include "apps/kiln/table.hpp"
#include "kiln/kiln.hpp"
#include "kiln/vision.hpp"
#include "models/manifest.hpp"

namespace kiln::cli {

namespace {
// Real values into a uint8/int8 tensor of scale s and zero point z (ties to even, saturating).
void quantize_into(const Tensor& x, const TensorDesc& d, Tensor& q) {
  const bool is_signed = d.type == ElementType::Int8;
  const float lo = is_signed ? -128.0f : 0.0f, hi = is_signed ? 127.0f : 255.0f;
  auto* out = static_cast<uint8_t*>(q.raw());
  for (int64_t i = 0; i < x.size(); ++i) {
    const float v = std::clamp(std::nearbyint(x.data()[i] / d.scale) + static_cast<float>(d.zero_point), lo, hi);
    out[i] = static_cast<uint8_t>(static_cast<int>(v));
  }
}
void dequantize_into(const Tensor& q, const TensorDesc& d, Tensor& x) {
  const auto* in = static_cast<const uint8_t*>(q.raw());
  for (int64_t i = 0; i < q.size(); ++i) {
    const int v = d.type == ElementType::Int8 ? static_cast<int8_t>(in[i]) : in[i];
    x.data()[i] = d.scale * static_cast<float>(v - d.zero_point);
  }
}
}  // namespace

Command add_classify(CLI::App& app) {
  auto* cmd = app.add_subcommand("classify", "Classify images (JPEG, PNG, BMP) with an image classification model");
  struct Args {
    std::string model, labels, preprocess;
    std::vector<std::string> images;
    int top = 5;
    SessionOptions session;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Kiln model (.kiln) or ONNX model (.onnx)")->required();
  cmd->add_option("images", args->images, "Image files")->required();
  cmd->add_option("--labels", args->labels, "Labels file, one class per line (default: the labels in the model)");
  cmd->add_option("--top", args->top, "How many classes to show")->check(CLI::PositiveNumber);
  cmd->add_option("--preprocess", args->preprocess, "imagenet | inception | caffe | raw | centered128 (default: from the model)");
  add_session_flags(cmd, args->session);
  return [args] {
    const Model model = load_model_file(args->model);
    ModelMetadata meta = model.metadata();
    if (!args->preprocess.empty()) meta.preprocess = parse_preprocess_name(args->preprocess);
    if (meta.preprocess == Preprocess::Unknown)
      throw Error(ErrorCode::InvalidArgument, args->model + ": the model carries no preprocessing preset; pass "
                                                            "--preprocess imagenet|inception|caffe|raw|centered128");
    if (!args->labels.empty()) meta.labels = models::read_labels(args->labels);
    const auto inputs = model.inputs();
    if (inputs.size() != 1)
      throw Error(ErrorCode::InvalidArgument, args->model + ": classify needs a model with one image input");
    const auto& shape = inputs[0].shape;
    if (shape.size() != 4 || shape[1] != 3 || shape[2] != shape[3])
      throw Error(ErrorCode::InvalidArgument, args->model + ": input '" + inputs[0].name + "' has shape " +
                                                  shape_str(shape) + ", not an image batch [N,3,S,S]");
    const int64_t batch = shape[0];
    const int size = static_cast<int>(shape[2]);

    Session session = open_session(model, args->session);
    if (!quiet()) fmt::print(stderr, "kiln: session {}\n", describe_session(session, args->session));
    // A quantized input gets the preprocessed image quantized with its scale
    // and zero point; a quantized output is dequantized before ranking.
    const TensorDesc& in_desc = session.inputs()[0];
    Tensor input(shape);
    Tensor model_input = in_desc.type == ElementType::Float32 ? input : Tensor(shape, in_desc.type);
    std::vector<Tensor> outputs;
    for (const auto& d : session.outputs()) outputs.emplace_back(d.shape, d.type);
    const TensorDesc& out_desc = session.outputs()[0];
    Tensor scores = out_desc.type == ElementType::Float32 ? outputs[0] : Tensor(out_desc.shape);
    const int64_t per_image = outputs[0].size() / batch;

    int failures = 0;
    // Images go through in groups of the model's batch size.
    for (size_t first = 0; first < args->images.size(); first += static_cast<size_t>(batch)) {
      std::vector<std::string> group;
      for (size_t i = first; i < args->images.size() && group.size() < static_cast<size_t>(batch); ++i) {
        try {
          const Image img = load_image(args->images[i]);
          preprocess_image_into(img, size, meta.preprocess, meta.resize, meta.resize_filter,
                                input.data() + static_cast<int64_t>(group.size()) * 3 * size * size);
          group.push_back(args->images[i]);
        } catch (const Error& e) {
          fmt::print(stderr, "kiln: error: {}\n", e.what());
          ++failures;
        }
      }
      if (group.empty()) continue;
      if (in_desc.type != ElementType::Float32) quantize_into(input, in_desc, model_input);
      session.run({model_input}, outputs);
      if (out_desc.type != ElementType::Float32) dequantize_into(outputs[0], out_desc, scores);
      for (size_t g = 0; g < group.size(); ++g) {
        fmt::print("{}\n", group[g]);
        const auto preds = top_k(scores.data() + g * per_image, per_image, args->top, meta.output_kind,
                                 meta.class_offset, meta.labels);
        for (size_t r = 0; r < preds.size(); ++r)
          fmt::print("  {}. {:.4f}  {}{}\n", r + 1, preds[r].probability,
                     preds[r].label.empty() ? "class" : preds[r].label,
                     preds[r].class_index >= 0 ? fmt::format(" ({})", preds[r].class_index) : "");
      }
    }
    return failures ? 1 : 0;
  };
}

}  // namespace kiln::cli
