#include "analysis/sigdigits.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "mca/error.hpp"

namespace numens::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Mantissa bits of binary64 as numpy's finfo(float64).nmant counts them: the cap significantdigits
// applies when a sample has no spread at all.
constexpr int kMaxBits = 52;

// S(a) = ln Gamma(a + 1) - [(a + 1/2) ln a - a + 1/2 ln(2 pi)], Stirling's series. For a >= 20 the
// first omitted term is below 1e-17, so the prefactor below stays accurate where a ln x and
// lgamma(a) are both ~1e4..1e6 and would cancel to a few correct digits only.
double stirling_tail(double a) {
  const double r = 1.0 / a, r2 = r * r;
  return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 - r2 / 1188))));
}

// D(a, x) = x^a e^-x / Gamma(a + 1), the common factor of P(a, x) and of its derivative.
double gamma_prefactor(double a, double x) {
  if (a >= 20) {
    // x^a e^-x / Gamma(a+1) = exp(a (ln(1 + t) - t) - S(a)) / sqrt(2 pi a), t = (x - a) / a:
    // no large terms that cancel.
    const double t = (x - a) / a;
    return std::exp(a * (std::log1p(t) - t) - stirling_tail(a)) /
           std::sqrt(2 * std::numbers::pi * a);
  }
  return std::exp(a * std::log(x) - x - std::lgamma(a + 1));
}

}  // namespace

SigMethod parse_sig_method(const std::string& s) {
  if (s == "cnh") return SigMethod::cnh;
  if (s == "general") return SigMethod::general;
  throw ConfigError("significant digits: method '" + s + "' is not cnh or general");
}

const char* sig_method_name(SigMethod m) {
  return m == SigMethod::cnh ? "cnh" : "general";
}

const char* sig_error_name(SigError e) {
  return e == SigError::relative ? "relative" : "absolute";
}

double gamma_p(double a, double x) {
  if (!(a > 0) || !(x >= 0) || std::isnan(x))
    throw ConfigError("gamma_p: needs a > 0 and x >= 0, got a = " + std::to_string(a) +
                      ", x = " + std::to_string(x));
  if (x == 0) return 0;
  if (std::isinf(x)) return 1;
  const double d = gamma_prefactor(a, x);
  if (x < a + 1) {
    // P = D * sum_{n>=0} x^n / ((a+1)...(a+n)): terms shrink once a + n > x, all positive.
    double term = 1, sum = 1;
    for (int n = 1; n < 100000; ++n) {
      term *= x / (a + n);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return std::min(1.0, d * sum);
  }
  // Q = D a / (x + 1 - a - 1 (1 - a) / (x + 3 - a - 2 (2 - a) / ...)), modified Lentz; converges
  // fast for x > a + 1, where the series above would not.
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, dd = 1 / b, h = dd;
  for (int i = 1; i < 100000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    dd = an * dd + b;
    if (std::abs(dd) < tiny) dd = tiny;
    c = b + an / c;
    if (std::abs(c) < tiny) c = tiny;
    dd = 1 / dd;
    const double delta = dd * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-16) break;
  }
  return std::max(0.0, 1 - d * a * h);
}

double normal_quantile(double q) {
  if (!(q > 0 && q < 1))
    throw ConfigError("normal_quantile: probability " + std::to_string(q) + " is not in (0, 1)");
  // Lower half only: 1 - q is exact for q >= 1/2 (Sterbenz), and the lower tail is where erfc
  // has full relative accuracy for the refinement.
  if (q > 0.5) return -normal_quantile(1 - q);
  if (q == 0.5) return 0;
  // Acklam's rational approximation (relative error < 1.2e-9) as the start...
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  double x;
  if (q < 0.02425) {
    const double t = std::sqrt(-2 * std::log(q));
    x = (((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) /
        ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1);
  } else {
    const double t = q - 0.5, r = t * t;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * t /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  // ...then Halley steps on Phi(x) - q with Phi from erfc: each step roughly triples the correct
  // digits, two take 1e-9 to the limit of double.
  for (int it = 0; it < 3; ++it) {
    const double e = 0.5 * std::erfc(-x / std::numbers::sqrt2) - q;
    const double u = e * std::sqrt(2 * std::numbers::pi) * std::exp(x * x / 2);
    const double step = u / (1 + x * u / 2);
    x -= step;
    if (std::abs(step) <= 1e-16 * std::abs(x)) break;
  }
  return x;
}

double chi2_quantile(double q, double dof) {
  if (!(q > 0 && q < 1))
    throw ConfigError("chi2_quantile: probability " + std::to_string(q) + " is not in (0, 1)");
  if (!(dof > 0) || std::isinf(dof))
    throw ConfigError("chi2_quantile: degrees of freedom " + std::to_string(dof) +
                      " must be positive");
  // Solve P(a, x) = q for x, a = dof / 2; the chi-square quantile is 2x.
  const double a = dof / 2;
  // Start: Wilson-Hilferty ((chi2/k)^(1/3) ~ normal), good except for tiny dof and far lower
  // tails; there the root of x^a / Gamma(a + 1) = q takes over. That root is a lower bound
  // (P(a, x) <= x^a / Gamma(a + 1)), so the larger of the two starts is the better one.
  const double z = normal_quantile(q), h = 2.0 / (9 * dof);
  const double wh = dof * std::pow(1 - h + z * std::sqrt(h), 3) / 2;
  const double small = std::exp((std::log(q) + std::lgamma(a + 1)) / a);
  double x = std::max(wh > 0 ? wh : 0.0, small);
  if (!(x > 0)) x = std::numeric_limits<double>::min();
  // Halley on f(x) = P(a, x) - q, f' = x^(a-1) e^-x / Gamma(a) = D a / x, f''/f' = (a-1)/x - 1,
  // kept inside the bracket [lo, hi] known so far (bisection when a step leaves it).
  double lo = 0, hi = std::numeric_limits<double>::infinity();
  for (int it = 0; it < 200; ++it) {
    const double f = gamma_p(a, x) - q;
    if (f == 0) break;
    (f < 0 ? lo : hi) = x;
    const double fp = gamma_prefactor(a, x) * a / x;
    double next = x;
    if (fp > 0 && std::isfinite(fp)) {
      const double r = f / fp;
      const double halley = r / (1 - 0.5 * r * ((a - 1) / x - 1));
      next = x - (std::isfinite(halley) ? halley : r);
    }
    if (!(next > lo && next < hi)) next = std::isinf(hi) ? 2 * std::max(x, lo) + 1 : (lo + hi) / 2;
    const bool done = std::abs(next - x) <= 1e-15 * x;
    x = next;
    if (done) break;
  }
  return 2 * x;
}

std::int64_t general_min_samples(double probability, double confidence) {
  if (!(probability > 0 && probability < 1) || !(confidence > 0 && confidence < 1))
    throw ConfigError("significant digits: probability and confidence must be in (0, 1)");
  return std::int64_t(std::ceil(std::log(1 - confidence) / std::log(probability)));
}

namespace {

struct ZSample {
  std::vector<double> z;
  int e = 1;  // exponent scaling of absolute errors, 1 for relative ones
  bool defined = true;
};

void check_options(std::span<const double> x, const SigOptions& opt, const char* what) {
  if (x.size() < 2)
    throw ConfigError(std::string(what) + ": needs at least 2 samples, got " +
                      std::to_string(x.size()));
  if (!(opt.probability > 0 && opt.probability < 1) || !(opt.confidence > 0 && opt.confidence < 1))
    throw ConfigError(std::string(what) + ": probability and confidence must be in (0, 1)");
  if (opt.base != 2 && opt.base != 10)
    throw ConfigError(std::string(what) + ": base " + std::to_string(opt.base) + " is not 2 or 10");
}

ZSample errors(std::span<const double> x, const SigOptions& opt) {
  ZSample s;
  for (double v : x)
    if (!std::isfinite(v)) s.defined = false;
  if (!s.defined) return s;
  double ref;
  if (opt.reference) {
    ref = *opt.reference;
  } else {
    // Neumaier's compensated sum: the mean to within an ulp whatever n, close to numpy's
    // pairwise summation, so a reference "sample mean" is the same number here and there.
    double sum = 0, comp = 0;
    for (double v : x) {
      const double t = sum + v;
      comp += std::abs(sum) >= std::abs(v) ? (sum - t) + v : (v - t) + sum;
      sum = t;
    }
    ref = (sum + comp) / double(x.size());
  }
  if (!std::isfinite(ref) || (opt.error == SigError::relative && ref == 0)) {
    s.defined = false;
    return s;
  }
  s.z.resize(x.size());
  if (opt.error == SigError::relative) {
    for (std::size_t i = 0; i < x.size(); ++i) s.z[i] = x[i] / ref - 1;
  } else {
    for (std::size_t i = 0; i < x.size(); ++i) s.z[i] = x[i] - ref;
    // e = floor(log2 |x|) + 1, exactly (ilogb reads the exponent; log2 could round up just
    // below a power of two); 1 for a zero reference.
    s.e = ref == 0 ? 1 : std::ilogb(ref) + 1;
  }
  return s;
}

// Population standard deviation (ddof 0) of z, two passes; when it is 0 but z is not (all samples
// equally off the reference), max |z| stands in, as in significantdigits. 0 only when z == 0.
double spread(const std::vector<double>& z) {
  double m = 0;
  for (double v : z) m += v;
  m /= double(z.size());
  double ss = 0, zmax = 0;
  for (double v : z) {
    ss += (v - m) * (v - m);
    zmax = std::max(zmax, std::abs(v));
  }
  const double sd = std::sqrt(ss / double(z.size()));
  return sd > 0 ? sd : zmax;
}

double to_base(double bits, int base) {
  return base == 2 ? bits : bits * std::numbers::ln2 / std::numbers::ln10;
}

// Sohier et al.'s 1/2 log2((n - 1) / chi2_lo): the correction from the sample std to an upper
// confidence bound on the true std.
double chi2_term(std::size_t n, double confidence) {
  const double k = double(n - 1);
  return 0.5 * std::log2(k / chi2_quantile((1 - confidence) / 2, k));
}

}  // namespace

double significant_digits(std::span<const double> samples, const SigOptions& opt) {
  check_options(samples, opt, "significant digits");
  const ZSample s = errors(samples, opt);
  if (!s.defined) return kNaN;
  if (opt.method == SigMethod::general) {
    int k_best = 0;
    for (int k = 0; k <= kMaxBits; ++k) {
      const double bound = std::ldexp(1.0, -(k - (s.e - 1)));
      bool all = true;
      for (double v : s.z) all = all && std::abs(v) <= bound;
      if (!all) break;
      k_best = k;
    }
    return to_base(k_best, opt.base);
  }
  const double delta =
      chi2_term(s.z.size(), opt.confidence) + std::log2(normal_quantile((opt.probability + 1) / 2));
  const double sd = spread(s.z);
  const double bits = sd == 0 ? kMaxBits - delta : -std::log2(sd) + (s.e - 1) - delta;
  return to_base(bits, opt.base);
}

double contributing_digits(std::span<const double> samples, const SigOptions& opt) {
  check_options(samples, opt, "contributing digits");
  if (opt.method != SigMethod::cnh)
    throw ConfigError("contributing digits: only the cnh method is implemented");
  if (!(opt.probability > 0.5))
    throw ConfigError("contributing digits: probability must be above 1/2");
  const ZSample s = errors(samples, opt);
  if (!s.defined) return kNaN;
  const double delta = chi2_term(s.z.size(), opt.confidence) + std::log2(opt.probability - 0.5) +
                       std::log2(2 * std::sqrt(2 * std::numbers::pi));
  const double sd = spread(s.z);
  const double bits = sd == 0 ? kMaxBits + (s.e - 1) - delta : -std::log2(sd) + (s.e - 1) - delta;
  return to_base(bits, opt.base);
}

}  // namespace numens::analysis
