// 2-D convolution, k x k (k odd), stride 1, "same" zero padding p = k / 2, with bias. The three
// gradients are separate named operators (Fprop, Dgrad, Wgrad, Bgrad), each with its own fixed
// reduction order, the same in every arithmetic mode:
//
//   forward      y[n,o,i,j]  = b[o] + sum over (c, u, v) of w[o,c,u,v] * x[n,c,i+u-p,j+v-p]
//                acc starts at b[o]; terms in order c, then u, then v.
//   backward_data  dx[n,c,i,j] (+)= sum over (o, u, v) of w[o,c,k-1-u,k-1-v] * dy[n,o,i+u-p,j+v-p]
//                acc starts at 0 (overwrite) or at dx (accumulate); order o, u, v (the forward
//                conv of dy with the kernel transposed and rotated by 180 degrees).
//   backward_weight dw[o,c,u,v] (+)= sum over (n, i, j) of dy[n,o,i,j] * x[n,c,i+u-p,j+v-p]
//                order n, i, j.
//   backward_bias  db[o] (+)= sum over (n, i, j) of dy[n,o,i,j]; order n, i, j.
//
// Terms that fall in the zero padding are not operations and are skipped. Each multiply-add is
// the policy's split fma (a perturbed multiply, then a perturbed add). Draws: the element is the
// linear index of the output being reduced (y, dx, dw or db); term number q of the reduction
// (q = (c k + u) k + v for forward, (o k + u) k + v for dgrad, (n H + i) W + j for wgrad,
// padding terms counted) owns draws [q P::kFmaDraws, (q + 1) P::kFmaDraws), and bgrad's term q
// draws q. So every term's random numbers depend on its position alone: results do not depend on
// how output elements are spread over threads, and a SIMD path that computes padding terms as
// exact no-ops (x * 0 + acc under sr) meets the same random numbers. The reduction index must stay
// below 2^32 / kFmaDraws (N H W < 715 million for wgrad).
//
// Shapes: x [N, C, H, W], w [O, C, k, k], b [1, O, 1, 1], y [N, O, H, W]. All tensors of a call
// on one device: CPU tensors run the OpenMP reference, CUDA tensors the CUDA kernel; both compute
// each output element with the same function (conv2d_impl.hpp), bitwise equal in every mode.
#pragma once

#include "kernels/grad.hpp"
#include "kernels/tensor.hpp"

namespace numens::kernels {

template <class P, class T>
void conv2d_forward(const P& pol, const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b,
                    Tensor<T>& y);

template <class P, class T>
void conv2d_backward_data(const P& pol, const Tensor<T>& dy, const Tensor<T>& w, Tensor<T>& dx,
                          GradMode mode);

template <class P, class T>
void conv2d_backward_weight(const P& pol, const Tensor<T>& dy, const Tensor<T>& x, Tensor<T>& dw,
                            GradMode mode);

template <class P, class T>
void conv2d_backward_bias(const P& pol, const Tensor<T>& dy, Tensor<T>& db, GradMode mode);

// Which CPU code runs ieee binary32 convs: `fast` (the default: implicit GEMM, conv2d_fast.hpp,
// bitwise equal to the reference) or `reference` (one output element per iteration). A
// process-wide switch for tests and benchmarks; other modes and binary64 always run the reference.
enum class ConvCpuImpl { fast, reference };
void set_conv2d_cpu_impl(ConvCpuImpl impl);
ConvCpuImpl conv2d_cpu_impl();

namespace detail {
struct ConvGeom;
enum class ConvPass { fprop, dgrad, wgrad, bgrad };
// CUDA launch of one pass on device pointers (a, b, c: the pass's inputs in the order of its
// element function; out: the pass's output). Defined in conv2d_cuda.cu.
template <class P, class T>
void conv2d_cuda(const P& pol, ConvPass pass, const ConvGeom& g, const T* a, const T* b, const T* c,
                 T* out, bool accumulate);
}  // namespace detail

}  // namespace numens::kernels
