# Finds xxHash (Debian: libxxhash-dev), which checksums .kiln files, and
# defines the imported target XxHash::xxhash. With find_path/find_library
# rather than pkg-config alone, so that a prefix named in CMAKE_PREFIX_PATH
# (scripts/cuda_check.sh unpacks the packages into one) is enough; pkg-config's
# paths, where it is installed, are hints.
#
# XxHash_X86_DISPATCH: whether the library has xxHash's x86 dispatcher
# (xxh_x86dispatch.h; Debian builds it on amd64), which runs XXH3 with AVX2 or
# AVX-512 when the CPU has them instead of the SSE2 code of XXH3_64bits.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_XXHASH QUIET libxxhash)
endif()
find_path(XXHASH_INCLUDE_DIR xxhash.h HINTS ${PC_XXHASH_INCLUDE_DIRS})
find_library(XXHASH_LIBRARY NAMES xxhash HINTS ${PC_XXHASH_LIBRARY_DIRS})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(XxHash REQUIRED_VARS XXHASH_LIBRARY XXHASH_INCLUDE_DIR)
mark_as_advanced(XXHASH_INCLUDE_DIR XXHASH_LIBRARY)
if(XxHash_FOUND AND NOT DEFINED XxHash_X86_DISPATCH)
  include(CheckSymbolExists)
  include(CMakePushCheckState)
  cmake_push_check_state(RESET)
  set(CMAKE_REQUIRED_INCLUDES ${XXHASH_INCLUDE_DIR})
  set(CMAKE_REQUIRED_LIBRARIES ${XXHASH_LIBRARY})
  set(CMAKE_REQUIRED_QUIET ON)
  check_symbol_exists(XXH3_64bits_dispatch "xxh_x86dispatch.h" XxHash_X86_DISPATCH)
  cmake_pop_check_state()
endif()
if(XxHash_FOUND AND NOT TARGET XxHash::xxhash)
  add_library(XxHash::xxhash UNKNOWN IMPORTED)
  set_target_properties(XxHash::xxhash PROPERTIES
    IMPORTED_LOCATION "${XXHASH_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${XXHASH_INCLUDE_DIR}")
endif()
