// Ridge against scikit-learn (tests/fixtures/brainage_sklearn.h5, made by
// make_brainage_fixtures.py): coefficients, intercept and predictions to 1e-8 relative, plus the
// properties the closed form must have whatever the reference says.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "analysis/ridge.hpp"
#include "io/h5.hpp"
#include "mca/error.hpp"

using namespace numens;

namespace {
const std::string kFixture = std::string(NUMENS_TEST_FIXTURES) + "/brainage_sklearn.h5";

// |a - b| <= rel * max(|b|): relative to the vector's scale, so that a coefficient near zero is
// held to the same absolute accuracy as the large ones (a per-element ratio would be meaningless).
void check_close(const std::vector<double>& a, const std::vector<double>& b, double rel) {
  REQUIRE(a.size() == b.size());
  double scale = 0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i << ": " << a[i] << " vs " << b[i]);
    CHECK(std::abs(a[i] - b[i]) <= rel * scale);
  }
}
}  // namespace

TEST_CASE("ridge: coefficients and predictions equal scikit-learn's Ridge to 1e-8") {
  const io::File f = io::File::open(kFixture);
  for (std::string name : {"ridge_small", "ridge_strong", "ridge_wide"}) {
    CAPTURE(name);
    const io::Group g = f.root().group(name);
    const auto X = g.read<double>("X");
    const auto y = g.read<double>("y");
    const auto Xt = g.read<double>("X_test");
    const double alpha = g.attr_double("alpha");
    const analysis::Matrix A{X.data, X.shape[0], X.shape[1]};
    const auto m = analysis::fit_ridge(A, y.data, alpha);
    check_close(m.coef, g.read<double>("coef").data, 1e-8);
    const double b = g.read<double>("intercept").data.at(0);
    CHECK(std::abs(m.intercept - b) <= 1e-8 * std::abs(b));
    const auto pred = analysis::predict(m, analysis::Matrix{Xt.data, Xt.shape[0], Xt.shape[1]});
    check_close(pred, g.read<double>("pred").data, 1e-8);
  }
}

TEST_CASE("ridge: exact data are recovered, the gradient of the objective vanishes") {
  // y = 3 + 2 x0 - x1 exactly: with alpha -> 0 the fit is the generating plane.
  std::vector<double> x, y;
  for (int i = 0; i < 10; ++i) {
    const double a = i, b = (i * 7) % 5;
    x.insert(x.end(), {a, b});
    y.push_back(3 + 2 * a - b);
  }
  const analysis::Matrix A{x, 10, 2};
  auto m = analysis::fit_ridge(A, y, 0.0);
  CHECK(m.coef[0] == doctest::Approx(2).epsilon(1e-12));
  CHECK(m.coef[1] == doctest::Approx(-1).epsilon(1e-12));
  CHECK(m.intercept == doctest::Approx(3).epsilon(1e-12));
  // With alpha > 0: X_c^T (y - X w - b) = alpha w at the optimum (normal equations).
  const double alpha = 4.0;
  m = analysis::fit_ridge(A, y, alpha);
  const auto p = analysis::predict(m, A);
  double mx[2] = {0, 0};
  for (int i = 0; i < 10; ++i) mx[0] += x[2 * i] / 10, mx[1] += x[2 * i + 1] / 10;
  for (int j = 0; j < 2; ++j) {
    double g = 0;
    for (int i = 0; i < 10; ++i) g += (x[2 * i + j] - mx[j]) * (y[i] - p[i]);
    CHECK(g == doctest::Approx(alpha * m.coef[j]).epsilon(1e-10));
  }
}

TEST_CASE("ridge: bad input is a clear error") {
  const std::vector<double> x{1, 1, 2, 2, 3, 3}, y{1, 2, 3};
  const analysis::Matrix A{x, 3, 2};
  CHECK_THROWS_WITH_AS(analysis::fit_ridge(A, y, -1), doctest::Contains("alpha"), ConfigError);
  // Two identical columns and no penalty: singular normal matrix.
  CHECK_THROWS_WITH_AS(analysis::fit_ridge(A, y, 0.0), doctest::Contains("not positive definite"),
                       ConfigError);
  CHECK_NOTHROW(analysis::fit_ridge(A, y, 1e-3));
  std::vector<double> xn = x;
  xn[3] = std::nan("");
  CHECK_THROWS_WITH_AS(analysis::fit_ridge(analysis::Matrix{xn, 3, 2}, y, 1.0),
                       doctest::Contains("not finite"), ConfigError);
  CHECK_THROWS_AS(analysis::fit_ridge(A, std::vector<double>{1, 2}, 1.0), ConfigError);
}
