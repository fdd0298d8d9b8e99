#include "engine/core/graph.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "engine/core/checked_size.hpp"

namespace kiln {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::InvalidModel: return "invalid model";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::Io: return "I/O error";
    case ErrorCode::Internal: return "internal error";
  }
  return "error";
}

int64_t element_count(const Shape& shape) {
  // Static: kernels count elements at run time, which must not allocate.
  static const SizeSource kSource{"kiln::element_count", ErrorCode::InvalidArgument};
  return checked_element_count(shape, kSource, std::numeric_limits<int64_t>::max());
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

size_t dtype_size(DataType dtype) {
  switch (dtype) {
    case DataType::Float32: return 4;
    case DataType::Float16: return 2;
    case DataType::Int64: return 8;
    case DataType::Int32: return 4;
    case DataType::Int8: return 1;
    case DataType::UInt8: return 1;
  }
  return 0;
}

namespace {
struct AlignedFree {
  void operator()(void* p) const { ::operator delete(p, std::align_val_t(64)); }
};
}  // namespace

ConstantData ConstantData::copy_of(const void* data, size_t bytes) {
  ConstantData c;
  // Round up so that vector kernels may read whole 64-byte lines.
  size_t alloc = std::max<size_t>(64, (bytes + 63) / 64 * 64);
  void* p = ::operator new(alloc, std::align_val_t(64));
  std::memset(p, 0, alloc);
  if (bytes) std::memcpy(p, data, bytes);
  c.owner_ = std::shared_ptr<void>(p, AlignedFree());
  c.data_ = static_cast<const std::byte*>(p);
  c.size_ = bytes;
  return c;
}

ConstantData ConstantData::borrow(std::shared_ptr<const void> owner, const void* data, size_t bytes) {
  ConstantData c;
  c.owner_ = std::move(owner);
  c.data_ = static_cast<const std::byte*>(data);
  c.size_ = bytes;
  return c;
}

ConstantData ConstantData::from_floats(const std::vector<float>& values) {
  return copy_of(values.data(), values.size() * sizeof(float));
}

TensorId Graph::add_tensor(std::string name, Shape shape) {
  TensorInfo t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  tensors.push_back(std::move(t));
  return static_cast<TensorId>(tensors.size() - 1);
}

TensorId Graph::add_constant(std::string name, Shape shape, ConstantData data) {
  TensorId id = add_tensor(std::move(name), std::move(shape));
  tensors.back().constant = std::move(data);
  return id;
}

TensorId Graph::add_constant(std::string name, Shape shape, DataType dtype, ConstantData data,
                             std::optional<QuantParams> quant) {
  TensorId id = add_constant(std::move(name), std::move(shape), std::move(data));
  tensors.back().dtype = dtype;
  tensors.back().quant = std::move(quant);
  return id;
}

bool is_quantized_dtype(DataType dtype) { return dtype == DataType::UInt8 || dtype == DataType::Int8; }

std::string describe_dtype(DataType dtype, const std::optional<QuantParams>& quant) {
  std::string s;
  switch (dtype) {
    case DataType::Float32: s = "f32"; break;
    case DataType::Float16: s = "f16"; break;
    case DataType::Int64: s = "i64"; break;
    case DataType::Int32: s = "i32"; break;
    case DataType::Int8: s = "i8"; break;
    case DataType::UInt8: s = "u8"; break;
  }
  if (!quant || quant->scale.empty() || quant->zero_point.empty()) return s;
  auto num = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return std::string(buf);
  };
  // Built with += : GCC 12 warns falsely (-Wrestrict) about "literal" + std::string.
  if (!quant->per_axis()) {
    s += " s=";
    s += num(quant->scale[0]);
    s += " z=";
    s += std::to_string(quant->zero_point[0]);
    return s;
  }
  const auto [lo, hi] = std::minmax_element(quant->scale.begin(), quant->scale.end());
  const auto [zlo, zhi] = std::minmax_element(quant->zero_point.begin(), quant->zero_point.end());
  s += " per-axis(";
  s += std::to_string(quant->axis);
  s += ") s=[";
  s += num(*lo);
  s += "..";
  s += num(*hi);
  s += "] z=";
  if (*zlo == *zhi) {
    s += std::to_string(*zlo);
  } else {
    s += '[';
    s += std::to_string(*zlo);
    s += "..";
    s += std::to_string(*zhi);
    s += ']';
  }
  return s;
}

void Graph::NameIndex::catch_up(const std::vector<TensorInfo>& tensors) {
  // Fewer tensors than indexed, or another name where the last indexed one
  // was: the vector was pruned or replaced, and the index may hold names
  // that are gone.
  if (tensors.size() < indexed || (indexed > 0 && tensors[indexed - 1].name != last_name)) *this = NameIndex{};
  for (; indexed < tensors.size(); ++indexed) names.insert(tensors[indexed].name);
  if (indexed > 0) last_name = tensors[indexed - 1].name;
}

std::string Graph::unique_tensor_name(const std::string& base) {
  name_index_.catch_up(tensors);
  if (!name_index_.names.count(base)) return base;
  // Names are only added while the index lives, so every suffix below the
  // one found last time for `base` is still taken: resuming there gives the
  // name a scan from 1 would, without rescanning.
  int64_t& next = name_index_.next_suffix[base];
  next = std::max<int64_t>(next, 1);
  for (;; ++next) {
    std::string candidate = base;
    candidate += '_';
    candidate += std::to_string(next);
    if (!name_index_.names.count(candidate)) return candidate;
  }
}

std::vector<int> Graph::producers() const {
  std::vector<int> p(tensors.size(), -1);
  for (size_t n = 0; n < nodes.size(); ++n)
    for (TensorId t : nodes[n].outputs) p.at(static_cast<size_t>(t)) = static_cast<int>(n);
  return p;
}

std::vector<std::vector<int>> Graph::consumers() const {
  std::vector<std::vector<int>> c(tensors.size());
  for (size_t n = 0; n < nodes.size(); ++n)
    for (TensorId t : nodes[n].inputs) c.at(static_cast<size_t>(t)).push_back(static_cast<int>(n));
  return c;
}

bool Graph::is_graph_output(TensorId id) const {
  return std::find(outputs.begin(), outputs.end(), id) != outputs.end();
}

bool Graph::is_graph_input(TensorId id) const {
  return std::find(inputs.begin(), inputs.end(), id) != inputs.end();
}

void Graph::replace_uses(TensorId from, TensorId to) {
  for (auto& n : nodes)
    for (auto& t : n.inputs)
      if (t == from) t = to;
  for (auto& t : outputs)
    if (t == from) t = to;
}

void Graph::remove_unused_tensors() {
  std::vector<char> used(tensors.size(), 0);
  auto mark = [&](TensorId t) { used.at(static_cast<size_t>(t)) = 1; };
  for (const auto& n : nodes) {
    for (TensorId t : n.inputs) mark(t);
    for (TensorId t : n.outputs) mark(t);
  }
  for (TensorId t : inputs) mark(t);
  for (TensorId t : outputs) mark(t);

  std::vector<TensorId> remap(tensors.size(), -1);
  std::vector<TensorInfo> kept;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!used[i]) continue;
    remap[i] = static_cast<TensorId>(kept.size());
    kept.push_back(std::move(tensors[i]));
  }
  tensors = std::move(kept);
  name_index_ = NameIndex{};
  auto fix = [&](TensorId& t) { t = remap.at(static_cast<size_t>(t)); };
  for (auto& n : nodes) {
    for (auto& t : n.inputs) fix(t);
    for (auto& t : n.outputs) fix(t);
  }
  for (auto& t : inputs) fix(t);
  for (auto& t : outputs) fix(t);
}

}  // namespace kiln
