#include "mca/batch.hpp"

#include <algorithm>

namespace numens::mca {

namespace {

// Elements per OpenMP work item. Large enough to amortise scheduling, small enough that the random
// words of a chunk stay in L1.
constexpr size_t kChunk = 1024;

template <class F>
void parallel_chunks(size_t n, F&& f) {
  const long long chunks = static_cast<long long>((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static)
  for (long long c = 0; c < chunks; ++c) {
    const size_t i0 = static_cast<size_t>(c) * kChunk;
    f(i0, std::min(n, i0 + kChunk));
  }
}

template <class P, class T, class Op>
void generic_binary(const P& pol, const T* a, const T* b, T* out, size_t n, uint64_t e0, Op op) {
  parallel_chunks(n, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      Draws d = pol.draws(e0 + i);
      out[i] = op(a[i], b[i], d);
    }
  });
}

// Stochastic rounding of an exact binary64 value x to binary32 at t bits, done on the bit
// pattern: with drop = 53 - t low bits below the t-bit grid, round the magnitude up iff
// u < ceil(low / 2^drop * 2^32), the decision rule of rounding.hpp. Valid while x is zero or its
// exponent lies in binary32's normal range (a carry into the exponent is the correct next grid
// value; beyond 2^128 the conversion to float gives inf, as SR does). Returns false otherwise.
template <bool kShiftLeft>
inline float sr_f32_bits(double x, uint32_t u, int drop, bool& ok) {
  const uint64_t bits = bits_of(x);
  const uint64_t sign = bits & 0x8000000000000000ull;
  const uint64_t mag = bits ^ sign;
  const uint64_t biased = mag >> 52;
  ok = (biased >= 1023 - 126 && biased <= 1023 + 127) || mag == 0;
  const uint64_t mask = (uint64_t(1) << drop) - 1;
  const uint64_t low = mag & mask;
  const uint64_t thr = kShiftLeft ? (low << (32 - drop))
                                  : ((low + (uint64_t(1) << (drop - 32)) - 1) >> (drop - 32));
  const uint64_t up = uint64_t(u) < thr ? 1 : 0;
  const uint64_t res = (mag & ~mask) + (up << drop);
  return float(double_from_bits(res | sign));
}

template <bool kShiftLeft, bool kAdd>
void sr_f32_chunk(const Sr& pol, const float* a, const float* b, float* out, size_t i0,
                  size_t i1, uint64_t e0) {
  alignas(64) uint32_t words[kChunk + 8];
  alignas(64) uint8_t bad[kChunk];
  const uint64_t first = e0 + i0;
  const size_t off = size_t(first & 3), len = i1 - i0;
  philox_words32(pol.stream, first >> 2, 0, words, (off + len + 3) / 4);
  const int drop = 53 - pol.t32;
  uint32_t any_bad = 0;
  for (size_t i = 0; i < len; ++i) {
    const double x = double(a[i0 + i]), y = double(b[i0 + i]);
    double s;
    bool exact = true;
    if constexpr (kAdd) {
      s = x + y;  // exact unless the exponents are more than 29 apart: checked by TwoSum
      const double bb = s - x;
      exact = ((x - (s - bb)) + (y - bb)) == 0.0;
    } else {
      s = x * y;  // a binary32 product is exact in binary64
    }
    bool ok;
    out[i0 + i] = sr_f32_bits<kShiftLeft>(s, words[off + i], drop, ok);
    bad[i] = uint8_t(!(ok && exact));
    any_bad |= bad[i];
  }
  if (!any_bad) return;
  for (size_t i = 0; i < len; ++i) {
    if (!bad[i]) continue;
    Draws d = pol.draws(first + i);
    out[i0 + i] = kAdd ? pol.add(a[i0 + i], b[i0 + i], d) : pol.mul(a[i0 + i], b[i0 + i], d);
  }
}

template <bool kAdd>
void sr_f32_fast(const Sr& pol, const float* a, const float* b, float* out, size_t n, uint64_t e0) {
  const bool shift_left = 53 - pol.t32 <= 32;
  parallel_chunks(n, [&](size_t i0, size_t i1) {
    if (shift_left) {
      sr_f32_chunk<true, kAdd>(pol, a, b, out, i0, i1, e0);
    } else {
      sr_f32_chunk<false, kAdd>(pol, a, b, out, i0, i1, e0);
    }
  });
}

}  // namespace

void philox_words32(const Stream& s, uint64_t group0, uint32_t draw, uint32_t* words,
                    size_t groups) {
  const uint32_t site_bits = s.site << 16;
  const uint32_t key0 = s.key.k0, key1 = s.key.k1, step = s.step;
  for (size_t j = 0; j < groups; ++j) {
    const uint64_t g = group0 + j;
    uint32_t c0 = uint32_t(g), c1 = (uint32_t(g >> 32) & 0x7FFFu) | site_bits, c2 = draw,
             c3 = step;
    uint32_t k0 = key0, k1 = key1;
#pragma GCC unroll 10
    for (int r = 0; r < Philox4x32::kRounds; ++r) {
      const uint64_t p0 = uint64_t(Philox4x32::kM0) * c0;
      const uint64_t p1 = uint64_t(Philox4x32::kM1) * c2;
      const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0;
      const uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
      c1 = uint32_t(p1);
      c3 = uint32_t(p0);
      c0 = n0;
      c2 = n2;
      k0 += Philox4x32::kW0;
      k1 += Philox4x32::kW1;
    }
    words[4 * j + 0] = c0;
    words[4 * j + 1] = c1;
    words[4 * j + 2] = c2;
    words[4 * j + 3] = c3;
  }
}

template <class P, class T>
void binary_n(const P& pol, BinaryOp op, const T* a, const T* b, T* out, size_t n,
              uint64_t first_element) {
  if constexpr (P::mode == Mode::sr && sizeof(T) == sizeof(float)) {
    if (op == BinaryOp::add) return sr_f32_fast<true>(pol, a, b, out, n, first_element);
    if (op == BinaryOp::mul) return sr_f32_fast<false>(pol, a, b, out, n, first_element);
  }
  switch (op) {
    case BinaryOp::add:
      return generic_binary(pol, a, b, out, n, first_element,
                            [&](T x, T y, Draws& d) { return pol.add(x, y, d); });
    case BinaryOp::sub:
      return generic_binary(pol, a, b, out, n, first_element,
                            [&](T x, T y, Draws& d) { return pol.sub(x, y, d); });
    case BinaryOp::mul:
      return generic_binary(pol, a, b, out, n, first_element,
                            [&](T x, T y, Draws& d) { return pol.mul(x, y, d); });
    case BinaryOp::div:
      return generic_binary(pol, a, b, out, n, first_element,
                            [&](T x, T y, Draws& d) { return pol.div(x, y, d); });
  }
}

template <class P, class T>
void unary_n(const P& pol, UnaryOp op, const T* a, T* out, size_t n, uint64_t first_element) {
  parallel_chunks(n, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      Draws d = pol.draws(first_element + i);
      switch (op) {
        case UnaryOp::sqrt: out[i] = pol.sqrt(a[i], d); break;
        case UnaryOp::exp: out[i] = pol.exp(a[i], d); break;
        case UnaryOp::log: out[i] = pol.log(a[i], d); break;
      }
    }
  });
}

template <class P, class T>
void fma_n(const P& pol, bool fused, const T* a, const T* b, const T* c, T* out, size_t n,
           uint64_t first_element) {
  parallel_chunks(n, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      Draws d = pol.draws(first_element + i);
      out[i] = fused ? pol.fma_fused(a[i], b[i], c[i], d) : pol.fma(a[i], b[i], c[i], d);
    }
  });
}

#define NUMENS_BATCH_INSTANTIATE(P, T)                                                     \
  template void binary_n<P, T>(const P&, BinaryOp, const T*, const T*, T*, size_t, uint64_t); \
  template void unary_n<P, T>(const P&, UnaryOp, const T*, T*, size_t, uint64_t);            \
  template void fma_n<P, T>(const P&, bool, const T*, const T*, const T*, T*, size_t, uint64_t);
#define NUMENS_BATCH_INSTANTIATE_BOTH(P) \
  NUMENS_BATCH_INSTANTIATE(P, float)     \
  NUMENS_BATCH_INSTANTIATE(P, double)
NUMENS_BATCH_INSTANTIATE_BOTH(Ieee)
NUMENS_BATCH_INSTANTIATE_BOTH(Sr)
NUMENS_BATCH_INSTANTIATE_BOTH(Rr)
NUMENS_BATCH_INSTANTIATE_BOTH(Pb)
NUMENS_BATCH_INSTANTIATE_BOTH(Mca)
NUMENS_BATCH_INSTANTIATE_BOTH(SrEqual)
#undef NUMENS_BATCH_INSTANTIATE_BOTH
#undef NUMENS_BATCH_INSTANTIATE

}  // namespace numens::mca
