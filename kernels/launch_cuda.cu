// The CUDA side of kernels/launch.hpp: one thread per output element, and the explicit
// instantiations for every element functor of the kernels that use it.
#include <cuda_runtime.h>

#include <string>

#include "kernels/launch.hpp"
#include "kernels/activation_impl.hpp"
#include "kernels/batchnorm_impl.hpp"
#include "kernels/elementwise_impl.hpp"
#include "kernels/loss_impl.hpp"
#include "kernels/optim_impl.hpp"
#include "kernels/pool_impl.hpp"

namespace numens::kernels::detail {

namespace {
template <class F>
__global__ void for_each_kernel(F f, int64_t count) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e < count) f(e);
}
}  // namespace

template <class F>
void for_each_cuda(const F& f, int64_t count) {
  if (count <= 0) return;
  constexpr int kThreads = 256;
  for_each_kernel<<<unsigned((count + kThreads - 1) / kThreads), kThreads>>>(f, count);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw Error(std::string("kernel launch failed: ") + cudaGetErrorString(err));
}

#define NUMENS_FOR_EACH(...) template void for_each_cuda<__VA_ARGS__>(const __VA_ARGS__&, int64_t);
#define NUMENS_FOR_EACH_T(T)     \
  NUMENS_FOR_EACH(PoolFwd<T>)   \
  NUMENS_FOR_EACH(UnpoolFwd<T>) \
  NUMENS_FOR_EACH(MaxoutFwd<T>)
#define NUMENS_FOR_EACH_PT(P, T)                                  \
  NUMENS_FOR_EACH(PoolBwd<P, T>)                                 \
  NUMENS_FOR_EACH(UnpoolBwd<P, T>)                               \
  NUMENS_FOR_EACH(PreluFwd<P, T>)                                \
  NUMENS_FOR_EACH(PreluBwdInput<P, T>)                           \
  NUMENS_FOR_EACH(ChunkPartial<P, T, PreluSlopeTerm<P, T>>)      \
  NUMENS_FOR_EACH(MaxoutBwd<P, T>)                               \
  NUMENS_FOR_EACH(BnTrainStats<P, T>)                            \
  NUMENS_FOR_EACH(BnEvalStats<P, T>)                             \
  NUMENS_FOR_EACH(BnNormalize<P, T>)                             \
  NUMENS_FOR_EACH(BnBwdStats<P, T>)                              \
  NUMENS_FOR_EACH(BnBwdInput<P, T>)                              \
  NUMENS_FOR_EACH(AdamElement<P, T>)                             \
  NUMENS_FOR_EACH(ScaleElement<P, T>)                            \
  NUMENS_FOR_EACH(AddElement<P, T>)                              \
  NUMENS_FOR_EACH(SoftmaxPixel<P, T>)                            \
  NUMENS_FOR_EACH(SoftmaxBwdPixel<P, T>)                         \
  NUMENS_FOR_EACH(LossGradPixel<P, T>)                           \
  NUMENS_FOR_EACH(ChunkPartial<P, T, CeTerm<P, T>>)              \
  NUMENS_FOR_EACH(ChunkPartial<P, T, ClassProbTerm<T>>)
#define NUMENS_FOR_EACH_P(P)   \
  NUMENS_FOR_EACH_PT(P, float) \
  NUMENS_FOR_EACH_PT(P, double)
NUMENS_FOR_EACH_T(float)
NUMENS_FOR_EACH_T(double)
NUMENS_FOR_EACH_P(mca::Ieee)
NUMENS_FOR_EACH_P(mca::Sr)
NUMENS_FOR_EACH_P(mca::Rr)
NUMENS_FOR_EACH_P(mca::Pb)
NUMENS_FOR_EACH_P(mca::Mca)
NUMENS_FOR_EACH_P(mca::SrEqual)

}  // namespace numens::kernels::detail
