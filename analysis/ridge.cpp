#include "analysis/ridge.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "mca/error.hpp"

namespace numens::analysis {

namespace {
void check_shape(const Matrix& X, std::size_t n_y, const char* what) {
  if (X.x.size() != X.rows * X.cols)
    throw ConfigError(std::string(what) + ": matrix holds " + std::to_string(X.x.size()) +
                      " values, expected " + std::to_string(X.rows) + " x " +
                      std::to_string(X.cols));
  if (n_y != X.rows)
    throw ConfigError(std::string(what) + ": " + std::to_string(n_y) + " targets for " +
                      std::to_string(X.rows) + " rows");
}
}  // namespace

RidgeModel fit_ridge(const Matrix& X, std::span<const double> y, double alpha) {
  check_shape(X, y.size(), "ridge");
  if (!(alpha >= 0.0) || !std::isfinite(alpha))
    throw ConfigError("ridge: alpha must be finite and >= 0, got " + std::to_string(alpha));
  if (X.rows == 0 || X.cols == 0) throw ConfigError("ridge: empty training set");
  for (double v : X.x)
    if (!std::isfinite(v)) throw ConfigError("ridge: a feature value is not finite");
  for (double v : y)
    if (!std::isfinite(v)) throw ConfigError("ridge: a target value is not finite");
  // Means, X_c^T X_c and X_c^T y_c in plain loops of fixed order: Eigen's vectorised reductions
  // on caller memory peel a head that depends on the buffer's alignment, which would make the
  // last bits depend on where malloc put the rows (and so on the thread that allocated them).
  // Eigen does the Cholesky only, on storage it allocates itself.
  const std::size_t n = X.rows, p = X.cols;
  std::vector<double> xm(p, 0.0), c(p);
  double ym = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < p; ++j) xm[j] += X.row(i)[j];
    ym += y[i];
  }
  for (auto& v : xm) v /= double(n);
  ym /= double(n);
  Eigen::MatrixXd G = Eigen::MatrixXd::Zero(Eigen::Index(p), Eigen::Index(p));
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(Eigen::Index(p));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < p; ++j) c[j] = X.row(i)[j] - xm[j];
    const double yc = y[i] - ym;
    for (std::size_t j = 0; j < p; ++j) {
      rhs(Eigen::Index(j)) += c[j] * yc;
      for (std::size_t k = j; k < p; ++k) G(Eigen::Index(j), Eigen::Index(k)) += c[j] * c[k];
    }
  }
  for (std::size_t j = 0; j < p; ++j) {
    for (std::size_t k = 0; k < j; ++k)
      G(Eigen::Index(j), Eigen::Index(k)) = G(Eigen::Index(k), Eigen::Index(j));
    G(Eigen::Index(j), Eigen::Index(j)) += alpha;
  }
  const Eigen::LLT<Eigen::MatrixXd> llt(G);
  // LLT fails only on a non-positive pivot, and rounding can leave a singular matrix's last pivot
  // a few ulps above zero. The solve's relative error is about eps / rcond: refuse a matrix where
  // that exceeds 1e-3 (rcond below ~2e-13), a solution with no trustworthy digit left.
  if (llt.info() != Eigen::Success || llt.rcond() < 1e3 * std::numeric_limits<double>::epsilon())
    throw ConfigError("ridge: X^T X + alpha I is not positive definite (alpha = " +
                      std::to_string(alpha) + "; collinear or constant features need alpha > 0)");
  const Eigen::VectorXd w = llt.solve(rhs);
  RidgeModel m;
  m.coef.assign(w.data(), w.data() + p);
  m.intercept = ym;
  for (std::size_t j = 0; j < p; ++j) m.intercept -= xm[j] * m.coef[j];
  return m;
}

std::vector<double> predict(const RidgeModel& m, const Matrix& X) {
  if (X.cols != m.coef.size())
    throw ConfigError("ridge: " + std::to_string(X.cols) + " features, the model has " +
                      std::to_string(m.coef.size()));
  if (X.x.size() != X.rows * X.cols) throw ConfigError("ridge: matrix size mismatch");
  std::vector<double> out(X.rows);
  for (std::size_t i = 0; i < X.rows; ++i) {
    double s = m.intercept;
    const double* r = X.row(i);
    for (std::size_t j = 0; j < X.cols; ++j) s += r[j] * m.coef[j];
    out[i] = s;
  }
  return out;
}

}  // namespace numens::analysis
