// Host/device portability for the arithmetic core. Everything in mca/ that a kernel calls is
// NUMENS_HD so one definition serves the CPU reference, the CPU fast path and CUDA kernels; that is
// what makes a GPU result bit-identical to the CPU result for the same counters.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define NUMENS_HD __host__ __device__
#define NUMENS_INLINE __forceinline__
#else
#define NUMENS_HD
#define NUMENS_INLINE inline __attribute__((always_inline))
#endif

namespace numens::mca {

// Bit casts usable in device code (std::bit_cast is not available in nvcc device code with every
// host compiler, and memcpy of a scalar compiles to a register move on both sides).
NUMENS_HD NUMENS_INLINE uint64_t bits_of(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}
NUMENS_HD NUMENS_INLINE uint32_t bits_of(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}
NUMENS_HD NUMENS_INLINE double double_from_bits(uint64_t u) {
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}
NUMENS_HD NUMENS_INLINE float float_from_bits(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

}  // namespace numens::mca
