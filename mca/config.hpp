// Run-time arithmetic configuration: which policy, at which virtual precision, on which random
// stream. Validated once, with an error that names the offending value, before any work starts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mca/error.hpp"
#include "mca/policy.hpp"

namespace numens::mca {

// How often a perturbation is applied (DESIGN.md, "Granularity"). Only `op` is implemented by the
// kernels so far; the others are accepted by the parser and refused by validate().
enum class Granularity : uint8_t { op, tile, tensor };

struct ArithConfig {
  Mode mode = Mode::ieee;
  int t32 = 24;  // virtual precision for binary32, 1..24
  int t64 = 53;  // virtual precision for binary64, 1..53
  uint32_t seed = 0;
  uint32_t member = 0;
  Granularity granularity = Granularity::op;

  // Throws ConfigError naming the field and the accepted range.
  void validate() const;
  // "sr t32=24 t64=53 seed=0 member=0 granularity=op"
  std::string describe() const;
};

std::string_view to_string(Mode m);
std::string_view to_string(Granularity g);
// Throw ConfigError listing the accepted names when `s` is not one.
Mode parse_mode(std::string_view s);
Granularity parse_granularity(std::string_view s);
// Parse a precision given as text; `what` names the field in the error ("t32", "--t").
int parse_precision(std::string_view s, std::string_view what, int max_bits);

}  // namespace numens::mca
