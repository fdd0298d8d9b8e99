#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include "engine/vision/jpeg_decoder.hpp"
#include "kiln/vision.hpp"

namespace kiln {

namespace {

[[noreturn]] void bad_image(const std::string& name, const std::string& what) {
  throw Error(ErrorCode::InvalidArgument, name + ": " + what);
}

bool starts_with(const uint8_t* d, size_t n, std::initializer_list<uint8_t> magic) {
  if (n < magic.size()) return false;
  return std::equal(magic.begin(), magic.end(), d);
}

// stb_image fills a cut-off JPEG with grey instead of failing, so a JPEG must
// end with its end-of-image marker (trailing padding bytes are tolerated).
void check_jpeg_complete(const uint8_t* d, size_t n, const std::string& name) {
  size_t end = n;
  while (end > 2 && (d[end - 1] == 0x00 || d[end - 1] == 0xFF || d[end - 1] == '\n' || d[end - 1] == '\r')) {
    if (d[end - 2] == 0xFF && d[end - 1] == 0xD9) break;
    --end;
  }
  if (end < 4 || d[end - 2] != 0xFF || d[end - 1] != 0xD9)
    bad_image(name, "truncated JPEG (no end-of-image marker): the file is incomplete or corrupt");
}

uint32_t read_le(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

// stb_image reads zeros past the end of a cut-off BMP, so check that the pixel
// array the header describes fits in the file.
void check_bmp_complete(const uint8_t* d, size_t n, const std::string& name) {
  if (n < 30) bad_image(name, "truncated BMP (incomplete header)");
  const uint64_t pixel_offset = read_le(d + 10, 4);
  const uint32_t header_size = read_le(d + 14, 4);
  if (header_size < 40) return;  // old OS/2 headers: left to stb_image
  if (n < 14 + 40) bad_image(name, "truncated BMP (incomplete header)");
  const int64_t width = static_cast<int32_t>(read_le(d + 18, 4));
  const int64_t height = static_cast<int32_t>(read_le(d + 22, 4));
  const uint32_t bpp = read_le(d + 28, 2);
  const uint32_t compression = read_le(d + 30, 4);
  const bool uncompressed = compression == 0 || compression == 3;  // BI_RGB, BI_BITFIELDS
  if (uncompressed && width > 0 && bpp > 0) {
    const uint64_t row = (static_cast<uint64_t>(bpp) * static_cast<uint64_t>(width) + 31) / 32 * 4;
    const uint64_t need = pixel_offset + row * static_cast<uint64_t>(height < 0 ? -height : height);
    if (need > n)
      bad_image(name, "truncated BMP: the header describes " + std::to_string(need) + " bytes, the file has " +
                          std::to_string(n));
  }
}

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

struct PixelSize {
  int64_t width = 0, height = 0;
};

// From the header alone; nullopt when the header cannot be read (the
// decoder then reports what is wrong). PNG's IHDR is read here because stb
// refuses to report sizes above 2^30 bytes of pixels, which are the ones
// that most need a message naming them.
std::optional<PixelSize> header_size(const uint8_t* data, size_t size, bool jpeg, bool png, const std::string& name) {
  if (jpeg) {
    std::string error;
    const auto dims = jpeg_size(data, size, &error);
    if (!dims) bad_image(name, "cannot read the JPEG header (corrupt or unsupported): " + error);
    return PixelSize{dims->first, dims->second};
  }
  if (png) {
    if (size < 24 || std::memcmp(data + 12, "IHDR", 4) != 0) return std::nullopt;
    return PixelSize{read_be32(data + 16), read_be32(data + 20)};
  }
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(data, static_cast<int>(size), &width, &height, &channels)) return std::nullopt;
  return PixelSize{width, height};
}

// stb_image trusts each PNG chunk's length field and allocates it before
// reading: a 100-byte file claiming a 2 GiB chunk would take 2 GiB. Every
// chunk (length, type, data, CRC) must lie inside the file.
void check_png_chunks(const uint8_t* data, size_t size, const std::string& name) {
  size_t at = 8;  // after the signature
  while (at + 8 <= size) {
    const uint32_t length = (uint32_t{data[at]} << 24) | (uint32_t{data[at + 1]} << 16) |
                            (uint32_t{data[at + 2]} << 8) | uint32_t{data[at + 3]};
    const bool end = std::memcmp(data + at + 4, "IEND", 4) == 0;
    if (length > size - at - 8 || size - at - 8 - length < 4) {
      std::string msg = "a PNG chunk at byte ";
      msg += std::to_string(at);
      msg += " claims ";
      msg += std::to_string(length);
      msg += " bytes, past the end of the file (truncated or corrupt)";
      bad_image(name, msg);
    }
    at += 12 + static_cast<size_t>(length);
    if (end) return;
  }
}

// A few hundred bytes of PNG can declare 20000 x 20000 pixels (1.2 GB of RGB),
// so the size in the header is checked before anything is decoded.
void check_pixel_count(const uint8_t* data, size_t size, bool jpeg, bool png, const std::string& name) {
  const std::optional<PixelSize> dims = header_size(data, size, jpeg, png, name);
  if (!dims) return;
  // Each side is below 2^32, so the product fits in 64 unsigned bits (not in int64_t).
  const uint64_t pixels = static_cast<uint64_t>(dims->width) * static_cast<uint64_t>(dims->height);
  if (pixels <= static_cast<uint64_t>(kMaxImagePixels)) return;
  std::string msg = "the image is ";
  msg += std::to_string(dims->width);
  msg += 'x';
  msg += std::to_string(dims->height);
  msg += " pixels (";
  msg += std::to_string(pixels);
  msg += "), more than the limit of ";
  msg += std::to_string(kMaxImagePixels);
  msg += " pixels Kiln decodes";
  bad_image(name, msg);
}

// Weights of an antialiased linear filter mapping `in` samples to `out`.
struct FilterTaps {
  std::vector<int> first;      // first input index per output
  std::vector<int> count;      // taps per output
  std::vector<float> weights;  // count[i] weights per output, normalised
  int max_taps = 0;
};

// Taps for outputs [first, first + count) of a resize from `in` to `out`
// samples: the same taps the whole resize has there.
FilterTaps triangle_filter(int in, int64_t out, int64_t first, int count, bool antialias) {
  FilterTaps f;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  // Widening the triangle when shrinking is what makes it antialiased; at width
  // 1 it is plain bilinear interpolation between the two nearest samples.
  const double width = antialias ? std::max(scale, 1.0) : 1.0;
  const double support = width;
  f.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  f.weights.assign(static_cast<size_t>(count) * f.max_taps, 0.0f);
  for (int64_t o = first; o < first + count; ++o) {
    const auto k = static_cast<size_t>(o - first);
    const double center = (o + 0.5) * scale;
    int lo = static_cast<int>(std::floor(center - support));
    int hi = static_cast<int>(std::ceil(center + support));
    // Samples beyond the border repeat the edge pixel (OpenCV's and PIL's
    // results agree with this at the borders for their respective widths).
    std::vector<double> w;
    std::vector<int> idx;
    for (int i = lo; i < hi; ++i) {
      const double t = std::abs((i + 0.5 - center) / width);
      if (t >= 1.0) continue;
      if (antialias && (i < 0 || i >= in)) continue;  // PIL renormalises over the image
      idx.push_back(std::clamp(i, 0, in - 1));
      w.push_back(1.0 - t);
    }
    double total = 0;
    for (double v : w) total += v;
    lo = idx.empty() ? 0 : idx.front();
    // Taps are stored relative to `lo`; clamped edge taps may repeat an index,
    // so accumulate into the slot of each sample.
    f.first.push_back(lo);
    int taps = 0;
    for (size_t j = 0; j < w.size(); ++j) {
      const int slot = idx[j] - lo;
      taps = std::max(taps, slot + 1);
      f.weights[k * f.max_taps + slot] += static_cast<float>(total > 0 ? w[j] / total : 0.0);
    }
    f.count.push_back(taps);
  }
  return f;
}

}  // namespace

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
  if (size == 0) bad_image(name, "the file is empty");
  const bool jpeg = starts_with(data, size, {0xFF, 0xD8, 0xFF});
  const bool png = starts_with(data, size, {0x89, 'P', 'N', 'G'});
  const bool bmp = starts_with(data, size, {'B', 'M'});
  if (!jpeg && !png && !bmp) bad_image(name, "not a JPEG, PNG or BMP image");
  if (jpeg) check_jpeg_complete(data, size, name);
  if (bmp) check_bmp_complete(data, size, name);
  if (png) check_png_chunks(data, size, name);
  if (size > static_cast<size_t>(INT32_MAX)) bad_image(name, "image file too large");
  check_pixel_count(data, size, jpeg, png, name);
  if (jpeg) {
    std::string error;
    std::optional<Image> img = decode_jpeg(data, size, &error);
    if (!img) bad_image(name, "cannot decode JPEG (truncated, corrupt or unsupported): " + error);
    return std::move(*img);
  }
  int w = 0, h = 0, channels = 0;
  stbi_uc* pixels = stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &channels, 3);
  if (!pixels)
    bad_image(name, std::string("cannot decode ") + (jpeg ? "JPEG" : png ? "PNG" : "BMP") +
                        " (truncated or corrupt): " + stbi_failure_reason());
  if (w <= 0 || h <= 0) {  // stb_image accepts a BMP whose header says width 0
    stbi_image_free(pixels);
    bad_image(name, "the image has no pixels (width " + std::to_string(w) + ", height " + std::to_string(h) + ")");
  }
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(pixels, pixels + static_cast<size_t>(w) * h * 3);
  stbi_image_free(pixels);
  return img;
}

Image load_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::Io, path + ": cannot open image (no such file or not readable)");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return decode_image(bytes.data(), bytes.size(), path);
}

namespace {

// OpenCV's INTER_LINEAR on 8-bit images, to the bit: half-pixel centres, the
// two weights of each output coordinate in 11-bit fixed point, rows first into
// int32, then columns with the rounding of OpenCV's vectorised vertical pass.
// Models calibrated or checked on OpenCV crops (the int8 references of the
// quantized MobileNets) then see the very bytes they were made with.
struct LinearTaps {
  std::vector<int> first;
  std::vector<int16_t> w0, w1;
};

LinearTaps linear_taps(int in, int64_t out, int64_t first, int count) {
  LinearTaps t;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t d = first; d < first + count; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    if (s < 0) f = 0, s = 0;
    if (s >= in - 1) f = 0, s = in - 1;
    t.first.push_back(s);
    t.w0.push_back(static_cast<int16_t>(std::lrint((1.0f - f) * 2048)));
    t.w1.push_back(static_cast<int16_t>(std::lrint(f * 2048)));
  }
  return t;
}

// The source rows [lo, hi] a window's output rows read.
struct RowSpan {
  int lo = 0, hi = 0;
  int count() const { return hi - lo + 1; }
};

Image resize_linear_fixed_point(const Image& image, const ResizeWindow& win) {
  const int width = win.width, height = win.height;
  const LinearTaps tx = linear_taps(image.width, win.full_width, win.left, width);
  const LinearTaps ty = linear_taps(image.height, win.full_height, win.top, height);
  // Taps never decrease, so the first and last output rows bound the rows read.
  const RowSpan span{ty.first.front(), std::min(ty.first.back() + 1, image.height - 1)};
  std::vector<int32_t> rows(static_cast<size_t>(span.count()) * width * 3);
  for (int y = span.lo; y <= span.hi; ++y) {
    int32_t* row = &rows[static_cast<size_t>(y - span.lo) * width * 3];
    for (int x = 0; x < width; ++x) {
      const int s0 = tx.first[x], s1 = std::min(s0 + 1, image.width - 1);
      const uint8_t* p0 = &image.rgb[(static_cast<size_t>(y) * image.width + s0) * 3];
      const uint8_t* p1 = &image.rgb[(static_cast<size_t>(y) * image.width + s1) * 3];
      for (int c = 0; c < 3; ++c) row[x * 3 + c] = p0[c] * tx.w0[x] + p1[c] * tx.w1[x];
    }
  }
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    const int s0 = ty.first[y], s1 = std::min(s0 + 1, image.height - 1);
    const int32_t* r0 = &rows[static_cast<size_t>(s0 - span.lo) * width * 3];
    const int32_t* r1 = &rows[static_cast<size_t>(s1 - span.lo) * width * 3];
    for (int i = 0; i < width * 3; ++i) {
      const int v = (((ty.w0[y] * (r0[i] >> 4)) >> 16) + ((ty.w1[y] * (r1[i] >> 4)) >> 16) + 2) >> 2;
      out.rgb[static_cast<size_t>(y) * width * 3 + i] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    }
  }
  return out;
}

// Separable: rows first into a float buffer, then columns.
Image resize_triangle(const Image& image, const ResizeWindow& win, bool antialias) {
  const int width = win.width, height = win.height;
  const FilterTaps fx = triangle_filter(image.width, win.full_width, win.left, width, antialias);
  const FilterTaps fy = triangle_filter(image.height, win.full_height, win.top, height, antialias);
  RowSpan span{image.height - 1, 0};
  for (int y = 0; y < height; ++y) {
    span.lo = std::min(span.lo, fy.first[y]);
    span.hi = std::max(span.hi, fy.first[y] + std::max(fy.count[y], 1) - 1);
  }
  std::vector<float> tmp(static_cast<size_t>(span.count()) * width * 3);
  for (int y = span.lo; y <= span.hi; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        float acc = 0;
        for (int k = 0; k < fx.count[x]; ++k)
          acc += fx.weights[static_cast<size_t>(x) * fx.max_taps + k] *
                 image.rgb[(static_cast<size_t>(y) * image.width + fx.first[x] + k) * 3 + c];
        tmp[(static_cast<size_t>(y - span.lo) * width + x) * 3 + c] = acc;
      }
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        float acc = 0;
        for (int k = 0; k < fy.count[y]; ++k)
          acc += fy.weights[static_cast<size_t>(y) * fy.max_taps + k] *
                 tmp[(static_cast<size_t>(fy.first[y] + k - span.lo) * width + x) * 3 + c];
        out.rgb[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<uint8_t>(std::clamp(std::lround(acc), 0L, 255L));
      }
  return out;
}

}  // namespace

Image resize_window(const Image& image, const ResizeWindow& win, ResizeFilter filter) {
  if (win.full_width <= 0 || win.full_height <= 0 || image.width <= 0 || image.height <= 0 || win.width <= 0 ||
      win.height <= 0)
    throw Error(ErrorCode::InvalidArgument, "resize: sizes must be positive");
  if (win.left < 0 || win.top < 0 || win.left + win.width > win.full_width || win.top + win.height > win.full_height)
    throw Error(ErrorCode::InvalidArgument, "resize: the window lies outside the resized image");
  if (filter == ResizeFilter::Bilinear) return resize_linear_fixed_point(image, win);
  return resize_triangle(image, win, filter == ResizeFilter::AntialiasedBilinear);
}

Image resize_bilinear(const Image& image, int width, int height, ResizeFilter filter) {
  return resize_window(image, ResizeWindow{width, height, 0, 0, width, height}, filter);
}

Image center_crop(const Image& image, int width, int height) {
  if (width > image.width || height > image.height)
    throw Error(ErrorCode::InvalidArgument, "crop larger than the image");
  const int left = (image.width - width) / 2;
  const int top = (image.height - height) / 2;
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    std::memcpy(&out.rgb[static_cast<size_t>(y) * width * 3],
                &image.rgb[(static_cast<size_t>(y + top) * image.width + left) * 3], static_cast<size_t>(width) * 3);
  return out;
}

ResizeWindow shorter_side_window(const Image& image, int size) {
  if (size <= 0) throw Error(ErrorCode::InvalidArgument, "preprocess: size must be positive");
  if (image.width <= 0 || image.height <= 0) throw Error(ErrorCode::InvalidArgument, "preprocess: the image is empty");
  const int shorter = std::min(image.width, image.height);
  const auto target = static_cast<double>(std::lround(256.0 * size / 224.0));
  // int64: a 1 x 100M image scaled so that its shorter side is 256 is 25.6G
  // pixels long, which is why only the window is ever computed.
  const int64_t w = std::max<int64_t>(size, std::llround(static_cast<double>(image.width) * target / shorter));
  const int64_t h = std::max<int64_t>(size, std::llround(static_cast<double>(image.height) * target / shorter));
  return ResizeWindow{w, h, (w - size) / 2, (h - size) / 2, size, size};
}

void preprocess_image_into(const Image& image, int size, Preprocess preset, ResizePolicy policy, ResizeFilter filter,
                           float* out) {
  if (size <= 0) throw Error(ErrorCode::InvalidArgument, "preprocess: size must be positive");
  Image fitted;
  const int shorter = std::min(image.width, image.height);
  if (policy == ResizePolicy::ShorterSide) {
    fitted = resize_window(image, shorter_side_window(image, size), filter);
  } else {
    fitted = resize_bilinear(center_crop(image, shorter, shorter), size, size, filter);
  }
  const size_t plane = static_cast<size_t>(size) * size;
  for (size_t p = 0; p < plane; ++p)
    for (int c = 0; c < 3; ++c) {
      const float v = fitted.rgb[p * 3 + c];
      switch (preset) {
        case Preprocess::Imagenet: {
          static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
          out[c * plane + p] = (v / 255.0f - mean[c]) / stdev[c];
          break;
        }
        case Preprocess::Inception: out[c * plane + p] = v / 127.5f - 1.0f; break;
        case Preprocess::Caffe: {
          static const float bgr_mean[3] = {104.0f, 117.0f, 123.0f};
          out[(2 - c) * plane + p] = v - bgr_mean[2 - c];  // channel 0 is blue
          break;
        }
        case Preprocess::Raw: out[c * plane + p] = v; break;
        case Preprocess::Centered128: out[c * plane + p] = (v - 128.0f) / 128.0f; break;
        case Preprocess::Unknown:
          throw Error(ErrorCode::InvalidArgument,
                      "no preprocessing preset known for this model; choose one (imagenet, inception, caffe, raw, "
                      "centered128)");
      }
    }
}

Tensor preprocess_image(const Image& image, int size, Preprocess preset, ResizePolicy policy, ResizeFilter filter) {
  Tensor t({1, 3, size, size});
  preprocess_image_into(image, size, preset, policy, filter, t.data());
  return t;
}

Preprocess parse_preprocess_name(const std::string& name) {
  if (name == "imagenet") return Preprocess::Imagenet;
  if (name == "inception") return Preprocess::Inception;
  if (name == "caffe") return Preprocess::Caffe;
  if (name == "raw") return Preprocess::Raw;
  if (name == "centered128") return Preprocess::Centered128;
  throw Error(ErrorCode::InvalidArgument,
              "unknown preprocessing preset '" + name + "' (choose imagenet, inception, caffe, raw or centered128)");
}

const char* preprocess_name(Preprocess preset) {
  switch (preset) {
    case Preprocess::Imagenet: return "imagenet";
    case Preprocess::Inception: return "inception";
    case Preprocess::Caffe: return "caffe";
    case Preprocess::Raw: return "raw";
    case Preprocess::Centered128: return "centered128";
    case Preprocess::Unknown: break;
  }
  return "unknown";
}

std::vector<Prediction> top_k(const float* scores, int64_t num_classes, int k, OutputKind kind, int class_offset,
                              const std::vector<std::string>& labels) {
  std::vector<double> p(scores, scores + num_classes);
  bool is_probability = kind == OutputKind::Probabilities;
  if (kind == OutputKind::Unknown) {
    double sum = 0;
    bool in_range = true;
    for (double v : p) {
      sum += v;
      in_range = in_range && v >= 0.0 && v <= 1.0;
    }
    is_probability = in_range && std::abs(sum - 1.0) < 1e-3;
  }
  if (!is_probability && !p.empty()) {
    const double mx = *std::max_element(p.begin(), p.end());
    double sum = 0;
    for (double& v : p) sum += (v = std::exp(v - mx));
    for (double& v : p) v /= sum;
  }
  std::vector<int64_t> order(static_cast<size_t>(num_classes));
  for (int64_t i = 0; i < num_classes; ++i) order[i] = i;
  const int64_t kk = std::min<int64_t>(std::max(k, 0), num_classes);
  std::partial_sort(order.begin(), order.begin() + kk, order.end(),
                    [&](int64_t a, int64_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  std::vector<Prediction> out;
  for (int64_t r = 0; r < kk; ++r) {
    const int64_t raw = order[r];
    Prediction pred;
    pred.class_index = raw < class_offset ? -1 : static_cast<int>(raw - class_offset);
    pred.probability = static_cast<float>(p[raw]);
    if (static_cast<int64_t>(labels.size()) == num_classes) pred.label = labels[raw];
    else if (static_cast<int64_t>(labels.size()) == num_classes - class_offset && raw >= class_offset)
      pred.label = labels[raw - class_offset];
    else if (raw < class_offset) pred.label = "background";
    out.push_back(std::move(pred));
  }
  return out;
}

}  // namespace kiln
