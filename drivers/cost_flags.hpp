// The cost options of MCA.md v2 as command-line flags (--fma, --sr-bits, --rounds, --granularity),
// shared by the subcommands that take an arithmetic on the command line (segment, mca-check);
// configuration files use the [arith] keys of the same names (drivers/config_section.hpp).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "mca/config.hpp"

namespace numens::drivers {

struct CostFlags {
  std::string fma = "split";
  int sr_bits = 32;
  int rounds = 10;
  std::string granularity = "op";

  void add_to(CLI::App* sub) {
    sub->add_option("--fma", fma, "multiply-adds: split (two roundings) | fused (one)")
        ->capture_default_str();
    sub->add_option("--sr-bits", sr_bits, "random bits per sr decision (2..32; 32 = exact)")
        ->capture_default_str();
    sub->add_option("--rounds", rounds, "Philox4x32 rounds: 10 | 7")->capture_default_str();
    sub->add_option("--granularity", granularity, "op | tile:k (k reduction terms per rounding)")
        ->capture_default_str();
  }
  // Sets the options of `a` (validated later, with the mode, by ArithConfig::validate).
  void apply(mca::ArithConfig& a) const {
    a.fma = mca::parse_fma(fma);
    a.sr_bits = sr_bits;
    a.rounds = rounds;
    a.tile = mca::parse_granularity(granularity);
  }
};

}  // namespace numens::drivers
