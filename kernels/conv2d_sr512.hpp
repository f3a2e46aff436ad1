// The AVX-512 kernel of the sr binary32 convolution at op granularity (conv2d_fast.cpp's AVX2
// paths do the rest): the reference's bits, with the Philox generator, the products, the sums and
// the roundings of 64 adjacent outputs in zmm registers, the accumulators in binary64 registers
// for a whole block of terms.
//
// Why it is faster than the AVX2 terms: eight Philox blocks per zmm (one per 64-bit lane) and the
// lanes of the arithmetic permuted to match, so the draws come out of the generator's registers
// in the lanes that use them (no store, reload or widening); the panel converted to binary64 once
// and shared by every output row; every range and exactness condition either proven for the
// whole block from bounds on its operands or folded into one mask per block.
//
// Covered: at op granularity the exact contract (split, 32-bit draws) and r-bit draws with
// 9 <= r <= 16 (split or fused); granularity tile:k with 32-bit or those r-bit draws; 10 or 7
// Philox rounds; binary32 at any t the AVX2 paths take. Lane permutation: with S draws per Philox
// block (S = 4 for 32-bit draws, 8 for 16-bit slots), register j lane g of a generator call holds
// word j of block g; the arithmetic vector v holds the outputs whose draws sit there (element 8 g +
// v for S = 8; 32 (v >> 2) + 4 g + (v & 3) for S = 4).
#pragma once

#include <cstdint>

#include "mca/policy.hpp"

namespace numens::kernels::detail::sr512 {

inline constexpr int kLanes = 64;  // adjacent outputs per tile (as the AVX2 paths)
inline constexpr int kTerms = 64;  // terms per packed block

// One packed panel [kc][64] prepared once for every output row that uses it.
struct Panel {
  alignas(64) double x[kTerms * kLanes];  // [q][v * 8 + g], permuted, binary64 (op granularity)
  alignas(64) float xf[kTerms * kLanes];  // the same in binary32 (tile:k)
  alignas(64) uint8_t valid[kTerms][8];   // bit g of byte v: lane g of vector v is a real term
  int kc = 0;
  bool ok = false;  // every value finite and within the bounds the kernel's proofs assume
};

// True where this CPU (and the run-time SIMD level) and these options have the AVX-512 kernel.
bool available(const mca::Sr& pol);

// Converts panel[q][l] (q < kc, l < 64; the AVX2 paths' layout) and its valid bits (op
// granularity: to binary64, checking the bounds; tile:k: only permuted).
void prepare(const mca::Sr& pol, const float* panel, const uint64_t* valid, int kc, Panel& out);

// acc[l] (l < cnt) gets terms q0 .. q0 + kc - 1 of output element e0 + l: s[q] times the panel's
// column l, as the reference computes them. Returns false, acc untouched, where this block is not
// the kernel's to take (alignment of e0, operand bounds, or a rare lane it cannot round: a sum
// binary64 does not hold under the 32-bit rule, a fused result below binary32's normal range);
// the caller then runs its own path.
bool terms(const mca::Sr& pol, const Panel& p, const float* s, uint64_t q0, uint64_t e0, int cnt,
           float* acc);

// granularity tile:k (32-bit draws, or r-bit in 16-bit slots; split or fused): `rows` (1..4)
// output rows at once, row r with weights s + r s_stride, accumulators acc + r acc_stride (cnt
// values), elements from e0 + r e_stride, and its 64 tile partial sums part + 64 r, carried
// between calls (lane order, as the AVX2 tile paths keep them). Terms q0 .. q0 + kc - 1 of
// reductions with Q terms. Returns false, nothing changed, where the block is not taken
// (alignment, a non-finite weight).
bool tile_terms(const mca::Sr& pol, const Panel& p, int rows, const float* s, int64_t s_stride,
                uint64_t q0, uint64_t Q, uint64_t e0, uint64_t e_stride, int cnt, float* acc,
                int64_t acc_stride, float* part);

}  // namespace numens::kernels::detail::sr512
