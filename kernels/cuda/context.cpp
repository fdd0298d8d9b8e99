#include "kernels/cuda/context.hpp"

#include <fmt/format.h>

#include "kiln/error.hpp"

namespace kiln::cuda {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw Error(ErrorCode::Internal, fmt::format("cuda backend: {} failed: {} ({})", what, cudaGetErrorString(e),
                                                 cudaGetErrorName(e)));
}

void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error(ErrorCode::Internal, fmt::format("cuda backend: {} failed: cuBLAS status {} ({})", what,
                                                 static_cast<int>(s), cublasGetStatusString(s)));
}

void check(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS)
    throw Error(ErrorCode::Internal, fmt::format("cuda backend: {} failed: {}", what, cudnnGetErrorString(s)));
}

int device_count_or_throw() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error for later calls
    throw Error(ErrorCode::Unsupported,
                fmt::format("no CUDA device: {} (error {}{}) — use --backend cpu", cudaGetErrorString(e),
                            static_cast<int>(e),
                            e == cudaErrorInsufficientDriver ? " = driver missing/too old" : ""));
  }
  if (count == 0) throw Error(ErrorCode::Unsupported, "no CUDA device: the driver reports none — use --backend cpu");
  return count;
}

DeviceModel device_model(int device) {
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  DeviceModel m;
  m.name = p.name;
  m.sm_count = p.multiProcessorCount;
  m.smem_per_block = p.sharedMemPerBlock;
  m.smem_per_sm = p.sharedMemPerMultiprocessor;
  m.max_threads_per_sm = p.maxThreadsPerMultiProcessor;
  int mem_khz = 0, core_khz = 0;
  if (cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, device) == cudaSuccess && mem_khz > 0 &&
      p.memoryBusWidth > 0)
    m.bandwidth_gbs = 2.0 * mem_khz * 1e3 * (p.memoryBusWidth / 8.0) / 1e9;  // double data rate
  if (cudaDeviceGetAttribute(&core_khz, cudaDevAttrClockRate, device) == cudaSuccess && core_khz > 0)
    m.fp32_gflops = 2.0 * 128.0 * p.multiProcessorCount * core_khz * 1e-6;  // 128 FP32 lanes per SM (sm_80+)
  (void)cudaGetLastError();
  return m;
}

std::vector<DeviceInfo> list_devices() {
  const int count = device_count_or_throw();
  std::vector<DeviceInfo> out;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    check(cudaGetDeviceProperties(&p, i), "cudaGetDeviceProperties");
    char bus[32] = {};
    (void)cudaDeviceGetPCIBusId(bus, sizeof bus, i);
    out.push_back({i, p.name,
                   fmt::format("sm_{}{}, {} SMs, {:.1f} GiB, {} KiB shared memory per SM, pci {}", p.major, p.minor,
                               p.multiProcessorCount, static_cast<double>(p.totalGlobalMem) / (1u << 30),
                               p.sharedMemPerMultiprocessor / 1024, bus)});
  }
  return out;
}

GpuContext::GpuContext(int device, bool deterministic) : device_(device), deterministic_(deterministic) {
  try {
    init();
  } catch (...) {
    release();  // the destructor does not run for a constructor that throws
    throw;
  }
}

void GpuContext::init() {
  const int count = device_count_or_throw();
  if (device_ < 0 || device_ >= count)
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("--device {} does not exist: this machine has {} CUDA device(s)", device_, count));
  check(cudaSetDevice(device_), "cudaSetDevice");
  model_ = device_model(device_);
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cublasCreate(&cublas_), "cublasCreate");
  check(cublasSetStream(cublas_, stream_), "cublasSetStream");
  // No TF32: results stay within float32 rounding of the reference.
  check(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  check(cublasSetAtomicsMode(cublas_, CUBLAS_ATOMICS_NOT_ALLOWED), "cublasSetAtomicsMode");
  constexpr size_t kCublasWorkspace = size_t{32} << 20;
  check(cudaMalloc(&cublas_workspace_, kCublasWorkspace), "cudaMalloc (cuBLAS workspace)");
  check(cublasSetWorkspace(cublas_, cublas_workspace_, kCublasWorkspace), "cublasSetWorkspace");
  check(cudnnCreate(&cudnn_), "cudnnCreate");
  check(cudnnSetStream(cudnn_, stream_), "cudnnSetStream");
}

GpuContext::~GpuContext() { release(); }

void GpuContext::release() {
  if (!stream_ && !cublas_ && !cudnn_ && !cublas_workspace_) return;
  (void)cudaSetDevice(device_);
  if (cudnn_) cudnnDestroy(cudnn_);
  if (cublas_) cublasDestroy(cublas_);
  if (cublas_workspace_) cudaFree(cublas_workspace_);
  if (stream_) cudaStreamDestroy(stream_);
  cudnn_ = nullptr, cublas_ = nullptr, cublas_workspace_ = nullptr, stream_ = nullptr;
}

void GpuContext::bind() const { check(cudaSetDevice(device_), "cudaSetDevice"); }

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  check(cudaMalloc(&ptr_, std::max<size_t>(bytes, 256)), "cudaMalloc");
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

Event::Event() { check(cudaEventCreate(&e_), "cudaEventCreate"); }

Event::~Event() {
  if (e_) cudaEventDestroy(e_);
}

PinnedBuffer::PinnedBuffer(size_t bytes) {
  check(cudaHostAlloc(&p_, std::max<size_t>(bytes, 64), cudaHostAllocDefault), "cudaHostAlloc (pinned staging)");
}

PinnedBuffer::~PinnedBuffer() {
  if (p_) cudaFreeHost(p_);
}

WeightStore::Handle WeightStore::add(std::vector<float> values) {
  // 64-float (256-byte) alignment keeps every array aligned for vector loads.
  total_ = (total_ + 63) / 64 * 64;
  offsets_.push_back(total_);
  total_ += values.size();
  host_.push_back(std::move(values));
  return host_.size() - 1;
}

void WeightStore::upload(cudaStream_t stream) {
  std::vector<float> all(total_, 0.0f);
  for (size_t i = 0; i < host_.size(); ++i) std::copy(host_[i].begin(), host_[i].end(), all.begin() + static_cast<ptrdiff_t>(offsets_[i]));
  device_ = DeviceBuffer(total_ * sizeof(float));
  if (total_ > 0) {
    check(cudaMemcpyAsync(device_.get(), all.data(), total_ * sizeof(float), cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync (weights upload)");
    check(cudaStreamSynchronize(stream), "weights upload");  // `all` is pageable and dies here
  }
  host_.clear();
  host_.shrink_to_fit();
}

const float* WeightStore::ptr(Handle h) const {
  if (h == kNone) return nullptr;
  return device_.floats() + offsets_.at(h);
}

}  // namespace kiln::cuda
