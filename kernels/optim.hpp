// Adam and AdamW parameter updates (PyTorch's formulation) and the learning-rate schedules of
// FastSurfer (cosine annealing with warm restarts, step decay).
//
// adam_step, step t >= 1, per element (every operation through the policy):
//   AdamW: p = p (1 - lr wd)                 Adam: g = g + wd p
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2
//   p = p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The bias corrections are computed once per call with the policy at draw element n (after the
// per-element range [0, n)). Schedules are configuration, not computation: plain binary64.
#pragma once

#include <cstdint>

#include "kernels/tensor.hpp"  // Device

namespace numens::kernels {

struct AdamParams {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = true;  // true: AdamW; false: Adam with L2 weight decay
};

// param, grad, m, v: n contiguous values (the flat parameter buffer), on `where`.
template <class P, class T>
void adam_step(const P& pol, T* param, const T* grad, T* m, T* v, int64_t n, int64_t step,
               const AdamParams& prm, Device where = Device::cpu);

// torch.optim.lr_scheduler.CosineAnnealingWarmRestarts at a fractional epoch.
double cosine_warm_restarts_lr(double base_lr, double eta_min, double t0, double t_mult,
                               double epoch);
// StepLR: base_lr * gamma^floor(epoch / step_size).
double step_lr(double base_lr, int64_t step_size, double gamma, int64_t epoch);

}  // namespace numens::kernels
