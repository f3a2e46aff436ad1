// IEEE binary32 conv2d on the CPU as implicit GEMMs; see conv2d_fast.hpp for the contract (bitwise
// equal to the reference). Three GEMMs:
//   forward  y[o, pix]        += w[o, (c,u,v)]           * im2col(x)[(c,u,v), pix]
//   dgrad    dx[c, pix]       += w'[c, (o,u',v')]         * im2col(dy)[(o,u',v'), pix]
//            (w' = w rotated by 180 degrees and transposed: the same GEMM as forward)
//   wgrad    dw^T[(c,u,v), o] += shift(x)[(c,u,v), (n,pix)] * dy^T[(n,pix), o]
// The reduction index runs in the reference's order in each, one term after the other per
// output element; blocking splits only the output elements and the k range into consecutive
// pieces, and a block's partial result goes back to memory before the next block continues it.
#include "kernels/conv2d_fast.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/conv2d_sr512.hpp"
#include "mca/batch.hpp"
#include "mca/sr_simd.hpp"

namespace numens::kernels::detail {

namespace {

// Eight binary32 lanes: one AVX register where the build targets AVX, two SSE registers otherwise.
typedef float v8f __attribute__((vector_size(32)));

constexpr int kMr = 6;    // output rows per micro-tile (broadcast operand)
constexpr int kNr = 16;   // output columns per micro-tile (two vectors)
constexpr int kKc = 256;  // reduction block: a packed 256 x 16 panel is 16 KiB, half of L1

inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, v8f v) {
  std::memcpy(p, &v, sizeof v);
}

// C[R x 16] (row stride ldc) += A[R x kc] (row r at A + r * lda) * B[kc x 16] (packed [k][16]).
// Each lane's accumulator sees its terms in k order, as a rounded product then a rounded add:
// the vector extensions never contract a * b + c into an FMA (the build sets -ffp-contract=off).
template <int R>
void micro(const float* A, int64_t lda, const float* B, int kc, float* C, int64_t ldc) {
  v8f c0[R], c1[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    c0[r] = load8(C + r * ldc);
    c1[r] = load8(C + r * ldc + 8);
  }
  for (int k = 0; k < kc; ++k) {
    const v8f b0 = load8(B + kNr * k), b1 = load8(B + kNr * k + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const float a = A[r * lda + k];
      c0[r] += a * b0;
      c1[r] += a * b1;
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    store8(C + r * ldc, c0[r]);
    store8(C + r * ldc + 8, c1[r]);
  }
}

// A micro-tile with r <= 6 rows and nc <= 16 valid columns (edge tiles go through a local tile).
template <int R>
void tile_r(const float* A, int64_t lda, const float* B, int kc, float* C, int64_t ldc, int nc) {
  if (nc == kNr) return micro<R>(A, lda, B, kc, C, ldc);
  alignas(64) float t[R * kNr] = {};
  for (int r = 0; r < R; ++r) std::memcpy(t + r * kNr, C + r * ldc, sizeof(float) * size_t(nc));
  micro<R>(A, lda, B, kc, t, kNr);
  for (int r = 0; r < R; ++r) std::memcpy(C + r * ldc, t + r * kNr, sizeof(float) * size_t(nc));
}

void tile(int r, const float* A, int64_t lda, const float* B, int kc, float* C, int64_t ldc,
          int nc) {
  switch (r) {
    case 6:
      return tile_r<6>(A, lda, B, kc, C, ldc, nc);
    case 5:
      return tile_r<5>(A, lda, B, kc, C, ldc, nc);
    case 4:
      return tile_r<4>(A, lda, B, kc, C, ldc, nc);
    case 3:
      return tile_r<3>(A, lda, B, kc, C, ldc, nc);
    case 2:
      return tile_r<2>(A, lda, B, kc, C, ldc, nc);
    default:
      return tile_r<1>(A, lda, B, kc, C, ldc, nc);
  }
}

// Bits [lo, hi) of a 64-bit mask.
inline uint64_t bit_range(int64_t lo, int64_t hi) {
  if (hi <= lo) return 0;
  const uint64_t upto_hi = hi >= 64 ? ~uint64_t(0) : (uint64_t(1) << hi) - 1;
  return upto_hi & ~((uint64_t(1) << lo) - 1);
}

// dst[0, len) = row[from, from + len) with zeros where the index leaves [0, width).
inline void copy_padded(float* dst, const float* row, int64_t from, int64_t len, int64_t width) {
  const int64_t lo = std::clamp<int64_t>(-from, 0, len);
  const int64_t hi = std::clamp<int64_t>(width - from, lo, len);
  std::fill(dst, dst + lo, 0.0f);
  if (hi > lo) std::memcpy(dst + lo, row + from + lo, sizeof(float) * size_t(hi - lo));
  std::fill(dst + hi, dst + len, 0.0f);
}

// Packs im2col(x_n)[k0 .. k0 + kc, pix0 .. pix0 + kW) as [k][kW]; pixels past `cnt` are zero.
// x_n is one image [cin, H, W]; a reduction index q is (c, u, v) = (q / k^2, q / k % k, q % k).
// With `valid` (kW <= 64), valid[q] gets bit col set where the term is a real one (not padding).
template <int kW>
void pack_im2col(const float* xn, const ConvGeom& g, int64_t k0, int kc, int64_t pix0, int cnt,
                 float* bp, uint64_t* valid = nullptr) {
  const int64_t kk2 = g.k * g.k, i = pix0 / g.w, j0 = pix0 % g.w;
  const bool one_row = j0 + cnt <= g.w;
  int64_t c = k0 / kk2, u = (k0 / g.k) % g.k, v = k0 % g.k;
  for (int q = 0; q < kc; ++q) {
    float* dst = bp + kW * q;
    if (one_row) {
      const int64_t ii = i + u - g.p;
      if (ii < 0 || ii >= g.h) {
        std::fill(dst, dst + kW, 0.0f);
        if (valid) valid[q] = 0;
      } else {
        const int64_t from = j0 + v - g.p;
        copy_padded(dst, xn + (c * g.h + ii) * g.w, from, cnt, g.w);
        std::fill(dst + cnt, dst + kW, 0.0f);
        if (valid) {
          const int64_t lo = std::clamp<int64_t>(-from, 0, cnt);
          const int64_t hi = std::clamp<int64_t>(g.w - from, lo, cnt);
          valid[q] = bit_range(lo, hi);
        }
      }
    } else {
      // The tile spans image rows: one padded copy per row segment.
      uint64_t bits = 0;
      int64_t row = i, jcol = j0;
      for (int col = 0; col < cnt;) {
        const int seg = int(std::min<int64_t>(cnt - col, g.w - jcol));
        const int64_t ii = row + u - g.p;
        if (ii < 0 || ii >= g.h) {
          std::fill(dst + col, dst + col + seg, 0.0f);
        } else {
          const int64_t from = jcol + v - g.p;
          copy_padded(dst + col, xn + (c * g.h + ii) * g.w, from, seg, g.w);
          const int64_t lo = std::clamp<int64_t>(-from, 0, seg);
          const int64_t hi = std::clamp<int64_t>(g.w - from, lo, seg);
          bits |= bit_range(std::min<int64_t>(col + lo, 64), std::min<int64_t>(col + hi, 64));
        }
        col += seg;
        jcol = 0;
        ++row;
      }
      std::fill(dst + cnt, dst + kW, 0.0f);
      if (valid) valid[q] = bits;
    }
    if (++v == g.k) {
      v = 0;
      if (++u == g.k) u = 0, ++c;
    }
  }
}

// dst[0, len) = row q = (c, u, v) of the wgrad operand over pixels [pix0, pix0 + len) of image n:
// x[n, c, i + u - p, j + v - p] at each pixel (i, j), zero where the tap leaves the image; dst
// advances by `stride` per pixel.
void pack_shifted_row(const float* x, const ConvGeom& g, int64_t n, int64_t q, int64_t pix0,
                      int64_t len, float* dst, int64_t stride, uint64_t* valid = nullptr,
                      uint64_t lane_bit = 0) {
  const int64_t kk2 = g.k * g.k, c = q / kk2, u = (q / g.k) % g.k, v = q % g.k;
  for (int64_t pix = pix0; pix < pix0 + len;) {
    const int64_t i = pix / g.w, j = pix % g.w;
    const int64_t run = std::min(g.w - j, pix0 + len - pix), ii = i + u - g.p;
    float* d = dst + (pix - pix0) * stride;
    if (ii < 0 || ii >= g.h) {
      for (int64_t t = 0; t < run; ++t) d[t * stride] = 0.0f;
    } else if (stride == 1) {
      copy_padded(d, x + ((n * g.c + c) * g.h + ii) * g.w, j + v - g.p, run, g.w);
    } else {
      const float* row = x + ((n * g.c + c) * g.h + ii) * g.w;
      for (int64_t t = 0; t < run; ++t) {
        const int64_t jj = j + t + v - g.p;
        const bool in = jj >= 0 && jj < g.w;
        d[t * stride] = in ? row[jj] : 0.0f;
        if (valid && in) valid[pix - pix0 + t] |= lane_bit;
      }
    }
    pix += run;
  }
}

// y[n] (m x HW, holding the initial values) += A (m x cin k^2, row-major) * im2col(x[n]), for all
// n. g describes x: g.c = cin input channels; g.o is ignored (m is the output channel count).
void gemm_im2col(const ConvGeom& g, int64_t m, const float* A, const float* x, float* y) {
  const int64_t K = g.c * g.k * g.k, hw = g.h * g.w, npan = (hw + kNr - 1) / kNr;
#pragma omp parallel
  {
    alignas(64) float bp[kKc * kNr];
#pragma omp for schedule(static)
    for (int64_t t = 0; t < g.n * npan; ++t) {
      const int64_t n = t / npan, pix0 = (t % npan) * kNr;
      const int cnt = int(std::min<int64_t>(kNr, hw - pix0));
      const float* xn = x + n * g.c * hw;
      for (int64_t k0 = 0; k0 < K; k0 += kKc) {
        const int kc = int(std::min<int64_t>(kKc, K - k0));
        pack_im2col<kNr>(xn, g, k0, kc, pix0, cnt, bp);
        for (int64_t m0 = 0; m0 < m; m0 += kMr)
          tile(int(std::min<int64_t>(kMr, m - m0)), A + m0 * K + k0, K, bp, kc,
               y + (n * m + m0) * hw + pix0, hw, cnt);
      }
    }
  }
}

// w'[c, (o, u', v')] = w[o, c, k-1-u', k-1-v']: dgrad is the forward conv of dy with w'.
std::vector<float> rotated_transposed(const ConvGeom& g, const float* w) {
  const int64_t kk2 = g.k * g.k;
  std::vector<float> wt(size_t(g.c * g.o * kk2));
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t o = 0; o < g.o; ++o)
      for (int64_t q = 0; q < kk2; ++q)
        wt[size_t((c * g.o + o) * kk2 + q)] = w[(o * g.c + c) * kk2 + (kk2 - 1 - q)];
  return wt;
}

}  // namespace

void conv2d_fwd_fast(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  const int64_t hw = g.h * g.w;
  if (b != nullptr) {
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < g.n * g.o; ++plane)
      std::fill(y + plane * hw, y + (plane + 1) * hw, b[plane % g.o]);
  }
  gemm_im2col(g, g.o, w, x, y);
}

void conv2d_dgrad_fast(const ConvGeom& g, const float* dy, const float* w, float* dx,
                       bool accumulate) {
  // w'[c, (o, u', v')] = w[o, c, k-1-u', k-1-v']: dx is the forward conv of dy with w', taps in
  // ascending position (the reference's dgrad order).
  const int64_t hw = g.h * g.w;
  const std::vector<float> wt = rotated_transposed(g, w);
  if (!accumulate) std::fill(dx, dx + g.n * g.c * hw, 0.0f);
  const ConvGeom gd{g.n, g.o, g.h, g.w, g.c, g.k, g.p};  // input dy has O channels
  gemm_im2col(gd, g.c, wt.data(), dy, dx);
}

void conv2d_wgrad_fast(const ConvGeom& g, const float* dy, const float* x, float* dw,
                       bool accumulate) {
  const int64_t kk2 = g.k * g.k, M = g.c * kk2, O = g.o, hw = g.h * g.w;
  const int64_t panels = (O + kNr - 1) / kNr;
  // dw^T [M, O]: the GEMM's output rows are the (c, u, v) taps, its columns the output channels.
  std::vector<float> wt(size_t(M * O), 0.0f);
  if (accumulate)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t q = 0; q < M; ++q) wt[size_t(q * O + o)] = dw[o * M + q];
  // Rows per task: a multiple of 6, enough tasks for every thread, few enough that each packed
  // dy^T block serves many rows. The split changes which thread computes an element, never the
  // order of its terms, so results do not depend on it.
  const int64_t threads = omp_get_max_threads();
  const int64_t rows = std::clamp<int64_t>((M + 4 * threads - 1) / (4 * threads), kMr, 96);
  const int64_t mg = (rows + kMr - 1) / kMr * kMr, tasks = (M + mg - 1) / mg;
#pragma omp parallel
  {
    std::vector<float> bp(size_t(panels * kKc * kNr));
    alignas(64) float ap[kMr * kKc];
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t r0 = t * mg, r1 = std::min(M, r0 + mg);
      for (int64_t n = 0; n < g.n; ++n) {
        for (int64_t pix0 = 0; pix0 < hw; pix0 += kKc) {
          const int kc = int(std::min<int64_t>(kKc, hw - pix0));
          // dy^T block: bp[panel][k][col] = dy[n, panel * 16 + col, pix0 + k].
          for (int64_t pb = 0; pb < panels; ++pb)
            for (int col = 0; col < kNr; ++col) {
              const int64_t o = pb * kNr + col;
              float* dst = bp.data() + pb * kKc * kNr + col;
              const float* src = dy + (n * O + o) * hw + pix0;
              for (int k = 0; k < kc; ++k) dst[k * kNr] = o < O ? src[k] : 0.0f;
            }
          for (int64_t m0 = r0; m0 < r1; m0 += kMr) {
            const int r = int(std::min<int64_t>(kMr, r1 - m0));
            for (int rr = 0; rr < r; ++rr)
              pack_shifted_row(x, g, n, m0 + rr, pix0, kc, ap + rr * kKc, 1);
            for (int64_t pb = 0; pb < panels; ++pb)
              tile(r, ap, kKc, bp.data() + pb * kKc * kNr, kc, wt.data() + m0 * O + pb * kNr, O,
                   int(std::min<int64_t>(kNr, O - pb * kNr)));
          }
        }
      }
    }
  }
  for (int64_t o = 0; o < O; ++o)
    for (int64_t q = 0; q < M; ++q) dw[o * M + q] = wt[size_t(q * O + o)];
}

// ---------------------------------------------------------------------------------------------
// sr binary32: the same three reductions, 64 adjacent output elements at a time. Term q of
// output element e multiplies with draw (e, 2q) and adds with draw (e, 2q + 1) (conv2d.hpp), so
// the draws of one term for 64 adjacent elements are 16 whole Philox blocks per draw index: one
// two-chain AVX2 Philox call each. Products of binary32 values are exact in binary64, and so are
// most sums; the rounding is the bit-pattern SR of mca/sr_simd.hpp. Lanes it cannot take (sums
// binary64 rounds, results outside binary32's normal range, NaN, inf) go to the scalar policy with
// the same draws. Padding terms are exact no-ops under sr (x * 0 = 0 and acc + 0 = acc are exact,
// so SR returns them unchanged, whatever the draw).
#if defined(__AVX2__)
namespace {

constexpr int kLanes = 64;  // adjacent output elements per tile
constexpr int kTerms = 64;  // terms per packed block: a 64 x 64 panel is 16 KiB

// Lane masks for _mm_blendv_ps, one per 4-bit pattern of invalid lanes.
const __m128i kInvalid[16] = {
    _mm_setr_epi32(0, 0, 0, 0),    _mm_setr_epi32(-1, 0, 0, 0),   _mm_setr_epi32(0, -1, 0, 0),
    _mm_setr_epi32(-1, -1, 0, 0),  _mm_setr_epi32(0, 0, -1, 0),   _mm_setr_epi32(-1, 0, -1, 0),
    _mm_setr_epi32(0, -1, -1, 0),  _mm_setr_epi32(-1, -1, -1, 0), _mm_setr_epi32(0, 0, 0, -1),
    _mm_setr_epi32(-1, 0, 0, -1),  _mm_setr_epi32(0, -1, 0, -1),  _mm_setr_epi32(-1, -1, 0, -1),
    _mm_setr_epi32(0, 0, -1, -1),  _mm_setr_epi32(-1, 0, -1, -1), _mm_setr_epi32(0, -1, -1, -1),
    _mm_setr_epi32(-1, -1, -1, -1)};

using mca::simd::fix_lanes;

// acc[l] = SR(SR(s[q] * panel[q][l]) + acc[l]) for q in [0, kc), l in [0, cnt): term number
// q0 + q of output elements e0 + l.
// Padding terms must leave acc untouched: x * 0 + acc is exact under sr only when acc is already
// on the t-bit grid, which an initial value (bias, accumulated gradient) need not be at t < 24.
// valid[q] has bit l set where term q of lane l is a real term.
template <bool kShiftLeft>
void sr_terms(const mca::Sr& pol, const mca::simd::SrF32& sp, const float* panel,
              const uint64_t* valid, const float* s, int kc, uint64_t q0, uint64_t e0, int cnt,
              float* acc) {
  alignas(64) uint32_t wm[kLanes + 8] = {}, wa[kLanes + 8] = {};
  const uint64_t g0 = e0 >> 2;
  const int off = int(e0 & 3), groups = (off + cnt + 3) / 4, quads = (cnt + 3) / 4;
  for (int q = 0; q < kc; ++q) {
    const uint32_t draw = uint32_t((q0 + uint64_t(q)) * mca::Sr::kFmaDraws);
    mca::philox_words32(pol.stream, g0, draw, wm, size_t(groups));
    mca::philox_words32(pol.stream, g0, draw + 1, wa, size_t(groups));
    const float sq = s[q];
    const __m256d sv = _mm256_set1_pd(double(sq));
    const float* xq = panel + kLanes * q;
    for (int l4 = 0; l4 < quads; ++l4) {
      const int l = 4 * l4;
      const __m256d xv = _mm256_cvtps_pd(_mm_loadu_ps(xq + l));
      int bad;
      __m128 prod = mca::simd::sr_f32x4<kShiftLeft>(
          sp, _mm256_mul_pd(sv, xv),
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(wm + off + l)), bad);
      bad &= int(valid[q] >> l);
      prod = fix_lanes(prod, bad, [&](int b) {
        mca::Draws d = pol.draws(e0 + uint64_t(l + b), draw);
        return pol.mul(sq, xq[l + b], d);
      });
      const __m128 old = _mm_loadu_ps(acc + l);
      const __m256d pv = _mm256_cvtps_pd(prod), av = _mm256_cvtps_pd(old);
      const __m256d sum = _mm256_add_pd(pv, av);
      __m128 res = mca::simd::sr_f32x4<kShiftLeft>(
          sp, sum, _mm_loadu_si128(reinterpret_cast<const __m128i*>(wa + off + l)), bad);
      bad |= mca::simd::inexact_sum_mask(pv, av, sum);
      const int invalid = int(~(valid[q] >> l) & 0xF);
      bad &= ~invalid;
      if (bad) {
        alignas(16) float pr[4];
        _mm_store_ps(pr, prod);
        res = fix_lanes(res, bad, [&](int b) {
          mca::Draws d = pol.draws(e0 + uint64_t(l + b), draw + 1);
          return pol.add(pr[b], acc[l + b], d);
        });
      }
      if (invalid) res = _mm_blendv_ps(res, old, _mm_castsi128_ps(kInvalid[invalid]));
      _mm_storeu_ps(acc + l, res);
    }
  }
}

// ---- the cost options of MCA.md v2 (fma fused, sr_bits = r, granularity tile:k) ---------------
// Everything a terms function needs: the policy and its rounding parameters.
struct SrCtx {
  const mca::Sr& pol;
  mca::simd::SrF32 sp;    // the exact contract's 32-bit rule
  mca::simd::SrF32R spr;  // the r-bit rule (meaningful when r < 32)
  int r;

  explicit SrCtx(const mca::Sr& p)
      : pol(p), sp(p.t32), spr(p.t32, p.sr_bits < 32 ? p.sr_bits : 52 - p.t32), r(p.sr_bits) {}
};

// One block of kc terms for cnt adjacent outputs: terms q0 .. q0 + kc - 1 of reductions with Q
// terms; acc[l] is output element e0 + l's running sum, part[l] its tile partial sum (tile paths).
using SrTerms = void (*)(const SrCtx&, const float* panel, const uint64_t* valid, const float* s,
                         int kc, uint64_t q0, uint64_t Q, uint64_t e0, int cnt, float* acc,
                         float* part);

template <bool kShiftLeft>
void sr_terms_exact(const SrCtx& c, const float* panel, const uint64_t* valid, const float* s,
                    int kc, uint64_t q0, uint64_t, uint64_t e0, int cnt, float* acc, float*) {
  sr_terms<kShiftLeft>(c.pol, c.sp, panel, valid, s, kc, q0, e0, cnt, acc);
}

inline __m128i load_u4(const uint32_t* u) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(u));
}

// Op granularity with r-bit draws (r < 32): term q of element e0 + l draws (e, 2q) for the
// multiply and (e, 2q + 1) for the add (split), or (e, 2q) for the one rounding of the exact
// w x + acc (fused). The r-bit rule handles inexact binary64 sums through TwoSum's error term, so
// only lanes outside binary32's range (and NaN, inf) go to the scalar policy.
template <bool kFused>
void sr_terms_r(const SrCtx& c, const float* panel, const uint64_t* valid, const float* s, int kc,
                uint64_t q0, uint64_t, uint64_t e0, int cnt, float* acc, float*) {
  const mca::Sr& pol = c.pol;
  alignas(64) uint32_t um[kLanes + 8] = {}, ua[kLanes + 8] = {};
  const int quads = (cnt + 3) / 4;
  for (int q = 0; q < kc; ++q) {
    const uint32_t draw = uint32_t((q0 + uint64_t(q)) * mca::Sr::kFmaDraws);
    const uint64_t vq = valid[q];
    if ((vq & bit_range(0, cnt)) == 0) continue;  // padding for every lane: acc unchanged
    if (!kFused) mca::draws_r32(pol.stream, c.r, e0, draw, um, size_t(cnt));
    mca::draws_r32(pol.stream, c.r, e0, kFused ? draw : draw + 1, ua, size_t(cnt));
    const float sq = s[q];
    const __m256d sv = _mm256_set1_pd(double(sq));
    const float* xq = panel + kLanes * q;
    for (int l4 = 0; l4 < quads; ++l4) {
      const int l = 4 * l4;
      const int invalid = int(~(vq >> l) & 0xF);
      if (invalid == 0xF) continue;
      const __m256d p = _mm256_mul_pd(sv, _mm256_cvtps_pd(_mm_loadu_ps(xq + l)));  // exact
      const __m128 old = _mm_loadu_ps(acc + l);
      const __m256d av = _mm256_cvtps_pd(old);
      __m128 res;
      int bad;
      if constexpr (kFused) {
        const __m256d sum = _mm256_add_pd(p, av);
        res =
            mca::simd::sr_round4_r(c.spr, sum, mca::simd::two_sum_err(p, av, sum), load_u4(ua + l));
        bad = mca::simd::sr_bad4(sum) & ~invalid;
        res = fix_lanes(res, bad, [&](int b) {
          mca::Draws d = pol.draws(e0 + uint64_t(l + b), draw);
          return pol.fma_fused(sq, xq[l + b], acc[l + b], d);
        });
      } else {
        __m128 prod = mca::simd::sr_round4_r(c.spr, p, _mm256_setzero_pd(), load_u4(um + l));
        prod = fix_lanes(prod, mca::simd::sr_bad4(p) & ~invalid, [&](int b) {
          mca::Draws d = pol.draws(e0 + uint64_t(l + b), draw);
          return pol.mul(sq, xq[l + b], d);
        });
        const __m256d pv = _mm256_cvtps_pd(prod);
        const __m256d sum = _mm256_add_pd(pv, av);
        res = mca::simd::sr_round4_r(c.spr, sum, mca::simd::two_sum_err(pv, av, sum),
                                     load_u4(ua + l));
        bad = mca::simd::sr_bad4(sum) & ~invalid;
        if (bad) {
          alignas(16) float pr[4];
          _mm_store_ps(pr, prod);
          res = fix_lanes(res, bad, [&](int b) {
            mca::Draws d = pol.draws(e0 + uint64_t(l + b), draw + 1);
            return pol.add(pr[b], acc[l + b], d);
          });
        }
      }
      if (invalid) res = _mm_blendv_ps(res, old, _mm_castsi128_ps(kInvalid[invalid]));
      _mm_storeu_ps(acc + l, res);
    }
  }
}

// acc[l] = SR(acc[l] + part[l]) for tile j of elements e0 + l (draws (e, j kFmaDraws)), then
// part = +0. The sum of two binary32 values: exact in binary64 unless their exponents are far
// apart (the 32-bit rule sends those lanes to the scalar policy; the r-bit rule takes them).
//
// The 32-bit rule first takes a lean pass over the whole groups of eight lanes (as the batched sr
// add of mca/batch.cpp does): no per-lane bookkeeping, every check folded into one mask, and the
// results kept only if no lane needs more. A lane needs more where binary64 may not hold acc +
// part exactly (exponent fields more than 28 apart, neither operand zero; a subnormal's field 0
// only overstates the distance), or where the exact sum is neither zero nor in binary32's normal
// range (NaN and inf included): the range the pattern rounding takes. Then the per-lane path
// below runs from the start.
template <bool kShiftLeft>
bool flush_lean(const mca::simd::SrF32& p, const float* acc, const float* part, const uint32_t* u,
                int n8, float* out) {
  const __m256i exp_mask = _mm256_set1_epi32(0x7F800000), abs_mask = _mm256_set1_epi32(0x7FFFFFFF);
  const __m256i max_dist = _mm256_set1_epi32(28 << 23);
  const __m256i lo_normal = _mm256_set1_epi32(0x00800000 - 1);  // results above are >= 2^-126
  const __m256i max_finite = _mm256_set1_epi32(0x7F7FFFFF);
  const __m256 zero = _mm256_setzero_ps();
  __m256i bad = _mm256_setzero_si256();
  for (int l = 0; l < n8; l += 8) {
    const __m256 a = _mm256_loadu_ps(acc + l), b = _mm256_loadu_ps(part + l);
    const __m256d s0 = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a)),
                                     _mm256_cvtps_pd(_mm256_castps256_ps128(b)));
    const __m256d s1 = _mm256_add_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)),
                                     _mm256_cvtps_pd(_mm256_extractf128_ps(b, 1)));
    const __m256i v0 = mca::simd::sr_draws<kShiftLeft>(p, load_u4(u + l));
    const __m256i v1 = mca::simd::sr_draws<kShiftLeft>(p, load_u4(u + l + 4));
    const __m256 r =
        _mm256_set_m128(mca::simd::sr_round4(p, s1, v1), mca::simd::sr_round4(p, s0, v0));
    _mm256_storeu_ps(out + l, r);
    const __m256i ai = _mm256_castps_si256(a), bi = _mm256_castps_si256(b);
    const __m256i dist = _mm256_abs_epi32(
        _mm256_sub_epi32(_mm256_and_si256(ai, exp_mask), _mm256_and_si256(bi, exp_mask)));
    const __m256 has_zero =
        _mm256_or_ps(_mm256_cmp_ps(a, zero, _CMP_EQ_OQ), _mm256_cmp_ps(b, zero, _CMP_EQ_OQ));
    bad = _mm256_or_si256(bad, _mm256_andnot_si256(_mm256_castps_si256(has_zero),
                                                   _mm256_cmpgt_epi32(dist, max_dist)));
    // The range of the exact sum s, read from its binary32 rounding f: both operands are
    // multiples of 2^-149, so s < 2^-126 is itself a binary32 value (f = s), and RN is monotonic:
    // |f| >= 2^-126 iff |s| >= 2^-126; f = 0 iff s = 0; NaN and inf operands give NaN or inf.
    const __m256 f = _mm256_add_ps(a, b);
    const __m256i fm = _mm256_and_si256(_mm256_castps_si256(f), abs_mask);
    const __m256i normal =
        _mm256_andnot_si256(_mm256_cmpgt_epi32(fm, max_finite), _mm256_cmpgt_epi32(fm, lo_normal));
    const __m256i ok =
        _mm256_or_si256(normal, _mm256_castps_si256(_mm256_cmp_ps(f, zero, _CMP_EQ_OQ)));
    bad = _mm256_or_si256(bad, _mm256_xor_si256(ok, _mm256_set1_epi32(-1)));
  }
  return _mm256_testz_si256(bad, bad);
}

template <bool kR32>
void tile_flush(const SrCtx& c, uint64_t j, uint64_t e0, int cnt, float* acc, float* part) {
  const mca::Sr& pol = c.pol;
  const uint32_t draw = uint32_t(j * mca::Sr::kFmaDraws);
  alignas(64) uint32_t u[kLanes + 8] = {};
  mca::draws_r32(pol.stream, c.r, e0, draw, u, size_t(cnt));
  int from = 0;  // the first lane the per-lane path takes
  if constexpr (kR32) {
    alignas(64) float res[kLanes];
    const int n8 = cnt & ~7;
    const bool ok = c.sp.shift_left ? flush_lean<true>(c.sp, acc, part, u, n8, res)
                                    : flush_lean<false>(c.sp, acc, part, u, n8, res);
    if (ok) {
      std::memcpy(acc, res, sizeof(float) * size_t(n8));
      from = n8;
    }
  }
  const int quads = (cnt + 3) / 4;
  for (int l4 = from / 4; l4 < quads; ++l4) {
    const int l = 4 * l4;
    const __m256d av = _mm256_cvtps_pd(_mm_loadu_ps(acc + l));
    const __m256d pv = _mm256_cvtps_pd(_mm_loadu_ps(part + l));
    const __m256d sum = _mm256_add_pd(av, pv);
    __m128 res;
    int bad;
    if constexpr (kR32) {
      res = c.sp.shift_left ? mca::simd::sr_f32x4<true>(c.sp, sum, load_u4(u + l), bad)
                            : mca::simd::sr_f32x4<false>(c.sp, sum, load_u4(u + l), bad);
      bad |= mca::simd::inexact_sum_mask(av, pv, sum);
    } else {
      res = mca::simd::sr_round4_r(c.spr, sum, mca::simd::two_sum_err(av, pv, sum), load_u4(u + l));
      bad = mca::simd::sr_bad4(sum);
    }
    bad &= int(bit_range(0, cnt - l) & 0xF);
    res = fix_lanes(res, bad, [&](int b) {
      mca::Draws d = pol.draws(e0 + uint64_t(l + b), draw);
      return pol.add(acc[l + b], part[l + b], d);
    });
    _mm_storeu_ps(acc + l, res);
  }
  std::fill(part, part + kLanes, 0.0f);
}

// granularity tile:k: part += s[q] * panel[q] in round to nearest for all 64 lanes (padding
// lanes hold 0 and leave a +0-started partial unchanged), a flush at every tile end and at the
// reduction's last term (kernels/conv2d_impl.hpp's ConvTiles, bit for bit).
template <bool kR32, bool kFused>
void sr_terms_tile(const SrCtx& c, const float* panel, const uint64_t* valid, const float* s,
                   int kc, uint64_t q0, uint64_t Q, uint64_t e0, int cnt, float* acc, float* part) {
  const uint64_t tile = uint64_t(c.pol.tile);
  uint64_t next = (q0 / tile + 1) * tile;  // the end of the tile term q0 lies in
  if (next > Q) next = Q;
  __m256 pv[kLanes / 8];
  for (int i = 0; i < kLanes / 8; ++i) pv[i] = _mm256_loadu_ps(part + 8 * i);
  for (int q = 0; q < kc; ++q) {
    const __m256 sv = _mm256_set1_ps(s[q]);
    const float* xq = panel + kLanes * q;
    if (!std::isfinite(s[q])) [[unlikely]] {
      // inf or NaN times a padding zero would be NaN where the reference skips the term: mask the
      // padding lanes (valid[q]) for this term.
      const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
      for (int i = 0; i < kLanes / 8; ++i) {
        const __m256i v8 = _mm256_set1_epi32(int((valid[q] >> (8 * i)) & 0xFF));
        const __m256 real = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(v8, bit), bit));
        const __m256 xv = _mm256_loadu_ps(xq + 8 * i);
        const __m256 upd =
            kFused ? _mm256_fmadd_ps(sv, xv, pv[i]) : _mm256_add_ps(pv[i], _mm256_mul_ps(sv, xv));
        pv[i] = _mm256_blendv_ps(pv[i], upd, real);
      }
    } else {
#pragma GCC unroll 8
      for (int i = 0; i < kLanes / 8; ++i) {
        const __m256 xv = _mm256_loadu_ps(xq + 8 * i);
        if constexpr (kFused) {
          pv[i] = _mm256_fmadd_ps(sv, xv, pv[i]);
        } else {
          pv[i] = _mm256_add_ps(pv[i], _mm256_mul_ps(sv, xv));
        }
      }
    }
    const uint64_t pos = q0 + uint64_t(q);
    if (pos + 1 == next) {
      for (int i = 0; i < kLanes / 8; ++i) _mm256_storeu_ps(part + 8 * i, pv[i]);
      tile_flush<kR32>(c, pos / tile, e0, cnt, acc, part);
      for (int i = 0; i < kLanes / 8; ++i) pv[i] = _mm256_setzero_ps();
      next = next + tile > Q ? Q : next + tile;
    }
  }
  for (int i = 0; i < kLanes / 8; ++i) _mm256_storeu_ps(part + 8 * i, pv[i]);
}

// The terms function for a policy, or nullptr where the fast path has none (the reference runs).
SrTerms sr_terms_for(const mca::Sr& pol) {
  const bool r_ok = pol.sr_bits < 32 && mca::simd::SrF32R::applies(pol.t32, pol.sr_bits);
  if (pol.stream.rounds != 10 && pol.stream.rounds != 7) return nullptr;
  if (pol.tile > 1) {
#if !defined(__FMA__)
    if (pol.fused) return nullptr;
#endif
    if (pol.sr_bits == 32)
      return pol.fused ? &sr_terms_tile<true, true> : &sr_terms_tile<true, false>;
    if (r_ok) return pol.fused ? &sr_terms_tile<false, true> : &sr_terms_tile<false, false>;
    return nullptr;
  }
  if (pol.sr_bits == 32) {
    if (pol.fused) return nullptr;
    return 53 - pol.t32 <= 32 ? &sr_terms_exact<true> : &sr_terms_exact<false>;
  }
  if (r_ok) return pol.fused ? &sr_terms_r<true> : &sr_terms_r<false>;
  return nullptr;
}

// y[n] (m x HW, holding the initial values) = sr conv with A (m x cin k^2) over im2col(x[n]).
void sr_im2col(const mca::Sr& pol, const ConvGeom& g, int64_t m, const float* A, const float* x,
               float* y) {
  const SrCtx ctx(pol);
  const SrTerms terms = sr_terms_for(pol);
  const bool avx512 = sr512::available(pol);
  const int64_t K = g.c * g.k * g.k, hw = g.h * g.w, tiles = (hw + kLanes - 1) / kLanes;
#pragma omp parallel
  {
    alignas(64) float panel[kTerms * kLanes];
    uint64_t valid[kTerms];
    alignas(64) float acc[kLanes] = {};
    std::vector<float> parts(pol.tile > 1 ? size_t(m * kLanes) : 0);
    std::unique_ptr<sr512::Panel> wide(avx512 ? new sr512::Panel : nullptr);
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < g.n * tiles; ++t) {
      const int64_t n = t / tiles, pix0 = (t % tiles) * kLanes;
      const int cnt = int(std::min<int64_t>(kLanes, hw - pix0));
      std::fill(parts.begin(), parts.end(), 0.0f);
      for (int64_t k0 = 0; k0 < K; k0 += kTerms) {
        const int kc = int(std::min<int64_t>(kTerms, K - k0));
        pack_im2col<kLanes>(x + n * g.c * hw, g, k0, kc, pix0, cnt, panel, valid);
        if (wide) sr512::prepare(pol, panel, valid, kc, *wide);
        for (int64_t o = 0; o < m;) {
          // the AVX-512 kernel takes four rows at a time under tile:k, one at op granularity
          const int rows = int(std::min<int64_t>(wide && pol.tile > 1 ? 4 : 1, m - o));
          const uint64_t e0 = uint64_t((n * m + o) * hw + pix0);
          float* out = y + (n * m + o) * hw + pix0;
          if (wide && (pol.tile > 1 ? sr512::tile_terms(pol, *wide, rows, A + o * K + k0, K,
                                                        uint64_t(k0), uint64_t(K), e0, uint64_t(hw),
                                                        cnt, out, hw, parts.data() + o * kLanes)
                                    : sr512::terms(pol, *wide, A + o * K + k0, uint64_t(k0), e0,
                                                   cnt, out))) {
            o += rows;
            continue;
          }
          for (int r = 0; r < rows; ++r, ++o) {
            float* row = y + (n * m + o) * hw + pix0;
            std::memcpy(acc, row, sizeof(float) * size_t(cnt));
            terms(ctx, panel, valid, A + o * K + k0, kc, uint64_t(k0), uint64_t(K),
                  uint64_t((n * m + o) * hw + pix0), cnt, acc,
                  parts.empty() ? nullptr : parts.data() + o * kLanes);
            std::memcpy(row, acc, sizeof(float) * size_t(cnt));
          }
        }
      }
    }
  }
}

}  // namespace

bool conv2d_sr_fast_available(const mca::Sr& pol) {
  return sr_terms_for(pol) != nullptr;
}

void conv2d_fwd_sr(const mca::Sr& pol, const ConvGeom& g, const float* x, const float* w,
                   const float* b, float* y) {
  const int64_t hw = g.h * g.w;
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < g.n * g.o; ++plane)
    std::fill(y + plane * hw, y + (plane + 1) * hw, b[plane % g.o]);
  sr_im2col(pol, g, g.o, w, x, y);
}

void conv2d_dgrad_sr(const mca::Sr& pol, const ConvGeom& g, const float* dy, const float* w,
                     float* dx, bool accumulate) {
  const std::vector<float> wt = rotated_transposed(g, w);
  if (!accumulate) std::fill(dx, dx + g.n * g.c * g.h * g.w, 0.0f);
  const ConvGeom gd{g.n, g.o, g.h, g.w, g.c, g.k, g.p};
  sr_im2col(pol, gd, g.c, wt.data(), dy, dx);
}

void conv2d_wgrad_sr(const mca::Sr& pol, const ConvGeom& g, const float* dy, const float* x,
                     float* dw, bool accumulate) {
  const SrCtx ctx(pol);
  const SrTerms terms = sr_terms_for(pol);
  const bool avx512 = sr512::available(pol);
  const int64_t M = g.c * g.k * g.k, O = g.o, hw = g.h * g.w;
  const uint64_t Q = uint64_t(g.n * hw);
  constexpr int64_t kOGroup = 16;  // output channels per task: each packed panel serves 16
  const int64_t mtiles = (M + kLanes - 1) / kLanes, ogroups = (O + kOGroup - 1) / kOGroup;
  if (!accumulate) std::fill(dw, dw + O * M, 0.0f);
#pragma omp parallel
  {
    alignas(64) float panel[kTerms * kLanes] = {};
    uint64_t valid[kTerms];
    alignas(64) float acc[kOGroup][kLanes] = {};
    alignas(64) float parts[kOGroup][kLanes] = {};
    std::unique_ptr<sr512::Panel> wide(avx512 ? new sr512::Panel : nullptr);
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < mtiles * ogroups; ++t) {
      const int64_t m0 = (t / ogroups) * kLanes, o0 = (t % ogroups) * kOGroup;
      const int cnt = int(std::min<int64_t>(kLanes, M - m0));
      const int64_t o1 = std::min(O, o0 + kOGroup);
      for (int64_t o = o0; o < o1; ++o) {
        std::memcpy(acc[o - o0], dw + o * M + m0, sizeof(float) * size_t(cnt));
        std::fill(parts[o - o0], parts[o - o0] + kLanes, 0.0f);
      }
      // Lanes past cnt are never stored; zero them so the tile paths compute on zeros there.
      if (cnt < kLanes)
        for (int q = 0; q < kTerms; ++q)
          std::fill(panel + q * kLanes + cnt, panel + (q + 1) * kLanes, 0.0f);
      for (int64_t n = 0; n < g.n; ++n)
        for (int64_t pix0 = 0; pix0 < hw; pix0 += kTerms) {
          const int kc = int(std::min<int64_t>(kTerms, hw - pix0));
          // panel[pixel][lane] = x[n, c, i + u - p, j + v - p] for lane's tap (c, u, v).
          std::fill(valid, valid + kc, uint64_t(0));
          for (int l = 0; l < cnt; ++l)
            pack_shifted_row(x, g, n, m0 + l, pix0, kc, panel + l, kLanes, valid, uint64_t(1) << l);
          if (wide) sr512::prepare(pol, panel, valid, kc, *wide);
          const uint64_t q0 = uint64_t(n * hw + pix0);
          for (int64_t o = o0; o < o1;) {
            const int rows = int(std::min<int64_t>(wide && pol.tile > 1 ? 4 : 1, o1 - o));
            const float* s = dy + (n * O + o) * hw + pix0;
            const uint64_t e0 = uint64_t(o * M + m0);
            if (wide &&
                (pol.tile > 1 ? sr512::tile_terms(pol, *wide, rows, s, hw, q0, Q, e0, uint64_t(M),
                                                  cnt, acc[o - o0], kLanes, parts[o - o0])
                              : sr512::terms(pol, *wide, s, q0, e0, cnt, acc[o - o0]))) {
              o += rows;
              continue;
            }
            for (int r = 0; r < rows; ++r, ++o)
              terms(ctx, panel, valid, dy + (n * O + o) * hw + pix0, kc, q0, Q,
                    uint64_t(o * M + m0), cnt, acc[o - o0], parts[o - o0]);
          }
        }
      for (int64_t o = o0; o < o1; ++o)
        std::memcpy(dw + o * M + m0, acc[o - o0], sizeof(float) * size_t(cnt));
    }
  }
}

#else  // no AVX2: the reference runs instead

bool conv2d_sr_fast_available(const mca::Sr&) {
  return false;
}
void conv2d_fwd_sr(const mca::Sr&, const ConvGeom&, const float*, const float*, const float*,
                   float*) {}
void conv2d_dgrad_sr(const mca::Sr&, const ConvGeom&, const float*, const float*, float*, bool) {}
void conv2d_wgrad_sr(const mca::Sr&, const ConvGeom&, const float*, const float*, float*, bool) {}

#endif

}  // namespace numens::kernels::detail
