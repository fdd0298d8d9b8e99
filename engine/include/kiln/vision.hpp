#pragma once
// Image input and classification output for vision models: the same
// preprocessing `kiln classify` uses, for apps that embed Kiln.
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln {

// 8-bit RGB pixels, row-major, 3 bytes per pixel.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
};

// The most pixels a decoded image may have. A few hundred bytes of PNG can
// declare 20000 x 20000 pixels; the size in the header is checked first.
inline constexpr int64_t kMaxImagePixels = 100'000'000;

// Decodes a JPEG, PNG or BMP file (alpha is dropped, grey is expanded).
// Throws kiln::Error naming the file and the problem (missing, truncated,
// not an image, unsupported format, more than kMaxImagePixels pixels).
Image load_image(const std::string& path);
Image decode_image(const uint8_t* data, size_t size, const std::string& name);

// Bilinear resize. ResizeFilter::Bilinear samples the 2x2 neighbourhood of each
// output pixel's centre, bit for bit as OpenCV's INTER_LINEAR on 8-bit images
// (11-bit fixed-point weights and its rounding); AntialiasedBilinear widens the
// triangle filter by the scale factor when shrinking (PIL's BILINEAR), so large
// photos do not alias. Models are evaluated with the one they were made with.
Image resize_bilinear(const Image& image, int width, int height,
                      ResizeFilter filter = ResizeFilter::AntialiasedBilinear);
Image center_crop(const Image& image, int width, int height);

// A window of a resize: the image resized to full_width x full_height, of
// which only the width x height pixels at (left, top) are wanted.
// resize_window computes exactly those pixels of the full resize, and only
// them, so a crop after a resize costs what the crop keeps (a 1 x 12000
// image resized for a 224 crop would otherwise be 256 x 3072000 pixels).
struct ResizeWindow {
  int64_t full_width = 0, full_height = 0;
  int64_t left = 0, top = 0;
  int width = 0, height = 0;
};
Image resize_window(const Image& image, const ResizeWindow& window,
                    ResizeFilter filter = ResizeFilter::AntialiasedBilinear);
// The window ResizePolicy::ShorterSide takes: the shorter side resized to
// round(256*size/224), the centre size x size pixels.
ResizeWindow shorter_side_window(const Image& image, int size);

// Resize (with `filter`) and crop as `policy` says, then normalise by `preset`, giving an
// NCHW float tensor [1, 3, size, size]:
//   ShorterSide: shorter side to round(256*size/224), centre crop size x size;
//   SquareCrop:  centre square crop of the shorter side, resize to size x size.
//   Imagenet:  RGB/255, mean (0.485,0.456,0.406), std (0.229,0.224,0.225)
//   Inception: RGB/127.5 - 1
//   Caffe:     BGR 0..255 minus (104,117,123)
//   Raw:       RGB 0..255
//   Centered128: (RGB - 128)/128 (quantized models whose input QuantizeLinear
//              has scale 1/128 and zero point 128 then see the pixel bytes)
Tensor preprocess_image(const Image& image, int size, Preprocess preset, ResizePolicy policy,
                        ResizeFilter filter = ResizeFilter::Bilinear);
// Writes the preprocessed image into `out` (3*size*size floats).
void preprocess_image_into(const Image& image, int size, Preprocess preset, ResizePolicy policy, ResizeFilter filter,
                           float* out);

struct Prediction {
  int class_index = 0;  // after removing the background offset; -1 for "background"
  std::string label;    // empty if no labels are known
  float probability = 0;
};

// The k most probable classes of one row of a classifier output (`scores`
// holds that row's values). Logits are turned into probabilities with a
// softmax; OutputKind::Unknown applies softmax unless the row already looks
// like a probability distribution (all in [0,1], summing to 1 within 1e-3).
std::vector<Prediction> top_k(const float* scores, int64_t num_classes, int k, OutputKind kind, int class_offset,
                              const std::vector<std::string>& labels);

Preprocess parse_preprocess_name(const std::string& name);  // imagenet|inception|caffe|raw
const char* preprocess_name(Preprocess preset);

}  // namespace kiln
