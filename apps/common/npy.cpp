#include "apps/common/npy.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <regex>
#include <vector>

#include "engine/core/checked_size.hpp"
#include "engine/core/graph.hpp"

namespace kiln::npy {

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw Error(ErrorCode::InvalidArgument, path + ": " + what);
}

// numpy itself refuses headers above 10000 bytes; anything near this is not a
// header but a hostile length field.
constexpr uint64_t kMaxHeaderBytes = uint64_t{1} << 20;

struct Header {
  std::string descr;
  std::vector<int64_t> shape;
  uint64_t data_start = 0;  // offset of the first data byte in the file
};

uint64_t file_size(std::ifstream& in, const std::string& path) {
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0 || !in) throw Error(ErrorCode::Io, path + ": cannot read the file's size");
  return static_cast<uint64_t>(size);
}

void read_exactly(std::ifstream& in, void* to, uint64_t bytes, const std::string& path) {
  if (bytes > 0 && !in.read(static_cast<char*>(to), static_cast<std::streamsize>(bytes)))
    throw Error(ErrorCode::Io, path + ": read failed");
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\n") - b + 1);
}

// One entry of the header's 'shape' tuple: a non-negative integer that fits
// int64 (Python 2 wrote longs as "3L").
int64_t parse_dim(std::string token, const std::string& path) {
  if (!token.empty() && token.back() == 'L') token.pop_back();
  int64_t value = 0;
  const char* end = token.data() + token.size();
  const auto [ptr, ec] = std::from_chars(token.data(), end, value);
  std::string problem;
  if (ec == std::errc::result_out_of_range) problem = "is too large for a dimension";
  else if (ec != std::errc() || ptr != end || token.empty()) problem = "is not an integer";
  else if (value < 0) problem = "is negative";
  if (problem.empty()) return value;
  std::string msg = "the header's 'shape' entry '";
  msg += token;
  msg += "' ";
  msg += problem;
  bad(path, msg);
}

std::vector<int64_t> parse_shape(const std::string& tuple, const std::string& path) {
  std::vector<int64_t> shape;
  size_t pos = 0;
  while (pos <= tuple.size()) {
    const size_t comma = std::min(tuple.find(',', pos), tuple.size());
    const std::string token = trim(tuple.substr(pos, comma - pos));
    // "(3,)" ends with an empty entry; "()" is a scalar.
    const bool last = comma == tuple.size();
    if (!(token.empty() && last)) shape.push_back(parse_dim(token, path));
    pos = comma + 1;
  }
  return shape;
}

Header read_header(std::ifstream& in, uint64_t size, const std::string& path) {
  unsigned char prefix[12] = {};
  if (size < 10) bad(path, "not a .npy file (too short)");
  read_exactly(in, prefix, 10, path);
  if (std::memcmp(prefix, "\x93NUMPY", 6) != 0) bad(path, "not a .npy file");
  const int major = prefix[6];
  uint64_t header_len = 0, header_start = 10;
  if (major == 1) {
    header_len = prefix[8] | (prefix[9] << 8);
  } else if (major == 2 || major == 3) {
    if (size < 12) bad(path, "truncated .npy header");
    read_exactly(in, prefix + 10, 2, path);
    for (int i = 0; i < 4; ++i) header_len |= static_cast<uint64_t>(prefix[8 + i]) << (8 * i);
    header_start = 12;
  } else {
    bad(path, "unsupported .npy version " + std::to_string(major));
  }
  if (header_len > kMaxHeaderBytes)
    bad(path, "the header claims " + std::to_string(header_len) + " bytes, more than the " +
                  std::to_string(kMaxHeaderBytes) + " a .npy header may have");
  if (!range_within(header_start, header_len, size)) bad(path, "truncated .npy header");
  std::string header(header_len, '\0');
  read_exactly(in, header.data(), header_len, path);

  Header h;
  h.data_start = header_start + header_len;
  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']*)')"))) bad(path, "no dtype in .npy header");
  h.descr = m[1];
  if (!std::regex_search(header, m, std::regex(R"('fortran_order'\s*:\s*(True|False))")) || m[1] == "True")
    bad(path, "is in Fortran order; save it in C order");
  if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) bad(path, "no shape in .npy header");
  h.shape = parse_shape(m[1], path);
  return h;
}

}  // namespace

Tensor read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::Io, path + ": cannot open");
  const uint64_t size = file_size(in, path);
  const Header h = read_header(in, size, path);
  const bool f4 = h.descr == "<f4", f8 = h.descr == "<f8", u1 = h.descr == "|u1", i1 = h.descr == "|i1";
  if (!f4 && !f8 && !u1 && !i1)
    bad(path, "holds dtype '" + h.descr +
                  "'; Kiln reads float32 ('<f4'), float64 ('<f8'), uint8 ('|u1') or int8 ('|i1') arrays");
  const size_t elem = f4 ? 4 : f8 ? 8 : 1;

  // The header's claim is checked against the bytes in the file before
  // anything is allocated from it.
  const SizeSource source{path, ErrorCode::InvalidArgument};
  const auto count = static_cast<uint64_t>(checked_element_count(h.shape, source));
  const auto need = static_cast<uint64_t>(checked_byte_count(h.shape, elem, source));
  const uint64_t present = size - h.data_start;
  if (present < need)
    bad(path, "truncated: " + std::to_string(count) + " values of '" + h.descr + "' need " + std::to_string(need) +
                  " data bytes, the file has " + std::to_string(present));
  if (present > need)
    bad(path, "has " + std::to_string(present - need) + " bytes after the " + std::to_string(need) +
                  " data bytes its header describes (shape " + shape_to_string(h.shape) + " of '" + h.descr +
                  "'): not a single .npy array");

  Tensor t(h.shape, u1 ? ElementType::UInt8 : i1 ? ElementType::Int8 : ElementType::Float32);
  if (!f8) {
    read_exactly(in, t.raw(), need, path);
    return t;
  }
  // float64 is narrowed a block at a time, so the doubles are never all in memory.
  constexpr uint64_t kBlock = 1 << 16;
  std::vector<double> block(static_cast<size_t>(std::min(count, kBlock)));
  float* out = t.data();
  for (uint64_t done = 0; done < count;) {
    const uint64_t n = std::min(count - done, kBlock);
    read_exactly(in, block.data(), n * 8, path);
    for (uint64_t i = 0; i < n; ++i) out[done + i] = static_cast<float>(block[i]);
    done += n;
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
