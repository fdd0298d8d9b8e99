// kiln/vision.hpp: decoding, resizing, cropping, preprocessing presets, top-k.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <random>
#include <utility>

#include "kiln/vision.hpp"
#ifdef KILN_HAVE_CONVERTER
#include "kiln/convert.hpp"
#endif
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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

// ---- Resizing only what the crop keeps ------------------------------------------

// Peak resident memory of this process so far, in MiB.
long peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

TEST(ResizeWindow, GivesExactlyThePixelsOfACropOfTheFullResize) {
  // Bit for bit, for both filters, up- and downscaling, tall, wide, and
  // windows anywhere (the fixed-point one is OpenCV's, kept exact).
  std::mt19937 rng(7);
  struct Size {
    int w, h, full_w, full_h;
  };
  const Size sizes[] = {{40, 30, 91, 68}, {300, 200, 120, 80}, {1, 150, 256, 38400}, {157, 3, 13397, 256}};
  for (const Size& sz : sizes) {
    const Image img = make_image(sz.w, sz.h, [&](int, int, int) { return static_cast<int>(rng() % 256); });
    for (ResizeFilter filter : {ResizeFilter::Bilinear, ResizeFilter::AntialiasedBilinear}) {
      const Image full = resize_bilinear(img, sz.full_w, sz.full_h, filter);
      for (int k = 0; k < 4; ++k) {
        const int w = 1 + static_cast<int>(rng() % std::min(sz.full_w, 64));
        const int h = 1 + static_cast<int>(rng() % std::min(sz.full_h, 64));
        const int left = static_cast<int>(rng() % (sz.full_w - w + 1));
        const int top = static_cast<int>(rng() % (sz.full_h - h + 1));
        const Image got = resize_window(img, ResizeWindow{sz.full_w, sz.full_h, left, top, w, h}, filter);
        ASSERT_EQ(got.width, w);
        ASSERT_EQ(got.height, h);
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
              ASSERT_EQ(got.rgb[(static_cast<size_t>(y) * w + x) * 3 + c],
                        full.rgb[((static_cast<size_t>(top) + y) * sz.full_w + left + x) * 3 + c])
                  << sz.w << "x" << sz.h << " -> " << sz.full_w << "x" << sz.full_h << " window " << left << ","
                  << top << " " << w << "x" << h << " filter " << static_cast<int>(filter);
      }
    }
  }
  const Image img = make_image(4, 4, [](int, int, int) { return 0; });
  EXPECT_THROW(resize_window(img, ResizeWindow{8, 8, 4, 4, 5, 5}), Error);  // beyond the resized image
}

TEST(Preprocess, ShorterSideEqualsCropAfterResize) {
  // What preprocessing did before it cropped first, on photo-like sizes.
  std::mt19937 rng(3);
  for (const auto& [w, h] : {std::pair{320, 240}, {240, 320}, {225, 225}, {500, 199}}) {
    const Image img = make_image(w, h, [&](int, int, int) { return static_cast<int>(rng() % 256); });
    for (ResizeFilter filter : {ResizeFilter::Bilinear, ResizeFilter::AntialiasedBilinear}) {
      const ResizeWindow win = shorter_side_window(img, 224);
      const Image full =
          resize_bilinear(img, static_cast<int>(win.full_width), static_cast<int>(win.full_height), filter);
      const Image want = center_crop(full, 224, 224);
      const Tensor got = preprocess_image(img, 224, Preprocess::Raw, ResizePolicy::ShorterSide, filter);
      const size_t plane = 224 * 224;
      for (size_t p = 0; p < plane; ++p)
        for (int c = 0; c < 3; ++c)
          ASSERT_EQ(got.data()[c * plane + p], want.rgb[p * 3 + c]) << w << "x" << h << " pixel " << p;
    }
  }
}

TEST(Preprocess, AVeryTallImageIsCroppedBeforeItIsResized) {
  // 1 x 12000: the shorter side goes to 256 and the long one to 3072000,
  // 2.4 GB of RGB if resized whole. Only the centre 224 x 224 is computed.
  const int kHeight = 12000;
  const Image img = make_image(1, kHeight, [](int, int y, int c) { return (y / 3 + 40 * c) % 256; });
  const Tensor t = preprocess_image(img, 224, Preprocess::Raw, ResizePolicy::ShorterSide);
  EXPECT_LT(peak_rss_mib(), 1024) << "the whole resized image was made";
  // Independently: every column is the one input column, linearly
  // interpolated at the rows of the centre window.
  const ResizeWindow win = shorter_side_window(img, 224);
  EXPECT_EQ(win.full_width, 256);
  EXPECT_EQ(win.full_height, int64_t{kHeight} * 256);
  const double scale = static_cast<double>(kHeight) / static_cast<double>(win.full_height);
  const size_t plane = 224 * 224;
  for (int y = 0; y < 224; ++y) {
    const double src = (static_cast<double>(win.top + y) + 0.5) * scale - 0.5;
    const int s = static_cast<int>(std::floor(src));
    const double f = src - s;
    for (int c = 0; c < 3; ++c) {
      auto pixel = [&](int row) { return static_cast<double>(img.rgb[static_cast<size_t>(row) * 3 + c]); };
      const double want = (1 - f) * pixel(s) + f * pixel(s + 1);
      for (int x = 0; x < 224; x += 37)
        ASSERT_NEAR(t.data()[c * plane + static_cast<size_t>(y) * 224 + x], want, 1.0) << "row " << y;
    }
  }
}

// ---- Decoding limits ---------------------------------------------------------------

std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}


// A 132-byte PNG of 1 x 12000 pixels, all (128, 64, 32).
const std::vector<uint8_t> kTallPng = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x2e, 0xe0, 0x08, 0x02, 0x00, 0x00, 0x00, 0xd2, 0xed, 0xd9, 0x38, 0x00, 0x00, 0x00,
    0x4b, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xed, 0xc3, 0x31, 0x0d, 0x00, 0x00, 0x08, 0x03, 0xb0, 0x49, 0x41,
    0x0a, 0xd2, 0x26, 0x9d, 0x07, 0x19, 0x6d, 0xd2, 0x74, 0x27, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xfa, 0x0f, 0xab, 0xf6, 0x06, 0x68, 0x8b, 0x30, 0x32, 0xff, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

// A PNG signature and IHDR declaring width x height RGB pixels, and no data.
std::vector<uint8_t> png_header(uint32_t width, uint32_t height) {
  std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  for (uint32_t v : {width, height})
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(v >> shift));
  for (uint8_t v : {8, 2, 0, 0, 0, 0, 0, 0, 0}) b.push_back(v);  // depth, colour, methods, CRC (unchecked)
  return b;
}

std::string decode_error(const std::vector<uint8_t>& bytes, const std::string& name) {
  try {
    const Image img = decode_image(bytes.data(), bytes.size(), name);
    ADD_FAILURE() << name << " decoded as " << img.width << "x" << img.height;
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Decode, ATinyTallPngGivesTheRightPixelsCheaply) {
  const Image img = decode_image(kTallPng.data(), kTallPng.size(), "tall.png");
  ASSERT_EQ(img.width, 1);
  ASSERT_EQ(img.height, 12000);
  const Tensor t = preprocess_image(img, 224, Preprocess::Raw, ResizePolicy::ShorterSide);
  EXPECT_LT(peak_rss_mib(), 1024);
  const size_t plane = 224 * 224;
  for (size_t p = 0; p < plane; p += 101) {
    ASSERT_EQ(t.data()[p], 128);
    ASSERT_EQ(t.data()[plane + p], 64);
    ASSERT_EQ(t.data()[2 * plane + p], 32);
  }
}

TEST(Decode, ImagesAboveThePixelLimitAreRefusedFromTheHeader) {
  // 20000 x 20000 (stb_image refuses it too, without saying the size) and
  // 12000 x 12000 (which stb_image would start to decode).
  for (const auto& [w, h] : {std::pair{20000u, 20000u}, {12000u, 12000u}}) {
    const std::string msg = decode_error(png_header(w, h), "huge.png");
    EXPECT_THAT(msg, HasSubstr("huge.png"));
    EXPECT_THAT(msg, HasSubstr(std::to_string(w) + "x" + std::to_string(h)));
    EXPECT_THAT(msg, HasSubstr(std::to_string(kMaxImagePixels)));
  }
  // At the limit the header passes; the missing data is then the error.
  EXPECT_THAT(decode_error(png_header(10000, 10000), "edge.png"), Not(HasSubstr("limit")));
}

TEST(Decode, AJpegClaimingTooManyPixelsIsRefusedBeforeDecoding) {
  const auto path = shared_file_or_skip("images/hot_dog.jpg");
  if (HasFailure()) return;
  std::vector<uint8_t> bytes = read_bytes(path);
  // The start-of-frame segment: FF C0..C2, length, precision, height, width.
  size_t sof = 2;
  while (sof + 9 < bytes.size() && !(bytes[sof] == 0xFF && bytes[sof + 1] >= 0xC0 && bytes[sof + 1] <= 0xC2))
    sof += 2 + (static_cast<size_t>(bytes[sof + 2]) << 8 | bytes[sof + 3]);
  ASSERT_LT(sof + 9, bytes.size()) << "no SOF marker found";
  for (size_t at : {sof + 5, sof + 7}) bytes[at] = 20000 >> 8, bytes[at + 1] = 20000 & 0xFF;
  const std::string msg = decode_error(bytes, "huge.jpg");
  EXPECT_THAT(msg, HasSubstr("20000x20000"));
  EXPECT_THAT(msg, HasSubstr(std::to_string(kMaxImagePixels)));
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

namespace kiln::test {
namespace {
// stb_image would allocate what a chunk's length field claims (the fuzzer's
// 2 GiB case, tests/fuzz/regressions/image): such a chunk is refused first.
TEST(Decode, APngChunkLongerThanTheFileIsRefused) {
  std::ifstream in(source_dir() / "tests/fuzz/regressions/image/png_chunk_length_2gib.png", std::ios::binary);
  ASSERT_TRUE(in) << "the regression input is missing";
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    (void)decode_image(bytes.data(), bytes.size(), "chunk.png");
    FAIL() << "a chunk past the end of the file was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("PNG chunk"));
  }
}

// Found by the image fuzzer: a PNG header of 4294967295 x 4294903821 pixels,
// whose pixel count overflowed int64 before it was compared with the limit.
TEST(Decode, APngOfFourBillionByFourBillionPixelsIsRefusedBeforeDecoding) {
  std::ifstream in(source_dir() / "tests/fuzz/regressions/image/png_dims_4g_by_4g.png", std::ios::binary);
  ASSERT_TRUE(in) << "the regression input is missing";
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    (void)decode_image(bytes.data(), bytes.size(), "huge.png");
    FAIL() << "a 4294967295 x 4294903821 PNG was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("the image is 4294967295x4294903821 pixels (18446471446365534195)"));
  }
}
}  // namespace
}  // namespace kiln::test
