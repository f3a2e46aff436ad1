// 2x2 max-pooling with stride 2 that records where each maximum came from, and the matching
// max-unpooling (FastSurfer's encoder/decoder pair).
//
// maxpool2x2_forward: x [N, C, H, W] -> y [N, C, H/2, W/2] (floor: an odd last row or column is
// dropped, as in PyTorch), index [N, C, H/2, W/2] = the flat position h * W + w of the maximum
// inside its input plane. The window is scanned row by row; a later value replaces the current
// maximum only if strictly greater (the first of equal values wins) or if it is NaN (NaN wins and
// propagates).
// maxpool2x2_backward: dx = 0 except dx[index] = dy (each input feeds at most one output, so no
// additions are needed; accumulate mode adds with the policy's add).
// maxunpool2x2_forward: y [N, C, H, W] = 0 except y[index] = x (the inverse move).
// maxunpool2x2_backward: dx = dy[index] (accumulate mode adds with the policy's add).
#pragma once

#include <cstdint>

#include "kernels/grad.hpp"
#include "kernels/tensor.hpp"

namespace numens::kernels {

template <class T>
void maxpool2x2_forward(const Tensor<T>& x, Tensor<T>& y, Tensor<int32_t>& index);

template <class P, class T>
void maxpool2x2_backward(const P& pol, const Tensor<T>& dy, const Tensor<int32_t>& index,
                         Tensor<T>& dx, GradMode mode);

template <class T>
void maxunpool2x2_forward(const Tensor<T>& x, const Tensor<int32_t>& index, Tensor<T>& y);

template <class P, class T>
void maxunpool2x2_backward(const P& pol, const Tensor<T>& dy, const Tensor<int32_t>& index,
                           Tensor<T>& dx, GradMode mode);

}  // namespace numens::kernels
