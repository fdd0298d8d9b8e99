# Finds nvcc for the CUDA backend (kernels/cuda) and enables the CUDA language
# project-wide: the backend's module (kernels/cuda) and the tests and tools that
# link its objects (kiln_cuda_impl) live in several directories, so the
# language must be enabled in the top directory (CMake's rule for
# enable_language). nvcc is also looked for in /usr/local/cuda, so a machine
# or CI job without it on PATH still builds the backend.
include(CheckLanguage)
if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc CACHE FILEPATH "CUDA compiler")
endif()
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  set(kiln_cuda_default ON)
else()
  set(kiln_cuda_default OFF)
  message(STATUS "Kiln: no CUDA compiler (nvcc) found; the cuda backend is not built")
endif()
option(KILN_BACKEND_CUDA "Build the CUDA backend (needs nvcc, cuBLAS and cuDNN)" ${kiln_cuda_default})
if(KILN_BACKEND_CUDA)
  # sm_90 machine code plus PTX that newer GPUs compile at load time.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES "90-real;90-virtual")
  endif()
  # The shared CUDA runtime, which the backend links anyway (one copy of its
  # state per process), rather than CMake's default of adding cudart_static.
  set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
  enable_language(CUDA)
  # C++20, as the host code: the .cu files share engine/core's headers
  # (std::span). CMake 3.25 does not know nvcc's flag for it (nvcc 12+ takes
  # -std=c++20), so it is told, after the compiler checks.
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)
  find_library(KILN_CUDNN cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} REQUIRED)
  find_path(KILN_CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} REQUIRED)
  message(STATUS "Kiln: cuda backend with nvcc ${CMAKE_CUDA_COMPILER_VERSION}, cuDNN ${KILN_CUDNN}")
endif()
