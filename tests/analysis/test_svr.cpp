// Epsilon-SVR against scikit-learn's SVR (LIBSVM) on committed fixtures: predictions within 1e-3
// relative, support-vector count within 1%; and the optimality (KKT) conditions of the dual, which
// hold for any correct solver whatever the reference says.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "analysis/svr.hpp"
#include "io/h5.hpp"
#include "mca/error.hpp"

using namespace numens;

namespace {
const std::string kFixture = std::string(NUMENS_TEST_FIXTURES) + "/brainage_sklearn.h5";

struct Case {
  io::Array<double> X, y, Xt;
  analysis::SvrParams p;
};

Case load(const io::Group& g) {
  Case c{g.read<double>("X"), g.read<double>("y"), g.read<double>("X_test"), {}};
  c.p.kernel =
      g.attr_string("kernel") == "linear" ? analysis::Kernel::linear : analysis::Kernel::rbf;
  c.p.C = g.attr_double("C");
  c.p.epsilon = g.attr_double("epsilon");
  c.p.gamma = g.attr_double("gamma");
  c.p.tol = g.attr_double("tol");
  return c;
}
}  // namespace

TEST_CASE("svr: predictions and support vectors agree with scikit-learn's SVR") {
  const io::File f = io::File::open(kFixture);
  for (std::string name : {"svr_rbf", "svr_rbf_tight", "svr_rbf_bounded", "svr_linear"}) {
    CAPTURE(name);
    const io::Group g = f.root().group(name);
    const Case c = load(g);
    const analysis::Matrix A{c.X.data, c.X.shape[0], c.X.shape[1]};
    const auto m = analysis::fit_svr(A, c.y.data, c.p);
    const auto ref_sv = g.read<std::int32_t>("support").data;
    MESSAGE(name << ": " << m.dual_coef.size() << " support vectors (sklearn " << ref_sv.size()
                 << "), " << m.iterations << " iterations (sklearn "
                 << g.read<std::int32_t>("n_iter").data[0] << "), b = " << m.intercept
                 << " (sklearn " << g.read<double>("intercept").data[0] << ")");
    const double n_ref = double(ref_sv.size());
    CHECK(std::abs(double(m.dual_coef.size()) - n_ref) <= std::max(0.01 * n_ref, 0.0));
    for (std::string set : {"X_test", "X"}) {
      CAPTURE(set);
      const auto& Xs = set == "X" ? c.X : c.Xt;
      const auto pred = analysis::predict(m, analysis::Matrix{Xs.data, Xs.shape[0], Xs.shape[1]});
      const auto ref = g.read<double>(set == "X" ? "pred_train" : "pred").data;
      REQUIRE(pred.size() == ref.size());
      double worst = 0;
      for (std::size_t i = 0; i < pred.size(); ++i)
        worst = std::max(worst, std::abs(pred[i] - ref[i]) / std::abs(ref[i]));
      MESSAGE(name << " " << set << ": worst relative difference " << worst);
      CHECK(worst <= 1e-3);
    }
  }
}

TEST_CASE("svr: the solution satisfies the KKT conditions within the tolerance") {
  // For residual r_u = y_u - f(x_u): beta_u = 0 needs |r_u| <= eps, 0 < |beta_u| < C needs
  // |r_u| = eps (sign of beta), |beta_u| = C needs |r_u| >= eps. The solver stops when the
  // maximal violation is below tol, so each holds to within tol.
  const io::File f = io::File::open(kFixture);
  for (std::string name : {"svr_rbf", "svr_rbf_bounded", "svr_linear"}) {
    CAPTURE(name);
    const Case c = load(f.root().group(name));
    const analysis::Matrix A{c.X.data, c.X.shape[0], c.X.shape[1]};
    const auto m = analysis::fit_svr(A, c.y.data, c.p);
    const auto fx = analysis::predict(m, A);
    std::vector<double> beta(A.rows, 0.0);
    for (std::size_t v = 0; v < m.support_index.size(); ++v)
      beta[m.support_index[v]] = m.dual_coef[v];
    double sum = 0;
    for (double b : beta) sum += b;
    CHECK(std::abs(sum) <= 1e-9 * c.p.C * double(A.rows));
    const double eps = c.p.epsilon, tol = c.p.tol;
    for (std::size_t u = 0; u < A.rows; ++u) {
      const double r = c.y.data[u] - fx[u], b = beta[u];
      CAPTURE(u);
      CAPTURE(r);
      CAPTURE(b);
      CHECK(std::abs(b) <= c.p.C);
      if (b == 0)
        CHECK(std::abs(r) <= eps + tol);
      else if (std::abs(b) < c.p.C)
        CHECK(std::abs(std::abs(r) - eps) <= tol);
      else
        CHECK(std::abs(r) >= eps - tol);
      if (b != 0) CHECK((b > 0) == (r > 0));
    }
  }
}

TEST_CASE("svr: a two-row kernel cache gives the same model as a full one") {
  const io::File f = io::File::open(kFixture);
  Case c = load(f.root().group("svr_rbf"));
  const analysis::Matrix A{c.X.data, c.X.shape[0], c.X.shape[1]};
  const auto full = analysis::fit_svr(A, c.y.data, c.p);
  c.p.cache_mb = 1e-9;  // capacity floors at two rows: every other row is recomputed
  const auto small = analysis::fit_svr(A, c.y.data, c.p);
  CHECK(small.dual_coef == full.dual_coef);
  CHECK(small.intercept == full.intercept);
  CHECK(small.iterations == full.iterations);
}

TEST_CASE("svr: bad parameters and input are clear errors") {
  const std::vector<double> x{0, 1, 2, 3}, y{0, 1, 2, 3};
  const analysis::Matrix A{x, 4, 1};
  analysis::SvrParams p;
  p.gamma = 0;
  CHECK_THROWS_WITH_AS(analysis::fit_svr(A, y, p), doctest::Contains("gamma"), ConfigError);
  p.gamma = 1;
  p.C = 0;
  CHECK_THROWS_WITH_AS(analysis::fit_svr(A, y, p), doctest::Contains("C must"), ConfigError);
  p.C = 1;
  p.epsilon = -1;
  CHECK_THROWS_WITH_AS(analysis::fit_svr(A, y, p), doctest::Contains("epsilon"), ConfigError);
  p.epsilon = 0.1;
  std::vector<double> yn = y;
  yn[2] = std::nan("");
  CHECK_THROWS_WITH_AS(analysis::fit_svr(A, yn, p), doctest::Contains("not finite"), ConfigError);
  p.max_iter = 1;
  CHECK_THROWS_WITH_AS(analysis::fit_svr(A, y, p), doctest::Contains("max_iter"), Error);
}
