// Philox4x32-R (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
// counter-based generator behind every perturbation: R = 10 rounds (Random123's default, the exact
// contract) or 7 (the `rounds` cost option of MCA.md v2). Counter-based means a random word is a
// pure function of (key, counter): no state to share between threads, so a result cannot depend on
// which thread, block or rank computed it. Same header on host and device.
#pragma once

#include "mca/hd.hpp"

namespace numens::mca {

struct Philox4x32 {
  struct Key {
    uint32_t k0, k1;
  };
  struct Block {
    uint32_t w[4];
  };

  // Random123's constants: multipliers from the paper, Weyl increments from the golden ratio and
  // sqrt(3) - 1.
  static constexpr uint32_t kM0 = 0xD2511F53u;
  static constexpr uint32_t kM1 = 0xCD9E8D57u;
  static constexpr uint32_t kW0 = 0x9E3779B9u;
  static constexpr uint32_t kW1 = 0xBB67AE85u;
  static constexpr int kRounds = 10;  // the default; the most any caller asks for

  template <int R = kRounds>
  NUMENS_HD static NUMENS_INLINE Block generate(Block c, Key k) {
    static_assert(R >= 1 && R <= kRounds, "Philox4x32 rounds out of range");
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (int r = 0; r < R; ++r) {
      if (r > 0) {
        k.k0 += kW0;
        k.k1 += kW1;
      }
      const uint64_t p0 = uint64_t(kM0) * c.w[0];
      const uint64_t p1 = uint64_t(kM1) * c.w[2];
      const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
      const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
      c = Block{{hi1 ^ c.w[1] ^ k.k0, lo1, hi0 ^ c.w[3] ^ k.k1, lo0}};
    }
    return c;
  }
  // The run-time choice of MCA.md v2: 7 rounds, anything else 10.
  NUMENS_HD static NUMENS_INLINE Block generate(Block c, Key k, int rounds) {
    return rounds == 7 ? generate<7>(c, k) : generate<10>(c, k);
  }
};

}  // namespace numens::mca
