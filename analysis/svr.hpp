// Epsilon-support vector regression, the formulation of LIBSVM (and so of scikit-learn's SVR):
//
//   min_{a, a*}  1/2 (a - a*)^T K (a - a*) + eps sum (a + a*) - sum y (a - a*)
//   s.t.         sum (a - a*) = 0,  0 <= a, a* <= C
//
// solved by sequential minimal optimisation over the 2n variables (a, a*), with the second-order
// working-set selection of Fan, Chen and Lin (JMLR 2005, "WSS 2"), the same stopping rule (maximal
// violating pair gap < tol) and the same bias: the mean of y_t G_t over free variables, or the
// midpoint of the feasible interval when none is free. Written from the paper's equations; the
// variables are ordered as LIBSVM orders them (a first, then a*) and ties in the selection are
// broken the same way, so the path, not only the optimum, follows LIBSVM's.
//
// Prediction: f(x) = sum_v beta_v K(x_v, x) + b, beta = a - a*, over support vectors (beta != 0).
// Shrinking (LIBSVM's heuristic that skips bounded variables) is not implemented: it changes run
// time, not the solution beyond tol. Deterministic: one thread, fixed summation order.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "analysis/ridge.hpp"  // Matrix

namespace numens::analysis {

enum class Kernel { linear, rbf };

struct SvrParams {
  Kernel kernel = Kernel::rbf;
  double C = 1.0;
  double epsilon = 0.1;   // half-width of the insensitive tube, in target units
  double gamma = 0.0;     // RBF exp(-gamma |x - x'|^2); must be > 0 for rbf (given explicitly)
  double tol = 1e-3;      // stopping tolerance on the maximal violating pair (LIBSVM's eps)
  double cache_mb = 200;  // kernel rows kept (LIBSVM's cache_size; scikit-learn's default 200)
  long max_iter = -1;     // -1: no limit (scikit-learn's default); else throws when reached
};

struct SvrModel {
  SvrParams params;
  std::size_t features = 0;
  std::vector<double> support;             // (n_sv, features) row-major support vectors
  std::vector<std::size_t> support_index;  // their rows in the training matrix, ascending
  std::vector<double> dual_coef;           // (n_sv) beta_v = a_v - a*_v
  double intercept = 0.0;                  // b = -rho
  long iterations = 0;
};

// Throws ConfigError for bad parameters (C <= 0, epsilon < 0, tol <= 0, gamma <= 0 with rbf),
// mismatched shapes, no rows, or a value that is not finite.
SvrModel fit_svr(const Matrix& X, std::span<const double> y, const SvrParams& p);

std::vector<double> predict(const SvrModel& m, const Matrix& X);

// The kernel value of two feature rows of length n.
double kernel_value(const SvrParams& p, const double* a, const double* b, std::size_t n);

}  // namespace numens::analysis
