#include "tests/cpu/model_util.hpp"

#include <map>
#include <memory>

#include "tests/common/test_util.hpp"
#ifdef KILN_CPU_HAVE_CONVERTER
#include "apps/common/npy.hpp"
#include "kiln/convert.hpp"
#endif

namespace kiln::test {

bool have_converter() {
#ifdef KILN_CPU_HAVE_CONVERTER
  return true;
#else
  return false;
#endif
}

std::optional<std::filesystem::path> shared_model(const std::string& relative) {
  const std::filesystem::path p = shared_dir() / "models" / relative;
  if (!std::filesystem::exists(p)) return std::nullopt;
  return p;
}

std::filesystem::path torchvision_dir() { return KILN_CPU_TORCHVISION_DIR; }

std::optional<std::filesystem::path> torchvision_model(const std::string& name) {
  const std::filesystem::path p = torchvision_dir() / (name + ".onnx");
  if (!std::filesystem::exists(p)) return std::nullopt;
  return p;
}

std::string missing_shared(const std::string& relative) {
  return "missing test data " + (shared_dir() / "models" / relative).string() +
         " (set KILN_SHARED_DIR to the shared data folder)";
}

std::string missing_torchvision(const std::string& name) {
  return "missing " + (torchvision_dir() / (name + ".onnx")).string() +
         ": build the export_torchvision target (needs python3-torch, installed by scripts/install-deps.sh)";
}

const Model& import_model(const std::filesystem::path& onnx) {
  static std::map<std::string, std::unique_ptr<Model>> models;
  auto it = models.find(onnx.string());
  if (it == models.end()) {
#ifdef KILN_CPU_HAVE_CONVERTER
    auto graph = std::make_shared<Graph>(import_onnx(onnx.string(), ConvertOptions{}));
    it = models.emplace(onnx.string(), std::make_unique<Model>(std::move(graph))).first;
#else
    throw Error(ErrorCode::Unsupported, "this build has no ONNX converter: cannot import " + onnx.string());
#endif
  }
  return *it->second;
}

Tensor model_input(const Model& model, const std::filesystem::path& input_file) {
  const std::vector<int64_t> shape = model.inputs().at(0).shape;
#ifdef KILN_CPU_HAVE_CONVERTER
  if (std::filesystem::exists(input_file)) {
    Tensor t = input_file.extension() == ".npy" ? npy::read(input_file.string())
                                                : read_tensor_proto(input_file.string()).tensor;
    if (t.shape() == shape) return t;
  }
#endif
  return random_tensor(shape, 12345);
}

}  // namespace kiln::test
