#include "tests/e2e/e2e_util.hpp"

#include <algorithm>
#include <chrono>
#include <map>

#include "kiln/convert.hpp"

namespace kiln::test {

Model convert_and_load(const std::filesystem::path& onnx, bool optimize) {
  static std::map<std::string, std::filesystem::path> converted;
  const std::string key = onnx.string() + (optimize ? "" : "#raw");
  auto it = converted.find(key);
  if (it == converted.end()) {
    const auto dir = std::filesystem::temp_directory_path() / "kiln_e2e";
    std::filesystem::create_directories(dir);
    const auto out = dir / (onnx.stem().string() + (optimize ? "" : ".raw") + ".kiln");
    ConvertOptions options;
    options.optimize = optimize;
    convert_onnx_file(onnx.string(), out.string(), options);
    it = converted.emplace(key, out).first;
  }
  return Model::load(it->second.string());
}

double median_run_ms(Session& session, const std::vector<Tensor>& inputs, int runs) {
  std::vector<Tensor> outputs;
  for (const auto& d : session.outputs()) outputs.emplace_back(d.shape);
  session.run(inputs, outputs);
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    session.run(inputs, outputs);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace kiln::test
