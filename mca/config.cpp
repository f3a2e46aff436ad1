#include "mca/config.hpp"

#include <charconv>

namespace numens::mca {

namespace {
constexpr std::string_view kModeNames[] = {"ieee", "sr", "rr", "pb", "mca", "sr_equal"};
constexpr std::string_view kGranularityNames[] = {"op", "tile", "tensor"};

std::string quoted_list(const std::string_view* names, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::string(names[i]);
  return s;
}
}  // namespace

std::string_view to_string(Mode m) { return kModeNames[static_cast<int>(m)]; }
std::string_view to_string(Granularity g) { return kGranularityNames[static_cast<int>(g)]; }

Mode parse_mode(std::string_view s) {
  for (size_t i = 0; i < std::size(kModeNames); ++i)
    if (s == kModeNames[i]) return static_cast<Mode>(i);
  throw ConfigError("unknown arithmetic mode '" + std::string(s) +
                    "' (expected one of: " + quoted_list(kModeNames, std::size(kModeNames)) + ")");
}

Granularity parse_granularity(std::string_view s) {
  for (size_t i = 0; i < std::size(kGranularityNames); ++i)
    if (s == kGranularityNames[i]) return static_cast<Granularity>(i);
  throw ConfigError("unknown perturbation granularity '" + std::string(s) + "' (expected one of: " +
                    quoted_list(kGranularityNames, std::size(kGranularityNames)) + ")");
}

int parse_precision(std::string_view s, std::string_view what, int max_bits) {
  int v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size())
    throw ConfigError(std::string(what) + ": '" + std::string(s) + "' is not an integer");
  if (v < 1 || v > max_bits)
    throw ConfigError(std::string(what) + " = " + std::to_string(v) + " is out of range 1.." +
                      std::to_string(max_bits));
  return v;
}

void ArithConfig::validate() const {
  if (static_cast<size_t>(mode) >= std::size(kModeNames))
    throw ConfigError("arithmetic mode has an invalid value");
  if (t32 < 1 || t32 > Format<float>::p)
    throw ConfigError("t32 = " + std::to_string(t32) +
                      " is out of range 1..24 (binary32 has 24 significand bits)");
  if (t64 < 1 || t64 > Format<double>::p)
    throw ConfigError("t64 = " + std::to_string(t64) +
                      " is out of range 1..53 (binary64 has 53 significand bits)");
  if (granularity != Granularity::op)
    throw ConfigError("granularity '" + std::string(to_string(granularity)) +
                      "' is not implemented yet (only 'op')");
}

std::string ArithConfig::describe() const {
  return std::string(to_string(mode)) + " t32=" + std::to_string(t32) +
         " t64=" + std::to_string(t64) + " seed=" + std::to_string(seed) +
         " member=" + std::to_string(member) + " granularity=" + std::string(to_string(granularity));
}

}  // namespace numens::mca
