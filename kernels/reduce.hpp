// Deterministic parallel sums: the range is cut into fixed chunks of kReduceChunk terms (never
// into one chunk per thread), each chunk is summed in index order, then the partial sums are
// added in chunk order. The result depends only on the data and the policy's stream, not on the
// thread count or the device. Draws: chunk c uses element element0 + c, the final sum
// element0 + n_chunks, so a kernel places its reductions in its own element range
// (reduce_elements() long) after the elements of its per-element outputs.
#pragma once

#include <cstdint>
#include <vector>

#include "mca/accumulate.hpp"
#include "mca/policy.hpp"

namespace numens::kernels {

inline constexpr int64_t kReduceChunk = 4096;

inline int64_t reduce_chunks(int64_t n) {
  return (n + kReduceChunk - 1) / kReduceChunk;
}
// Number of draw elements a chunked sum of n terms uses.
inline uint64_t reduce_elements(int64_t n) {
  return uint64_t(reduce_chunks(n)) + 1;
}

namespace detail {

// The partial sum of chunk c: a functor so the same code runs per chunk on the CPU and per
// CUDA thread on the GPU. term(i, draws) returns the i-th summand (and may perform perturbed
// operations with the chunk's draws, e.g. a product).
template <class P, class T, class Term>
struct ChunkPartial {
  P pol;
  uint64_t element0;
  int64_t n;
  Term term;
  T* partial;
  NUMENS_HD void operator()(int64_t c) const {
    mca::Draws d = pol.draws(element0 + uint64_t(c));
    const int64_t i0 = c * kReduceChunk, i1 = i0 + kReduceChunk < n ? i0 + kReduceChunk : n;
    mca::Accumulator<P, T> acc(T(0));
    for (int64_t i = i0; i < i1; ++i) {
      const T t = term(i, d);  // named first: the term may consume draws itself
      acc.add(pol, t, d);
    }
    partial[c] = acc.result(pol, d);
  }
};

// The partial sums added in chunk order (host).
template <class P, class T>
T finish_sum(const P& pol, uint64_t element0, const std::vector<T>& partial) {
  mca::Draws d = pol.draws(element0 + uint64_t(partial.size()));
  mca::Accumulator<P, T> total(T(0));
  for (const T& p : partial) total.add(pol, p, d);
  return total.result(pol, d);
}

}  // namespace detail

// sum over i in [0, n) of term(i, draws), on the CPU.
template <class T, class P, class Term>
T chunked_sum(const P& pol, uint64_t element0, int64_t n, Term&& term) {
  const int64_t chunks = reduce_chunks(n);
  std::vector<T> partial(size_t(chunks > 0 ? chunks : 0));
  const detail::ChunkPartial<P, T, std::decay_t<Term>> f{pol, element0, n, term, partial.data()};
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) f(c);
  return detail::finish_sum(pol, element0, partial);
}

}  // namespace numens::kernels
