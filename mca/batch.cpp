#include "mca/batch.hpp"

#include <algorithm>

#include "mca/sr_simd.hpp"

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
  const uint64_t thr =
      kShiftLeft ? (low << (32 - drop)) : ((low + (uint64_t(1) << (drop - 32)) - 1) >> (drop - 32));
  const uint64_t up = uint64_t(u) < thr ? 1 : 0;
  const uint64_t res = (mag & ~mask) + (up << drop);
  return float(double_from_bits(res | sign));
}

#if defined(__AVX2__)
// Four elements of sr_f32_bits at once. Returns a 4-bit mask of the lanes that need the scalar
// policy (outside the fast path's range, or a sum that binary64 could not hold exactly).
template <bool kShiftLeft, bool kAdd>
inline int sr_f32_avx2(const simd::SrF32& p, const float* a, const float* b, const uint32_t* u,
                       float* out) {
  const __m256d x = _mm256_cvtps_pd(_mm_loadu_ps(a)), y = _mm256_cvtps_pd(_mm_loadu_ps(b));
  const __m256d s = kAdd ? _mm256_add_pd(x, y) : _mm256_mul_pd(x, y);
  int bad;
  _mm_storeu_ps(out, simd::sr_f32x4<kShiftLeft>(
                         p, s, _mm_loadu_si128(reinterpret_cast<const __m128i*>(u)), bad));
  if constexpr (kAdd) bad |= simd::inexact_sum_mask(x, y, s);
  return bad;
}
#endif

template <bool kShiftLeft, bool kAdd>
void sr_f32_chunk(const Sr& pol, const float* a, const float* b, float* out, size_t i0, size_t i1,
                  uint64_t e0) {
  alignas(64) uint32_t words[kChunk + 8];
  alignas(64) uint8_t bad4[kChunk / 4];  // per four elements: lanes left to the scalar policy
  const uint64_t first = e0 + i0;
  const size_t off = size_t(first & 3), len = i1 - i0;
  philox_words32(pol.stream, first >> 2, 0, words, (off + len + 3) / 4);
  const int drop = 53 - pol.t32;
  auto scalar = [&](size_t i) {
    Draws d = pol.draws(first + i);
    out[i0 + i] = kAdd ? pol.add(a[i0 + i], b[i0 + i], d) : pol.mul(a[i0 + i], b[i0 + i], d);
  };
  size_t i = 0;
#if defined(__AVX2__)
  const simd::SrF32 params(pol.t32);
  int any_bad = 0;
  for (; i + 4 <= len; i += 4) {
    const int m = sr_f32_avx2<kShiftLeft, kAdd>(params, a + i0 + i, b + i0 + i, words + off + i,
                                                out + i0 + i);
    bad4[i / 4] = uint8_t(m);
    any_bad |= m;
  }
  if (any_bad) {
    for (size_t q = 0; q < i / 4; ++q)
      for (int l = 0; l < 4; ++l)
        if ((bad4[q] >> l) & 1) scalar(4 * q + size_t(l));
  }
#endif
  for (; i < len; ++i) {
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
    if (!(ok && exact)) scalar(i);
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

namespace {

// One Philox block per group, scalar: the reference the AVX2 path must equal.
inline void philox_scalar(const Stream& s, uint64_t g, uint32_t draw, uint32_t* w) {
  const Philox4x32::Block b = s.block(g, 0, draw);
  w[0] = b.w[0];
  w[1] = b.w[1];
  w[2] = b.w[2];
  w[3] = b.w[3];
}

#if defined(__AVX2__)
// Philox state of eight blocks in AVX2 lanes: lanes hold groups g .. g+7.
struct Philox8 {
  __m256i c0, c1, c2, c3, k0, k1;

  Philox8(const Stream& s, uint64_t g, uint32_t draw) {
    c0 = _mm256_add_epi32(_mm256_set1_epi32(int(uint32_t(g))),
                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    c1 = _mm256_set1_epi32(int((uint32_t(g >> 32) & 0x7FFFu) | (s.site << 16)));
    c2 = _mm256_set1_epi32(int(draw));
    c3 = _mm256_set1_epi32(int(s.step));
    k0 = _mm256_set1_epi32(int(s.key.k0));
    k1 = _mm256_set1_epi32(int(s.key.k1));
  }

  // One round. A 32x32->64 multiply exists only for the even lanes (vpmuludq), so odd lanes are
  // shifted down and the halves blended back.
  inline void round() {
    const __m256i m0 = _mm256_set1_epi64x(Philox4x32::kM0),
                  m1 = _mm256_set1_epi64x(Philox4x32::kM1);
    const __m256i pe0 = _mm256_mul_epu32(c0, m0),
                  po0 = _mm256_mul_epu32(_mm256_srli_epi64(c0, 32), m0);
    const __m256i pe1 = _mm256_mul_epu32(c2, m1),
                  po1 = _mm256_mul_epu32(_mm256_srli_epi64(c2, 32), m1);
    const __m256i lo0 = _mm256_blend_epi32(pe0, _mm256_slli_epi64(po0, 32), 0xAA);
    const __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(pe0, 32), po0, 0xAA);
    const __m256i lo1 = _mm256_blend_epi32(pe1, _mm256_slli_epi64(po1, 32), 0xAA);
    const __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(pe1, 32), po1, 0xAA);
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), k0);
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), k1);
    c1 = lo1;
    c3 = lo0;
    k0 = _mm256_add_epi32(k0, _mm256_set1_epi32(int(Philox4x32::kW0)));
    k1 = _mm256_add_epi32(k1, _mm256_set1_epi32(int(Philox4x32::kW1)));
  }

  // Transpose lanes (c0..c3 of groups 0..7) into 32 words in element order.
  inline void store(uint32_t* w) const {
    const __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
    const __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
    const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    // u0 = groups 0 | 4, u1 = 1 | 5, u2 = 2 | 6, u3 = 3 | 7 (128-bit halves)
    auto* out = reinterpret_cast<__m256i*>(w);
    _mm256_storeu_si256(out + 0, _mm256_permute2x128_si256(u0, u1, 0x20));
    _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
    _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
    _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
  }
};

// Sixteen blocks as two independent chains: a round is a chain of multiply, blend and xor, so
// interleaving two chains fills the pipeline the one chain leaves idle.
inline void philox16_avx2(const Stream& s, uint64_t g, uint32_t draw, uint32_t* w) {
  Philox8 a(s, g, draw), b(s, g + 8, draw);
  for (int r = 0; r < Philox4x32::kRounds; ++r) {
    a.round();
    b.round();
  }
  a.store(w);
  b.store(w + 32);
}
#endif

}  // namespace

void philox_words32(const Stream& s, uint64_t group0, uint32_t draw, uint32_t* words,
                    size_t groups) {
  size_t j = 0;
#if defined(__AVX2__)
  for (; j + 16 <= groups; j += 16) {
    const uint64_t g = group0 + j;
    if (uint32_t(g) > 0xFFFFFFFFu - 15u) break;  // the low counter word would wrap inside the 16
    philox16_avx2(s, g, draw, words + 4 * j);
  }
#endif
  for (; j < groups; ++j) philox_scalar(s, group0 + j, draw, words + 4 * j);
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
        case UnaryOp::sqrt:
          out[i] = pol.sqrt(a[i], d);
          break;
        case UnaryOp::exp:
          out[i] = pol.exp(a[i], d);
          break;
        case UnaryOp::log:
          out[i] = pol.log(a[i], d);
          break;
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

#define NUMENS_BATCH_INSTANTIATE(P, T)                                                        \
  template void binary_n<P, T>(const P&, BinaryOp, const T*, const T*, T*, size_t, uint64_t); \
  template void unary_n<P, T>(const P&, UnaryOp, const T*, T*, size_t, uint64_t);             \
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
