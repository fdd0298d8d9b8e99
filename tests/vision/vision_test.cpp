// kiln/vision.hpp: decoding, resizing, cropping, preprocessing presets, top-k.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "kiln/vision.hpp"
#ifdef KILN_HAVE_CONVERTER
#include "kiln/convert.hpp"
#endif
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;

Image make_image(int w, int h, auto pixel) {
  Image img;
  img.width = w;
  img.height = h;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) img.rgb.push_back(static_cast<uint8_t>(pixel(x, y, c)));
  return img;
}

TEST(Resize, SameSizeIsIdentity) {
  const Image img = make_image(7, 5, [](int x, int y, int c) { return (x * 37 + y * 11 + c * 5) % 256; });
  EXPECT_EQ(resize_bilinear(img, 7, 5).rgb, img.rgb);
}

TEST(Resize, ConstantImageStaysConstant) {
  const Image img = make_image(640, 480, [](int, int, int c) { return 40 + 50 * c; });
  const Image small = resize_bilinear(img, 37, 23);
  for (size_t i = 0; i < small.rgb.size(); ++i) ASSERT_EQ(small.rgb[i], 40 + 50 * (i % 3)) << i;
}

TEST(Resize, HalvingAveragesPairsAndDoesNotAlias) {
  // A one-pixel checkerboard: plain bilinear sampling at half size would pick
  // one phase (all 0 or all 255); the widened filter must average to ~127.
  const Image img = make_image(64, 64, [](int x, int y, int) { return ((x + y) % 2) * 255; });
  const Image half = resize_bilinear(img, 32, 32);
  for (int y = 2; y < 30; ++y)
    for (int x = 2; x < 30; ++x) EXPECT_NEAR(half.rgb[(y * 32 + x) * 3], 127.5, 1.0) << x << "," << y;
}

TEST(Resize, UpscaleInterpolatesLinearly) {
  // 2 pixels 0 and 200 -> 4 pixels: centres at 0.25, 0.75, 1.25, 1.75 input px.
  const Image img = make_image(2, 1, [](int x, int, int) { return x * 200; });
  const Image up = resize_bilinear(img, 4, 1);
  EXPECT_EQ(up.rgb[0 * 3], 0);
  EXPECT_EQ(up.rgb[1 * 3], 50);
  EXPECT_EQ(up.rgb[2 * 3], 150);
  EXPECT_EQ(up.rgb[3 * 3], 200);
}

TEST(Resize, PlainBilinearBlendsTheTwoNearestSamples) {
  // Shrinking 9 -> 3: output centres fall exactly on input pixels 1, 4, 7, so
  // plain bilinear returns those samples; the antialiased filter averages.
  const Image img = make_image(9, 1, [](int x, int, int) { return x * 20; });
  const Image plain = resize_bilinear(img, 3, 1, ResizeFilter::Bilinear);
  EXPECT_EQ(plain.rgb[0], 20);
  EXPECT_EQ(plain.rgb[3], 80);
  EXPECT_EQ(plain.rgb[6], 140);
  const Image aa = resize_bilinear(img, 3, 1, ResizeFilter::AntialiasedBilinear);
  EXPECT_EQ(aa.rgb[3], 80);  // symmetric neighbourhood: same centre value
  EXPECT_NE(aa.rgb[0], plain.rgb[0]);  // the edge window differs (renormalised over the image)
}

#ifdef KILN_HAVE_CONVERTER
// The reference inputs in ../shared were preprocessed with OpenCV's bilinear
// resize: ours, OpenCV's fixed-point INTER_LINEAR to the bit, must reproduce
// them up to float rounding of the normalisation.
TEST(Preprocess, ReproducesOpenCvReferenceInputs) {
  struct Case {
    const char* photo;
    const char* pb;
    int size;
    Preprocess preset;
  };
  const Case cases[] = {
      {"grace_hopper.bmp", "squeezenet1.1/opencv_ref_0/input_0.pb", 224, Preprocess::Imagenet},
      {"cat.bmp", "squeezenet1.1/opencv_ref_1/input_0.pb", 224, Preprocess::Imagenet},
      {"grace_hopper.bmp", "mobilenet_v1_0.75_192/opencv_ref_0/input_0.pb", 192, Preprocess::Inception},
      {"cat.bmp", "mobilenet_v2_1.0_224/opencv_ref_1/input_0.pb", 224, Preprocess::Inception},
  };
  for (const Case& c : cases) {
    const auto photo = shared_file_or_skip(std::string("images/") + c.photo);
    const auto pb = shared_file_or_skip(std::string("models/") + c.pb);
    if (HasFailure()) return;
    const Tensor ours = preprocess_image(load_image(photo.string()), c.size, c.preset, ResizePolicy::ShorterSide,
                                         ResizeFilter::Bilinear);
    const Tensor ref = read_tensor_proto(pb.string()).tensor;
    ASSERT_EQ(ours.shape(), ref.shape()) << c.pb;
    // The resize is OpenCV's INTER_LINEAR to the bit, so only the float
    // normalisation (same formula, maybe other rounding) may differ.
    EXPECT_LE(max_abs_error(ours.data(), ref.data(), static_cast<size_t>(ref.size())), 1e-5) << c.pb;
  }
}
#endif

TEST(Crop, TakesTheCentre) {
  const Image img = make_image(6, 4, [](int x, int y, int) { return y * 10 + x; });
  const Image c = center_crop(img, 2, 2);
  EXPECT_EQ(c.rgb[0], 12);  // (x=2, y=1)
  EXPECT_EQ(c.rgb[3], 13);
  EXPECT_EQ(c.rgb[6], 22);
  EXPECT_THROW(center_crop(img, 7, 2), Error);
}

TEST(Preprocess, PresetsNormaliseAsDocumented) {
  // A constant image survives resize/crop unchanged, so each preset's formula
  // can be checked on one pixel value per channel.
  const Image img = make_image(300, 260, [](int, int, int c) { return c == 0 ? 200 : c == 1 ? 100 : 50; });
  const size_t plane = 32 * 32;
  auto at = [&](const Tensor& t, int c) { return t.data()[c * plane + 5 * 32 + 7]; };
  const Tensor imagenet = preprocess_image(img, 32, Preprocess::Imagenet, ResizePolicy::ShorterSide);
  EXPECT_EQ(imagenet.shape(), (std::vector<int64_t>{1, 3, 32, 32}));
  EXPECT_NEAR(at(imagenet, 0), (200 / 255.0 - 0.485) / 0.229, 1e-5);
  EXPECT_NEAR(at(imagenet, 1), (100 / 255.0 - 0.456) / 0.224, 1e-5);
  EXPECT_NEAR(at(imagenet, 2), (50 / 255.0 - 0.406) / 0.225, 1e-5);
  const Tensor inception = preprocess_image(img, 32, Preprocess::Inception, ResizePolicy::SquareCrop);
  EXPECT_NEAR(at(inception, 0), 200 / 127.5 - 1, 1e-6);
  EXPECT_NEAR(at(inception, 2), 50 / 127.5 - 1, 1e-6);
  const Tensor caffe = preprocess_image(img, 32, Preprocess::Caffe, ResizePolicy::ShorterSide);
  EXPECT_NEAR(at(caffe, 0), 50 - 104, 1e-6);   // channel 0 is blue
  EXPECT_NEAR(at(caffe, 1), 100 - 117, 1e-6);
  EXPECT_NEAR(at(caffe, 2), 200 - 123, 1e-6);  // channel 2 is red
  const Tensor raw = preprocess_image(img, 32, Preprocess::Raw, ResizePolicy::ShorterSide);
  EXPECT_EQ(at(raw, 1), 100);
  EXPECT_THROW(preprocess_image(img, 32, Preprocess::Unknown, ResizePolicy::ShorterSide), Error);
}

TEST(Preprocess, ShorterSidePolicyCropsTheMiddle) {
  // Left half black, right half white, 2:1 landscape: the centre crop keeps
  // both halves, split in the middle.
  const Image img = make_image(448, 224, [](int x, int, int) { return x < 224 ? 0 : 255; });
  const Tensor t = preprocess_image(img, 224, Preprocess::Raw, ResizePolicy::ShorterSide);
  EXPECT_EQ(t.data()[100 * 224 + 10], 0);
  EXPECT_EQ(t.data()[100 * 224 + 210], 255);
}

TEST(TopK, SoftmaxOfLogitsAndLabels) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f};
  const auto p = top_k(logits.data(), 3, 2, OutputKind::Logits, 0, {"a", "b", "c"});
  ASSERT_EQ(p.size(), 2u);
  const double z = std::exp(1.0) + std::exp(3.0) + std::exp(2.0);
  EXPECT_EQ(p[0].class_index, 1);
  EXPECT_EQ(p[0].label, "b");
  EXPECT_NEAR(p[0].probability, std::exp(3.0) / z, 1e-6);
  EXPECT_EQ(p[1].class_index, 2);
}

TEST(TopK, BackgroundClassOffset) {
  const std::vector<float> probs = {0.5f, 0.1f, 0.4f};  // class 0 = background
  const auto with_bg_labels = top_k(probs.data(), 3, 3, OutputKind::Probabilities, 1, {"background", "cat", "dog"});
  EXPECT_EQ(with_bg_labels[0].class_index, -1);
  EXPECT_EQ(with_bg_labels[0].label, "background");
  EXPECT_EQ(with_bg_labels[1].class_index, 1);
  EXPECT_EQ(with_bg_labels[1].label, "dog");
  // Labels without the background line are shifted by the offset.
  const auto plain_labels = top_k(probs.data(), 3, 3, OutputKind::Probabilities, 1, {"cat", "dog"});
  EXPECT_EQ(plain_labels[1].label, "dog");
  EXPECT_EQ(plain_labels[2].label, "cat");
}

TEST(TopK, UnknownKindDetectsProbabilities) {
  const std::vector<float> probs = {0.2f, 0.7f, 0.1f};
  EXPECT_FLOAT_EQ(top_k(probs.data(), 3, 1, OutputKind::Unknown, 0, {})[0].probability, 0.7f);
  const std::vector<float> logits = {0.2f, 5.0f, 0.1f};  // sums to 5.3: treated as logits
  EXPECT_LT(top_k(logits.data(), 3, 1, OutputKind::Unknown, 0, {})[0].probability, 1.0f);
}

std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Decode, RealPhotosDecode) {
  for (const char* name : {"bird.bmp", "hot_dog.jpg", "wml_fish.png", "wml_kitten_224.png"}) {
    const auto path = shared_file_or_skip(std::string("images/") + name);
    if (HasFailure()) return;
    const Image img = load_image(path.string());
    EXPECT_GT(img.width, 0);
    EXPECT_EQ(img.rgb.size(), static_cast<size_t>(img.width) * img.height * 3);
  }
}

TEST(Decode, TruncatedFilesOfEveryFormatAreErrors) {
  for (const char* name : {"bird.bmp", "hot_dog.jpg", "wml_fish.png"}) {
    const auto path = shared_file_or_skip(std::string("images/") + name);
    if (HasFailure()) return;
    const auto bytes = read_bytes(path);
    for (double keep : {0.999, 0.75, 0.5, 0.1, 0.01}) {
      const size_t n = static_cast<size_t>(static_cast<double>(bytes.size()) * keep);
      try {
        decode_image(bytes.data(), n, name);
        ADD_FAILURE() << name << " cut to " << n << " bytes decoded without error";
      } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr(name));
        EXPECT_THAT(e.what(), ::testing::AnyOf(HasSubstr("truncated"), HasSubstr("corrupt")));
      }
    }
  }
}

TEST(Decode, NotAnImage) {
  const std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o'};
  EXPECT_THROW(decode_image(text.data(), text.size(), "t"), Error);
  EXPECT_THROW(decode_image(text.data(), 0, "t"), Error);
  EXPECT_THROW(load_image("/nonexistent/photo.jpg"), Error);
}

}  // namespace
}  // namespace kiln::test
