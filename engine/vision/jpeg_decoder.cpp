// JPEG through libjpeg(-turbo) with its default decoding (accurate integer
// IDCT, fancy chroma upsampling): the decoder OpenCV and PIL use, so that a
// photo gives Kiln the same pixels as the pipelines models are checked with
// (stb_image's own IDCT and upsampling differ by a level or two in places).
#include "engine/vision/jpeg_decoder.hpp"

#include <jpeglib.h>

#include <csetjmp>
#include <cstdio>
#include <limits>

namespace kiln {

namespace {

// libjpeg reports errors through a callback that must not return: it jumps
// back to decode_jpeg with the message.
struct ErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr info) {
  auto* e = reinterpret_cast<ErrorManager*>(info->err);
  (*info->err->format_message)(info, e->message);
  std::longjmp(e->jump, 1);
}

void on_message(j_common_ptr) {}  // warnings (e.g. extraneous bytes) are not errors

// The setjmp stays in each caller: the jump must return into a live frame.
void route_errors(jpeg_decompress_struct& info, ErrorManager& err) {
  info.err = jpeg_std_error(&err.base);
  err.base.error_exit = on_error;
  err.base.output_message = on_message;
  err.message[0] = '\0';
}

// Everything between setjmp and the end lives in plain C objects, so that the
// jump skips no destructor.
bool decode(const uint8_t* data, size_t size, Image* out, std::string* error) {
  jpeg_decompress_struct info;
  ErrorManager err;
  route_errors(info, err);
  JSAMPLE* row = nullptr;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&info);
    *error = err.message;
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&info, TRUE);
  info.out_color_space = JCS_RGB;  // greyscale and YCbCr both convert; CMYK is refused below
  jpeg_start_decompress(&info);
  if (info.output_components != 3) {
    jpeg_destroy_decompress(&info);
    *error = "unsupported JPEG colour space (CMYK or YCCK)";
    return false;
  }
  out->width = static_cast<int>(info.output_width);
  out->height = static_cast<int>(info.output_height);
  out->rgb.resize(static_cast<size_t>(out->width) * out->height * 3);
  while (info.output_scanline < info.output_height) {
    row = out->rgb.data() + static_cast<size_t>(info.output_scanline) * out->width * 3;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

bool read_size(const uint8_t* data, size_t size, int* width, int* height, std::string* error) {
  jpeg_decompress_struct info;
  ErrorManager err;
  route_errors(info, err);
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&info);
    *error = err.message;
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&info, TRUE);
  *width = static_cast<int>(info.image_width);
  *height = static_cast<int>(info.image_height);
  jpeg_destroy_decompress(&info);
  return true;
}

}  // namespace

std::optional<std::pair<int, int>> jpeg_size(const uint8_t* data, size_t size, std::string* error) {
  if (size > std::numeric_limits<unsigned long>::max()) {
    *error = "image file too large";
    return std::nullopt;
  }
  int width = 0, height = 0;
  if (!read_size(data, size, &width, &height, error)) return std::nullopt;
  return std::make_pair(width, height);
}

std::optional<Image> decode_jpeg(const uint8_t* data, size_t size, std::string* error) {
  if (size > std::numeric_limits<unsigned long>::max()) {
    *error = "image file too large";
    return std::nullopt;
  }
  Image img;
  if (!decode(data, size, &img, error)) return std::nullopt;
  return img;
}

}  // namespace kiln
