#include "analysis/svr.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <list>
#include <string>

#include "mca/error.hpp"

namespace numens::analysis {

double kernel_value(const SvrParams& p, const double* a, const double* b, std::size_t n) {
  // Four partial sums in a fixed order: lets the compiler keep four lanes busy without
  // reassociation (no fast-math), and the result does not depend on anything but the inputs.
  double s[4] = {0, 0, 0, 0};
  std::size_t j = 0;
  if (p.kernel == Kernel::linear) {
    for (; j + 4 <= n; j += 4)
      for (int q = 0; q < 4; ++q) s[q] += a[j + q] * b[j + q];
    for (; j < n; ++j) s[0] += a[j] * b[j];
    return (s[0] + s[1]) + (s[2] + s[3]);
  }
  for (; j + 4 <= n; j += 4)
    for (int q = 0; q < 4; ++q) {
      const double d = a[j + q] - b[j + q];
      s[q] += d * d;
    }
  for (; j < n; ++j) {
    const double d = a[j] - b[j];
    s[0] += d * d;
  }
  return std::exp(-p.gamma * ((s[0] + s[1]) + (s[2] + s[3])));
}

namespace {

void validate(const Matrix& X, std::span<const double> y, const SvrParams& p) {
  auto bad = [](const std::string& m) { throw ConfigError("svr: " + m); };
  if (!(p.C > 0) || !std::isfinite(p.C))
    bad("C must be finite and > 0, got " + std::to_string(p.C));
  if (!(p.epsilon >= 0) || !std::isfinite(p.epsilon))
    bad("epsilon must be finite and >= 0, got " + std::to_string(p.epsilon));
  if (!(p.tol > 0)) bad("tol must be > 0, got " + std::to_string(p.tol));
  if (p.kernel == Kernel::rbf && (!(p.gamma > 0) || !std::isfinite(p.gamma)))
    bad("gamma must be finite and > 0 for the rbf kernel, got " + std::to_string(p.gamma));
  if (!(p.cache_mb > 0)) bad("cache_mb must be > 0");
  if (X.x.size() != X.rows * X.cols) bad("matrix size mismatch");
  if (y.size() != X.rows)
    bad(std::to_string(y.size()) + " targets for " + std::to_string(X.rows) + " rows");
  if (X.rows == 0 || X.cols == 0) bad("empty training set");
  for (double v : X.x)
    if (!std::isfinite(v)) bad("a feature value is not finite");
  for (double v : y)
    if (!std::isfinite(v)) bad("a target value is not finite");
}

// Kernel rows K(u, .) of the training set, computed on demand and kept least-recently-used within
// a byte budget (at least two rows: an iteration needs the rows of both working variables).
class RowCache {
 public:
  RowCache(const Matrix& X, const SvrParams& p) : X_(X), p_(p), slot_(X.rows), rows_(X.rows) {
    const double bytes = p.cache_mb * 1024.0 * 1024.0;
    const double per_row = double(X.rows) * sizeof(double);
    capacity_ = std::max<std::size_t>(2, std::size_t(std::min(bytes / per_row, double(X.rows))));
  }
  const double* row(std::size_t u) {
    if (!rows_[u].empty()) {
      lru_.splice(lru_.begin(), lru_, slot_[u]);
      return rows_[u].data();
    }
    std::vector<double> r;
    if (lru_.size() == capacity_) {
      const std::size_t old = lru_.back();
      lru_.pop_back();
      r = std::move(rows_[old]);  // reuse the evicted row's storage
      rows_[old].clear();
      rows_[old].shrink_to_fit();
    }
    r.resize(X_.rows);
    const double* xu = X_.row(u);
    for (std::size_t v = 0; v < X_.rows; ++v) r[v] = kernel_value(p_, xu, X_.row(v), X_.cols);
    rows_[u] = std::move(r);
    lru_.push_front(u);
    slot_[u] = lru_.begin();
    return rows_[u].data();
  }

 private:
  const Matrix& X_;
  const SvrParams& p_;
  std::size_t capacity_ = 2;
  std::list<std::size_t> lru_;
  std::vector<std::list<std::size_t>::iterator> slot_;
  std::vector<std::vector<double>> rows_;
};

}  // namespace

SvrModel fit_svr(const Matrix& X, std::span<const double> y, const SvrParams& p) {
  validate(X, y, p);
  const std::size_t l = X.rows, n2 = 2 * l;
  const double C = p.C, tau = 1e-12;  // tau: LIBSVM's floor for a non-positive curvature
  // Variable k < l is a_k (sign +1), k >= l is a*_{k-l} (sign -1). beta = a - a*.
  // Gradient of the dual: G_k = eps - y_k + F_k (k < l), eps + y_k - F_k (k >= l), with
  // F_u = sum_v beta_v K(u, v) kept up to date; G is derived, never stored.
  std::vector<double> a(n2, 0.0), F(l, 0.0), diag(l);
  for (std::size_t u = 0; u < l; ++u) diag[u] = kernel_value(p, X.row(u), X.row(u), X.cols);
  auto grad = [&](std::size_t k) {
    return k < l ? p.epsilon - y[k] + F[k] : p.epsilon + y[k - l] - F[k - l];
  };
  RowCache cache(X, p);
  long iter = 0;
  for (;; ++iter) {
    if (p.max_iter >= 0 && iter >= p.max_iter)
      throw Error("svr: no convergence within max_iter = " + std::to_string(p.max_iter) +
                  " iterations (raise it or the tolerance)");
    // i: the variable of I_up with the largest -y G (first-order violation); the last one wins
    // ties, as in LIBSVM's scan.
    double gmax = -std::numeric_limits<double>::infinity();
    std::size_t i = n2;
    for (std::size_t k = 0; k < n2; ++k) {
      if (k < l) {
        if (a[k] < C && -grad(k) >= gmax) gmax = -grad(k), i = k;
      } else if (a[k] > 0 && grad(k) >= gmax) {
        gmax = grad(k), i = k;
      }
    }
    if (i == n2) break;
    const std::size_t ui = i % l;
    const double* Ki = cache.row(ui);
    // j: among I_low with a positive gap b = gmax + y_j G_j, the one whose two-variable step
    // decreases the objective most, -b^2 / (K_ii + K_jj - 2 K_ij) (second-order, WSS 2).
    double gmax2 = -std::numeric_limits<double>::infinity(),
           best = std::numeric_limits<double>::infinity(), best_b = 0, best_q = 0;
    std::size_t j = n2;
    for (std::size_t k = 0; k < n2; ++k) {
      double yg;
      if (k < l) {
        if (!(a[k] > 0)) continue;
        yg = grad(k);
      } else {
        if (!(a[k] < C)) continue;
        yg = -grad(k);
      }
      gmax2 = std::max(gmax2, yg);
      const double b = gmax + yg;
      if (b > 0) {
        const std::size_t u = k % l;
        double q = diag[ui] + diag[u] - 2.0 * Ki[u];
        if (q <= 0) q = tau;
        const double obj = -(b * b) / q;
        if (obj <= best) best = obj, j = k, best_b = b, best_q = q;
      }
    }
    if (gmax + gmax2 < p.tol || j == n2) break;
    // Step t along a_i += y_i t, a_j -= y_j t (keeps sum beta = 0), clipped to the box. The
    // variable whose bound stops the step is set to the bound exactly, so bounded / free
    // classification (and with it the bias) sees exact 0 and C.
    const double si = i < l ? 1.0 : -1.0, sj = j < l ? 1.0 : -1.0;
    const double room_i = si > 0 ? C - a[i] : a[i];
    const double room_j = sj > 0 ? a[j] : C - a[j];
    double t = best_b / best_q;
    const double ai0 = a[i], aj0 = a[j];
    if (t >= room_i || t >= room_j) {
      t = std::min(room_i, room_j);
      if (room_i <= room_j)
        a[i] = si > 0 ? C : 0.0;
      else
        a[i] += si * t;
      if (room_j <= room_i)
        a[j] = sj > 0 ? 0.0 : C;
      else
        a[j] -= sj * t;
    } else {
      a[i] += si * t;
      a[j] -= sj * t;
    }
    const double dbi = si * (a[i] - ai0), dbj = sj * (a[j] - aj0);  // changes of beta
    const std::size_t uj = j % l;
    // Fetching j's row evicts the least recently used row, never i's (just used, capacity >= 2).
    const double* Kj = cache.row(uj);
    for (std::size_t u = 0; u < l; ++u) F[u] += dbi * Ki[u] + dbj * Kj[u];
  }
  // Bias: y_k G_k equals rho at every free variable; average them, or take the middle of the
  // interval the bounded ones allow when none is free.
  double ub = std::numeric_limits<double>::infinity(), lb = -ub, sum = 0;
  std::size_t nfree = 0;
  for (std::size_t k = 0; k < n2; ++k) {
    const bool plus = k < l;
    const double yg = plus ? grad(k) : -grad(k);
    if (a[k] >= C) {
      if (plus)
        lb = std::max(lb, yg);
      else
        ub = std::min(ub, yg);
    } else if (a[k] <= 0) {
      if (plus)
        ub = std::min(ub, yg);
      else
        lb = std::max(lb, yg);
    } else {
      sum += yg;
      ++nfree;
    }
  }
  const double rho = nfree > 0 ? sum / double(nfree) : 0.5 * (ub + lb);
  SvrModel m;
  m.params = p;
  m.features = X.cols;
  m.intercept = -rho;
  m.iterations = iter;
  for (std::size_t u = 0; u < l; ++u) {
    const double beta = a[u] - a[u + l];
    if (beta != 0.0) {
      m.support_index.push_back(u);
      m.dual_coef.push_back(beta);
      m.support.insert(m.support.end(), X.row(u), X.row(u) + X.cols);
    }
  }
  return m;
}

std::vector<double> predict(const SvrModel& m, const Matrix& X) {
  if (X.cols != m.features)
    throw ConfigError("svr: " + std::to_string(X.cols) + " features, the model has " +
                      std::to_string(m.features));
  if (X.x.size() != X.rows * X.cols) throw ConfigError("svr: matrix size mismatch");
  std::vector<double> out(X.rows);
  for (std::size_t i = 0; i < X.rows; ++i) {
    double s = 0;
    for (std::size_t v = 0; v < m.dual_coef.size(); ++v)
      s += m.dual_coef[v] *
           kernel_value(m.params, m.support.data() + v * m.features, X.row(i), m.features);
    out[i] = s + m.intercept;
  }
  return out;
}

}  // namespace numens::analysis
