// bench/svr: epsilon-SVR training time (analysis/svr) on a brain-age-sized problem, one thread.
// Verifies before it times: the trained model must satisfy the dual's optimality (KKT)
// conditions within the tolerance on every training row, else the timing is not printed.
//   build/release/bench/svr [n=2000] [p=100] [repeats=3]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "analysis/svr.hpp"

using namespace numens;

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::size_t(std::atol(argv[1])) : 2000;
  const std::size_t p = argc > 2 ? std::size_t(std::atol(argv[2])) : 100;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  // Standardised "regional volumes" that depend on age, plus individual variation.
  std::mt19937_64 g(20261123);
  std::normal_distribution<double> z(0, 1);
  std::uniform_real_distribution<double> u(20, 85);
  std::vector<double> load(p), curve(p), X(n * p), y(n);
  for (std::size_t j = 0; j < p; ++j) load[j] = z(g), curve[j] = 0.5 * z(g);
  for (std::size_t i = 0; i < n; ++i) {
    const double age = u(g), a = (age - 50) / 20;
    for (std::size_t j = 0; j < p; ++j) X[i * p + j] = a * load[j] + a * a * curve[j] + z(g);
    y[i] = age + 4 * z(g);
  }
  analysis::SvrParams sp;
  sp.kernel = analysis::Kernel::rbf;
  sp.C = 10;
  sp.epsilon = 0.1;
  sp.gamma = 1.0 / double(p);  // scikit-learn's "scale" on standardised features
  sp.tol = 1e-3;
  const analysis::Matrix A{X, n, p};

  std::vector<double> times;
  analysis::SvrModel m;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    m = analysis::fit_svr(A, y, sp);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  // Verify: KKT conditions of every training row, within tol.
  const auto fx = analysis::predict(m, A);
  std::vector<double> beta(n, 0.0);
  for (std::size_t v = 0; v < m.support_index.size(); ++v)
    beta[m.support_index[v]] = m.dual_coef[v];
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double r = std::abs(y[i] - fx[i]), b = std::abs(beta[i]);
    double viol = 0;
    if (b == 0)
      viol = r - sp.epsilon;
    else if (b < sp.C)
      viol = std::abs(r - sp.epsilon);
    else
      viol = sp.epsilon - r;
    worst = std::max(worst, viol);
  }
  double mae = 0;
  for (std::size_t i = 0; i < n; ++i) mae += std::abs(y[i] - fx[i]) / double(n);
  std::printf("svr rbf: n = %zu, p = %zu, C = %g, epsilon = %g, gamma = %g, tol = %g\n", n, p, sp.C,
              sp.epsilon, sp.gamma, sp.tol);
  std::printf("verify: worst KKT violation %.2e (must be <= tol + 1e-9), training MAE %.3f\n",
              worst, mae);
  if (!(worst <= sp.tol + 1e-9)) {
    std::printf("FAILED verification, no timing reported\n");
    return 1;
  }
  std::sort(times.begin(), times.end());
  std::printf("| n | p | support vectors | iterations | train s (min of %d) | median s |\n",
              repeats);
  std::printf("|---|---|---|---|---|---|\n");
  std::printf("| %zu | %zu | %zu | %ld | %.3f | %.3f |\n", n, p, m.dual_coef.size(), m.iterations,
              times.front(), times[times.size() / 2]);
  return 0;
}
