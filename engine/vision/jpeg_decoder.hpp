#pragma once
// JPEG decoding with libjpeg(-turbo) (jpeg_decoder.cpp says why not stb_image).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "kiln/vision.hpp"

namespace kiln {

// The width and height from the header alone (nothing is decoded), or
// nullopt with the decoder's message in `error`.
std::optional<std::pair<int, int>> jpeg_size(const uint8_t* data, size_t size, std::string* error);

// The RGB pixels, or nullopt with the decoder's message in `error`.
std::optional<Image> decode_jpeg(const uint8_t* data, size_t size, std::string* error);

}  // namespace kiln
