#include "apps/common/classify.hpp"

#include <algorithm>
#include <cmath>

namespace kiln::classify {

// Real values into uint8/int8 values of scale s and zero point z (ties to even, saturating).
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

namespace {

// Built with += : GCC 12 warns falsely (-Wrestrict) about "literal" + std::string.
std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(s[i]);
  }
  out += ']';
  return out;
}
}  // namespace

Classifier::Classifier(Session& session, ModelMetadata meta, const std::string& model_name)
    : session_(session), meta_(std::move(meta)) {
  if (meta_.preprocess == Preprocess::Unknown)
    throw Error(ErrorCode::InvalidArgument, model_name + ": the model carries no preprocessing preset; pass one "
                                                         "(imagenet, inception, caffe, raw or centered128)");
  if (session.inputs().size() != 1)
    throw Error(ErrorCode::InvalidArgument, model_name + ": classify needs a model with one image input");
  const TensorDesc& in = session.inputs()[0];
  if (in.shape.size() != 4 || in.shape[1] != 3 || in.shape[2] != in.shape[3])
    throw Error(ErrorCode::InvalidArgument, model_name + ": input '" + in.name + "' has shape " +
                                                shape_text(in.shape) + ", not an image batch [N,3,S,S]");
  batch_ = in.shape[0];
  size_ = static_cast<int>(in.shape[2]);
}

std::vector<ImageResult> Classifier::run(const std::vector<std::string>& paths, int top) {
  const TensorDesc& in_desc = session_.inputs()[0];
  const TensorDesc& out_desc = session_.outputs()[0];
  Tensor input(in_desc.shape);
  Tensor model_input = in_desc.type == ElementType::Float32 ? input : Tensor(in_desc.shape, in_desc.type);
  std::vector<Tensor> outputs;
  for (const auto& d : session_.outputs()) outputs.emplace_back(d.shape, d.type);
  Tensor scores = out_desc.type == ElementType::Float32 ? outputs[0] : Tensor(out_desc.shape);
  const int64_t per_image = outputs[0].size() / batch_;
  const int64_t per_input = 3LL * size_ * size_;

  std::vector<ImageResult> results;
  for (size_t next = 0; next < paths.size();) {
    // The next batch of readable images; unreadable ones get their error.
    std::vector<size_t> group;
    for (; next < paths.size() && static_cast<int64_t>(group.size()) < batch_; ++next) {
      ImageResult r;
      r.path = paths[next];
      try {
        const Image img = load_image(paths[next]);
        preprocess_image_into(img, size_, meta_.preprocess, meta_.resize, meta_.resize_filter,
                              input.data() + static_cast<int64_t>(group.size()) * per_input);
        group.push_back(results.size());
      } catch (const Error& e) {
        r.error = e.what();
      }
      results.push_back(std::move(r));
    }
    if (group.empty()) continue;
    if (in_desc.type != ElementType::Float32) quantize_into(input, in_desc, model_input);
    session_.run({model_input}, outputs);
    if (out_desc.type != ElementType::Float32) dequantize_into(outputs[0], out_desc, scores);
    for (size_t g = 0; g < group.size(); ++g)
      results[group[g]].top = top_k(scores.data() + static_cast<int64_t>(g) * per_image, per_image, top,
                                    meta_.output_kind, meta_.class_offset, meta_.labels);
  }
  return results;
}

}  // namespace kiln::classify
