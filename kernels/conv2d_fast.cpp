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
#include <cstring>
#include <vector>

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

// dst[0, len) = row[from, from + len) with zeros where the index leaves [0, width).
inline void copy_padded(float* dst, const float* row, int64_t from, int64_t len, int64_t width) {
  const int64_t lo = std::clamp<int64_t>(-from, 0, len);
  const int64_t hi = std::clamp<int64_t>(width - from, lo, len);
  std::fill(dst, dst + lo, 0.0f);
  if (hi > lo) std::memcpy(dst + lo, row + from + lo, sizeof(float) * size_t(hi - lo));
  std::fill(dst + hi, dst + len, 0.0f);
}

// Packs im2col(x_n)[k0 .. k0 + kc, pix0 .. pix0 + 16) as [k][16]; pixels past `cnt` are zero.
// x_n is one image [cin, H, W]; a reduction index q is (c, u, v) = (q / k^2, q / k % k, q % k).
void pack_im2col(const float* xn, const ConvGeom& g, int64_t k0, int kc, int64_t pix0, int cnt,
                 float* bp) {
  const int64_t kk2 = g.k * g.k, i = pix0 / g.w, j0 = pix0 % g.w;
  const bool one_row = j0 + cnt <= g.w;
  int64_t c = k0 / kk2, u = (k0 / g.k) % g.k, v = k0 % g.k;
  for (int q = 0; q < kc; ++q) {
    float* dst = bp + kNr * q;
    if (one_row) {
      const int64_t ii = i + u - g.p;
      if (ii < 0 || ii >= g.h) {
        std::fill(dst, dst + kNr, 0.0f);
      } else {
        copy_padded(dst, xn + (c * g.h + ii) * g.w, j0 + v - g.p, cnt, g.w);
        std::fill(dst + cnt, dst + kNr, 0.0f);
      }
    } else {
      for (int col = 0; col < kNr; ++col) {
        const int64_t pix = pix0 + col, ii = pix / g.w + u - g.p, jj = pix % g.w + v - g.p;
        const bool in = col < cnt && ii >= 0 && ii < g.h && jj >= 0 && jj < g.w;
        dst[col] = in ? xn[(c * g.h + ii) * g.w + jj] : 0.0f;
      }
    }
    if (++v == g.k) {
      v = 0;
      if (++u == g.k) u = 0, ++c;
    }
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
        pack_im2col(xn, g, k0, kc, pix0, cnt, bp);
        for (int64_t m0 = 0; m0 < m; m0 += kMr)
          tile(int(std::min<int64_t>(kMr, m - m0)), A + m0 * K + k0, K, bp, kc,
               y + (n * m + m0) * hw + pix0, hw, cnt);
      }
    }
  }
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
  const int64_t kk2 = g.k * g.k, hw = g.h * g.w;
  std::vector<float> wt(size_t(g.c * g.o * kk2));
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t o = 0; o < g.o; ++o)
      for (int64_t q = 0; q < kk2; ++q)
        wt[size_t((c * g.o + o) * kk2 + q)] = w[(o * g.c + c) * kk2 + (kk2 - 1 - q)];
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
            // Row q of A over this block: x[n, c, i + u - p, j + v - p] at each pixel (i, j).
            for (int rr = 0; rr < r; ++rr) {
              const int64_t q = m0 + rr, c = q / kk2, u = (q / g.k) % g.k, v = q % g.k;
              float* dst = ap + rr * kKc;
              for (int64_t pix = pix0; pix < pix0 + kc;) {
                const int64_t i = pix / g.w, j = pix % g.w;
                const int64_t len = std::min(g.w - j, pix0 + kc - pix), ii = i + u - g.p;
                if (ii < 0 || ii >= g.h)
                  std::fill(dst + (pix - pix0), dst + (pix - pix0) + len, 0.0f);
                else
                  copy_padded(dst + (pix - pix0), x + ((n * g.c + c) * g.h + ii) * g.w, j + v - g.p,
                              len, g.w);
                pix += len;
              }
            }
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

}  // namespace numens::kernels::detail
