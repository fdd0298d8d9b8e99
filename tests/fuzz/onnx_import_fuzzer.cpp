// The ONNX importer and the convert-time passes (import_onnx_bytes, what
// `kiln convert` runs). Whatever the bytes, importing returns a graph or
// throws kiln::Error; an imported graph saves to a .kiln file that loads, and
// small ones run.
#include <optional>

#include "engine/format/kiln_file.hpp"
#include "kiln/convert.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::Graph graph;
  try {
    graph = kiln::import_onnx_bytes({data, size}, "fuzz.onnx", kiln::ConvertOptions{});
  } catch (const kiln::Error&) {
    return 0;
  }
  const std::vector<uint8_t> file = kiln::serialize_graph(graph);
  std::optional<kiln::Model> model;
  try {
    model.emplace(kiln::Model::from_bytes(file, "converted.kiln"));
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "an imported model, saved as .kiln, does not load: %s\n", e.what());
    std::abort();
  }
  kiln::fuzz::run_if_small(*model);
  return 0;
}
