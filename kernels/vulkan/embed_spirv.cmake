# cmake -DSPV=in.spv -DOUT=out.cpp -DNAME=name -P embed_spirv.cmake
# Writes the SPIR-V words of one shader as a uint32_t array (SPIR-V is a
# stream of little-endian 32-bit words; glslc writes host order, and every
# Vulkan host we build for is little-endian).
file(READ ${SPV} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])" "0x\\4\\3\\2\\1u," words "${hex}")
file(WRITE ${OUT} "// Generated from ${SPV} by embed_spirv.cmake; do not edit.\n#include <cstddef>\n#include <cstdint>\nnamespace kiln::vk {\nextern const uint32_t spv_${NAME}[];\nextern const size_t spv_${NAME}_bytes;\nconst uint32_t spv_${NAME}[] = {${words}};\nconst size_t spv_${NAME}_bytes = ${bytes};\n}  // namespace kiln::vk\n")
