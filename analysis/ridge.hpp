// Ridge regression, min_w |y - X w - b|^2 + alpha |w|^2 with an unpenalised intercept b, solved in
// closed form: X and y are centred (so the intercept drops out, as scikit-learn's Ridge does), then
// (Xc^T Xc + alpha I) w = Xc^T yc is solved by Cholesky (Eigen's LLT). Deterministic: no threads.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace numens::analysis {

// A row-major design matrix view: rows samples, cols features, x[i * cols + j].
struct Matrix {
  std::span<const double> x;
  std::size_t rows = 0, cols = 0;
  const double* row(std::size_t i) const { return x.data() + i * cols; }
};

struct RidgeModel {
  std::vector<double> coef;  // (p)
  double intercept = 0.0;
};

// Throws ConfigError when alpha < 0, the shapes disagree, there are no rows, a value is not
// finite, or the normal matrix is not positive definite (alpha = 0 with collinear features).
RidgeModel fit_ridge(const Matrix& X, std::span<const double> y, double alpha);

// Predictions X w + b, one per row of X (X must have the model's feature count).
std::vector<double> predict(const RidgeModel& m, const Matrix& X);

}  // namespace numens::analysis
