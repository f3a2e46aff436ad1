// Significant digits against the verificarlo significantdigits package's own numbers (its Cramer
// test data, tests/fixtures/README.md) and a case worked by hand; the chi-square and normal
// quantiles against scipy.stats values (chi2.ppf, norm.ppf, printed to 17 digits).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "analysis/sigdigits.hpp"
#include "mca/error.hpp"

using namespace numens;
using namespace numens::analysis;

namespace {

std::vector<double> read_samples(const std::string& name) {
  std::ifstream in(std::string(NUMENS_TEST_FIXTURES) + "/" + name);
  REQUIRE(in.good());
  std::vector<double> x;
  double v;
  while (in >> v) x.push_back(v);
  return x;
}

void check_rel(double got, double want, double tol) {
  INFO("got " << got << " want " << want);
  CHECK(std::abs(got - want) <= tol * std::abs(want));
}

}  // namespace

TEST_CASE("normal quantile matches scipy.stats.norm.ppf to 1e-14") {
  const std::pair<double, double> cases[] = {
      {0.975, 1.959963984540054},  {0.995, 2.5758293035489004}, {0.9, 1.2815515655446004},
      {1e-10, -6.361340902404056}, {0.02, -2.053748910631823},  {0.99999999, 5.612001243305505},
      {0.755, 0.6903088239330339}};
  for (auto [q, want] : cases) check_rel(normal_quantile(q), want, 1e-14);
  CHECK(normal_quantile(0.5) == 0.0);
  CHECK(normal_quantile(0.25) == -normal_quantile(0.75));  // 1 - 0.75 is exact
  CHECK_THROWS_AS(normal_quantile(0.0), ConfigError);
  CHECK_THROWS_AS(normal_quantile(1.0), ConfigError);
}

TEST_CASE("chi-square quantile matches scipy.stats.chi2.ppf to 1e-12") {
  struct Case {
    double q, dof, want;
  };
  const Case cases[] = {{0.025, 3, 0.21579528262389785},  {0.025, 1, 0.0009820691171752555},
                        {0.975, 10, 20.483177350807388},  {0.025, 9999, 9723.73223701499},
                        {0.025, 298, 252.07270817351204}, {1e-10, 2.5, 2.210115015493586e-08},
                        {0.5, 0.5, 0.0873476047057468},   {0.999, 100000, 101387.69553252945},
                        {0.025, 4, 0.4844185570879299}};
  for (const Case& c : cases) {
    INFO("q " << c.q << " dof " << c.dof);
    check_rel(chi2_quantile(c.q, c.dof), c.want, 1e-12);
  }
  // P(a, x) itself: P(1, x) = 1 - e^-x, and the quantile inverts it.
  CHECK(gamma_p(1, 2) == doctest::Approx(1 - std::exp(-2.0)).epsilon(1e-15));
  CHECK(gamma_p(4999.5, chi2_quantile(0.025, 9999) / 2) == doctest::Approx(0.025).epsilon(1e-12));
  CHECK_THROWS_AS(chi2_quantile(0.5, 0), ConfigError);
}

TEST_CASE("significant digits of the Cramer samples reproduce significantdigits v0.5.0") {
  const std::vector<double> x = read_samples("cramer-x0-10000.txt");
  REQUIRE(x.size() == 10000);
  SigOptions o;
  o.probability = 0.99;
  o.confidence = 0.95;
  o.error = SigError::absolute;
  CHECK(std::abs(significant_digits(x, o) - 26.094599393993263) < 1e-9);
  o.error = SigError::relative;
  CHECK(std::abs(significant_digits(x, o) - 27.094599370144074) < 1e-9);
  o.method = SigMethod::general;
  CHECK(significant_digits(x, o) == 26);
  o.error = SigError::absolute;
  CHECK(significant_digits(x, o) == 25);

  SigOptions c;  // contributing bits, significantdigits' defaults p = 0.51, c = 0.95
  c.probability = 0.51;
  c.error = SigError::absolute;
  CHECK(std::abs(contributing_digits(x, c) - 31.777744510355838) < 1e-9);
  c.error = SigError::relative;
  CHECK(std::abs(contributing_digits(x, c) - 32.77774448650665) < 1e-9);

  // base 10 is base 2 times log10(2); a reference given explicitly is used as is
  o.method = SigMethod::cnh;
  o.error = SigError::relative;
  const double bits = significant_digits(x, o);
  o.base = 10;
  CHECK(significant_digits(x, o) == doctest::Approx(bits * std::log10(2.0)).epsilon(1e-14));
  o.base = 2;
  // CNH assumes Z centred: against the exact solution 2 the spread is the same, and only the
  // scaling X/2 instead of X/mean and the rounding of Z move the result (~2e-8 bits; the package's
  // own relative and absolute results differ from exactly 1 bit by as much).
  o.reference = 2.0;
  CHECK(std::abs(significant_digits(x, o) - bits) < 1e-7);
  CHECK(significant_digits(x, o) != bits);
}

TEST_CASE("significant digits of 1 + {-3,-1,1,3} 2^-20 against 1, by hand") {
  const double u = std::ldexp(1.0, -20);
  const std::vector<double> x{1 - 3 * u, 1 - u, 1 + u, 1 + 3 * u};
  SigOptions o;
  o.reference = 1.0;
  // sigma = sqrt(5) 2^-20; delta = 1/2 log2(3 / chi2_0.025(3)) + log2(1.95996)
  const double delta = 0.5 * std::log2(3 / 0.21579528262389785) + std::log2(1.959963984540054);
  const double s = 20 - std::log2(std::sqrt(5.0)) - delta;
  CHECK(significant_digits(x, o) == doctest::Approx(s).epsilon(1e-13));
  CHECK(std::abs(significant_digits(x, o) - 15.9696) < 1e-4);
  o.method = SigMethod::general;
  CHECK(significant_digits(x, o) == 18);  // 3 * 2^-20 <= 2^-18 but not <= 2^-19
  // Absolute error against 1: e = 1, the same numbers.
  o.error = SigError::absolute;
  CHECK(significant_digits(x, o) == 18);
  // Absolute error scales with the reference's exponent: 8x the values, 8x the errors, same bits.
  std::vector<double> x8;
  for (double v : x) x8.push_back(8 * v);
  o.reference = 8.0;
  CHECK(significant_digits(x8, o) == 18);
  o.method = SigMethod::cnh;
  CHECK(significant_digits(x8, o) == doctest::Approx(s).epsilon(1e-13));
}

TEST_CASE("significant digits: edge cases") {
  SigOptions o;
  // No spread at all: the binary64 cap (52 bits) less delta, as significantdigits returns.
  const std::vector<double> same{5, 5, 5, 5};
  const double delta = 0.5 * std::log2(3 / 0.21579528262389785) + std::log2(1.959963984540054);
  CHECK(significant_digits(same, o) == doctest::Approx(52 - delta));
  o.method = SigMethod::general;
  CHECK(significant_digits(same, o) == 52);
  // All samples equally off the reference: std 0, max |Z| stands in.
  o.method = SigMethod::cnh;
  o.reference = 4.0;
  CHECK(significant_digits(same, o) == doctest::Approx(2 - delta));  // Z = 1/4
  // Undefined: zero reference with relative error, non-finite samples.
  o.reference = 0.0;
  CHECK(std::isnan(significant_digits(same, o)));
  o.reference.reset();
  const std::vector<double> bad{1, NAN, 2};
  CHECK(std::isnan(significant_digits(bad, o)));
  // Refused: one sample, bad probability, bad base, General contributing digits.
  CHECK_THROWS_AS(significant_digits(std::vector<double>{1.0}, o), ConfigError);
  o.probability = 1.0;
  CHECK_THROWS_AS(significant_digits(same, o), ConfigError);
  o.probability = 0.95;
  o.base = 3;
  CHECK_THROWS_AS(significant_digits(same, o), ConfigError);
  o.base = 2;
  o.method = SigMethod::general;
  CHECK_THROWS_AS(contributing_digits(same, o), ConfigError);
  CHECK(parse_sig_method("general") == SigMethod::general);
  CHECK_THROWS_AS(parse_sig_method("student"), ConfigError);
}

TEST_CASE("General estimator: minimum sample count") {
  CHECK(general_min_samples(0.99, 0.95) == 299);
  CHECK(general_min_samples(0.95, 0.95) == 59);
  CHECK(general_min_samples(0.9, 0.9) == 22);
}
