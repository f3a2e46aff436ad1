#include <cuda_runtime.h>

#include "kernels/tensor.hpp"

namespace numens::detail {

namespace {
void check(cudaError_t e, const char* what, size_t bytes) {
  if (e != cudaSuccess)
    throw Error(std::string(what) + " of " + std::to_string(bytes) +
                " bytes failed: " + cudaGetErrorString(e));
}
}  // namespace

std::shared_ptr<void> cuda_allocate(size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes == 0 ? 1 : bytes), "cudaMalloc", bytes);
  return std::shared_ptr<void>(p, [](void* q) { cudaFree(q); });
}

void cuda_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  const cudaMemcpyKind kind =
      dst_dev == Device::cuda
          ? (src_dev == Device::cuda ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
          : cudaMemcpyDeviceToHost;
  check(cudaMemcpy(dst, src, bytes, kind), "cudaMemcpy", bytes);
}

void cuda_synchronize() {
  const cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess) throw Error(std::string("CUDA kernel failed: ") + cudaGetErrorString(e));
}

}  // namespace numens::detail
