// The .kiln loader (Model::from_bytes), then sessions on the reference and cpu
// backends for the models that load. Whatever the bytes, loading returns a
// valid model or throws kiln::Error; a model that loads serialises to a file
// that loads again, and small ones run.
#include <optional>

#include "engine/format/kiln_file.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<kiln::Model> model;
  try {
    // Checksums off: a mutated file would almost always stop at them, and the
    // structure checks are what protects users who load with verify=false.
    model.emplace(kiln::Model::from_bytes({data, size}, "fuzz.kiln", kiln::LoadOptions{.verify_checksums = false}));
  } catch (const kiln::Error&) {
    return 0;
  }
  // What `kiln inspect` shows.
  (void)model->inputs();
  (void)model->outputs();
  (void)model->metadata();
  (void)model->passes_applied();

  const std::vector<uint8_t> saved = kiln::serialize_graph(model->graph());
  try {
    (void)kiln::Model::from_bytes(saved, "resaved.kiln");
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "a loaded model, saved again, does not load: %s\n", e.what());
    std::abort();
  }
  kiln::fuzz::run_if_small(*model);
  return 0;
}
