// The IEEE binary32 fast path of conv2d on the CPU: implicit GEMM (im2col packed on the fly into
// small panels that stay in L1) with a register-blocked 6 x 16 micro-kernel written in GCC vector
// extensions (AVX2 registers when built for them, SSE pairs otherwise).
//
// It computes exactly what conv2d_impl.hpp's reference computes, bit for bit: every term is a
// rounded product followed by a rounded add (no FMA contraction), and each output element's
// terms are added one after the other in the reference's documented order. The GEMM only
// reorders which elements are computed when, never the order inside one element. The single
// difference: terms in the zero padding are added as w * 0 rather than skipped, which leaves
// the value unchanged (x + 0 == x for every finite x; a -0 accumulator would become +0, and an
// infinite weight meeting padding would give NaN where the reference skips it).
//
// Shapes as in conv2d.hpp: x [N, C, H, W], w [O, C, k, k], y/dy [N, O, H, W].
#pragma once

#include "kernels/conv2d_impl.hpp"
#include "mca/policy.hpp"

namespace numens::kernels::detail {

// y = b (or y's current contents when b is null) + conv(x, w).
void conv2d_fwd_fast(const ConvGeom& g, const float* x, const float* w, const float* b, float* y);
// dx = (accumulate ? dx : 0) + conv(dy, w rotated by 180 degrees and transposed).
void conv2d_dgrad_fast(const ConvGeom& g, const float* dy, const float* w, float* dx,
                       bool accumulate);
// dw = (accumulate ? dw : 0) + sum over n, i, j of dy * shifted x.
void conv2d_wgrad_fast(const ConvGeom& g, const float* dy, const float* x, float* dw,
                       bool accumulate);

// The sr binary32 paths (AVX2): the reference's results bit for bit, 64 adjacent outputs per
// tile sharing Philox blocks. The exact contract, and the cost options of MCA.md v2: r-bit draws
// (r <= 52 - t) with split or fused multiply-adds, and tile:k with 32- or r-bit draws (fused needs
// FMA hardware). Callers check that the policy has a fast path first; otherwise the reference
// runs.
bool conv2d_sr_fast_available(const mca::Sr& pol);
void conv2d_fwd_sr(const mca::Sr& pol, const ConvGeom& g, const float* x, const float* w,
                   const float* b, float* y);
void conv2d_dgrad_sr(const mca::Sr& pol, const ConvGeom& g, const float* dy, const float* w,
                     float* dx, bool accumulate);
void conv2d_wgrad_sr(const mca::Sr& pol, const ConvGeom& g, const float* dy, const float* x,
                     float* dw, bool accumulate);

}  // namespace numens::kernels::detail
