#pragma once
// The CUDA runtime pieces one compiled model owns: the device, a stream, the
// cuBLAS and cuDNN handles (bound to the stream, cuBLAS with a fixed
// workspace so that capture into a CUDA graph allocates nothing), and the
// device's properties as the cost models see them.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>
#include <vector>

#include "engine/runtime/backend.hpp"
#include "kernels/cuda/device_model.hpp"

namespace kiln::cuda {

// Throws kiln::Error naming `what` and the CUDA error.
void check(cudaError_t e, const char* what);
void check(cublasStatus_t s, const char* what);
void check(cudnnStatus_t s, const char* what);

// The number of devices; throws kiln::Error("no CUDA device: ...") when the
// driver is missing or too old, or there is no device.
int device_count_or_throw();
std::vector<DeviceInfo> list_devices();
DeviceModel device_model(int device);

class GpuContext {
 public:
  GpuContext(int device, bool deterministic);
  ~GpuContext();
  GpuContext(const GpuContext&) = delete;
  GpuContext& operator=(const GpuContext&) = delete;

  int device() const { return device_; }
  bool deterministic() const { return deterministic_; }
  const DeviceModel& model() const { return model_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  // Makes this context's device current for the calling thread.
  void bind() const;

 private:
  void init();
  void release();

  int device_ = 0;
  bool deterministic_ = false;
  DeviceModel model_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  void* cublas_workspace_ = nullptr;
};

// Device memory that frees itself.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr, o.bytes_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  void* get() const { return ptr_; }
  float* floats() const { return static_cast<float*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// A CUDA event (timing enabled) that destroys itself.
class Event {
 public:
  Event();
  ~Event();
  Event(Event&& o) noexcept : e_(o.e_) { o.e_ = nullptr; }
  Event& operator=(Event&&) = delete;
  Event(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

// Page-locked host memory (for asynchronous copies) that frees itself.
class PinnedBuffer {
 public:
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  PinnedBuffer& operator=(PinnedBuffer&&) = delete;
  PinnedBuffer(const PinnedBuffer&) = delete;
  void* get() const { return p_; }

 private:
  void* p_ = nullptr;
};

// Weights of a compiled model: host copies are collected while the graph is
// lowered (in whatever layout each kernel wants), then uploaded once into one
// device buffer. Kernels keep handles and resolve them when they are enqueued.
class WeightStore {
 public:
  using Handle = size_t;
  static constexpr Handle kNone = static_cast<Handle>(-1);
  Handle add(std::vector<float> values);
  Handle add(const float* values, size_t count) { return add(std::vector<float>(values, values + count)); }
  // Copies the weights into one device buffer with an asynchronous copy on
  // `stream` (the model's non-blocking stream: a plain cudaMemcpy on the
  // legacy stream would not be ordered with it) and waits for it.
  void upload(cudaStream_t stream);
  const float* ptr(Handle h) const;  // null for kNone
  size_t bytes() const { return total_ * sizeof(float); }

 private:
  std::vector<std::vector<float>> host_;
  std::vector<size_t> offsets_;
  size_t total_ = 0;
  DeviceBuffer device_;
};

}  // namespace kiln::cuda
