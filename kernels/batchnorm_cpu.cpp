#include <string>

#include "kernels/batchnorm.hpp"
#include "kernels/batchnorm_impl.hpp"
#include "kernels/elementwise_fast.hpp"
#include "kernels/launch.hpp"
#include "mca/policy.hpp"

namespace numens::kernels {

namespace {

void check_bn(const char* op, const Shape& x,
              std::initializer_list<std::pair<const char*, Shape>> ch) {
  for (const auto& [what, s] : ch) expect_shape(op, what, s, Shape{1, x.c, 1, 1});
  if (x.n * x.h * x.w < 2)
    throw ShapeError(std::string(op) + ": input " + x.str() +
                     " has fewer than 2 values per channel; batch statistics are undefined");
}

detail::BnGeom geom(const Shape& s) {
  return {s.n, s.c, s.plane()};
}

template <class T>
Tensor<T> channel_buffer(int64_t c, Device d) {
  return Tensor<T>::empty({1, c, 1, 1}, d);
}

}  // namespace

template <class P, class T>
void batchnorm2d_forward_train(const P& pol, const Tensor<T>& x, const Tensor<T>& gamma,
                               const Tensor<T>& beta, Tensor<T>& running_mean,
                               Tensor<T>& running_var, Tensor<T>& saved_mean,
                               Tensor<T>& saved_invstd, Tensor<T>& y, BatchNormParams<T> prm) {
  const char* op = "batchnorm2d_forward_train";
  const Shape s = x.shape();
  check_bn(op, s,
           {{"gamma", gamma.shape()},
            {"beta", beta.shape()},
            {"running mean", running_mean.shape()},
            {"running var", running_var.shape()},
            {"saved mean", saved_mean.shape()},
            {"saved invstd", saved_invstd.shape()}});
  expect_shape(op, "output", y.shape(), s);
  const Device dev = detail::common_device(
      op, {x.device(), gamma.device(), beta.device(), running_mean.device(), running_var.device(),
           saved_mean.device(), saved_invstd.device(), y.device()});
  const detail::BnGeom g = geom(s);
  detail::for_each_simd(
      op, dev, s.c,
      detail::BnTrainStats<P, T>{pol, g, x.data(), T(prm.eps), T(prm.momentum),
                                 T(1.0 - prm.momentum), running_mean.data(), running_var.data(),
                                 saved_mean.data(), saved_invstd.data()});
  detail::for_each_simd(
      op, dev, s.numel(),
      detail::BnNormalize<P, T>{pol, g, x.data(), saved_mean.data(), saved_invstd.data(),
                                gamma.data(), beta.data(), y.data()});
}

template <class P, class T>
void batchnorm2d_forward_eval(const P& pol, const Tensor<T>& x, const Tensor<T>& gamma,
                              const Tensor<T>& beta, const Tensor<T>& running_mean,
                              const Tensor<T>& running_var, Tensor<T>& y, BatchNormParams<T> prm) {
  const char* op = "batchnorm2d_forward_eval";
  const Shape s = x.shape();
  for (const auto& [what, t] : {std::pair<const char*, const Tensor<T>*>{"gamma", &gamma},
                                {"beta", &beta},
                                {"running mean", &running_mean},
                                {"running var", &running_var}})
    expect_shape(op, what, t->shape(), Shape{1, s.c, 1, 1});
  expect_shape(op, "output", y.shape(), s);
  const Device dev =
      detail::common_device(op, {x.device(), gamma.device(), beta.device(), running_mean.device(),
                                 running_var.device(), y.device()});
  Tensor<T> invstd = channel_buffer<T>(s.c, dev);
  detail::for_each(op, dev, s.c,
                   detail::BnEvalStats<P, T>{pol, running_var.data(), T(prm.eps), invstd.data()});
  detail::for_each_simd(
      op, dev, s.numel(),
      detail::BnNormalize<P, T>{pol, geom(s), x.data(), running_mean.data(), invstd.data(),
                                gamma.data(), beta.data(), y.data()});
}

template <class P, class T>
void batchnorm2d_backward(const P& pol, const Tensor<T>& dy, const Tensor<T>& x,
                          const Tensor<T>& gamma, const Tensor<T>& saved_mean,
                          const Tensor<T>& saved_invstd, Tensor<T>& dx, Tensor<T>& dgamma,
                          Tensor<T>& dbeta, GradMode mode) {
  const char* op = "batchnorm2d_backward";
  const Shape s = x.shape();
  check_bn(op, s,
           {{"gamma", gamma.shape()},
            {"saved mean", saved_mean.shape()},
            {"saved invstd", saved_invstd.shape()},
            {"gamma gradient", dgamma.shape()},
            {"beta gradient", dbeta.shape()}});
  expect_shape(op, "output gradient", dy.shape(), s);
  expect_shape(op, "input gradient", dx.shape(), s);
  const Device dev = detail::common_device(
      op, {dy.device(), x.device(), gamma.device(), saved_mean.device(), saved_invstd.device(),
           dx.device(), dgamma.device(), dbeta.device()});
  const bool acc = mode == GradMode::accumulate;
  const detail::BnGeom g = geom(s);
  Tensor<T> sum_dy = channel_buffer<T>(s.c, dev), sum_dyx = channel_buffer<T>(s.c, dev),
            scale = channel_buffer<T>(s.c, dev);
  detail::for_each_simd(
      op, dev, s.c,
      detail::BnBwdStats<P, T>{pol, g, dy.data(), x.data(), gamma.data(), saved_mean.data(),
                               saved_invstd.data(), sum_dy.data(), sum_dyx.data(), scale.data(),
                               dgamma.data(), dbeta.data(), acc});
  detail::for_each_simd(
      op, dev, s.numel(),
      detail::BnBwdInput<P, T>{pol, g, dy.data(), x.data(), saved_mean.data(), saved_invstd.data(),
                               sum_dy.data(), sum_dyx.data(), scale.data(), dx.data(), acc});
}

#define NUMENS_BN_INSTANTIATE(P, T)                                                               \
  template void batchnorm2d_forward_train<P, T>(                                                  \
      const P&, const Tensor<T>&, const Tensor<T>&, const Tensor<T>&, Tensor<T>&, Tensor<T>&,     \
      Tensor<T>&, Tensor<T>&, Tensor<T>&, BatchNormParams<T>);                                    \
  template void batchnorm2d_forward_eval<P, T>(const P&, const Tensor<T>&, const Tensor<T>&,      \
                                               const Tensor<T>&, const Tensor<T>&,                \
                                               const Tensor<T>&, Tensor<T>&, BatchNormParams<T>); \
  template void batchnorm2d_backward<P, T>(const P&, const Tensor<T>&, const Tensor<T>&,          \
                                           const Tensor<T>&, const Tensor<T>&, const Tensor<T>&,  \
                                           Tensor<T>&, Tensor<T>&, Tensor<T>&, GradMode);
#define NUMENS_BN_INSTANTIATE_BOTH(P) \
  NUMENS_BN_INSTANTIATE(P, float)     \
  NUMENS_BN_INSTANTIATE(P, double)
NUMENS_BN_INSTANTIATE_BOTH(mca::Ieee)
NUMENS_BN_INSTANTIATE_BOTH(mca::Sr)
NUMENS_BN_INSTANTIATE_BOTH(mca::Rr)
NUMENS_BN_INSTANTIATE_BOTH(mca::Pb)
NUMENS_BN_INSTANTIATE_BOTH(mca::Mca)
NUMENS_BN_INSTANTIATE_BOTH(mca::SrEqual)

}  // namespace numens::kernels
