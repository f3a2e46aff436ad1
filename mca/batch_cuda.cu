#include <cuda_runtime.h>

#include "mca/batch_cuda.hpp"
#include "mca/error.hpp"

namespace numens::mca::cuda {

void check(int err, const char* what) {
  if (err != cudaSuccess)
    throw Error(std::string("CUDA error in ") + what + ": " +
                cudaGetErrorString(static_cast<cudaError_t>(err)));
}

bool device_available(std::string* why) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    if (why) *why = cudaGetErrorString(err);
    (void)cudaGetLastError();  // clear the sticky error so later calls start clean
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device";
    return false;
  }
  return true;
}

namespace {

constexpr int kThreads = 256;

inline unsigned blocks_for(size_t n) { return unsigned((n + kThreads - 1) / kThreads); }

template <class P, class T>
__global__ void binary_kernel(P pol, BinaryOp op, const T* a, const T* b, T* out, size_t n,
                              uint64_t e0) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  Draws d = pol.draws(e0 + i);
  switch (op) {
    case BinaryOp::add: out[i] = pol.add(a[i], b[i], d); break;
    case BinaryOp::sub: out[i] = pol.sub(a[i], b[i], d); break;
    case BinaryOp::mul: out[i] = pol.mul(a[i], b[i], d); break;
    case BinaryOp::div: out[i] = pol.div(a[i], b[i], d); break;
  }
}

template <class P, class T>
__global__ void unary_kernel(P pol, UnaryOp op, const T* a, T* out, size_t n, uint64_t e0) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  Draws d = pol.draws(e0 + i);
  switch (op) {
    case UnaryOp::sqrt: out[i] = pol.sqrt(a[i], d); break;
    case UnaryOp::exp: out[i] = pol.exp(a[i], d); break;
    case UnaryOp::log: out[i] = pol.log(a[i], d); break;
  }
}

template <class P, class T>
__global__ void fma_kernel(P pol, bool fused, const T* a, const T* b, const T* c, T* out,
                           size_t n, uint64_t e0) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  Draws d = pol.draws(e0 + i);
  out[i] = fused ? pol.fma_fused(a[i], b[i], c[i], d) : pol.fma(a[i], b[i], c[i], d);
}

__global__ void philox_kernel(Stream s, uint64_t group0, uint32_t draw, uint32_t* words,
                              size_t groups) {
  const size_t j = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= groups) return;
  const Philox4x32::Block b = s.block(group0 + j, 0, draw);
  for (int w = 0; w < 4; ++w) words[4 * j + w] = b.w[w];
}

}  // namespace

template <class P, class T>
void binary_n(const P& pol, BinaryOp op, const T* a, const T* b, T* out, size_t n,
              uint64_t e0) {
  if (n == 0) return;
  binary_kernel<<<blocks_for(n), kThreads>>>(pol, op, a, b, out, n, e0);
  check(cudaGetLastError(), "binary_n launch");
}

template <class P, class T>
void unary_n(const P& pol, UnaryOp op, const T* a, T* out, size_t n, uint64_t e0) {
  if (n == 0) return;
  unary_kernel<<<blocks_for(n), kThreads>>>(pol, op, a, out, n, e0);
  check(cudaGetLastError(), "unary_n launch");
}

template <class P, class T>
void fma_n(const P& pol, bool fused, const T* a, const T* b, const T* c, T* out, size_t n,
           uint64_t e0) {
  if (n == 0) return;
  fma_kernel<<<blocks_for(n), kThreads>>>(pol, fused, a, b, c, out, n, e0);
  check(cudaGetLastError(), "fma_n launch");
}

void philox_words32(const Stream& s, uint64_t group0, uint32_t draw, uint32_t* words,
                    size_t groups) {
  if (groups == 0) return;
  philox_kernel<<<blocks_for(groups), kThreads>>>(s, group0, draw, words, groups);
  check(cudaGetLastError(), "philox_words32 launch");
}

#define NUMENS_CUDA_BATCH_INSTANTIATE(P, T)                                                 \
  template void binary_n<P, T>(const P&, BinaryOp, const T*, const T*, T*, size_t, uint64_t); \
  template void unary_n<P, T>(const P&, UnaryOp, const T*, T*, size_t, uint64_t);            \
  template void fma_n<P, T>(const P&, bool, const T*, const T*, const T*, T*, size_t, uint64_t);
#define NUMENS_CUDA_BATCH_INSTANTIATE_BOTH(P) \
  NUMENS_CUDA_BATCH_INSTANTIATE(P, float)     \
  NUMENS_CUDA_BATCH_INSTANTIATE(P, double)
NUMENS_CUDA_BATCH_INSTANTIATE_BOTH(Ieee)
NUMENS_CUDA_BATCH_INSTANTIATE_BOTH(Sr)
NUMENS_CUDA_BATCH_INSTANTIATE_BOTH(Rr)
NUMENS_CUDA_BATCH_INSTANTIATE_BOTH(Pb)
NUMENS_CUDA_BATCH_INSTANTIATE_BOTH(Mca)
NUMENS_CUDA_BATCH_INSTANTIATE_BOTH(SrEqual)

}  // namespace numens::mca::cuda
