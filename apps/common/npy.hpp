#pragma once
// NumPy .npy files (format 1.0-3.0) holding float32, uint8 or int8 arrays in C order.
#include <string>

#include "kiln/kiln.hpp"

namespace kiln::npy {

// Reads a little-endian float32 ('<f4') or float64 ('<f8', converted), uint8
// or int8 array in C order. The file must hold exactly the data its header
// describes (no more, no less: checked before anything is allocated). Throws
// kiln::Error naming the file and the problem otherwise.
Tensor read(const std::string& path);
void write(const std::string& path, const Tensor& tensor);

}  // namespace kiln::npy
