#pragma once
// JPEG decoding with libjpeg(-turbo) (jpeg_decoder.cpp says why not stb_image).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "kiln/vision.hpp"

namespace kiln {

// The RGB pixels, or nullopt with the decoder's message in `error`.
std::optional<Image> decode_jpeg(const uint8_t* data, size_t size, std::string* error);

}  // namespace kiln
