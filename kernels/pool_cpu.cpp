#include <cmath>
#include <string>

#include "kernels/launch.hpp"
#include "kernels/pool.hpp"
#include "kernels/pool_impl.hpp"
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
// before the parallel loops (an exception must not leave an OpenMP region). Each index must lie
// in its own 2x2 window, as maxpool2x2_forward's do: then no two pooled elements name the same
// position, which the scattering loops (unpool forward, pool backward) rely on.
void check_indices(const char* op, const Tensor<int32_t>& index, const Shape& big) {
  const int32_t* ip = index.data();
  const int64_t sw = index.shape().w, splane = index.shape().plane();
  for (int64_t q = 0; q < index.numel(); ++q) {
    const int64_t v = ip[q], r = q % splane, pi = r / sw, pj = r % sw;
    if (v < 0 || v >= big.plane())
      throw ShapeError(std::string(op) + ": index " + std::to_string(v) + " outside a plane of " +
                       std::to_string(big.h) + " x " + std::to_string(big.w));
    if (v / big.w / 2 != pi || v % big.w / 2 != pj)
      throw ShapeError(std::string(op) + ": index " + std::to_string(v) + " of pooled element (" +
                       std::to_string(pi) + ", " + std::to_string(pj) +
                       ") is outside its 2x2 window");
  }
}

}  // namespace

namespace {
detail::PoolGeom geom(const Shape& big, const Shape& small) {
  return {big.w, big.plane(), small.w, small.plane()};
}
// check_indices reads the indices on the host; CUDA indices are copied for the check.
void check_indices_any(const char* op, const Tensor<int32_t>& index, const Shape& big) {
  if (index.device() == Device::cpu) return check_indices(op, index, big);
  check_indices(op, index.to(Device::cpu), big);
}
}  // namespace

template <class T>
void maxpool2x2_forward(const Tensor<T>& x, Tensor<T>& y, Tensor<int32_t>& index) {
  const char* op = "maxpool2x2_forward";
  check_pool(op, x.shape(), y.shape(), index.shape());
  const Device dev = detail::common_device(op, {x.device(), y.device(), index.device()});
  detail::for_each(op, dev, y.numel(),
                   detail::PoolFwd<T>{geom(x.shape(), y.shape()), x.data(), y.data(), index.data()});
}

template <class P, class T>
void maxpool2x2_backward(const P& pol, const Tensor<T>& dy, const Tensor<int32_t>& index,
                         Tensor<T>& dx, GradMode mode) {
  const char* op = "maxpool2x2_backward";
  check_pool(op, dx.shape(), dy.shape(), index.shape());
  const Device dev = detail::common_device(op, {dy.device(), index.device(), dx.device()});
  check_indices_any(op, index, dx.shape());
  if (mode == GradMode::overwrite) dx.fill_zero();
  detail::for_each(op, dev, dy.numel(),
                   detail::PoolBwd<P, T>{pol, geom(dx.shape(), dy.shape()), dy.data(),
                                         index.data(), dx.data(), mode == GradMode::accumulate});
}

template <class T>
void maxunpool2x2_forward(const Tensor<T>& x, const Tensor<int32_t>& index, Tensor<T>& y) {
  const char* op = "maxunpool2x2_forward";
  check_pool(op, y.shape(), x.shape(), index.shape());
  const Device dev = detail::common_device(op, {x.device(), index.device(), y.device()});
  check_indices_any(op, index, y.shape());
  y.fill_zero();
  detail::for_each(op, dev, x.numel(),
                   detail::UnpoolFwd<T>{geom(y.shape(), x.shape()), x.data(), index.data(),
                                        y.data()});
}

template <class P, class T>
void maxunpool2x2_backward(const P& pol, const Tensor<T>& dy, const Tensor<int32_t>& index,
                           Tensor<T>& dx, GradMode mode) {
  const char* op = "maxunpool2x2_backward";
  check_pool(op, dy.shape(), dx.shape(), index.shape());
  const Device dev = detail::common_device(op, {dy.device(), index.device(), dx.device()});
  check_indices_any(op, index, dy.shape());
  detail::for_each(op, dev, dx.numel(),
                   detail::UnpoolBwd<P, T>{pol, geom(dy.shape(), dx.shape()), dy.data(),
                                           index.data(), dx.data(),
                                           mode == GradMode::accumulate});
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
