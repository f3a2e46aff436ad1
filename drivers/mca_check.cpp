// numens mca-check: a user's quick sanity check of an arithmetic configuration. For a few
// operations on random operands it measures the error of the configured mode against the exact
// result and prints how much it perturbs, how large and how biased the error is.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "drivers/commands.hpp"
#include "drivers/cost_flags.hpp"
#include "mca/batch.hpp"
#include "mca/dispatch.hpp"

namespace numens::drivers {

namespace {

struct Options {
  std::string mode = "sr";
  int t32 = 24;
  int t64 = 53;
  uint32_t seed = 0;
  uint32_t member = 0;
  size_t samples = 100000;
  CostFlags cost;
};

struct Stats {
  double perturbed = 0;  // fraction of results that differ from round-to-nearest
  double mean_rel = 0;   // mean relative error (bias)
  double std_rel = 0;    // standard deviation of the relative error
  double max_ulp_t = 0;  // largest |error| in units of ulp_t of the exact result
};

// Operands: uniform significand in [1, 2), random sign and binade in [-8, 8], from a generator
// stream of its own (seed-independent, so two configurations see the same operands).
template <class T>
std::vector<T> operands(size_t n, uint32_t which, bool positive) {
  const mca::Stream s = mca::Stream::make(0x6d636163u, which);
  std::vector<T> v(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t u = s.u64(i, 0);
    const double m = 1.0 + double(u >> 11) * 0x1p-53;
    const int e = int(u & 15) - 8;
    const double x = std::ldexp(m, e);
    v[i] = T(positive || (u & 16) == 0 ? x : -x);
  }
  return v;
}

template <class T, class P>
Stats measure(const P& pol, const char* op, size_t n, int t) {
  const auto a = operands<T>(n, 1, false), b = operands<T>(n, 2, false),
             c = operands<T>(n, 3, false), pa = operands<T>(n, 4, true);
  std::vector<T> out(n);
  const std::string o = op;
  if (o == "add") mca::binary_n(pol, mca::BinaryOp::add, a.data(), b.data(), out.data(), n);
  if (o == "mul") mca::binary_n(pol, mca::BinaryOp::mul, a.data(), b.data(), out.data(), n);
  if (o == "div") mca::binary_n(pol, mca::BinaryOp::div, a.data(), b.data(), out.data(), n);
  if (o == "sqrt") mca::unary_n(pol, mca::UnaryOp::sqrt, pa.data(), out.data(), n);
  if (o == "fma") mca::fma_n(pol, /*fused=*/true, a.data(), b.data(), c.data(), out.data(), n);
  Stats st;
  double s1 = 0, s2 = 0;
  size_t used = 0;
  for (size_t i = 0; i < n; ++i) {
    mca::Exact x{};
    if (o == "add") x = mca::exact_add(a[i], b[i]);
    if (o == "mul") x = mca::exact_mul(a[i], b[i]);
    if (o == "div") x = mca::exact_div(a[i], b[i]);
    if (o == "sqrt") x = mca::exact_sqrt(pa[i]);
    if (o == "fma") x = mca::exact_fma(a[i], b[i], c[i]);
    if (x.hi == 0.0 || !std::isfinite(x.hi) || x.sc != 0) continue;
    // |r - hi| is exact (nearby binary64 values); the pair then gives the error to 2^-106.
    const double err = (double(out[i]) - x.hi) - x.lo;
    const double rel = err / (x.hi + x.lo);
    int e;
    std::frexp(x.hi, &e);
    const double ulp_t = std::ldexp(1.0, e - t);
    st.perturbed += (out[i] != mca::round_nearest<T>(x));
    s1 += rel;
    s2 += rel * rel;
    st.max_ulp_t = std::max(st.max_ulp_t, std::fabs(err) / ulp_t);
    ++used;
  }
  if (used == 0) return st;
  st.perturbed /= double(used);
  st.mean_rel = s1 / double(used);
  st.std_rel = std::sqrt(std::max(0.0, s2 / double(used) - st.mean_rel * st.mean_rel));
  return st;
}

int run(const Options& opt) {
  mca::ArithConfig cfg;
  cfg.mode = mca::parse_mode(opt.mode);
  cfg.t32 = opt.t32;
  cfg.t64 = opt.t64;
  cfg.seed = opt.seed;
  cfg.member = opt.member;
  opt.cost.apply(cfg);
  cfg.validate();
  if (opt.samples == 0) throw ConfigError("--samples must be positive");
  std::printf("numens mca-check: %s, %zu samples per operation\n", cfg.describe().c_str(),
              opt.samples);
  std::printf("%-7s %-5s %10s %14s %14s %11s %12s\n", "type", "op", "perturbed", "mean rel err",
              "std rel err", "-log2(std)", "max |err|/ulp_t");
  mca::with_policy(cfg, [&](auto pol) {
    for (const char* op : {"add", "mul", "div", "sqrt", "fma"}) {
      for (int is_double = 0; is_double < 2; ++is_double) {
        const int t = is_double ? cfg.t64 : cfg.t32;
        const Stats s = is_double ? measure<double>(pol, op, opt.samples, t)
                                  : measure<float>(pol, op, opt.samples, t);
        std::printf("%-7s %-5s %9.4f%% %14.3e %14.3e %11.2f %12.3f\n",
                    is_double ? "binary64" : "binary32", op, 100.0 * s.perturbed, s.mean_rel,
                    s.std_rel, s.std_rel > 0 ? -std::log2(s.std_rel) : INFINITY, s.max_ulp_t);
      }
    }
  });
  std::printf(
      "perturbed: share of results that differ from round-to-nearest; errors are relative to the "
      "exact result;\nsr/rr never exceed 1 ulp_t, pb/mca can; a mean far from 0 against the std "
      "would be a biased mode.\n");
  return 0;
}

}  // namespace

Runner add_mca_check(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "mca-check", "Measure the error statistics of an arithmetic mode at a virtual precision");
  sub->add_option("--mode", opt->mode, "ieee | sr | rr | pb | mca | sr_equal")
      ->capture_default_str();
  sub->add_option("--t,--t32", opt->t32, "virtual precision for binary32 (1..24)")
      ->capture_default_str();
  sub->add_option("--t64", opt->t64, "virtual precision for binary64 (1..53)")
      ->capture_default_str();
  sub->add_option("--seed", opt->seed, "MCA seed")->capture_default_str();
  sub->add_option("--member", opt->member, "ensemble member id (part of the random key)")
      ->capture_default_str();
  opt->cost.add_to(sub);
  sub->add_option("--samples", opt->samples, "operations measured per op and type")
      ->capture_default_str();
  return [opt] { return run(*opt); };
}

}  // namespace numens::drivers
