// Classify one image with a .kiln model: the whole embedding, start to end.
//   classify_example model.kiln photo.jpg
#include <cstdio>

#include "kiln/kiln.hpp"
#include "kiln/vision.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL.kiln IMAGE\n", argv[0]);
    return 2;
  }
  try {
    kiln::Model model = kiln::Model::load(argv[1]);
    kiln::ModelMetadata meta = model.metadata();  // preprocessing and labels, from the converter
    kiln::Session session(model);
    const int size = static_cast<int>(session.inputs()[0].shape[2]);
    kiln::Tensor input =
        kiln::preprocess_image(kiln::load_image(argv[2]), size, meta.preprocess, meta.resize, meta.resize_filter);
    std::vector<kiln::Tensor> outputs = session.run({input});
    for (const kiln::Prediction& p : kiln::top_k(outputs[0].data(), outputs[0].size(), 3, meta.output_kind,
                                                 meta.class_offset, meta.labels))
      std::printf("%.4f  %s (%d)\n", p.probability, p.label.c_str(), p.class_index);
    return 0;
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
