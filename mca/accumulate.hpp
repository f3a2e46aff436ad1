// A reduction's running sum under the policy's granularity (MCA.md v2, `granularity`).
//
//   op (tile = 1)  every term is a perturbed operation: acc = add(acc, term), or fma(a, b, acc)
//                  (split or fused as the policy says); the exact contract.
//   tile:k         each run of k consecutive terms is accumulated with round to nearest into a
//                  partial sum that starts at +0 (products rounded to nearest too: a * b then +,
//                  or one fused multiply-add with fma = fused), and each partial sum is added to
//                  the running sum with one perturbed add, also after a last, shorter run.
//
// Terms are counted by calls, so this is for reductions whose every index is a real term (batch
// statistics, sums over classes, chunked sums). The conv kernels count by term position instead
// (padding included) and write the same rule out themselves (kernels/conv2d_impl.hpp). A partial
// sum that starts at +0 stays +0 through zero terms (+0 + -0 = +0): padding terms computed as
// w * 0 leave it unchanged, which is what lets SIMD paths match the reference bit for bit.
// Draws: a perturbed add takes its draws from the cursor in order, as the op-level code does.
#pragma once

#include <cmath>

#include "mca/policy.hpp"

namespace numens::mca {

// One rounded-to-nearest step of a tile's partial sum: part + a * b, split or fused. Kernels that
// vectorise a tile must use the same arithmetic (no contraction unless fused).
template <class T>
NUMENS_HD NUMENS_INLINE T tile_fma(bool fused, T a, T b, T part) {
  if (fused) {
    if constexpr (sizeof(T) == sizeof(float)) {
      return ::fmaf(a, b, part);
    } else {
      return ::fma(a, b, part);
    }
  }
  return part + a * b;
}

template <class P, class T>
struct Accumulator {
  T acc;
  T part = T(0);
  int n = 0;  // terms in the current tile

  NUMENS_HD explicit Accumulator(T init) : acc(init) {}

  // acc += term
  NUMENS_HD NUMENS_INLINE void add(const P& pol, T term, Draws& d) {
    if (!P::perturbed || pol.tile <= 1) {
      acc = pol.add(acc, term, d);
      return;
    }
    part = part + term;
    if (++n == pol.tile) flush(pol, d);
  }
  // acc += a * b
  NUMENS_HD NUMENS_INLINE void fma(const P& pol, T a, T b, Draws& d) {
    if (!P::perturbed || pol.tile <= 1) {
      acc = pol.fma(a, b, acc, d);
      return;
    }
    part = tile_fma(pol.fused, a, b, part);
    if (++n == pol.tile) flush(pol, d);
  }
  NUMENS_HD NUMENS_INLINE void flush(const P& pol, Draws& d) {
    if (n == 0) return;
    acc = pol.add(acc, part, d);
    part = T(0);
    n = 0;
  }
  // The sum, with the last partial tile added.
  NUMENS_HD NUMENS_INLINE T result(const P& pol, Draws& d) {
    flush(pol, d);
    return acc;
  }
};

}  // namespace numens::mca
