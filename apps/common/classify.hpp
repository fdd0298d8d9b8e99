#pragma once
// Image classification with a model's own preprocessing, shared by
// `kiln classify` (apps/kiln/cmd_classify.cpp) and the Python module's
// Session.classify (python/src/module.cpp), so both rank the same way.
#include <string>
#include <vector>

#include "kiln/kiln.hpp"
#include "kiln/vision.hpp"

namespace kiln::classify {

// `x`'s real values as the uint8/int8 values of `d`'s scale and zero point
// (ties to even, saturating) into `q`, and back.
void quantize_into(const Tensor& x, const TensorDesc& d, Tensor& q);
void dequantize_into(const Tensor& q, const TensorDesc& d, Tensor& x);

struct ImageResult {
  std::string path;
  std::vector<Prediction> top;  // empty when `error` is set
  std::string error;            // why the image could not be read, if so
};

class Classifier {
 public:
  // Checks that the session runs an image classifier (one [N,3,S,S] input)
  // and that `meta` names a preprocessing preset; throws kiln::Error
  // (InvalidArgument) naming `model_name` otherwise.
  Classifier(Session& session, ModelMetadata meta, const std::string& model_name);

  // Classifies the images in groups of the model's batch size. A quantized
  // input gets the preprocessed image quantized with its scale and zero point
  // (ties to even, saturating); a quantized output is dequantized before
  // ranking. An image that cannot be read gets its error and the others go on.
  std::vector<ImageResult> run(const std::vector<std::string>& paths, int top);

 private:
  Session& session_;
  ModelMetadata meta_;
  int64_t batch_ = 1;
  int size_ = 0;
};

}  // namespace kiln::classify
