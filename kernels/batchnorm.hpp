// Batch normalisation over (N, H, W) per channel, with affine weight (gamma) and bias (beta).
//
// training forward, per channel c with M = N H W values:
//   mean = (sum x) / M, var = (sum (x - mean)^2) / M (biased, used to normalise),
//   invstd = 1 / sqrt(var + eps), xhat = (x - mean) invstd, y = xhat gamma + beta,
//   running_mean = (1 - momentum) running_mean + momentum mean,
//   running_var  = (1 - momentum) running_var + momentum var M / (M - 1)   (PyTorch's convention)
// eval forward: y = (x - running_mean) / sqrt(running_var + eps) gamma + beta.
// backward (training statistics), with dbeta = sum dy, dgamma = sum dy xhat:
//   dx = gamma invstd / M (M dy - dbeta - xhat dgamma)
// Every sum runs over n, then h, then w, sequentially per channel (channels in parallel); every
// operation goes through the policy. Draws: channel-level quantities use element c (a draw
// cursor per channel and phase), per-element results use the element's linear index.
//
// Shapes: x, y, dy, dx [N, C, H, W]; gamma, beta, running stats, saved mean/invstd [1, C, 1, 1].
#pragma once

#include "kernels/grad.hpp"
#include "kernels/tensor.hpp"

namespace numens::kernels {

template <class T>
struct BatchNormParams {
  double eps = 1e-5;
  double momentum = 0.1;
};

// Saves mean and invstd for the backward pass.
template <class P, class T>
void batchnorm2d_forward_train(const P& pol, const Tensor<T>& x, const Tensor<T>& gamma,
                               const Tensor<T>& beta, Tensor<T>& running_mean,
                               Tensor<T>& running_var, Tensor<T>& saved_mean,
                               Tensor<T>& saved_invstd, Tensor<T>& y, BatchNormParams<T> prm = {});

template <class P, class T>
void batchnorm2d_forward_eval(const P& pol, const Tensor<T>& x, const Tensor<T>& gamma,
                              const Tensor<T>& beta, const Tensor<T>& running_mean,
                              const Tensor<T>& running_var, Tensor<T>& y,
                              BatchNormParams<T> prm = {});

template <class P, class T>
void batchnorm2d_backward(const P& pol, const Tensor<T>& dy, const Tensor<T>& x,
                          const Tensor<T>& gamma, const Tensor<T>& saved_mean,
                          const Tensor<T>& saved_invstd, Tensor<T>& dx, Tensor<T>& dgamma,
                          Tensor<T>& dbeta, GradMode mode);

}  // namespace numens::kernels
