// CUDA conv2d: one thread per output element, each running the element function of
// conv2d_impl.hpp, the same code as the CPU reference.
#include <cuda_runtime.h>

#include <string>

#include "kernels/conv2d.hpp"
#include "kernels/conv2d_impl.hpp"

namespace numens::kernels::detail {

namespace {

template <class P, class T>
__global__ void conv2d_kernel(P pol, ConvPass pass, ConvGeom g, const T* a, const T* b,
                              const T* c, T* out, int64_t count, bool accumulate) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= count) return;
  const T init = accumulate ? out[e] : T(0);
  switch (pass) {
    case ConvPass::fprop: out[e] = conv2d_fwd_element(pol, g, a, b, c, e); break;
    case ConvPass::dgrad: out[e] = conv2d_dgrad_element(pol, g, a, b, init, e); break;
    case ConvPass::wgrad: out[e] = conv2d_wgrad_element(pol, g, a, b, init, e); break;
    case ConvPass::bgrad: out[e] = conv2d_bgrad_element(pol, g, a, init, e); break;
  }
}

}  // namespace

template <class P, class T>
void conv2d_cuda(const P& pol, ConvPass pass, const ConvGeom& g, const T* a, const T* b,
                 const T* c, T* out, bool accumulate) {
  int64_t count = 0;
  switch (pass) {
    case ConvPass::fprop: count = g.n * g.o * g.h * g.w; break;
    case ConvPass::dgrad: count = g.n * g.c * g.h * g.w; break;
    case ConvPass::wgrad: count = g.o * g.c * g.k * g.k; break;
    case ConvPass::bgrad: count = g.o; break;
  }
  if (count == 0) return;
  constexpr int kThreads = 128;
  conv2d_kernel<<<unsigned((count + kThreads - 1) / kThreads), kThreads>>>(pol, pass, g, a, b, c,
                                                                           out, count, accumulate);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw Error(std::string("conv2d CUDA launch failed: ") + cudaGetErrorString(err));
}

#define NUMENS_CONV2D_CUDA_INSTANTIATE(P, T)                                                   \
  template void conv2d_cuda<P, T>(const P&, ConvPass, const ConvGeom&, const T*, const T*,     \
                                  const T*, T*, bool);
#define NUMENS_CONV2D_CUDA_INSTANTIATE_BOTH(P) \
  NUMENS_CONV2D_CUDA_INSTANTIATE(P, float)     \
  NUMENS_CONV2D_CUDA_INSTANTIATE(P, double)
NUMENS_CONV2D_CUDA_INSTANTIATE_BOTH(mca::Ieee)
NUMENS_CONV2D_CUDA_INSTANTIATE_BOTH(mca::Sr)
NUMENS_CONV2D_CUDA_INSTANTIATE_BOTH(mca::Rr)
NUMENS_CONV2D_CUDA_INSTANTIATE_BOTH(mca::Pb)
NUMENS_CONV2D_CUDA_INSTANTIATE_BOTH(mca::Mca)
NUMENS_CONV2D_CUDA_INSTANTIATE_BOTH(mca::SrEqual)

}  // namespace numens::kernels::detail
