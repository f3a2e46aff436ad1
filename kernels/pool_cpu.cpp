#include <cmath>
#include <string>

#include "kernels/pool.hpp"
#include "mca/policy.hpp"

namespace numens::kernels {

namespace {

// Checks big = [N, C, H, W] against small = [N, C, H/2, W/2] and the index shape.
void check_pool(const char* op, const Shape& big, const Shape& small, const Shape& index) {
  const Shape want{big.n, big.c, big.h / 2, big.w / 2};
  if (!(small == want))
    throw ShapeError(std::string(op) + ": pooled tensor is " + small.str() + ", expected " +
                     want.str() + " for input " + big.str());
  expect_shape(op, "index", index, small);
}

// Indices come from maxpool2x2_forward, but an unpool may be handed any tensor: check them all
// before the parallel loops (an exception must not leave an OpenMP region).
void check_indices(const char* op, const Tensor<int32_t>& index, const Shape& big) {
  const int32_t* ip = index.data();
  for (int64_t q = 0; q < index.numel(); ++q)
    if (ip[q] < 0 || int64_t(ip[q]) >= big.plane())
      throw ShapeError(std::string(op) + ": index " + std::to_string(ip[q]) +
                       " outside a plane of " + std::to_string(big.h) + " x " +
                       std::to_string(big.w));
}

}  // namespace

template <class T>
void maxpool2x2_forward(const Tensor<T>& x, Tensor<T>& y, Tensor<int32_t>& index) {
  check_pool("maxpool2x2_forward", x.shape(), y.shape(), index.shape());
  const Shape s = x.shape(), o = y.shape();
  const int64_t planes = s.n * s.c;
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x.data() + pl * s.plane();
    T* yp = y.data() + pl * o.plane();
    int32_t* ip = index.data() + pl * o.plane();
    for (int64_t i = 0; i < o.h; ++i) {
      for (int64_t j = 0; j < o.w; ++j) {
        int64_t best = (2 * i) * s.w + 2 * j;
        for (int64_t u = 0; u < 2; ++u)
          for (int64_t v = 0; v < 2; ++v) {
            const int64_t at = (2 * i + u) * s.w + 2 * j + v;
            if (xp[at] > xp[best] || (std::isnan(xp[at]) && !std::isnan(xp[best]))) best = at;
          }
        yp[i * o.w + j] = xp[best];
        ip[i * o.w + j] = int32_t(best);
      }
    }
  }
}

template <class P, class T>
void maxpool2x2_backward(const P& pol, const Tensor<T>& dy, const Tensor<int32_t>& index,
                         Tensor<T>& dx, GradMode mode) {
  const char* op = "maxpool2x2_backward";
  check_pool(op, dx.shape(), dy.shape(), index.shape());
  const Shape s = dx.shape(), o = dy.shape();
  check_indices(op, index, s);
  const int64_t planes = s.n * s.c;
  if (mode == GradMode::overwrite) dx.fill_zero();
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* dyp = dy.data() + pl * o.plane();
    const int32_t* ip = index.data() + pl * o.plane();
    T* dxp = dx.data() + pl * s.plane();
    for (int64_t q = 0; q < o.plane(); ++q) {
      if (mode == GradMode::accumulate) {
        mca::Draws d = pol.draws(uint64_t(pl * s.plane() + ip[q]));
        dxp[ip[q]] = pol.add(dxp[ip[q]], dyp[q], d);
      } else {
        dxp[ip[q]] = dyp[q];
      }
    }
  }
}

template <class T>
void maxunpool2x2_forward(const Tensor<T>& x, const Tensor<int32_t>& index, Tensor<T>& y) {
  const char* op = "maxunpool2x2_forward";
  check_pool(op, y.shape(), x.shape(), index.shape());
  const Shape s = y.shape(), o = x.shape();
  check_indices(op, index, s);
  y.fill_zero();
  const int64_t planes = s.n * s.c;
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x.data() + pl * o.plane();
    const int32_t* ip = index.data() + pl * o.plane();
    T* yp = y.data() + pl * s.plane();
    for (int64_t q = 0; q < o.plane(); ++q) {
      yp[ip[q]] = xp[q];
    }
  }
}

template <class P, class T>
void maxunpool2x2_backward(const P& pol, const Tensor<T>& dy, const Tensor<int32_t>& index,
                           Tensor<T>& dx, GradMode mode) {
  const char* op = "maxunpool2x2_backward";
  check_pool(op, dy.shape(), dx.shape(), index.shape());
  const Shape s = dy.shape(), o = dx.shape();
  check_indices(op, index, s);
  const int64_t planes = s.n * s.c;
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* dyp = dy.data() + pl * s.plane();
    const int32_t* ip = index.data() + pl * o.plane();
    T* dxp = dx.data() + pl * o.plane();
    for (int64_t q = 0; q < o.plane(); ++q) {
      if (mode == GradMode::accumulate) {
        mca::Draws d = pol.draws(uint64_t(pl * o.plane() + q));
        dxp[q] = pol.add(dxp[q], dyp[ip[q]], d);
      } else {
        dxp[q] = dyp[ip[q]];
      }
    }
  }
}

#define NUMENS_POOL_INSTANTIATE_T(T)                                                  \
  template void maxpool2x2_forward<T>(const Tensor<T>&, Tensor<T>&, Tensor<int32_t>&); \
  template void maxunpool2x2_forward<T>(const Tensor<T>&, const Tensor<int32_t>&, Tensor<T>&);
#define NUMENS_POOL_INSTANTIATE(P, T)                                                          \
  template void maxpool2x2_backward<P, T>(const P&, const Tensor<T>&, const Tensor<int32_t>&,  \
                                          Tensor<T>&, GradMode);                               \
  template void maxunpool2x2_backward<P, T>(const P&, const Tensor<T>&,                        \
                                            const Tensor<int32_t>&, Tensor<T>&, GradMode);
#define NUMENS_POOL_INSTANTIATE_BOTH(P) \
  NUMENS_POOL_INSTANTIATE(P, float)     \
  NUMENS_POOL_INSTANTIATE(P, double)
NUMENS_POOL_INSTANTIATE_T(float)
NUMENS_POOL_INSTANTIATE_T(double)
NUMENS_POOL_INSTANTIATE_BOTH(mca::Ieee)
NUMENS_POOL_INSTANTIATE_BOTH(mca::Sr)
NUMENS_POOL_INSTANTIATE_BOTH(mca::Rr)
NUMENS_POOL_INSTANTIATE_BOTH(mca::Pb)
NUMENS_POOL_INSTANTIATE_BOTH(mca::Mca)
NUMENS_POOL_INSTANTIATE_BOTH(mca::SrEqual)

}  // namespace numens::kernels
