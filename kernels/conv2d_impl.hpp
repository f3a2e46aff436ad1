// The one definition of each conv2d output element, host and device: the CPU loop and the CUDA
// kernel both call these, so a perturbed result is bitwise the same on either backend (the
// reduction order of conv2d.hpp is written here and nowhere else).
#pragma once

#include <cstdint>

#include "mca/accumulate.hpp"
#include "mca/policy.hpp"

namespace numens::kernels::detail {

struct ConvGeom {
  int64_t n, c, h, w, o, k, p;
};

// granularity = tile:k (MCA.md v2) for the conv reductions, counted by term position q (padding
// terms included, as for the draws): the terms of positions [j k, (j + 1) k) are accumulated with
// round to nearest into a partial sum that starts at +0 (mca/accumulate.hpp's tile_fma), then
// added to the running sum with one perturbed add whose draws are tile j's: [j kFmaDraws,
// (j + 1) kFmaDraws). Every tile adds its partial sum, also a tile of padding only (+0), so a
// SIMD path that computes padding terms as w * 0 (which leaves a +0-started partial unchanged)
// meets the same operations and the same draws.
template <class P, class T>
struct ConvTiles {
  const P& pol;
  mca::Draws& d;
  T acc;
  T part = T(0);
  int cnt = 0;     // positions in the current tile
  uint32_t j = 0;  // the current tile

  NUMENS_HD NUMENS_INLINE void term(bool real, T a, T b) {
    if (real) part = mca::tile_fma(pol.fused, a, b, part);
    if (++cnt == pol.tile) flush();
  }
  // n positions of padding in a row.
  NUMENS_HD NUMENS_INLINE void skip(int64_t n) {
    for (int64_t i = 0; i < n; ++i)
      if (++cnt == pol.tile) flush();
  }
  NUMENS_HD NUMENS_INLINE void flush() {
    d.next = j * P::kFmaDraws;
    acc = pol.add(acc, part, d);
    part = T(0);
    cnt = 0;
    ++j;
  }
  NUMENS_HD NUMENS_INLINE T result() {
    if (cnt > 0) flush();
    return acc;
  }
};

// y[out], out = ((n O + o) H + i) W + j
template <class P, class T>
NUMENS_HD inline T conv2d_fwd_element(const P& pol, const ConvGeom& g, const T* x, const T* w,
                                      const T* b, int64_t out) {
  const int64_t j = out % g.w, i = (out / g.w) % g.h, o = (out / (g.w * g.h)) % g.o,
                n = out / (g.w * g.h * g.o);
  mca::Draws d = pol.draws(uint64_t(out));
  T acc = b[o];
  if constexpr (P::perturbed) {
    if (pol.tile > 1) {
      ConvTiles<P, T> ts{pol, d, acc};
      for (int64_t c = 0; c < g.c; ++c) {
        const T* xc = x + (n * g.c + c) * g.h * g.w;
        const T* wc = w + (o * g.c + c) * g.k * g.k;
        for (int64_t u = 0; u < g.k; ++u) {
          const int64_t ii = i + u - g.p;
          for (int64_t v = 0; v < g.k; ++v) {
            const int64_t jj = j + v - g.p;
            const bool real = ii >= 0 && ii < g.h && jj >= 0 && jj < g.w;
            ts.term(real, wc[u * g.k + v], real ? xc[ii * g.w + jj] : T(0));
          }
        }
      }
      return ts.result();
    }
  }
  for (int64_t c = 0; c < g.c; ++c) {
    const T* xc = x + (n * g.c + c) * g.h * g.w;
    const T* wc = w + (o * g.c + c) * g.k * g.k;
    for (int64_t u = 0; u < g.k; ++u) {
      const int64_t ii = i + u - g.p;
      if (ii < 0 || ii >= g.h) continue;
      for (int64_t v = 0; v < g.k; ++v) {
        const int64_t jj = j + v - g.p;
        if (jj < 0 || jj >= g.w) continue;
        d.next = uint32_t(((c * g.k + u) * g.k + v) * P::kFmaDraws);
        acc = pol.fma(wc[u * g.k + v], xc[ii * g.w + jj], acc, d);
      }
    }
  }
  return acc;
}

// dx[out], out = ((n C + c) H + i) W + j; `acc` is 0 (overwrite) or the current dx (accumulate).
template <class P, class T>
NUMENS_HD inline T conv2d_dgrad_element(const P& pol, const ConvGeom& g, const T* dy, const T* w,
                                        T acc, int64_t out) {
  const int64_t j = out % g.w, i = (out / g.w) % g.h, c = (out / (g.w * g.h)) % g.c,
                n = out / (g.w * g.h * g.c);
  mca::Draws d = pol.draws(uint64_t(out));
  if constexpr (P::perturbed) {
    if (pol.tile > 1) {
      ConvTiles<P, T> ts{pol, d, acc};
      for (int64_t o = 0; o < g.o; ++o) {
        const T* dyo = dy + (n * g.o + o) * g.h * g.w;
        const T* wo = w + (o * g.c + c) * g.k * g.k;
        for (int64_t u = 0; u < g.k; ++u) {
          const int64_t ii = i + u - g.p;
          for (int64_t v = 0; v < g.k; ++v) {
            const int64_t jj = j + v - g.p;
            const bool real = ii >= 0 && ii < g.h && jj >= 0 && jj < g.w;
            ts.term(real, wo[(g.k - 1 - u) * g.k + (g.k - 1 - v)],
                    real ? dyo[ii * g.w + jj] : T(0));
          }
        }
      }
      return ts.result();
    }
  }
  for (int64_t o = 0; o < g.o; ++o) {
    const T* dyo = dy + (n * g.o + o) * g.h * g.w;
    const T* wo = w + (o * g.c + c) * g.k * g.k;
    // Taps in ascending position (ii = i + u' - p) meet the kernel rotated by 180 degrees: dgrad
    // is the forward conv of dy with w transposed and rotated, term for term.
    for (int64_t u = 0; u < g.k; ++u) {
      const int64_t ii = i + u - g.p;
      if (ii < 0 || ii >= g.h) continue;
      for (int64_t v = 0; v < g.k; ++v) {
        const int64_t jj = j + v - g.p;
        if (jj < 0 || jj >= g.w) continue;
        d.next = uint32_t(((o * g.k + u) * g.k + v) * P::kFmaDraws);
        acc = pol.fma(wo[(g.k - 1 - u) * g.k + (g.k - 1 - v)], dyo[ii * g.w + jj], acc, d);
      }
    }
  }
  return acc;
}

// dw[out], out = ((o C + c) k + u) k + v
template <class P, class T>
NUMENS_HD inline T conv2d_wgrad_element(const P& pol, const ConvGeom& g, const T* dy, const T* x,
                                        T acc, int64_t out) {
  const int64_t v = out % g.k, u = (out / g.k) % g.k, c = (out / (g.k * g.k)) % g.c,
                o = out / (g.k * g.k * g.c);
  mca::Draws d = pol.draws(uint64_t(out));
  // Output rows/columns whose input tap (i + u - p, j + v - p) is inside the image.
  const int64_t i0 = g.p - u > 0 ? g.p - u : 0, i1 = g.h + g.p - u < g.h ? g.h + g.p - u : g.h;
  const int64_t j0 = g.p - v > 0 ? g.p - v : 0, j1 = g.w + g.p - v < g.w ? g.w + g.p - v : g.w;
  if constexpr (P::perturbed) {
    if (pol.tile > 1) {
      ConvTiles<P, T> ts{pol, d, acc};
      for (int64_t n = 0; n < g.n; ++n) {
        const T* dyo = dy + (n * g.o + o) * g.h * g.w;
        const T* xc = x + (n * g.c + c) * g.h * g.w;
        for (int64_t i = 0; i < g.h; ++i) {
          if (i < i0 || i >= i1) {
            ts.skip(g.w);
            continue;
          }
          ts.skip(j0);
          for (int64_t j = j0; j < j1; ++j)
            ts.term(true, dyo[i * g.w + j], xc[(i + u - g.p) * g.w + (j + v - g.p)]);
          ts.skip(g.w - j1);
        }
      }
      return ts.result();
    }
  }
  for (int64_t n = 0; n < g.n; ++n) {
    const T* dyo = dy + (n * g.o + o) * g.h * g.w;
    const T* xc = x + (n * g.c + c) * g.h * g.w;
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = j0; j < j1; ++j) {
        d.next = uint32_t(((n * g.h + i) * g.w + j) * P::kFmaDraws);
        acc = pol.fma(dyo[i * g.w + j], xc[(i + u - g.p) * g.w + (j + v - g.p)], acc, d);
      }
  }
  return acc;
}

// db[o]: dy has shape [N, O, H, W] (g.c unused).
template <class P, class T>
NUMENS_HD inline T conv2d_bgrad_element(const P& pol, const ConvGeom& g, const T* dy, T acc,
                                        int64_t o) {
  mca::Draws d = pol.draws(uint64_t(o));
  const int64_t plane = g.h * g.w;
  mca::Accumulator<P, T> sum(acc);
  for (int64_t n = 0; n < g.n; ++n) {
    const T* dyo = dy + (n * g.o + o) * plane;
    for (int64_t q = 0; q < plane; ++q) sum.add(pol, dyo[q], d);
  }
  return sum.result(pol, d);
}

}  // namespace numens::kernels::detail
