#pragma once
// The in-memory graph every part of Kiln works on: the converter builds it, the
// passes rewrite it, the .kiln reader/writer (engine/format) maps it to the file,
// and backends compile it. Attributes are the schema's own generated tables
// (engine/schema/kiln.fbs), so the schema stays the single definition.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kiln/error.hpp"
#include "kiln_generated.h"

namespace kiln {

using Shape = std::vector<int64_t>;
using TensorId = int32_t;
using fb::DataType;
using fb::OpType;

int64_t element_count(const Shape& shape);
std::string shape_to_string(const Shape& shape);
size_t dtype_size(DataType dtype);

// The bytes of a constant tensor: either an owned, 64-byte-aligned copy or a view
// into a memory-mapped file kept alive by `owner` (zero-copy loading).
class ConstantData {
 public:
  static ConstantData copy_of(const void* data, size_t bytes);
  static ConstantData borrow(std::shared_ptr<const void> owner, const void* data, size_t bytes);
  static ConstantData from_floats(const std::vector<float>& values);

  const std::byte* bytes() const { return data_; }
  const float* floats() const { return reinterpret_cast<const float*>(data_); }
  size_t size_bytes() const { return size_; }

 private:
  std::shared_ptr<const void> owner_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

// real = scale · (q − zero_point), per tensor (axis < 0, one value) or per
// index of `axis`. The arithmetic on quantized values is in engine/core/quantization.hpp.
struct QuantParams {
  std::vector<float> scale;
  std::vector<int32_t> zero_point;
  int axis = -1;

  bool per_axis() const { return axis >= 0; }
  // The scale and zero point of index i along the axis (any i when per-tensor).
  float scale_at(int64_t i) const { return per_axis() ? scale[static_cast<size_t>(i)] : scale[0]; }
  int32_t zero_point_at(int64_t i) const {
    return per_axis() ? zero_point[static_cast<size_t>(i)] : zero_point[0];
  }
  bool operator==(const QuantParams&) const = default;
};

bool is_quantized_dtype(DataType dtype);  // UInt8 or Int8
// "u8 s=0.0235 z=128", "i8 per-axis(0) s=[0.01..0.2] z=0", "f32".
std::string describe_dtype(DataType dtype, const std::optional<QuantParams>& quant);

struct TensorInfo {
  std::string name;
  DataType dtype = DataType::Float32;
  Shape shape;
  std::optional<ConstantData> constant;
  std::optional<QuantParams> quant;  // UInt8, Int8 and quantized Int32 (bias) tensors

  bool is_constant() const { return constant.has_value(); }
  bool is_quantized() const { return quant.has_value(); }
};

struct Node {
  std::string name;
  OpType op = OpType::Identity;
  std::vector<TensorId> inputs;
  std::vector<TensorId> outputs;
  fb::AttributesUnion attrs;
};

inline constexpr uint16_t kFormatMajor = 1;
inline constexpr uint16_t kFormatMinor = 2;  // 1.1: dtypes other than float32, QuantParams, Q/DQ ops; 1.2: checksums

class Graph {
 public:
  std::vector<TensorInfo> tensors;
  std::vector<Node> nodes;  // in topological order
  std::vector<TensorId> inputs;
  std::vector<TensorId> outputs;
  std::vector<std::string> passes_applied;
  fb::ModelInfoT info;
  std::string producer;

  TensorId add_tensor(std::string name, Shape shape = {});
  TensorId add_constant(std::string name, Shape shape, ConstantData data);
  TensorId add_constant(std::string name, Shape shape, DataType dtype, ConstantData data,
                        std::optional<QuantParams> quant = std::nullopt);
  // A name not used by any tensor yet: `base`, else the first free of
  // base_1, base_2, ... Amortised O(1): an index of the names is kept and
  // brought up to date with the tensors appended since the last call. It
  // starts afresh when `tensors` shrinks or is replaced (remove_unused_tensors,
  // assignment); renaming a tensor in place after a call goes unseen, so
  // rename first.
  std::string unique_tensor_name(const std::string& base);

  const TensorInfo& tensor(TensorId id) const { return tensors.at(static_cast<size_t>(id)); }
  TensorInfo& tensor(TensorId id) { return tensors.at(static_cast<size_t>(id)); }
  const Shape& shape(TensorId id) const { return tensor(id).shape; }

  // For each tensor: the index of the node that produces it, or -1.
  std::vector<int> producers() const;
  // For each tensor: the indices of the nodes that read it (a node reading it
  // twice appears twice).
  std::vector<std::vector<int>> consumers() const;
  bool is_graph_output(TensorId id) const;
  bool is_graph_input(TensorId id) const;

  // Drops tensors that no node, input or output refers to and renumbers the rest.
  void remove_unused_tensors();
  // Replaces every use of `from` (node inputs and graph outputs) with `to`.
  void replace_uses(TensorId from, TensorId to);

 private:
  // The names of tensors[0, indexed), for unique_tensor_name; next_suffix
  // remembers, per base, the lowest suffix that may still be free.
  struct NameIndex {
    std::unordered_set<std::string> names;
    std::unordered_map<std::string, int64_t> next_suffix;
    size_t indexed = 0;
    std::string last_name;  // of tensors[indexed - 1], to notice a replaced vector
    void catch_up(const std::vector<TensorInfo>& tensors);
  };
  NameIndex name_index_;
};

// The typed attributes of a node; throws a clear error if the node carries
// another attribute table (the loader's checks make that impossible for
// verified graphs).
template <class T>
const T& attrs_as(const Node& node) {
  if (node.attrs.type != fb::AttributesUnionTraits<T>::enum_value || node.attrs.value == nullptr) {
    throw Error(ErrorCode::InvalidModel,
                "node '" + node.name + "' (" + fb::EnumNameOpType(node.op) + ") lacks its " +
                    fb::EnumNameAttributes(fb::AttributesUnionTraits<T>::enum_value) + " attributes");
  }
  return *static_cast<const T*>(node.attrs.value);
}

template <class T>
T& attrs_as(Node& node) {
  return const_cast<T&>(attrs_as<T>(static_cast<const Node&>(node)));
}

template <class T>
fb::AttributesUnion make_attrs(T value) {
  fb::AttributesUnion u;
  u.Set(std::move(value));
  return u;
}

}  // namespace kiln
