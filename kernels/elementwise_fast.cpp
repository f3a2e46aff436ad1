#include "kernels/elementwise_fast.hpp"

#include <algorithm>
#include <atomic>

#include "kernels/batchnorm_impl.hpp"
#include "kernels/elementwise.hpp"
#include "mca/batch.hpp"
#include "mca/sr_lanes.hpp"

namespace numens::kernels {

namespace {
std::atomic<ElementwiseCpuImpl> g_impl{ElementwiseCpuImpl::fast};
}  // namespace

void set_elementwise_cpu_impl(ElementwiseCpuImpl impl) {
  g_impl.store(impl);
}
ElementwiseCpuImpl elementwise_cpu_impl() {
  return g_impl.load();
}

}  // namespace numens::kernels

namespace numens::kernels::detail {

#if defined(__AVX2__)

namespace {

constexpr int64_t kRun = 256;  // elements per run: the draws of a run stay in L1

// Draws of one run: u[k][l] = stream.ur(e0 + l, k, r, 0).
template <int K>
struct RunDraws {
  alignas(64) uint32_t u[K][kRun + 8];
  void fill(const mca::Sr& pol, uint64_t e0, int64_t len, int draws) {
    for (int k = 0; k < draws; ++k)
      mca::draws_r32(pol.stream, pol.sr_bits, e0, uint32_t(k), u[k], size_t(len));
  }
};

// Elements [0, planes * plane) of a kernel whose element i lives in channel (i / plane) % c and
// draws as element elem0 + i: runs of up to kRun elements inside one plane, `draws` draw indices
// generated per run, then quad(c, i, e, u, l) for the run's four-element groups and ref(i) for its
// last len % 4 elements.
template <int K, class Quad, class Ref>
void per_channel_runs(const mca::Sr& pol, const BnGeom& g, int draws, const Quad& quad,
                      const Ref& ref) {
  const int64_t per = (g.plane + kRun - 1) / kRun, planes = g.n * g.c;
#pragma omp parallel
  {
    RunDraws<K> rd;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < planes * per; ++t) {
      const int64_t pl = t / per, c = pl % g.c;
      const int64_t i0 = pl * g.plane + (t % per) * kRun;
      const int64_t len = std::min<int64_t>(kRun, (pl + 1) * g.plane - i0);
      const uint64_t e0 = g.elem0() + uint64_t(i0);
      rd.fill(pol, e0, len, draws);
      int64_t l = 0;
      for (; l + 4 <= len; l += 4) quad(c, i0 + l, e0 + uint64_t(l), rd.u, l);
      for (; l < len; ++l) ref(i0 + l);
    }
  }
}

}  // namespace

bool elementwise_sr_fast_available(const mca::Sr& pol) {
  return elementwise_cpu_impl() == ElementwiseCpuImpl::fast && mca::simd::SrLanes::applies(pol);
}

void bn_normalize_sr(const mca::Sr& pol, const BnGeom& g, const float* x, const float* mean,
                     const float* invstd, const float* gamma, const float* beta, float* y) {
  const mca::simd::SrLanes L(pol);
  const BnNormalize<mca::Sr, float> ref{pol, g, x, mean, invstd, gamma, beta, y};
  // sub (draw 0), mul (1), fma (2, and 3 when split)
  per_channel_runs<4>(
      pol, g, pol.fused ? 3 : 4,
      [&](int64_t c, int64_t i, uint64_t e, const uint32_t(*u)[kRun + 8], int64_t l) {
        const __m128 d = L.sub(_mm_loadu_ps(x + i), _mm_set1_ps(mean[c]), u[0] + l, e, 0);
        const __m128 xhat = L.mul(d, _mm_set1_ps(invstd[c]), u[1] + l, e, 1);
        _mm_storeu_ps(y + i, L.fma(xhat, _mm_set1_ps(gamma[c]), _mm_set1_ps(beta[c]), u[2] + l,
                                   u[3] + l, e, 2));
      },
      ref);
}

void bn_bwd_input_sr(const mca::Sr& pol, const BnGeom& g, const float* dy, const float* x,
                     const float* mean, const float* invstd, const float* sum_dy,
                     const float* sum_dyx, const float* scale, float* dx, bool accumulate) {
  const mca::simd::SrLanes L(pol);
  const BnBwdInput<mca::Sr, float> ref{pol,    g,       dy,    x,  mean,      invstd,
                                       sum_dy, sum_dyx, scale, dx, accumulate};
  const __m128 m = _mm_set1_ps(float(g.m()));
  // The functor's order: sub 0, mul 1 (xhat); mul 2, sub 3 (M dy - sum dy); mul 4 (xhat sum dyx);
  // sub 5 (inner); mul 6 (scale inner); add 7 when accumulating.
  per_channel_runs<8>(
      pol, g, accumulate ? 8 : 7,
      [&](int64_t c, int64_t i, uint64_t e, const uint32_t(*u)[kRun + 8], int64_t l) {
        const __m128 xc = L.sub(_mm_loadu_ps(x + i), _mm_set1_ps(mean[c]), u[0] + l, e, 0);
        const __m128 xhat = L.mul(xc, _mm_set1_ps(invstd[c]), u[1] + l, e, 1);
        const __m128 mdy = L.mul(m, _mm_loadu_ps(dy + i), u[2] + l, e, 2);
        const __m128 m_dy = L.sub(mdy, _mm_set1_ps(sum_dy[c]), u[3] + l, e, 3);
        const __m128 xhat_dg = L.mul(xhat, _mm_set1_ps(sum_dyx[c]), u[4] + l, e, 4);
        const __m128 inner = L.sub(m_dy, xhat_dg, u[5] + l, e, 5);
        const __m128 gi = L.mul(_mm_set1_ps(scale[c]), inner, u[6] + l, e, 6);
        _mm_storeu_ps(dx + i, accumulate ? L.add(_mm_loadu_ps(dx + i), gi, u[7] + l, e, 7) : gi);
      },
      ref);
}

#else  // no AVX2: the functors run instead

bool elementwise_sr_fast_available(const mca::Sr&) {
  return false;
}
void bn_normalize_sr(const mca::Sr&, const BnGeom&, const float*, const float*, const float*,
                     const float*, const float*, float*) {}
void bn_bwd_input_sr(const mca::Sr&, const BnGeom&, const float*, const float*, const float*,
                     const float*, const float*, const float*, const float*, float*, bool) {}

#endif

}  // namespace numens::kernels::detail
