#include <cmath>
#include <string>

#include "kernels/elementwise_fast.hpp"
#include "kernels/launch.hpp"
#include "kernels/optim.hpp"
#include "kernels/optim_impl.hpp"
#include "mca/policy.hpp"

namespace numens::kernels {

template <class P, class T>
void adam_step(const P& pol, T* param, const T* grad, T* m, T* v, int64_t n, int64_t step,
               const AdamParams& prm, Device where) {
  if (step < 1) throw ShapeError("adam_step: step " + std::to_string(step) + " must be >= 1");
  if (!(prm.lr >= 0) || !(prm.beta1 >= 0 && prm.beta1 < 1) || !(prm.beta2 >= 0 && prm.beta2 < 1) ||
      !(prm.eps > 0) || !(prm.weight_decay >= 0))
    throw ConfigError("adam_step: invalid hyper-parameters (need lr >= 0, 0 <= beta < 1, eps > 0, "
                     "weight_decay >= 0)");
  const T b1 = T(prm.beta1), b2 = T(prm.beta2), lr = T(prm.lr), wd = T(prm.weight_decay),
          eps = T(prm.eps);
  mca::Draws ds = pol.draws(uint64_t(n));
  const T bc1 = pol.sub(T(1), T(std::pow(prm.beta1, double(step))), ds);
  const T bc2 = pol.sub(T(1), T(std::pow(prm.beta2, double(step))), ds);
  const T step_size = pol.div(lr, bc1, ds);
  const T sqrt_bc2 = pol.sqrt(bc2, ds);
  const T decay = pol.sub(T(1), pol.mul(lr, wd, ds), ds);
  const T one_b1 = pol.sub(T(1), b1, ds), one_b2 = pol.sub(T(1), b2, ds);
  // The parameter buffers may live on the host or on a CUDA device: the caller says which.
  detail::for_each_simd(
      "adam_step", where, n,
      detail::AdamElement<P, T>{pol, param, grad, m, v, b1, b2, one_b1, one_b2, step_size, sqrt_bc2,
                                decay, wd, eps, prm.decoupled});
}

double cosine_warm_restarts_lr(double base_lr, double eta_min, double t0, double t_mult,
                               double epoch) {
  if (!(t0 > 0) || !(t_mult >= 1) || !(epoch >= 0))
    throw ConfigError("cosine_warm_restarts_lr: need T0 > 0, Tmult >= 1, epoch >= 0");
  double t_cur, t_i;
  if (t_mult == 1.0) {
    t_i = t0;
    t_cur = std::fmod(epoch, t0);
  } else {
    // the cycle index n with T0 (Tmult^n - 1) / (Tmult - 1) <= epoch
    const double n = std::floor(std::log(epoch / t0 * (t_mult - 1) + 1) / std::log(t_mult));
    t_i = t0 * std::pow(t_mult, n);
    t_cur = epoch - t0 * (std::pow(t_mult, n) - 1) / (t_mult - 1);
  }
  const double pi = std::acos(-1.0);
  return eta_min + (base_lr - eta_min) * (1 + std::cos(pi * t_cur / t_i)) / 2;
}

double step_lr(double base_lr, int64_t step_size, double gamma, int64_t epoch) {
  if (step_size < 1 || epoch < 0) throw ConfigError("step_lr: need step_size >= 1, epoch >= 0");
  return base_lr * std::pow(gamma, double(epoch / step_size));
}

#define NUMENS_ADAM_INSTANTIATE(P, T) \
  template void adam_step<P, T>(const P&, T*, const T*, T*, T*, int64_t, int64_t, const AdamParams&, \
                                Device);
#define NUMENS_ADAM_INSTANTIATE_BOTH(P) \
  NUMENS_ADAM_INSTANTIATE(P, float)     \
  NUMENS_ADAM_INSTANTIATE(P, double)
NUMENS_ADAM_INSTANTIATE_BOTH(mca::Ieee)
NUMENS_ADAM_INSTANTIATE_BOTH(mca::Sr)
NUMENS_ADAM_INSTANTIATE_BOTH(mca::Rr)
NUMENS_ADAM_INSTANTIATE_BOTH(mca::Pb)
NUMENS_ADAM_INSTANTIATE_BOTH(mca::Mca)
NUMENS_ADAM_INSTANTIATE_BOTH(mca::SrEqual)

}  // namespace numens::kernels
