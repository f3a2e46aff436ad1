// SIMD paths of the perturbed element-wise kernels: sr binary32 on the CPU (AVX2), four output
// elements per step through mca/sr_lanes.hpp, bitwise equal to the kernels' element functors
// (tests/kernels/test_elementwise_fast.cpp). Each path generates the draws of a run of up to 256
// adjacent elements with the vector Philox first (one call per draw index), then runs the
// functor's sequence of operations four lanes at a time; lanes the SIMD rounding cannot take, and
// a run's last elements, go to the scalar policy or the functor itself.
//
// Which kernels: batch norm's normalisation (forward) and input gradient, the two per-element
// passes of batchnorm2d (kernels/batchnorm_impl.hpp, BnNormalize and BnBwdInput).
#pragma once

#include <cstdint>

#include "mca/policy.hpp"

namespace numens::kernels::detail {

struct BnGeom;

// True when this build has the SIMD paths, the policy's options are ones they compute exactly
// (mca::simd::SrLanes::applies) and elementwise_cpu_impl() is `fast`.
bool elementwise_sr_fast_available(const mca::Sr& pol);

// BnNormalize<Sr, float> over every element of x [n, c, plane].
void bn_normalize_sr(const mca::Sr& pol, const BnGeom& g, const float* x, const float* mean,
                     const float* invstd, const float* gamma, const float* beta, float* y);

// BnBwdInput<Sr, float> over every element.
void bn_bwd_input_sr(const mca::Sr& pol, const BnGeom& g, const float* dy, const float* x,
                     const float* mean, const float* invstd, const float* sum_dy,
                     const float* sum_dyx, const float* scale, float* dx, bool accumulate);

}  // namespace numens::kernels::detail
