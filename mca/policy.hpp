// Arithmetic policies: the type a kernel takes as a template parameter to decide how each
// floating-point operation is rounded (MCA.md, "Modes").
//
//   Ieee     round to nearest, plain hardware operations
//   Sr       SR_t(exact a op b)
//   Rr       inexact(exact a op b), skipped when exact at t; at t = p the same as Sr
//   Pb       RN(inexact(a) op inexact(b))
//   Mca      RN(inexact(inexact(a) op inexact(b)))
//   SrEqual  up or down with probability 1/2 when inexact at t
//
// The mode is a compile-time property of the type; the virtual precisions and the random stream
// are run-time values carried by the policy object. Each operation takes the element's Draws
// cursor and consumes one draw per random value it needs (Sr, Rr, SrEqual: 1; Pb: one per
// operand; Mca: one per operand plus one), so the sequence of draws is fixed by the program.
// Ieee never touches its cursor.
//
// Cost options (MCA.md v2), run-time fields like t32/t64: `fused` makes fma() the fused op (one
// rounding of the exact a * b + c, one output draw); `sr_bits` < 32 gives sr and sr_equal r-bit
// draws (stream.hpp's slot layout, rounding.hpp's r-bit rule); `tile` > 1 is read by reductions
// (mca/accumulate.hpp and the conv kernels), never by a single operation; Philox rounds live in the
// stream. With the defaults every operation is the exact contract's, bit for bit.
//
// Rule for kernel code: at most one argument of a policy call may itself consume draws from the
// same cursor. C++ leaves the evaluation order of arguments unspecified (g++ and nvcc differ), so
// pol.add(pol.mul(a, b, d), pol.mul(c, e, d), d) would give different bits on CPU and GPU: name
// the products first. Chains such as pol.add(pol.mul(a, b, d), c, d) are fine.
#pragma once

#include "mca/rounding.hpp"
#include "mca/stream.hpp"

namespace numens::mca {

enum class Mode : uint8_t { ieee, sr, rr, pb, mca, sr_equal };

template <Mode M>
struct Policy {
  static constexpr Mode mode = M;
  static constexpr bool perturbed = M != Mode::ieee;
  // Most draws one split fma (a multiply then an add) can consume: operand draws (pb, mca) and
  // output draws. A reduction that gives term q the draws [q * kFmaDraws, (q + 1) * kFmaDraws)
  // fixes every term's random numbers by its index alone, whether or not earlier terms ran.
  static constexpr uint32_t kFmaDraws = (M == Mode::pb || M == Mode::mca) ? 6 : 2;
  int t32 = 24;
  int t64 = 53;
  Stream stream{};
  bool fused = false;  // fma = fused
  int sr_bits = 32;    // 2..32; below 32 only for sr and sr_equal
  int tile = 1;        // granularity: 1 = op, k = tile:k

  // The cursor for one output element at this policy's site and step.
  NUMENS_HD NUMENS_INLINE Draws draws(uint64_t element, uint32_t first = 0) const {
    return Draws{stream, element, first};
  }
  // The same policy with another op site / step (kernels are handed one per call).
  NUMENS_HD Policy at(uint32_t site, uint32_t step) const {
    Policy p = *this;
    p.stream = stream.at(site, step);
    return p;
  }

  template <class T>
  NUMENS_HD NUMENS_INLINE int t() const {
    if constexpr (sizeof(T) == sizeof(float)) {
      return t32;
    } else {
      return t64;
    }
  }

  NUMENS_HD NUMENS_INLINE float add(float a, float b, Draws& d) const { return bin<0>(a, b, d); }
  NUMENS_HD NUMENS_INLINE double add(double a, double b, Draws& d) const { return bin<0>(a, b, d); }
  NUMENS_HD NUMENS_INLINE float sub(float a, float b, Draws& d) const { return bin<1>(a, b, d); }
  NUMENS_HD NUMENS_INLINE double sub(double a, double b, Draws& d) const { return bin<1>(a, b, d); }
  NUMENS_HD NUMENS_INLINE float mul(float a, float b, Draws& d) const { return bin<2>(a, b, d); }
  NUMENS_HD NUMENS_INLINE double mul(double a, double b, Draws& d) const { return bin<2>(a, b, d); }
  NUMENS_HD NUMENS_INLINE float div(float a, float b, Draws& d) const { return bin<3>(a, b, d); }
  NUMENS_HD NUMENS_INLINE double div(double a, double b, Draws& d) const { return bin<3>(a, b, d); }

  template <class T>
  NUMENS_HD NUMENS_INLINE T sqrt(T a, Draws& d) const {
    if constexpr (M == Mode::ieee) {
      return T(::sqrt(double(a)));  // correctly rounded either way; one spelling on host and device
    } else {
      const double x = in<T>(a, d);
      return out<T>(exact_sqrt(x), d);
    }
  }

  // a * b + c as the configuration says: two perturbed operations (split, the default: it
  // matches code without fma) or one (fused). Either way the term owns kFmaDraws draws; fused sr
  // uses the first.
  template <class T>
  NUMENS_HD NUMENS_INLINE T fma(T a, T b, T c, Draws& d) const {
    if constexpr (M != Mode::ieee) {
      if (fused) return fma_fused(a, b, c, d);
    }
    return add(mul(a, b, d), c, d);
  }

  // a * b + c with a single rounding.
  template <class T>
  NUMENS_HD NUMENS_INLINE T fma_fused(T a, T b, T c, Draws& d) const {
    if constexpr (M == Mode::ieee) {
      if constexpr (sizeof(T) == sizeof(float)) {
        return ::fmaf(a, b, c);  // not fma(double): that would round twice
      } else {
        return ::fma(a, b, c);
      }
    } else {
      const double x = in<T>(a, d), y = in<T>(b, d), z = in<T>(c, d);
      return out<T>(exact_fma(x, y, z), d);
    }
  }

  // Transcendental functions: computed accurately, then perturbed once on output. binary32 goes
  // through the binary64 function (accurate to ~2^-52); binary64 takes libm's result as the value
  // to perturb, so at t = 53 `sr` leaves it unchanged while `rr`/`mca` still add noise. The device
  // libm differs from glibc in the last bit, so these are the one place where a GPU result may
  // differ from the CPU result for the same counters.
  template <class T>
  NUMENS_HD NUMENS_INLINE T exp(T a, Draws& d) const {
    if constexpr (M == Mode::ieee) {
      return T(::exp(double(a)));
    } else {
      const double x = in<T>(a, d);
      return out<T>(Exact{::exp(x), 0.0, 0}, d);
    }
  }
  template <class T>
  NUMENS_HD NUMENS_INLINE T log(T a, Draws& d) const {
    if constexpr (M == Mode::ieee) {
      return T(::log(double(a)));
    } else {
      const double x = in<T>(a, d);
      return out<T>(Exact{::log(x), 0.0, 0}, d);
    }
  }

  // binary64 -> binary32 conversion at virtual precision t32.
  NUMENS_HD NUMENS_INLINE float to_float(double a, Draws& d) const {
    if constexpr (M == Mode::ieee) {
      return float(a);
    } else {
      const double x = in<double>(a, d);
      return out<float>(Exact{x, 0.0, 0}, d);
    }
  }

 private:
  template <class T>
  using Word = typename DrawWord<T>::type;

  template <class T>
  NUMENS_HD NUMENS_INLINE Word<T> take(Draws& d) const {
    if constexpr (sizeof(T) == sizeof(float)) {
      return d.take32();
    } else {
      return d.take64();
    }
  }

  // Operand perturbation (pb, mca) at the operand's own precision.
  template <class T>
  NUMENS_HD NUMENS_INLINE double in(T a, Draws& d) const {
    if constexpr (M == Mode::pb || M == Mode::mca) {
      return inexact_input<T>(a, t<T>(), take<T>(d));
    } else {
      return double(a);
    }
  }

  // An r-bit draw (sr_bits < 32) of the width that matches T.
  template <class T>
  NUMENS_HD NUMENS_INLINE uint32_t take_r(Draws& d) const {
    return d.take_r(sr_bits, sizeof(T) == sizeof(float) ? 0u : 1u);
  }

  // Rounding of the exact result into T according to the mode.
  template <class T>
  NUMENS_HD NUMENS_INLINE T out(Exact x, Draws& d) const {
    const int tt = t<T>();
    if constexpr (M == Mode::sr) {
      if (sr_bits < 32) return stochastic_round_r<T>(x, tt, sr_bits, take_r<T>(d));
      return stochastic_round<T>(x, tt, take<T>(d));
    } else if constexpr (M == Mode::sr_equal) {
      if (sr_bits < 32) return equal_round_r<T>(x, tt, sr_bits, take_r<T>(d));
      return equal_round<T>(x, tt, take<T>(d));
    } else if constexpr (M == Mode::rr) {
      // At t = p, RN(x + ulp (xi - 1/2)) is exactly SR; using SR avoids a second rounding.
      if (tt == Format<T>::p) return stochastic_round<T>(x, tt, take<T>(d));
      return inexact_round<T>(x, tt, take<T>(d), /*skip_exact=*/true);
    } else if constexpr (M == Mode::mca) {
      return inexact_round<T>(x, tt, take<T>(d), /*skip_exact=*/false);
    } else {  // pb: operands were perturbed, the operation rounds to nearest
      return round_nearest<T>(x);
    }
  }

  template <int Op, class T>
  NUMENS_HD NUMENS_INLINE T bin(T a, T b, Draws& d) const {
    if constexpr (M == Mode::ieee) {
      if constexpr (Op == 0) return a + b;
      if constexpr (Op == 1) return a - b;
      if constexpr (Op == 2) return a * b;
      if constexpr (Op == 3) return a / b;
    } else {
      const double x = in<T>(a, d), y = in<T>(b, d);
      Exact e;
      if constexpr (Op == 0) e = exact_add(x, y);
      if constexpr (Op == 1) e = exact_sub(x, y);
      if constexpr (Op == 2) e = exact_mul(x, y);
      if constexpr (Op == 3) e = exact_div(x, y);
      return out<T>(e, d);
    }
  }
};

using Ieee = Policy<Mode::ieee>;
using Sr = Policy<Mode::sr>;
using Rr = Policy<Mode::rr>;
using Pb = Policy<Mode::pb>;
using Mca = Policy<Mode::mca>;
using SrEqual = Policy<Mode::sr_equal>;

}  // namespace numens::mca
