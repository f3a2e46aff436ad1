// Deterministic parallel sums: the range is cut into fixed chunks of kReduceChunk terms (never
// into one chunk per thread), each chunk is summed in index order, then the partial sums are
// added in chunk order. The result depends only on the data and the policy's stream, not on the
// thread count. Draws: chunk c uses element element0 + c, the final sum element0 + n_chunks, so a
// kernel places its reductions in its own element range (reduce_elements() long) after the
// elements of its per-element outputs.
#pragma once

#include <cstdint>
#include <vector>

#include "mca/policy.hpp"

namespace numens::kernels {

inline constexpr int64_t kReduceChunk = 4096;

// sum over i in [0, n) of term(i, draws) where term returns the i-th summand (and may perform
// perturbed operations with the chunk's draws, e.g. a product).
// Number of draw elements chunked_sum uses for n terms.
inline uint64_t reduce_elements(int64_t n) { return uint64_t((n + kReduceChunk - 1) / kReduceChunk) + 1; }

template <class T, class P, class Term>
T chunked_sum(const P& pol, uint64_t element0, int64_t n, Term&& term) {
  const int64_t chunks = (n + kReduceChunk - 1) / kReduceChunk;
  std::vector<T> partial(size_t(chunks > 0 ? chunks : 0));
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    mca::Draws d = pol.draws(element0 + uint64_t(c));
    const int64_t i0 = c * kReduceChunk, i1 = std::min(n, i0 + kReduceChunk);
    T acc = T(0);
    for (int64_t i = i0; i < i1; ++i) acc = pol.add(acc, term(i, d), d);
    partial[size_t(c)] = acc;
  }
  mca::Draws d = pol.draws(element0 + uint64_t(chunks));
  T total = T(0);
  for (int64_t c = 0; c < chunks; ++c) total = pol.add(total, partial[size_t(c)], d);
  return total;
}

}  // namespace numens::kernels
