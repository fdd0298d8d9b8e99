#include "converter/tensor_proto.hpp"

#include <cstring>

#include "converter/errors.hpp"
#include "converter/shape_utils.hpp"
#include "engine/core/checked_size.hpp"

namespace kiln::onnx_import {

namespace {

// Bytes per element in raw_data; 0 for types Kiln cannot decode.
size_t raw_size(DType t) {
  switch (t) {
    case dtype::kFloat: return 4;
    case dtype::kUInt8: return 1;
    case dtype::kInt8: return 1;
    case dtype::kUInt16: return 2;
    case dtype::kInt16: return 2;
    case dtype::kInt32: return 4;
    case dtype::kInt64: return 8;
    case dtype::kBool: return 1;
    case dtype::kFloat16: return 2;
    case dtype::kDouble: return 8;
    case dtype::kUInt32: return 4;
    case dtype::kUInt64: return 8;
    case dtype::kBFloat16: return 2;
    default: return 0;
  }
}

template <class T>
T read_raw(const std::string& raw, size_t index) {
  T v;
  std::memcpy(&v, raw.data() + index * sizeof(T), sizeof(T));
  return v;
}

// Checks the data's length against the element count; returns true if the
// values are in raw_data, false if in the typed field.
bool check_length(const onnx::TensorProto& t, int64_t count, const std::string& what) {
  const DType type = t.data_type();
  const size_t elem = raw_size(type);
  if (elem == 0)
    throw_unsupported(what + " has data type " + dtype_name(type) + ", which Kiln cannot read");
  if (t.has_segment()) throw_unsupported(what + " is stored in segments, which Kiln cannot read");
  if (!t.raw_data().empty()) {
    const auto expected = static_cast<uint64_t>(count) * elem;
    if (t.raw_data().size() != expected)
      throw_invalid(what + " has " + std::to_string(t.raw_data().size()) + " bytes of raw_data but its shape " +
                    shape_to_string(tensor_proto_shape(t, what)) + " of " + dtype_name(type) + " needs " +
                    std::to_string(expected));
    return true;
  }
  int64_t present = 0;
  switch (type) {
    case dtype::kFloat: present = t.float_data_size(); break;
    case dtype::kDouble: present = t.double_data_size(); break;
    case dtype::kInt64: present = t.int64_data_size(); break;
    case dtype::kUInt32:
    case dtype::kUInt64: present = t.uint64_data_size(); break;
    default: present = t.int32_data_size(); break;
  }
  if (present != count)
    throw_invalid(what + " holds " + std::to_string(present) + " values but its shape " +
                  shape_to_string(tensor_proto_shape(t, what)) + " needs " + std::to_string(count));
  return false;
}

}  // namespace

Shape tensor_proto_shape(const onnx::TensorProto& t, const std::string& what) {
  if (t.dims_size() > 64) throw_invalid(what + " has rank " + std::to_string(t.dims_size()));
  Shape s(t.dims().begin(), t.dims().end());
  kiln::checked_element_count(s, {what, ErrorCode::InvalidModel});
  return s;
}

void check_not_external(const onnx::TensorProto& t, const std::string& what) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL || t.external_data_size() > 0)
    throw_unsupported(what + " keeps its data in an external file; Kiln reads only self-contained .onnx files "
                             "(re-save the model with onnx.save_model(model, path, save_as_external_data=False))");
}

HostTensor decode_host_tensor(const onnx::TensorProto& t, const std::string& what) {
  check_not_external(t, what);
  const DType type = t.data_type();
  if (!is_numeric(type))
    throw_unsupported(what + " has data type " + dtype_name(type) + ", which Kiln cannot read");
  Shape shape = tensor_proto_shape(t, what);
  const int64_t count = checked_element_count(shape, what);
  const bool raw = check_length(t, count, what);
  HostTensor h = HostTensor::zeros(type, std::move(shape));
  const std::string& r = t.raw_data();
  for (int64_t k = 0; k < count; ++k) {
    const auto i = static_cast<size_t>(k);
    switch (type) {
      case dtype::kFloat: h.f[i] = raw ? read_raw<float>(r, i) : t.float_data(k); break;
      case dtype::kDouble: h.f[i] = raw ? read_raw<double>(r, i) : t.double_data(k); break;
      case dtype::kFloat16:
        h.f[i] = half_to_float(raw ? read_raw<uint16_t>(r, i) : static_cast<uint16_t>(t.int32_data(k)));
        break;
      case dtype::kBFloat16:
        h.f[i] = bfloat16_to_float(raw ? read_raw<uint16_t>(r, i) : static_cast<uint16_t>(t.int32_data(k)));
        break;
      case dtype::kInt64: h.i[i] = raw ? read_raw<int64_t>(r, i) : t.int64_data(k); break;
      case dtype::kUInt64:
        h.i[i] = static_cast<int64_t>(raw ? read_raw<uint64_t>(r, i) : t.uint64_data(k));
        break;
      case dtype::kUInt32:
        h.i[i] = raw ? read_raw<uint32_t>(r, i) : static_cast<uint32_t>(t.uint64_data(k));
        break;
      case dtype::kInt32: h.i[i] = raw ? read_raw<int32_t>(r, i) : t.int32_data(k); break;
      case dtype::kInt16: h.i[i] = raw ? read_raw<int16_t>(r, i) : static_cast<int16_t>(t.int32_data(k)); break;
      case dtype::kUInt16: h.i[i] = raw ? read_raw<uint16_t>(r, i) : static_cast<uint16_t>(t.int32_data(k)); break;
      case dtype::kInt8: h.i[i] = raw ? read_raw<int8_t>(r, i) : static_cast<int8_t>(t.int32_data(k)); break;
      case dtype::kUInt8: h.i[i] = raw ? read_raw<uint8_t>(r, i) : static_cast<uint8_t>(t.int32_data(k)); break;
      case dtype::kBool: h.i[i] = (raw ? read_raw<uint8_t>(r, i) : t.int32_data(k)) != 0 ? 1 : 0; break;
      default: throw_unsupported(what + " has data type " + dtype_name(type));
    }
  }
  return h;
}

std::vector<float> decode_floats(const onnx::TensorProto& t, const std::string& what) {
  check_not_external(t, what);
  const DType type = t.data_type();
  if (!is_floating(type))
    throw_unsupported(what + " has data type " + dtype_name(type) + "; Kiln computes in float32 only");
  const int64_t count = kiln::checked_element_count(tensor_proto_shape(t, what), {what, ErrorCode::InvalidModel});
  const bool raw = check_length(t, count, what);
  const auto n = static_cast<size_t>(count);
  std::vector<float> out(n);
  const std::string& r = t.raw_data();
  switch (type) {
    case dtype::kFloat:
      if (raw) {
        if (n) std::memcpy(out.data(), r.data(), n * sizeof(float));
      } else {
        for (size_t i = 0; i < n; ++i) out[i] = t.float_data(static_cast<int>(i));
      }
      break;
    case dtype::kDouble:
      for (size_t i = 0; i < n; ++i)
        out[i] = static_cast<float>(raw ? read_raw<double>(r, i) : t.double_data(static_cast<int>(i)));
      break;
    case dtype::kFloat16:
      for (size_t i = 0; i < n; ++i)
        out[i] = half_to_float(raw ? read_raw<uint16_t>(r, i) : static_cast<uint16_t>(t.int32_data(static_cast<int>(i))));
      break;
    default:  // BFLOAT16
      for (size_t i = 0; i < n; ++i)
        out[i] = bfloat16_to_float(raw ? read_raw<uint16_t>(r, i)
                                       : static_cast<uint16_t>(t.int32_data(static_cast<int>(i))));
      break;
  }
  return out;
}

}  // namespace kiln::onnx_import
