#include <cmath>
#include <string>

#include "kernels/activation.hpp"
#include "kernels/reduce.hpp"
#include "mca/policy.hpp"

namespace numens::kernels {

namespace {
template <class T, class U>
void same_shape(const char* op, const char* what, const Tensor<T>& t, const Tensor<U>& ref) {
  expect_shape(op, what, t.shape(), ref.shape());
  if (t.device() != Device::cpu) throw ShapeError(std::string(op) + ": CPU kernel, CUDA tensor");
}

template <class T>
void maxout_impl(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& y, Tensor<uint8_t>& winner) {
  const char* op = "maxout_forward";
  same_shape(op, "input b", b, a);
  same_shape(op, "output", y, a);
  same_shape(op, "winner", winner, a);
  const T* ap = a.data();
  const T* bp = b.data();
  T* yp = y.data();
  uint8_t* wp = winner.data();
  const int64_t n = a.numel();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const bool take_a = ap[i] >= bp[i] || std::isnan(ap[i]);
    yp[i] = take_a ? ap[i] : bp[i];
    wp[i] = take_a ? 0 : 1;
  }
}
}  // namespace

template <class P, class T>
void prelu_forward(const P& pol, const Tensor<T>& x, T slope, Tensor<T>& y) {
  same_shape("prelu_forward", "output", y, x);
  const T* xp = x.data();
  T* yp = y.data();
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    mca::Draws d = pol.draws(uint64_t(i));
    yp[i] = xp[i] > T(0) ? xp[i] : pol.mul(slope, xp[i], d);
  }
}

template <class P, class T>
void prelu_backward(const P& pol, const Tensor<T>& dy, const Tensor<T>& x, T slope, Tensor<T>& dx,
                    T& dslope, GradMode mode) {
  const char* op = "prelu_backward";
  same_shape(op, "output gradient", dy, x);
  same_shape(op, "input gradient", dx, x);
  const T* xp = x.data();
  const T* dyp = dy.data();
  T* dxp = dx.data();
  const int64_t n = x.numel();
  // The slope gradient is a reduction placed after the n per-element draw elements.
  const T ds = chunked_sum<T>(pol, uint64_t(n), n, [&](int64_t i, mca::Draws& d) {
    return xp[i] > T(0) ? T(0) : pol.mul(dyp[i], xp[i], d);
  });
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    mca::Draws d = pol.draws(uint64_t(i));
    const T g = xp[i] > T(0) ? dyp[i] : pol.mul(slope, dyp[i], d);
    dxp[i] = mode == GradMode::accumulate ? pol.add(dxp[i], g, d) : g;
  }
  mca::Draws d = pol.draws(uint64_t(n) + reduce_elements(n));
  dslope = mode == GradMode::accumulate ? pol.add(dslope, ds, d) : ds;
}

void maxout_forward(const Tensor<float>& a, const Tensor<float>& b, Tensor<float>& y,
                    Tensor<uint8_t>& winner) {
  maxout_impl(a, b, y, winner);
}
void maxout_forward(const Tensor<double>& a, const Tensor<double>& b, Tensor<double>& y,
                    Tensor<uint8_t>& winner) {
  maxout_impl(a, b, y, winner);
}

template <class P, class T>
void maxout_backward(const P& pol, const Tensor<T>& dy, const Tensor<uint8_t>& winner,
                     Tensor<T>& da, Tensor<T>& db, GradMode mode) {
  const char* op = "maxout_backward";
  same_shape(op, "winner", winner, dy);
  same_shape(op, "gradient of a", da, dy);
  same_shape(op, "gradient of b", db, dy);
  const T* dyp = dy.data();
  const uint8_t* wp = winner.data();
  T* dap = da.data();
  T* dbp = db.data();
  const int64_t n = dy.numel();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T ga = wp[i] == 0 ? dyp[i] : T(0), gb = wp[i] == 0 ? T(0) : dyp[i];
    if (mode == GradMode::accumulate) {
      mca::Draws d = pol.draws(uint64_t(i));
      dap[i] = pol.add(dap[i], ga, d);
      dbp[i] = pol.add(dbp[i], gb, d);
    } else {
      dap[i] = ga;
      dbp[i] = gb;
    }
  }
}

#define NUMENS_ACT_INSTANTIATE(P, T)                                                          \
  template void prelu_forward<P, T>(const P&, const Tensor<T>&, T, Tensor<T>&);               \
  template void prelu_backward<P, T>(const P&, const Tensor<T>&, const Tensor<T>&, T,         \
                                     Tensor<T>&, T&, GradMode);                               \
  template void maxout_backward<P, T>(const P&, const Tensor<T>&, const Tensor<uint8_t>&,     \
                                      Tensor<T>&, Tensor<T>&, GradMode);
#define NUMENS_ACT_INSTANTIATE_BOTH(P) \
  NUMENS_ACT_INSTANTIATE(P, float)     \
  NUMENS_ACT_INSTANTIATE(P, double)
NUMENS_ACT_INSTANTIATE_BOTH(mca::Ieee)
NUMENS_ACT_INSTANTIATE_BOTH(mca::Sr)
NUMENS_ACT_INSTANTIATE_BOTH(mca::Rr)
NUMENS_ACT_INSTANTIATE_BOTH(mca::Pb)
NUMENS_ACT_INSTANTIATE_BOTH(mca::Mca)
NUMENS_ACT_INSTANTIATE_BOTH(mca::SrEqual)

}  // namespace numens::kernels
