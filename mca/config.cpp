#include "mca/config.hpp"

#include <charconv>

namespace numens::mca {

namespace {
constexpr std::string_view kModeNames[] = {"ieee", "sr", "rr", "pb", "mca", "sr_equal"};
constexpr std::string_view kFmaNames[] = {"split", "fused"};

std::string quoted_list(const std::string_view* names, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::string(names[i]);
  return s;
}
}  // namespace

std::string_view to_string(Mode m) {
  return kModeNames[static_cast<int>(m)];
}
std::string_view to_string(FmaMode f) {
  return kFmaNames[static_cast<int>(f)];
}

std::string granularity_string(int tile) {
  return tile <= 1 ? std::string("op") : "tile:" + std::to_string(tile);
}

Mode parse_mode(std::string_view s) {
  for (size_t i = 0; i < std::size(kModeNames); ++i)
    if (s == kModeNames[i]) return static_cast<Mode>(i);
  throw ConfigError("unknown arithmetic mode '" + std::string(s) +
                    "' (expected one of: " + quoted_list(kModeNames, std::size(kModeNames)) + ")");
}

FmaMode parse_fma(std::string_view s) {
  for (size_t i = 0; i < std::size(kFmaNames); ++i)
    if (s == kFmaNames[i]) return static_cast<FmaMode>(i);
  throw ConfigError("unknown fma mode '" + std::string(s) +
                    "' (expected one of: " + quoted_list(kFmaNames, std::size(kFmaNames)) + ")");
}

int parse_granularity(std::string_view s) {
  if (s == "op") return 1;
  const std::string_view prefix = "tile:";
  if (s.substr(0, prefix.size()) == prefix) {
    const std::string_view num = s.substr(prefix.size());
    int k = 0;
    const auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), k);
    if (ec == std::errc() && ptr == num.data() + num.size() && !num.empty() && k >= 1 &&
        k <= kMaxTile)
      return k;
    throw ConfigError("granularity '" + std::string(s) + "': k must be an integer in 1.." +
                      std::to_string(kMaxTile));
  }
  throw ConfigError("unknown perturbation granularity '" + std::string(s) +
                    "' (expected 'op' or 'tile:k', e.g. 'tile:16')");
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
  if (static_cast<size_t>(fma) >= std::size(kFmaNames))
    throw ConfigError("fma mode has an invalid value");
  if (sr_bits < 2 || sr_bits > 32)
    throw ConfigError("sr_bits = " + std::to_string(sr_bits) +
                      " is out of range 2..32 (random bits per rounding decision)");
  if (rounds != 10 && rounds != 7)
    throw ConfigError("rounds = " + std::to_string(rounds) +
                      " is not a Philox4x32 round count numens offers (10 or 7)");
  if (tile < 1 || tile > kMaxTile)
    throw ConfigError("granularity tile:" + std::to_string(tile) + ": k must be in 1.." +
                      std::to_string(kMaxTile));
  if (mode == Mode::ieee && !exact_contract())
    throw ConfigError("cost options (" + describe_options() +
                      ") apply to perturbed modes only; mode 'ieee' takes the defaults "
                      "(fma=split sr_bits=32 rounds=10 granularity=op)");
  if (sr_bits < 32 && mode != Mode::sr && mode != Mode::sr_equal)
    throw ConfigError("sr_bits = " + std::to_string(sr_bits) + " applies to modes 'sr' and " +
                      "'sr_equal' only; mode '" + std::string(to_string(mode)) +
                      "' needs a full-width uniform draw (use sr_bits = 32)");
}

ArithConfig parse_arith_spec(std::string_view spec, ArithConfig base) {
  size_t pos = spec.find('+');
  base.mode = parse_mode(spec.substr(0, pos));
  auto number = [&](std::string_view o, std::string_view digits) {
    int v = 0;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty())
      throw ConfigError("arithmetic spec '" + std::string(spec) + "': option '" + std::string(o) +
                        "' needs a number");
    return v;
  };
  while (pos != std::string_view::npos) {
    const size_t next = spec.find('+', pos + 1);
    const std::string_view o =
        spec.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1);
    if (o == "fused") {
      base.fma = FmaMode::fused;
    } else if (o == "split") {
      base.fma = FmaMode::split;
    } else if (o.substr(0, 6) == "rounds") {
      base.rounds = number(o, o.substr(6));
    } else if (o.substr(0, 4) == "tile") {
      base.tile = number(o, o.substr(4));
    } else if (o.size() > 1 && o[0] == 'r') {
      base.sr_bits = number(o, o.substr(1));
    } else {
      throw ConfigError("arithmetic spec '" + std::string(spec) + "': unknown option '" +
                        std::string(o) + "' (fused, split, rN, roundsN, tileK)");
    }
    pos = next;
  }
  base.validate();
  return base;
}

std::string ArithConfig::describe_options() const {
  return "fma=" + std::string(to_string(fma)) + " sr_bits=" + std::to_string(sr_bits) +
         " rounds=" + std::to_string(rounds) + " granularity=" + granularity_string(tile);
}

std::string ArithConfig::describe() const {
  return std::string(to_string(mode)) + " t32=" + std::to_string(t32) +
         " t64=" + std::to_string(t64) + " seed=" + std::to_string(seed) +
         " member=" + std::to_string(member) + " " + describe_options();
}

}  // namespace numens::mca
