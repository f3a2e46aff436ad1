// Significant digits of a sample of a random variable X (values of one quantity over the members
// of a perturbed ensemble), after Sohier et al. 2021, "Confidence Intervals for Stochastic
// Arithmetic" (ACM TOMS 47(2)), as the verificarlo `significantdigits` package computes them
// (docs/variability.md has the formulas; /work/shared/docs/MCA.md "Significant digits").
//
// Z is the error of each sample against a reference x: Z = X/x - 1 (relative) or Z = X - x
// (absolute, then scaled by the exponent e = floor(log2|x|) + 1 of x). Two estimators:
//   CNH (centred normality hypothesis): s = -log2(sigma_Z) + (e - 1) - delta,
//       delta = 1/2 log2((n - 1) / chi2_lo) + log2(Phi^-1((p + 1) / 2)),
//       chi2_lo the (1 - c)/2 quantile of chi-square with n - 1 degrees of freedom;
//   General (no assumption on the law): the largest k in [0, 52] with |Z_i| <= 2^-(k - (e - 1))
//       for every i; it holds with probability p at confidence c once n >= general_min_samples.
// Results are in bits (base 2) or digits (base 10: bits x log10 2).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace numens::analysis {

enum class SigMethod { cnh, general };
enum class SigError { relative, absolute };

struct SigOptions {
  SigMethod method = SigMethod::cnh;
  SigError error = SigError::relative;
  double probability = 0.95;  // p: the bound holds for a fraction p of the samples...
  double confidence = 0.95;   // c: ...at confidence c
  int base = 2;               // 2 (bits) or 10 (decimal digits)
  // The reference value x; none: the sample mean (the usual case of an ensemble with no exact
  // answer).
  std::optional<double> reference;
};

// "cnh" | "general" and "relative" | "absolute"; throw ConfigError naming the bad word.
SigMethod parse_sig_method(const std::string& s);
const char* sig_method_name(SigMethod m);
const char* sig_error_name(SigError e);

// Significant digits of the samples. Needs n >= 2 samples (ConfigError otherwise) and finite
// values. A sample with no spread at all (every Z exactly 0) gets the format's limit, 52 bits for
// CNH less delta, 52 for General, as significantdigits does; a zero reference with relative error
// gives NaN (Z is undefined).
double significant_digits(std::span<const double> samples, const SigOptions& opt);

// Contributing digits (bits of the result that are better than a coin toss at predicting the
// reference's), CNH only: as significant_digits with delta = 1/2 log2((n - 1) / chi2_lo) +
// log2(p - 1/2) + log2(2 sqrt(2 pi)); p > 1/2 (significantdigits' default 0.51).
double contributing_digits(std::span<const double> samples, const SigOptions& opt);

// Smallest n for which the General estimator holds with probability p at confidence c:
// ceil(ln(1 - c) / ln p) (299 at p = 0.99, c = 0.95).
std::int64_t general_min_samples(double probability, double confidence);

// The lower regularized incomplete gamma function P(a, x), a > 0, x >= 0.
double gamma_p(double a, double x);
// Quantile of the chi-square law with `dof` > 0 degrees of freedom: the x with
// P(dof/2, x/2) = q, 0 < q < 1. Relative accuracy about 1e-13.
double chi2_quantile(double q, double dof);
// Quantile of the standard normal law, 0 < q < 1 (Phi^-1), to about 1e-15 relative.
double normal_quantile(double q);

}  // namespace numens::analysis
