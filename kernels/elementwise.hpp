// Element-wise helpers the model needs between layers: scaling (the 1/k of gradient accumulation),
// accumulation of a second gradient contribution, and channel concatenation / split (VINN's output
// block concatenates the decoder output with the input block's features).
//
// scale_inplace: x = alpha * x, one perturbed multiply per element, draw element = linear index.
//   A power-of-two alpha is exact in every mode (outside the subnormal range), so accumulating
//   2^j micro-batches perturbs nothing extra.
// add_inplace: y = y + x, one perturbed add per element, draw element = linear index (a tensor
//   that feeds two consumers gets its gradient as the sum of both).
// concat_channels: y[n] = (a[n], b[n]) along C; split_channels is its backward (da, db = the two
//   channel ranges of dy). Both only move data (one contiguous copy per sample and part), so they
//   take no policy and give the same bits on every device.
//
// Shapes: x any; a [N, Ca, H, W], b [N, Cb, H, W], y / dy [N, Ca + Cb, H, W].
#pragma once

#include "kernels/tensor.hpp"

namespace numens::kernels {

template <class P, class T>
void scale_inplace(const P& pol, Tensor<T>& x, T alpha);

template <class P, class T>
void add_inplace(const P& pol, Tensor<T>& y, const Tensor<T>& x);

template <class T>
void concat_channels(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& y);

template <class T>
void split_channels(const Tensor<T>& dy, Tensor<T>& da, Tensor<T>& db);

// Which CPU code runs the perturbed element-wise kernels that have a SIMD path (sr binary32: batch
// norm's per-element passes, kernels/elementwise_fast.hpp): `fast` (the default, bitwise equal to
// the element functors) or `reference` (the functors, one element per iteration). A process-wide
// switch for tests and benchmarks.
enum class ElementwiseCpuImpl { fast, reference };
void set_elementwise_cpu_impl(ElementwiseCpuImpl impl);
ElementwiseCpuImpl elementwise_cpu_impl();

}  // namespace numens::kernels
