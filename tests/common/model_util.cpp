#include "tests/common/model_util.hpp"

#include <fmt/format.h>

#include <map>
#include <memory>

#include "tests/common/test_util.hpp"
#ifdef KILN_TEST_HAVE_CONVERTER
#include "apps/common/npy.hpp"
#include "kiln/convert.hpp"
#endif

namespace kiln::test {

bool have_converter() {
#ifdef KILN_TEST_HAVE_CONVERTER
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

std::filesystem::path torchvision_dir() { return KILN_TORCHVISION_DIR; }

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
#ifdef KILN_TEST_HAVE_CONVERTER
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
#ifdef KILN_TEST_HAVE_CONVERTER
  if (std::filesystem::exists(input_file)) {
    Tensor t = input_file.extension() == ".npy" ? npy::read(input_file.string())
                                                : read_tensor_proto(input_file.string()).tensor;
    if (t.shape() == shape) return t;
  }
#endif
  return random_tensor(shape, 12345);
}

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.id; }

std::vector<ModelCase> shared_model_cases() {
  std::vector<ModelCase> v = {
      {"squeezenet1_1", "squeezenet1.1/squeezenet1.1.onnx", "squeezenet1.1/test_data_set_0/input_0.pb"},
      {"squeezenet1_0", "squeezenet1.0/squeezenet1.0_fp32.onnx", "squeezenet1.0/opencv_ref_0/input_0.pb"},
      {"mobilenet_v2_1_0_224", "mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_dequant.onnx",
       "mobilenet_v2_1.0_224/opencv_ref_0/input_0.pb"},
      {"mobilenet_v1_0_75_192", "mobilenet_v1_0.75_192/mobilenet_v1_0.75_192_dequant.onnx",
       "mobilenet_v1_0.75_192/opencv_ref_0/input_0.pb"},
      {"mobilenet_v1_0_25_128", "mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx",
       "mobilenet_v1_0.25_128/opencv_ref_0/input_0.pb"},
  };
  for (const char* depth : {"20", "32", "44", "56"})
    v.push_back({fmt::format("resnet{}_cifar", depth), fmt::format("resnet_cifar/resnet{}.onnx", depth),
                 fmt::format("resnet_cifar/resnet{}/torch_ref_0/input_0.pb", depth)});
  v.push_back({"resnet20_bn_cifar", "resnet_cifar/resnet20_bn.onnx", "resnet_cifar/resnet20/torch_ref_1/input_0.pb"});
  v.push_back({"resnet20_torch_export_raw_cifar", "resnet_cifar/resnet20_torch_export_raw.onnx",
               "resnet_cifar/resnet20/torch_ref_0/input_0.pb"});
  v.push_back({"resnet8_tiny_cifar", "resnet_cifar/resnet8_tiny.onnx", "resnet_cifar/resnet8_tiny/torch_ref_0/input_0.pb"});
  v.push_back({"resnet8_tiny_bn_cifar", "resnet_cifar/resnet8_tiny_bn.onnx",
               "resnet_cifar/resnet8_tiny/torch_ref_1/input_0.pb"});
  return v;
}

std::vector<ModelCase> torchvision_model_cases() {
  std::vector<ModelCase> v;
  for (const char* name : {"resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
                           "shufflenet_v2_x1_0", "densenet121"})
    v.push_back({std::string("torchvision_") + name, name, "", true});
  return v;
}

ModelCase model_case(const std::string& id) {
  for (const auto& list : {shared_model_cases(), torchvision_model_cases()})
    for (const ModelCase& c : list)
      if (c.id == id) return c;
  throw Error(ErrorCode::InvalidArgument, "no model case '" + id + "'");
}

bool load_model_case(const ModelCase& c, const Model** model, Tensor* input, std::string* skip) {
  if (!have_converter()) {
    *skip = "this build has no ONNX converter (KILN_BUILD_CONVERTER=OFF)";
    return false;
  }
  std::filesystem::path onnx, input_file;
  if (c.torchvision) {
    const auto p = torchvision_model(c.onnx);
    if (!p) {
      *skip = missing_torchvision(c.onnx);
      return false;
    }
    onnx = *p;
    input_file = torchvision_dir() / (c.onnx + ".input.npy");
  } else {
    const auto p = shared_model(c.onnx);
    if (!p) {
      *skip = missing_shared(c.onnx);
      return false;
    }
    onnx = *p;
    input_file = shared_dir() / "models" / c.input;
  }
  *model = &import_model(onnx);
  *input = model_input(**model, input_file);
  return true;
}

std::string conv_algorithm_counts(const Session& session) {
  std::map<std::string, int> counts;
  for (const NodeProfile& p : session.profile()) {
    if (p.op != "Conv" || p.detail.rfind("fused into", 0) == 0) continue;
    ++counts[p.detail.rfind("fused ", 0) == 0 ? "chain" : p.detail.substr(0, p.detail.find(' '))];
  }
  std::string out;
  for (const auto& [name, n] : counts) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", name, n);
  return out;
}

}  // namespace kiln::test
