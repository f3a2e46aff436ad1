// SIMD paths of the perturbed element-wise kernels: sr binary32 on the CPU (AVX2), four output
// elements per step through mca/sr_lanes.hpp, bitwise equal to the kernels' element functors
// (tests/kernels/test_elementwise_fast.cpp). Each path generates the draws of a run of up to 256
// adjacent elements with the vector Philox first (one call per draw index), then runs the
// functor's sequence of operations four lanes at a time; lanes the SIMD rounding cannot take, and
// a run's last elements, go to the scalar policy or the functor itself.
//
// Which kernels: batch norm's per-element passes (kernels/batchnorm_impl.hpp: BnNormalize,
// BnBwdInput) and the element-wise terms of its per-channel sums (BnTrainStats' variance pass,
// BnBwdStats; there the draws are one element's successive draws, mca::draw_run_r32); PReLU forward
// and input gradient (kernels/activation_impl.hpp, PreluFwd and PreluBwdInput).
#pragma once

#include <cstdint>

#include "kernels/activation_impl.hpp"
#include "kernels/batchnorm_impl.hpp"
#include "kernels/elementwise_impl.hpp"
#include "kernels/launch.hpp"
#include "kernels/loss_impl.hpp"
#include "kernels/optim_impl.hpp"

namespace numens::kernels::detail {

// True when this build has the SIMD paths, the policy's options are ones they compute exactly
// (mca::simd::SrLanes::applies) and elementwise_cpu_impl() is `fast`.
bool elementwise_sr_fast_available(const mca::Sr& pol);

// simd_path(f, device, count): runs functor f over its whole range [0, count) by the SIMD path
// and returns true where there is one and it applies; otherwise returns false and the kernel runs
// the functor (for_each_simd below). Overloads for the functors that have a path; every other
// functor takes the template and always runs as itself.
template <class F>
bool simd_path(const F&, Device, int64_t) {
  return false;
}
bool simd_path(const BnNormalize<mca::Sr, float>& f, Device d, int64_t count);
bool simd_path(const BnBwdInput<mca::Sr, float>& f, Device d, int64_t count);
bool simd_path(const BnTrainStats<mca::Sr, float>& f, Device d, int64_t count);   // count: channels
bool simd_path(const BnBwdStats<mca::Sr, float>& f, Device d, int64_t count);     // count: channels
bool simd_path(const SoftmaxPixel<mca::Sr, float>& f, Device d, int64_t count);   // count: pixels
bool simd_path(const LossGradPixel<mca::Sr, float>& f, Device d, int64_t count);  // count: pixels
bool simd_path(const AddElement<mca::Sr, float>& f, Device d, int64_t count);
bool simd_path(const ScaleElement<mca::Sr, float>& f, Device d, int64_t count);
bool simd_path(const MaxoutBwd<mca::Sr, float>& f, Device d, int64_t count);
bool simd_path(const AdamElement<mca::Sr, float>& f, Device d, int64_t count);
bool simd_path(const PreluFwd<mca::Sr, float>& f, Device d, int64_t count);
bool simd_path(const PreluBwdInput<mca::Sr, float>& f, Device d, int64_t count);

// for_each (launch.hpp) that takes the functor's SIMD path where it has one.
template <class F>
void for_each_simd(const char* op, Device d, int64_t count, const F& f) {
  if (!simd_path(f, d, count)) for_each(op, d, count, f);
}

}  // namespace numens::kernels::detail
