// Top-1 classes of every real model on the 14 photos, as listed in
// ../shared/models/SOURCES.md (computed there with OpenCV and ArmNN), through
// the same preprocessing `kiln classify` uses (kiln/vision.hpp).
//
// Where SOURCES.md shows the first two classes within 0.05 of each other, a
// different but equally valid resize implementation can swap them, so either
// of the two is accepted (`alt` below); everywhere else the top-1 must match.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kiln/vision.hpp"
#include "tests/common/test_util.hpp"
#include "tests/e2e/e2e_util.hpp"

namespace kiln::test {
namespace {

const char* kPhotos[14] = {"bird.bmp",     "cat.bmp",       "dragonfly.bmp", "grace_hopper.bmp", "hot_dog.jpg",
                           "owl.jpg",      "parrot.jpg",    "pets.jpg",      "sunflower.bmp",    "wml_cat.jpg",
                           "wml_dog.jpg",  "wml_fish.png",  "wml_hummingbird.jpg", "wml_kitten_224.png"};

struct Expected {
  int top1;
  int alt = -1;  // accepted instead of top1 when SOURCES.md's margin is < 0.05
};

struct PhotoCase {
  std::string name;
  std::string onnx;
  std::vector<Expected> expected;  // one per photo, in kPhotos order
};

void PrintTo(const PhotoCase& c, std::ostream* os) { *os << c.name; }

std::vector<PhotoCase> photo_cases() {
  return {
      {"mobilenet_v2", "mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_dequant.onnx",
       {{19}, {285}, {319}, {667}, {934}, {82}, {88}, {171}, {985}, {285}, {207}, {0}, {94}, {281}}},
      {"mobilenet_v1_075", "mobilenet_v1_0.75_192/mobilenet_v1_0.75_192_dequant.onnx",
       {{19}, {285}, {319}, {667}, {934}, {82}, {88}, {195}, {985}, {282}, {207}, {389}, {94}, {281}}},
      {"mobilenet_v1_025", "mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx",
       {{19}, {285}, {300}, {400, 667}, {965}, {82}, {88}, {176}, {985}, {282}, {207}, {389}, {94}, {281}}},
      {"squeezenet1_1", "squeezenet1.1/squeezenet1.1.onnx",
       {{19}, {285}, {319}, {457, 834}, {934}, {82}, {88}, {195, 180}, {985}, {285}, {207}, {389}, {94}, {281}}},
      {"squeezenet1_0", "squeezenet1.0/squeezenet1.0_fp32.onnx",
       {{19}, {285}, {319}, {457}, {934}, {82}, {88}, {246}, {309}, {285}, {207}, {389}, {94}, {281}}},
      // CIFAR-10 classes: 0 airplane 1 automobile 2 bird 3 cat 4 deer 5 dog 6 frog 7 horse 8 ship 9 truck
      {"resnet20_cifar", "resnet_cifar/resnet20.onnx",
       {{2}, {3}, {6}, {5}, {2}, {2}, {2}, {4}, {3}, {3}, {5}, {0}, {2}, {6}}},
      {"resnet32_cifar", "resnet_cifar/resnet32.onnx",
       {{2}, {3}, {6}, {9}, {7}, {2}, {2}, {7}, {2}, {3}, {5}, {3}, {2}, {3}}},
      {"resnet44_cifar", "resnet_cifar/resnet44.onnx",
       {{2}, {3}, {2}, {5}, {0}, {2}, {2}, {2}, {3}, {3}, {5}, {0}, {2}, {3}}},
      {"resnet56_cifar", "resnet_cifar/resnet56.onnx",
       {{2}, {3}, {3}, {3}, {6}, {2}, {2}, {2}, {4}, {3}, {5}, {3}, {2}, {3}}},
      {"resnet8_tiny_cifar", "resnet_cifar/resnet8_tiny.onnx",
       {{2}, {3}, {1}, {9}, {2}, {2}, {2}, {5}, {1}, {3}, {5}, {3}, {2}, {3}}},
  };
}

class PhotoTop1 : public ::testing::TestWithParam<PhotoCase> {};

TEST_P(PhotoTop1, MatchesSources) {
  const PhotoCase& c = GetParam();
  const auto onnx = shared_file_or_skip("models/" + c.onnx);
  if (HasFailure()) return;
  Model model = convert_and_load(onnx);
  const ModelMetadata meta = model.metadata();
  ASSERT_FALSE(meta.name.empty()) << c.onnx << " should be recognised by its manifest";
  ASSERT_FALSE(meta.labels.empty()) << "the converter should have embedded the labels";
  Session session(model, reference_options());
  const int size = static_cast<int>(session.inputs()[0].shape[2]);
  int matched = 0;
  for (int i = 0; i < 14; ++i) {
    const auto photo = shared_file_or_skip(std::string("images/") + kPhotos[i]);
    if (HasFailure()) return;
    const Tensor x = preprocess_image(load_image(photo.string()), size, meta.preprocess, meta.resize, meta.resize_filter);
    const std::vector<Tensor> out = session.run({x});
    const auto top = top_k(out[0].data(), out[0].size(), 2, meta.output_kind, meta.class_offset, meta.labels);
    const Expected& e = c.expected[i];
    const bool ok = top[0].class_index == e.top1 || (e.alt >= 0 && top[0].class_index == e.alt);
    matched += ok;
    EXPECT_TRUE(ok) << c.name << " on " << kPhotos[i] << ": top-1 " << top[0].class_index << " '" << top[0].label
                    << "' p=" << top[0].probability << ", expected " << e.top1
                    << (e.alt >= 0 ? fmt::format(" or {}", e.alt) : "");
  }
  fmt::print("[ figures  ] {}: top-1 as in SOURCES.md on {}/14 photos\n", c.name, matched);
}

INSTANTIATE_TEST_SUITE_P(RealModels, PhotoTop1, ::testing::ValuesIn(photo_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln::test
