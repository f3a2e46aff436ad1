#include "mca/batch.hpp"

#include <algorithm>
#include <atomic>

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

#if defined(__AVX2__)
// The lean pass: eight elements per iteration, no per-lane bookkeeping. Every check folds into
// one accumulated mask, and a chunk that sets it is redone by the exact per-lane path above, so
// this pass only has to be conservative, never exact, about which lanes it may handle. The
// rounding on the binary64 pattern is right when the binary64 value s is the exact result and,
// if s lies below binary32's normal range, s is already a binary32 value. A NaN operand is
// refused (its payload may reach the dropped bits, and which NaN comes out is the scalar code's
// business), and so are inf and NaN results:
// - add: s is exact when the exponent fields differ by at most 28 (the exact sum then spans at
//   most 53 bits; a subnormal's field 0 overstates the distance by one, a zero operand fails the
//   test harmlessly). An exact sum of binary32 values is a multiple of 2^-149, so below 2^-126 it
//   is a binary32 subnormal: no range check. This check is argued, not tested: where binary64
//   rounds an inexact sum, the outcome differs from the policy's for at most 8 of the 2^32 draws.
// - mul: s is always exact; a product below 2^-126 is not on binary32's grid, so a result
//   |r| <= 2^-126 is refused (an exact value below 2^-126 rounds to at most 2^-126 on its own
//   grid), unless an operand is zero (s is then a zero, or the default NaN of 0 x inf, which
//   passes the rounding untouched: no bit below the grid is set).
template <bool kShiftLeft, bool kAdd>
inline bool sr_f32_lean(const simd::SrF32& p, const float* a, const float* b, const uint32_t* u,
                        float* out, size_t len) {
  const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF);
  const __m256i exp_mask = _mm256_set1_epi32(0x7F800000);
  const __m256i max_dist = _mm256_set1_epi32(28 << 23);
  const __m256i min_normal = _mm256_set1_epi32(0x00800000);  // 2^-126
  const __m256i max_finite = _mm256_set1_epi32(0x7F7FFFFF);
  __m256i bad = _mm256_setzero_si256();
  for (size_t i = 0; i + 8 <= len; i += 8) {
    const __m256 av = _mm256_loadu_ps(a + i), bv = _mm256_loadu_ps(b + i);
    const __m256i v0 =
        simd::sr_draws<kShiftLeft>(p, _mm_loadu_si128(reinterpret_cast<const __m128i*>(u + i)));
    const __m256i v1 =
        simd::sr_draws<kShiftLeft>(p, _mm_loadu_si128(reinterpret_cast<const __m128i*>(u + i + 4)));
    const __m256d x0 = _mm256_cvtps_pd(_mm256_castps256_ps128(av));
    const __m256d x1 = _mm256_cvtps_pd(_mm256_extractf128_ps(av, 1));
    const __m256d y0 = _mm256_cvtps_pd(_mm256_castps256_ps128(bv));
    const __m256d y1 = _mm256_cvtps_pd(_mm256_extractf128_ps(bv, 1));
    const __m256d s0 = kAdd ? _mm256_add_pd(x0, y0) : _mm256_mul_pd(x0, y0);
    const __m256d s1 = kAdd ? _mm256_add_pd(x1, y1) : _mm256_mul_pd(x1, y1);
    const __m256 r = _mm256_set_m128(simd::sr_round4(p, s1, v1), simd::sr_round4(p, s0, v0));
    _mm256_storeu_ps(out + i, r);
    bad = _mm256_or_si256(bad, _mm256_castps_si256(_mm256_cmp_ps(av, bv, _CMP_UNORD_Q)));
    const __m256i rm = _mm256_and_si256(_mm256_castps_si256(r), abs_mask);
    if constexpr (kAdd) {
      const __m256i dist =
          _mm256_abs_epi32(_mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(av), exp_mask),
                                            _mm256_and_si256(_mm256_castps_si256(bv), exp_mask)));
      bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(dist, max_dist));
      bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(rm, max_finite));
    } else {
      const __m256 zero = _mm256_setzero_ps();
      const __m256i ok =
          _mm256_or_si256(_mm256_andnot_si256(_mm256_cmpgt_epi32(rm, max_finite),
                                              _mm256_cmpgt_epi32(rm, min_normal)),
                          _mm256_castps_si256(_mm256_or_ps(_mm256_cmp_ps(av, zero, _CMP_EQ_OQ),
                                                           _mm256_cmp_ps(bv, zero, _CMP_EQ_OQ))));
      bad = _mm256_or_si256(bad, _mm256_xor_si256(ok, _mm256_set1_epi32(-1)));
    }
  }
  return _mm256_testz_si256(bad, bad);
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
  if (sr_f32_lean<kShiftLeft, kAdd>(params, a + i0, b + i0, words + off, out + i0, len)) {
    i = len & ~size_t(7);
  }
  const size_t exact_from = i;  // the per-lane path covers [exact_from, i)
  int any_bad = 0;
  for (; i + 4 <= len; i += 4) {
    const int m = sr_f32_avx2<kShiftLeft, kAdd>(params, a + i0 + i, b + i0 + i, words + off + i,
                                                out + i0 + i);
    bad4[i / 4] = uint8_t(m);
    any_bad |= m;
  }
  if (any_bad) {
    for (size_t q = exact_from / 4; q < i / 4; ++q)
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
// Philox rounds in AVX2 with one block per 64-bit lane: vpmuludq multiplies the low 32 bits of
// each lane into a full 64-bit product, so the low word of a product is the lane as it stands and
// the high word one shift away. The high halves of the lanes carry junk that no multiply reads
// and the final transpose drops, which saves the shifts and blends that a 32-bit-lane layout
// (eight blocks per register) needs to reach its odd lanes. 4 x 4 blocks run as four independent
// chains to cover the multiply latency; the round keys come from a table.
struct PhiloxKeys {
  __m256i k0[Philox4x32::kRounds], k1[Philox4x32::kRounds];

  explicit PhiloxKeys(const Philox4x32::Key& key) {
    uint32_t a = key.k0, b = key.k1;
    for (int r = 0; r < Philox4x32::kRounds; ++r) {
      k0[r] = _mm256_set1_epi64x(int64_t(a));
      k1[r] = _mm256_set1_epi64x(int64_t(b));
      a += Philox4x32::kW0;
      b += Philox4x32::kW1;
    }
  }
};

// The table for a key, cached per thread: kernels call philox_words32 for a few blocks at a
// time (a 64-element tile), always with the key of one (seed, member).
const PhiloxKeys& philox_keys(const Philox4x32::Key& key) {
  thread_local Philox4x32::Key cached{0, 0};
  thread_local PhiloxKeys table(cached);
  if (key.k0 != cached.k0 || key.k1 != cached.k1) {
    table = PhiloxKeys(key);
    cached = key;
  }
  return table;
}

struct Philox4Lanes {
  __m256i c0, c1, c2, c3;  // word j of blocks g .. g+3, in the low 32 bits of each lane

  Philox4Lanes(const Stream& s, uint64_t g, uint32_t draw) {
    c0 = _mm256_add_epi64(_mm256_set1_epi64x(int64_t(uint32_t(g))), _mm256_setr_epi64x(0, 1, 2, 3));
    c1 = _mm256_set1_epi64x(int64_t((uint32_t(g >> 32) & 0x7FFFu) | (s.site << 16)));
    c2 = _mm256_set1_epi64x(int64_t(draw));
    c3 = _mm256_set1_epi64x(int64_t(s.step));
  }

  inline void round(__m256i k0, __m256i k1) {
    const __m256i p0 = _mm256_mul_epu32(c0, _mm256_set1_epi64x(Philox4x32::kM0));
    const __m256i p1 = _mm256_mul_epu32(c2, _mm256_set1_epi64x(Philox4x32::kM1));
    c0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1), k0);
    c2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3), k1);
    c1 = p1;  // low word = lo(p1); the high word is junk
    c3 = p0;
  }

  // Sixteen words in element order: block g+i's four words at w[4i .. 4i+3].
  inline void store(uint32_t* w) const {
    // Within each 128-bit half (blocks i, i+1 of the half): dwords 0 and 2 are the two blocks.
    const __m256i a = _mm256_unpacklo_epi32(c0, c1);  // c0[i] c1[i] junk junk | ...
    const __m256i b = _mm256_unpackhi_epi32(c0, c1);  // c0[i+1] c1[i+1] junk junk | ...
    const __m256i c = _mm256_unpacklo_epi32(c2, c3);
    const __m256i d = _mm256_unpackhi_epi32(c2, c3);
    const __m256i blk02 = _mm256_unpacklo_epi64(a, c);  // block 0 | block 2
    const __m256i blk13 = _mm256_unpacklo_epi64(b, d);  // block 1 | block 3
    auto* out = reinterpret_cast<__m256i*>(w);
    _mm256_storeu_si256(out + 0, _mm256_permute2x128_si256(blk02, blk13, 0x20));
    _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(blk02, blk13, 0x31));
  }
};

// Sixteen blocks: groups g .. g + 15 at one draw index, or (kDraws) one group g at draw indices
// draw .. draw + 15 (the successive draws of one element: a sequential reduction's cursor).
template <int R, bool kDraws = false>
inline void philox16_avx2(const Stream& s, const PhiloxKeys& k, uint64_t g, uint32_t draw,
                          uint32_t* w) {
  auto lanes = [&](uint32_t i) {
    Philox4Lanes p(s, kDraws ? g : g + i, kDraws ? draw + i : draw);
    if constexpr (kDraws) p.c2 = _mm256_add_epi64(p.c2, _mm256_setr_epi64x(0, 1, 2, 3));
    if constexpr (kDraws) p.c0 = _mm256_set1_epi64x(int64_t(uint32_t(g)));
    return p;
  };
  Philox4Lanes a = lanes(0), b = lanes(4), c = lanes(8), d = lanes(12);
  // Unrolled, the moves that rename the state words each round disappear.
#pragma GCC unroll 10
  for (int r = 0; r < R; ++r) {
    a.round(k.k0[r], k.k1[r]);
    b.round(k.k0[r], k.k1[r]);
    c.round(k.k0[r], k.k1[r]);
    d.round(k.k0[r], k.k1[r]);
  }
  a.store(w);
  b.store(w + 16);
  c.store(w + 32);
  d.store(w + 48);
}
#endif

std::atomic<SimdLevel> g_simd_level{best_simd_level()};

}  // namespace

// avx512: the AVX-512 kernels (kernels/conv2d_sr512.cpp, compiled for it by function attribute)
// on top of the AVX2 code. The batched operations here stay AVX2: an AVX-512 generator writing
// words to memory measured 5-8 % slower inside the conv kernels than the four-chain AVX2 one
// (bench/RESULTS.md, 2026-12-07); the conv kernel gains by keeping the words in registers.
SimdLevel best_simd_level() {
#if defined(__AVX2__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return SimdLevel::avx512;
  if (__builtin_cpu_supports("avx2")) return SimdLevel::avx2;
#endif
  return SimdLevel::scalar;
}
void set_simd_level(SimdLevel level) {
  g_simd_level.store(std::min(level, best_simd_level()));
}
SimdLevel simd_level() {
  return g_simd_level.load(std::memory_order_relaxed);
}
const char* simd_level_name(SimdLevel level) {
  return level == SimdLevel::avx512 ? "avx512" : level == SimdLevel::avx2 ? "avx2" : "scalar";
}

void philox_words32(const Stream& s, uint64_t group0, uint32_t draw, uint32_t* words,
                    size_t groups) {
  size_t j = 0;
#if defined(__AVX2__)
  const SimdLevel level = simd_level();
  if (groups >= 4 && level != SimdLevel::scalar) {
    auto sixteen = [&](uint64_t g, uint32_t* w) {
      const PhiloxKeys& keys = philox_keys(s.key);
      if (s.rounds == 7) {
        philox16_avx2<7>(s, keys, g, draw, w);
      } else {
        philox16_avx2<10>(s, keys, g, draw, w);
      }
    };
    for (; j < groups && groups - j >= 4; j += 16) {
      const uint64_t g = group0 + j;
      if (uint32_t(g) > 0xFFFFFFFFu - 15u) break;  // the low counter word would wrap inside the 16
      if (groups - j >= 16) {
        sixteen(g, words + 4 * j);
      } else {  // a short run (a kernel's tile of r-bit slots): 16 blocks cost ~ 5 scalar ones
        alignas(32) uint32_t tmp[64];
        sixteen(g, tmp);
        std::copy(tmp, tmp + 4 * (groups - j), words + 4 * j);
        j = groups;
        break;
      }
    }
  }
#endif
  for (; j < groups; ++j) philox_scalar(s, group0 + j, draw, words + 4 * j);
}

void draws_r32(const Stream& s, int r, uint64_t e0, uint32_t draw, uint32_t* out, size_t n) {
  if (n == 0) return;
  const int sh = slot_shift(r);
  const uint32_t w = uint32_t(slot_bits(r)), mask = r >= 32 ? ~0u : (1u << r) - 1u;
  const size_t slots = size_t(1) << sh, fields = slots / 4;
  constexpr size_t kBatch = 32;  // blocks per generator call
  alignas(64) uint32_t words[4 * kBatch];
  alignas(64) uint32_t draws[kBatch * 64];  // up to 64 slots per block (r = 2)
  for (size_t o0 = 0; o0 < n;) {
    // Elements e0 + o0 ..: their blocks start at g, element e sits in slot (e - g slots).
    const uint64_t e = e0 + o0, g = e >> sh;
    const size_t off = size_t(e - (g << sh));
    const size_t len = std::min(n - o0, kBatch * slots - off);
    const size_t nb = (off + len + slots - 1) >> sh;
    philox_words32(s, g, draw, words, nb);
    if (fields == 1 && mask == ~0u) {  // 32-bit draws: the words are the draws
      std::copy(words + off, words + off + len, out + o0);
    } else {
      // Slot 4 f + j of a block is bit field f of word j: four contiguous slots per field.
      for (size_t b = 0; b < nb; ++b)
        for (size_t f = 0; f < fields; ++f)
          for (size_t j = 0; j < 4; ++j)
            draws[b * slots + 4 * f + j] = (words[4 * b + j] >> (w * uint32_t(f) & 31u)) & mask;
      std::copy(draws + off, draws + off + len, out + o0);
    }
    o0 += len;
  }
}

void draw_run_r32(const Stream& s, int r, uint64_t e, uint32_t d0, uint32_t* out, size_t n) {
  const int sh = slot_shift(r);
  const uint64_t g = e >> sh;
  const uint32_t slot = uint32_t(e) & ((1u << sh) - 1u), word = slot & 3u;
  const uint32_t shift = uint32_t(slot_bits(r)) * (slot >> 2) & 31u;
  const uint32_t mask = r >= 32 ? ~0u : (1u << r) - 1u;
  size_t i = 0;
#if defined(__AVX2__)
  if (simd_level() != SimdLevel::scalar) {
    alignas(32) uint32_t w[64];
    const PhiloxKeys& keys = philox_keys(s.key);
    // 16 draws per call, while the draw counter does not wrap inside the 16
    for (; i + 16 <= n && uint64_t(d0) + i + 16 <= 0x100000000ull; i += 16) {
      const uint32_t d = d0 + uint32_t(i);
      if (s.rounds == 7) {
        philox16_avx2<7, true>(s, keys, g, d, w);
      } else {
        philox16_avx2<10, true>(s, keys, g, d, w);
      }
      for (size_t j = 0; j < 16; ++j) out[i + j] = (w[4 * j + word] >> shift) & mask;
    }
  }
#endif
  for (; i < n; ++i) out[i] = s.ur(e, d0 + uint32_t(i), r, 0);
}

template <class P, class T>
void binary_n(const P& pol, BinaryOp op, const T* a, const T* b, T* out, size_t n,
              uint64_t first_element) {
  // The fast path implements 32-bit draws; r-bit draws take the scalar policy.
  if constexpr (P::mode == Mode::sr && sizeof(T) == sizeof(float)) {
    if (pol.sr_bits == 32 && op == BinaryOp::add)
      return sr_f32_fast<true>(pol, a, b, out, n, first_element);
    if (pol.sr_bits == 32 && op == BinaryOp::mul)
      return sr_f32_fast<false>(pol, a, b, out, n, first_element);
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
