// Image decoding (engine/vision: JPEG through libjpeg-turbo, PNG and BMP
// through stb_image) and the preprocessing of `kiln classify` on what decodes.
// Whatever the bytes, decoding gives whole RGB pixels or throws kiln::Error.
#include <algorithm>

#include "kiln/vision.hpp"
#include "tests/fuzz/fuzz_util.hpp"

namespace {

// Images up to this many pixels are also resized, cropped and normalised
// (a larger one would slow the fuzzer down; its decoding is still fuzzed).
constexpr int64_t kMaxPreprocessPixels = 1 << 20;

void preprocess(const kiln::Image& img) {
  // Parameters from the image's own size, so that each input is one
  // deterministic case, and different images reach different parameters.
  const int64_t h = int64_t{img.width} * 31 + img.height;
  const int size = static_cast<int>(1 + h % 40);
  const auto preset = static_cast<kiln::Preprocess>(1 + h % 5);
  for (auto policy : {kiln::ResizePolicy::ShorterSide, kiln::ResizePolicy::SquareCrop}) {
    for (auto filter : {kiln::ResizeFilter::Bilinear, kiln::ResizeFilter::AntialiasedBilinear}) {
      const kiln::Tensor t = kiln::preprocess_image(img, size, preset, policy, filter);
      KILN_FUZZ_CHECK((t.shape() == std::vector<int64_t>{1, 3, size, size}));
    }
  }
  const int w2 = 1 + img.width / 3, h2 = 1 + (img.height * 3) % 97;
  const kiln::Image resized = kiln::resize_bilinear(img, w2, h2, kiln::ResizeFilter::Bilinear);
  KILN_FUZZ_CHECK(resized.width == w2 && resized.height == h2);
  KILN_FUZZ_CHECK(resized.rgb.size() == static_cast<size_t>(w2) * h2 * 3);
  const kiln::Image cropped = kiln::center_crop(img, std::max(1, img.width - 1), std::max(1, img.height / 2));
  KILN_FUZZ_CHECK(cropped.rgb.size() == static_cast<size_t>(cropped.width) * cropped.height * 3);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::Image img;
  try {
    img = kiln::decode_image(data, size, "fuzz.img");
  } catch (const kiln::Error&) {
    return 0;
  }
  KILN_FUZZ_CHECK(img.width > 0 && img.height > 0);
  KILN_FUZZ_CHECK(img.rgb.size() == static_cast<size_t>(img.width) * img.height * 3);
  if (int64_t{img.width} * img.height > kMaxPreprocessPixels) return 0;
  try {
    preprocess(img);
  } catch (const kiln::Error&) {
  }
  return 0;
}
