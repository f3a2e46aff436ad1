// Softmax over channels and FastSurfer's training loss: weighted cross-entropy + soft Dice, 1:1.
//
// softmax_forward: per pixel, p_c = exp(z_c - max_k z_k) / sum_k exp(z_k - max_k z_k); the sum
//   runs over c in order. softmax_backward: dz_c = p_c (dp_c - sum_k p_k dp_k).
// ce_dice_loss, with M = N H W pixels, C classes, t the one-hot labels, w the weight map:
//   CE   = (1/M) sum_pixels w (-log p_label), computed as w (lse - z_label) with the pixel's
//          log-partition lse = max_k z_k + log sum_k exp(z_k - max_k z_k): finite for finite
//          logits, where -log of the rounded p_label is inf once p_label underflows
//          (a logit 104 below the maximum in binary32)
//   Dice = (1/C) sum_c (1 - 2 I_c / (U_c + smooth)),  I_c = sum p_c t_c,  U_c = sum (p_c + t_c)
//   dCE/dz_c   = (w / M) (p_c - t_c)
//   dDice/dp_c = -(1/C) (2 t_c (U_c + smooth) - 2 I_c) / (U_c + smooth)^2, then softmax_backward.
// Sums over pixels use kernels/reduce.hpp (fixed chunks, fixed order). p_c t_c is a selection
// (t is 0 or 1, no rounding), and U_c = (sum p_c) + count_c with one perturbed add.
// Draw elements: softmax and the gradient use the pixel index; the reductions follow after.
//
// Shapes: logits, probs, dlogits [N, C, H, W]; labels [N, 1, H, W] int32 in [0, C);
// weights [N, 1, H, W].
#pragma once

#include <cstdint>

#include "kernels/tensor.hpp"

namespace numens::kernels {

template <class T>
struct LossValue {
  T ce, dice, total;
};

template <class P, class T>
void softmax_forward(const P& pol, const Tensor<T>& logits, Tensor<T>& probs);

template <class P, class T>
void softmax_backward(const P& pol, const Tensor<T>& probs, const Tensor<T>& dprobs,
                      Tensor<T>& dlogits);

// Computes probs, the loss and its gradient with respect to the logits (overwritten).
template <class P, class T>
LossValue<T> ce_dice_loss(const P& pol, const Tensor<T>& logits, const Tensor<int32_t>& labels,
                          const Tensor<T>& weights, Tensor<T>& probs, Tensor<T>& dlogits,
                          double smooth = 0.001);

}  // namespace numens::kernels
