#include <cmath>
#include <string>

#include "kernels/activation.hpp"
#include "kernels/activation_impl.hpp"
#include "kernels/elementwise_fast.hpp"
#include "kernels/launch.hpp"
#include "mca/policy.hpp"

namespace numens::kernels {

namespace {
template <class T, class U>
void same_shape(const char* op, const char* what, const Tensor<T>& t, const Tensor<U>& ref) {
  expect_shape(op, what, t.shape(), ref.shape());
}

template <class T>
void maxout_impl(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& y, Tensor<uint8_t>& winner) {
  const char* op = "maxout_forward";
  same_shape(op, "input b", b, a);
  same_shape(op, "output", y, a);
  same_shape(op, "winner", winner, a);
  const Device dev =
      detail::common_device(op, {a.device(), b.device(), y.device(), winner.device()});
  detail::for_each(op, dev, a.numel(),
                   detail::MaxoutFwd<T>{a.data(), b.data(), y.data(), winner.data()});
}
}  // namespace

template <class P, class T>
void prelu_forward(const P& pol, const Tensor<T>& x, T slope, Tensor<T>& y) {
  const char* op = "prelu_forward";
  same_shape(op, "output", y, x);
  const Device dev = detail::common_device(op, {x.device(), y.device()});
  detail::for_each_simd(op, dev, x.numel(), detail::PreluFwd<P, T>{pol, x.data(), slope, y.data()});
}

template <class P, class T>
void prelu_backward(const P& pol, const Tensor<T>& dy, const Tensor<T>& x, T slope, Tensor<T>& dx,
                    T& dslope, GradMode mode) {
  const char* op = "prelu_backward";
  same_shape(op, "output gradient", dy, x);
  same_shape(op, "input gradient", dx, x);
  const Device dev = detail::common_device(op, {dy.device(), x.device(), dx.device()});
  const int64_t n = x.numel();
  // The slope gradient is a reduction placed after the n per-element draw elements.
  const T ds = detail::chunked_sum_on<T>(op, dev, pol, uint64_t(n), n,
                                         detail::PreluSlopeTerm<P, T>{pol, dy.data(), x.data()});
  detail::for_each_simd(op, dev, n,
                        detail::PreluBwdInput<P, T>{pol, dy.data(), x.data(), slope, dx.data(),
                                                    mode == GradMode::accumulate});
  mca::Draws d = pol.draws(uint64_t(n) + reduce_elements(n));
  detail::store_grad(pol, dslope, ds, mode == GradMode::accumulate, d);
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
  const Device dev =
      detail::common_device(op, {dy.device(), winner.device(), da.device(), db.device()});
  detail::for_each_simd(op, dev, dy.numel(),
                        detail::MaxoutBwd<P, T>{pol, dy.data(), winner.data(), da.data(), db.data(),
                                                mode == GradMode::accumulate});
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
