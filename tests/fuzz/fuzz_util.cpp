#include "tests/fuzz/fuzz_util.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

namespace kiln::fuzz {

namespace {

// Limits for running a model: with ASan and coverage instrumentation the
// reference backend computes some tens of MFLOP/s, so a model within these
// runs in milliseconds.
constexpr double kMaxActivationElements = 1 << 18;
constexpr double kMaxFlops = 1e7;
constexpr size_t kMaxNodes = 256;

double elements(const std::vector<int64_t>& shape) {
  double n = 1;
  for (int64_t d : shape) n *= static_cast<double>(std::max<int64_t>(d, 0));
  return n;
}

bool small_enough(const Model& model) {
  double activations = 0;
  for (const TensorDesc& in : model.inputs()) activations += elements(in.shape);
  const std::vector<NodeInfo> nodes = model.nodes();
  if (nodes.size() > kMaxNodes) return false;
  double flops = 0;
  for (const NodeInfo& node : nodes) {
    flops += static_cast<double>(node.flops);
    for (const auto& shape : node.output_shapes) activations += elements(shape);
  }
  return activations <= kMaxActivationElements && flops <= kMaxFlops;
}

// Inputs with a few distinct values of both signs (the values matter little:
// what is fuzzed is the graph).
std::vector<Tensor> made_up_inputs(const std::vector<TensorDesc>& descs) {
  std::vector<Tensor> inputs;
  for (const TensorDesc& d : descs) {
    Tensor t(d.shape, d.type);
    auto* bytes = static_cast<uint8_t*>(t.raw());
    const int64_t n = t.size();
    for (int64_t i = 0; i < n; ++i) {
      if (d.type == ElementType::Float32)
        t.data()[i] = static_cast<float>(i % 7 - 3) * 0.375f;
      else
        bytes[i] = static_cast<uint8_t>(i * 37);
    }
    inputs.push_back(std::move(t));
  }
  return inputs;
}

void run_on(const Model& model, const char* backend) {
  std::optional<Session> session;
  try {
    SessionOptions options;
    options.backend = backend;
    options.threads = 1;
    session.emplace(model, options);
  } catch (const Error&) {
    return;  // e.g. an op this backend does not support
  }
  try {
    const std::vector<Tensor> outputs = session->run(made_up_inputs(session->inputs()));
    KILN_FUZZ_CHECK(outputs.size() == session->outputs().size());
    for (size_t i = 0; i < outputs.size(); ++i) KILN_FUZZ_CHECK(outputs[i].shape() == session->outputs()[i].shape);
  } catch (const Error&) {
  }
}

}  // namespace

std::string as_file(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("kiln-fuzz-input", 0);
  KILN_FUZZ_CHECK(fd >= 0);
  KILN_FUZZ_CHECK(ftruncate(fd, 0) == 0);
  KILN_FUZZ_CHECK(size == 0 || pwrite(fd, data, size, 0) == static_cast<ssize_t>(size));
  return "/proc/self/fd/" + std::to_string(fd);
}

void run_if_small(const Model& model) {
  if (!small_enough(model)) return;
  for (const std::string& backend : available_backends())
    if (backend == "reference" || backend == "cpu") run_on(model, backend.c_str());
}

}  // namespace kiln::fuzz
