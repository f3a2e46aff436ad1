// Run-time arithmetic configuration: which policy, at which virtual precision, on which random
// stream, with which cost options (MCA.md v2). Validated once, with an error that names the
// offending value, before any work starts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mca/error.hpp"
#include "mca/policy.hpp"

namespace numens::mca {

// How a multiply-add is perturbed (MCA.md v2, `fma`): split = a perturbed multiply, then a
// perturbed add (the exact contract); fused = the exact a * b + c perturbed once.
enum class FmaMode : uint8_t { split, fused };

// The cost options of MCA.md v2 alone (defaults: the exact contract), as an arm or a flag set
// carries them apart from a mode.
struct CostOptions {
  FmaMode fma = FmaMode::split;
  int sr_bits = 32;
  int rounds = 10;
  int tile = 1;
};

struct ArithConfig {
  Mode mode = Mode::ieee;
  int t32 = 24;  // virtual precision for binary32, 1..24
  int t64 = 53;  // virtual precision for binary64, 1..53
  uint32_t seed = 0;
  uint32_t member = 0;
  // Cost options (MCA.md v2). The defaults are the exact contract.
  FmaMode fma = FmaMode::split;
  int sr_bits = 32;  // random bits per rounding decision, 2..32 (32: the exact contract)
  int rounds = 10;   // Philox4x32 rounds, 10 or 7
  int tile = 1;      // granularity: 1 = op, k > 1 = tile:k (k terms of a reduction per rounding)

  CostOptions cost() const { return {fma, sr_bits, rounds, tile}; }
  void set_cost(const CostOptions& c) {
    fma = c.fma;
    sr_bits = c.sr_bits;
    rounds = c.rounds;
    tile = c.tile;
  }
  // True when every cost option has its default (the exact contract of MCA.md).
  bool exact_contract() const {
    return fma == FmaMode::split && sr_bits == 32 && rounds == 10 && tile == 1;
  }
  // Throws ConfigError naming the field and the accepted range.
  void validate() const;
  // "sr t32=24 t64=53 seed=0 member=0 fma=split sr_bits=32 rounds=10 granularity=op"
  std::string describe() const;
  // The cost options alone: "fma=split sr_bits=32 rounds=10 granularity=op".
  std::string describe_options() const;
};

std::string_view to_string(Mode m);
std::string_view to_string(FmaMode f);
// "op" or "tile:k".
std::string granularity_string(int tile);
// Throw ConfigError listing the accepted names when `s` is not one.
Mode parse_mode(std::string_view s);
FmaMode parse_fma(std::string_view s);
// "op" -> 1, "tile:k" -> k (1 <= k <= 2^20; tile:1 is op).
int parse_granularity(std::string_view s);
// Parse a precision given as text; `what` names the field in the error ("t32", "--t").
int parse_precision(std::string_view s, std::string_view what, int max_bits);

inline constexpr int kMaxTile = 1 << 20;

// A compact arithmetic spec for benchmarks and sweeps: a mode, then cost options joined by '+':
// "sr", "sr+fused+r16", "sr+tile16+rounds7". Options: fused, split, rN (sr_bits = N), roundsN,
// tileK (granularity tile:K). Sets mode and options of `base` and validates; throws ConfigError.
ArithConfig parse_arith_spec(std::string_view spec, ArithConfig base = {});

}  // namespace numens::mca
