// The random-number contract (MCA.md, "Random numbers and reproducibility").
//
// key     = (seed, member)                           one stream per ensemble member
// counter = (element group, width, op site, draw, step)
//
//   word 0: element group, bits 0..31
//   word 1: element group, bits 32..46 | width bit << 15 | op site << 16
//   word 2: draw index (the n-th random value an element consumes at this site)
//   word 3: step (training iteration, or any caller-chosen phase)
//
// One Philox block holds 128 random bits. A 32-bit draw (binary32 arithmetic) of element e uses
// word (e & 3) of the block of group e >> 2; a 64-bit draw (binary64) uses words 2(e & 1), 2(e &
// 1)+1 of the block of group e >> 1. So four neighbouring float outputs (two double outputs) share
// one Philox evaluation per draw: a SIMD kernel computing adjacent outputs pays one generator call
// per four lanes, a scalar kernel recomputes the block and gets the same word. The width bit keeps
// 32- and 64-bit draws of the same (element, draw) independent.
//
// r-bit draws (the `sr_bits = r` cost option of MCA.md v2, r < 32, binary32 and binary64 alike):
// a block is cut into S = 128 / w slots of w bits, w the smallest power of two >= r (so S = 128 / r
// when r is a power of two: 8 slots at r = 16, 16 at r = 8). Element e uses slot i = e mod S of the
// block of group e / S; slot i is bit field i >> 2 (bits w (i >> 2) .. w (i >> 2) + w - 1) of word
// i & 3, and the draw is that field's low r bits. So S neighbouring outputs share one block per
// draw, and the first four slots sit in the four words like the 32-bit layout (vector code takes
// word j's low field for lanes j, its next field for lanes 4 + j, ...). At w = 32 this is the
// 32-bit layout exactly. The width bit is 0 for binary32 and 1 for binary64 draws, as above.
//
// Philox rounds: 10 (the default) or 7 (the `rounds` cost option), a field of the stream, so the
// same counters give other bits at 7 rounds; every path (scalar, SIMD, CUDA) reads it here.
#pragma once

#include "mca/philox.hpp"

namespace numens::mca {

inline constexpr uint64_t kMaxElement32 = (uint64_t(1) << 49) - 1;  // group fits in 47 bits
inline constexpr uint32_t kMaxSite = 0xFFFFu;

// Slot width w for r-bit draws (2 <= r <= 32): the smallest power of two >= r.
NUMENS_HD NUMENS_INLINE constexpr int slot_bits(int r) {
  return r <= 2 ? 2 : r <= 4 ? 4 : r <= 8 ? 8 : r <= 16 ? 16 : 32;
}
// log2 of the slots per block (S = 128 / w).
NUMENS_HD NUMENS_INLINE constexpr int slot_shift(int r) {
  return r <= 2 ? 6 : r <= 4 ? 5 : r <= 8 ? 4 : r <= 16 ? 3 : 2;
}

struct Stream {
  Philox4x32::Key key{0, 0};
  uint32_t site = 0;  // op site: which operation of the program (layer x op kind x pass)
  uint32_t step = 0;  // training step / phase
  int rounds = Philox4x32::kRounds;  // 10, or 7 (cost option)

  NUMENS_HD static Stream make(uint32_t seed, uint32_t member, uint32_t site = 0, uint32_t step = 0,
                               int rounds = Philox4x32::kRounds) {
    return Stream{{seed, member}, site, step, rounds};
  }
  NUMENS_HD Stream at(uint32_t new_site, uint32_t new_step) const {
    return Stream{key, new_site, new_step, rounds};
  }

  NUMENS_HD NUMENS_INLINE Philox4x32::Block block(uint64_t group, uint32_t width_bit,
                                                  uint32_t draw) const {
    const uint32_t w1 = uint32_t(group >> 32) & 0x7FFFu;
    return Philox4x32::generate(
        {{uint32_t(group), w1 | (width_bit << 15) | (site << 16), draw, step}}, key, rounds);
  }

  // 32 uniform bits for (element, draw).
  NUMENS_HD NUMENS_INLINE uint32_t u32(uint64_t element, uint32_t draw) const {
    return block(element >> 2, 0, draw).w[element & 3];
  }
  // 64 uniform bits for (element, draw).
  NUMENS_HD NUMENS_INLINE uint64_t u64(uint64_t element, uint32_t draw) const {
    const Philox4x32::Block b = block(element >> 1, 1, draw);
    const int i = int(element & 1) * 2;
    return (uint64_t(b.w[i]) << 32) | b.w[i + 1];
  }
  // r uniform bits (2 <= r <= 32) for (element, draw) in the slot layout above; width_bit 0 for
  // binary32 arithmetic, 1 for binary64. ur(e, d, 32, 0) == u32(e, d).
  NUMENS_HD NUMENS_INLINE uint32_t ur(uint64_t element, uint32_t draw, int r,
                                      uint32_t width_bit) const {
    const int sh = slot_shift(r), w = slot_bits(r);
    const uint32_t i = uint32_t(element) & ((1u << sh) - 1u);
    const Philox4x32::Block b = block(element >> sh, width_bit, draw);
    const uint32_t word = b.w[i & 3u] >> (uint32_t(w) * (i >> 2) & 31u);
    return r >= 32 ? word : word & ((1u << r) - 1u);
  }
};

// A cursor over the draws of one element: each perturbed operation consumes the next draw index,
// so a sequence of operations on one output element is reproducible by construction. A kernel
// creates one per output element (or per element and reduction chunk) from indices, never from a
// thread id.
struct Draws {
  Stream s;
  uint64_t element;
  uint32_t next = 0;

  NUMENS_HD NUMENS_INLINE uint32_t take32() { return s.u32(element, next++); }
  NUMENS_HD NUMENS_INLINE uint64_t take64() { return s.u64(element, next++); }
  NUMENS_HD NUMENS_INLINE uint32_t take_r(int r, uint32_t width_bit) {
    return s.ur(element, next++, r, width_bit);
  }
};

}  // namespace numens::mca
