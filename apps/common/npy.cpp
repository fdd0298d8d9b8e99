#include "apps/common/npy.hpp"

#include <cstring>
#include <fstream>
#include <iterator>
#include <regex>
#include <vector>

namespace kiln::npy {

namespace {
[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw Error(ErrorCode::InvalidArgument, path + ": " + what);
}
}  // namespace

Tensor read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::Io, path + ": cannot open");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) bad(path, "not a .npy file");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) bad(path, "truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    bad(path, "unsupported .npy version " + std::to_string(major));
  }
  if (header_start + header_len > bytes.size()) bad(path, "truncated .npy header");
  const std::string header(bytes.data() + header_start, header_len);

  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']*)')"))) bad(path, "no dtype in .npy header");
  const std::string descr = m[1];
  const bool bytes_u8 = descr == "|u1", bytes_i8 = descr == "|i1";
  if (descr != "<f4" && descr != "<f8" && !bytes_u8 && !bytes_i8)
    bad(path, "holds dtype '" + descr +
                  "'; Kiln reads float32 ('<f4'), float64 ('<f8'), uint8 ('|u1') or int8 ('|i1') arrays");
  if (!std::regex_search(header, m, std::regex(R"('fortran_order'\s*:\s*(True|False))")) || m[1] == "True")
    bad(path, "is in Fortran order; save it in C order");
  if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) bad(path, "no shape in .npy header");
  std::vector<int64_t> shape;
  const std::string dims = m[1];
  const std::regex digits(R"(\d+)");
  std::sregex_iterator it(dims.begin(), dims.end(), digits), end;
  for (; it != end; ++it) shape.push_back(std::stoll(it->str()));

  Tensor t(shape, bytes_u8 ? ElementType::UInt8 : bytes_i8 ? ElementType::Int8 : ElementType::Float32);
  const size_t count = static_cast<size_t>(t.size());
  const size_t elem = descr == "<f4" ? 4 : descr == "<f8" ? 8 : 1;
  const size_t data_start = header_start + header_len;
  if (bytes.size() - data_start < count * elem)
    bad(path, "truncated: " + std::to_string(count) + " values" + " needs " + std::to_string(count * elem) +
                  " data bytes, the file has " + std::to_string(bytes.size() - data_start));
  if (elem == 1) {
    std::memcpy(t.raw(), bytes.data() + data_start, count);
  } else if (elem == 4) {
    std::memcpy(t.data(), bytes.data() + data_start, count * 4);
  } else {
    for (size_t i = 0; i < count; ++i) {
      double d;
      std::memcpy(&d, bytes.data() + data_start + i * 8, 8);
      t.data()[i] = static_cast<float>(d);
    }
  }
  return t;
}

void write(const std::string& path, const Tensor& tensor) {
  std::string dims;
  for (size_t i = 0; i < tensor.shape().size(); ++i) dims += std::to_string(tensor.shape()[i]) + ", ";
  if (tensor.shape().size() > 1) dims.resize(dims.size() - 2);  // (3,) keeps its comma
  const char* descr = tensor.type() == ElementType::UInt8  ? "|u1"
                      : tensor.type() == ElementType::Int8 ? "|i1"
                                                           : "<f4";
  std::string header = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad with spaces so that the data starts on a 64-byte boundary.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCode::Io, path + ": cannot open for writing");
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.put(static_cast<char>(len & 0xFF));
  out.put(static_cast<char>(len >> 8));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(tensor.raw()), static_cast<std::streamsize>(tensor.size_bytes()));
  if (!out) throw Error(ErrorCode::Io, path + ": write failed");
}

}  // namespace kiln::npy
