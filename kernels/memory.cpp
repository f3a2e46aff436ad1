#include <cstdlib>
#include <cstring>

#include "kernels/tensor.hpp"

namespace numens::detail {

#if NUMENS_HAVE_CUDA
std::shared_ptr<void> cuda_allocate(size_t bytes);
void cuda_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes);
void cuda_synchronize();
#endif

#if !NUMENS_HAVE_CUDA
namespace {
[[noreturn]] void no_cuda() {
  throw Error("a CUDA tensor was requested but this numens was built without the CUDA backend");
}
}  // namespace
#endif

std::shared_ptr<void> allocate(size_t bytes, Device where) {
  if (where == Device::cuda) {
#if NUMENS_HAVE_CUDA
    return cuda_allocate(bytes);
#else
    no_cuda();
#endif
  }
  // 64-byte alignment: a cache line, and any SIMD width the CPU kernels use.
  const size_t rounded = ((bytes + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p) throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes");
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev == Device::cpu && src_dev == Device::cpu) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if NUMENS_HAVE_CUDA
  cuda_copy(dst, dst_dev, src, src_dev, bytes);
#else
  no_cuda();
#endif
}

}  // namespace numens::detail

namespace numens {

void synchronize(Device d) {
  if (d == Device::cpu) return;
#if NUMENS_HAVE_CUDA
  detail::cuda_synchronize();
#else
  detail::no_cuda();
#endif
}

}  // namespace numens
