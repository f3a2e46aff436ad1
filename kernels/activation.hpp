// PReLU with one learnable slope shared by all channels, and maxout (the element-wise maximum of
// two tensors, FastSurfer's "competitive" merge).
//
// prelu: y = x if x > 0 else a * x. Backward: dx = dy if x > 0 else a * dy; da = sum over the
// elements with x <= 0 of dy * x, summed with kernels/reduce.hpp (fixed chunks, fixed order).
//
// maxout: y = a if a >= b else b (a NaN in either input is propagated), winner[i] = 0 when a was
// taken, 1 when b was. Ties go to the first input, and so does the whole gradient: routing it to
// one side keeps the backward a pure data move, as in FastSurfer's torch.maximum whose gradient on
// ties is split instead; the difference only matters on exact ties. Backward: da = dy where
// winner = 0, db = dy where winner = 1, else 0 (accumulate adds with the policy's add).
//
// Element index for draws: the linear index of the output element.
#pragma once

#include <cstdint>

#include "kernels/grad.hpp"
#include "kernels/tensor.hpp"

namespace numens::kernels {

template <class P, class T>
void prelu_forward(const P& pol, const Tensor<T>& x, T slope, Tensor<T>& y);

// dslope is overwritten or accumulated according to mode, like dx.
template <class P, class T>
void prelu_backward(const P& pol, const Tensor<T>& dy, const Tensor<T>& x, T slope, Tensor<T>& dx,
                    T& dslope, GradMode mode);

void maxout_forward(const Tensor<float>& a, const Tensor<float>& b, Tensor<float>& y,
                    Tensor<uint8_t>& winner);
void maxout_forward(const Tensor<double>& a, const Tensor<double>& b, Tensor<double>& y,
                    Tensor<uint8_t>& winner);

template <class P, class T>
void maxout_backward(const P& pol, const Tensor<T>& dy, const Tensor<uint8_t>& winner,
                     Tensor<T>& da, Tensor<T>& db, GradMode mode);

}  // namespace numens::kernels
