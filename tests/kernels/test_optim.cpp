// Adam/AdamW against the update formulas written out in binary64; schedules at known points.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/optim.hpp"
#include "kernels/tensor.hpp"
#include "tests/kernels/test_util.hpp"

using namespace numens;
using namespace numens::kernels;
using namespace numens::testing;

TEST_CASE("adam / adamw: three steps against the formulas") {
  for (bool decoupled : {true, false}) {
    CAPTURE(decoupled);
    const int64_t n = 37;
    std::vector<double> p(n), m(n, 0.0), v(n, 0.0), rp, rm(n, 0.0), rv(n, 0.0);
    for (int64_t i = 0; i < n; ++i) p[size_t(i)] = std::sin(double(i));
    rp = p;
    AdamParams prm;
    prm.lr = 0.01;
    prm.weight_decay = 1e-2;
    prm.decoupled = decoupled;
    for (int64_t t = 1; t <= 3; ++t) {
      std::vector<double> g(n);
      for (int64_t i = 0; i < n; ++i) g[size_t(i)] = std::cos(double(i * t));
      adam_step(ieee(), p.data(), g.data(), m.data(), v.data(), n, t, prm);
      for (int64_t i = 0; i < n; ++i) {
        double pi = rp[size_t(i)], gi = g[size_t(i)];
        if (decoupled) pi *= 1 - prm.lr * prm.weight_decay;
        else gi += prm.weight_decay * pi;
        rm[size_t(i)] = 0.9 * rm[size_t(i)] + 0.1 * gi;
        rv[size_t(i)] = 0.999 * rv[size_t(i)] + 0.001 * gi * gi;
        const double denom = std::sqrt(rv[size_t(i)]) / std::sqrt(1 - std::pow(0.999, t)) + 1e-8;
        rp[size_t(i)] = pi - prm.lr / (1 - std::pow(0.9, t)) * rm[size_t(i)] / denom;
        CHECK(p[size_t(i)] == doctest::Approx(rp[size_t(i)]).epsilon(1e-13));
        CHECK(m[size_t(i)] == doctest::Approx(rm[size_t(i)]).epsilon(1e-13));
      }
    }
  }
  double x = 0, g = 0, m = 0, v = 0;
  CHECK_THROWS_AS(adam_step(ieee(), &x, &g, &m, &v, 1, 0, AdamParams{}), ShapeError);
  AdamParams bad;
  bad.beta1 = 1.0;
  CHECK_THROWS_AS(adam_step(ieee(), &x, &g, &m, &v, 1, 1, bad), ConfigError);
}

TEST_CASE("cosine annealing with warm restarts (T0 = 10, Tmult = 2) and step decay") {
  const double base = 0.01, lo = 1e-4;
  CHECK(cosine_warm_restarts_lr(base, lo, 10, 2, 0) == doctest::Approx(base));
  CHECK(cosine_warm_restarts_lr(base, lo, 10, 2, 5) == doctest::Approx((base + lo) / 2));
  CHECK(cosine_warm_restarts_lr(base, lo, 10, 2, 10) == doctest::Approx(base));  // restart
  CHECK(cosine_warm_restarts_lr(base, lo, 10, 2, 20) == doctest::Approx((base + lo) / 2));
  CHECK(cosine_warm_restarts_lr(base, lo, 10, 2, 30) == doctest::Approx(base));  // cycle of 20 ends
  CHECK(cosine_warm_restarts_lr(base, lo, 10, 2, 29.999) == doctest::Approx(lo).epsilon(1e-3));
  CHECK(cosine_warm_restarts_lr(base, lo, 10, 1, 15) == doctest::Approx((base + lo) / 2));
  CHECK(step_lr(0.01, 5, 0.3, 4) == doctest::Approx(0.01));
  CHECK(step_lr(0.01, 5, 0.3, 5) == doctest::Approx(0.003));
  CHECK(step_lr(0.01, 5, 0.3, 12) == doctest::Approx(0.0009));
  CHECK_THROWS_AS(cosine_warm_restarts_lr(base, lo, 0, 2, 1), ConfigError);
}
