// Kernels on the device against the CPU reference: bitwise equal in every mode, since both run
// the same element functions with the same counters.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/activation.hpp"
#include "kernels/batchnorm.hpp"
#include "kernels/conv2d.hpp"
#include "kernels/loss.hpp"
#include "kernels/optim.hpp"
#include "kernels/pool.hpp"
#include "mca/dispatch.hpp"
#include "tests/kernels/test_util.hpp"

using namespace numens;
using namespace numens::kernels;
using namespace numens::testing;

namespace {
template <class T>
std::vector<T> host_values(const Tensor<T>& t) {
  const Tensor<T> h = t.device() == Device::cpu ? t : t.to(Device::cpu);
  return std::vector<T>(h.data(), h.data() + h.numel());
}
}  // namespace

TEST_CASE("gpu: conv2d forward and gradients equal the CPU bit for bit in every mode") {
  struct C {
    int64_t n, c, h, w, o, k;
  };
  for (const C& k : {C{2, 3, 9, 7, 4, 3}, C{1, 5, 16, 16, 6, 5}, C{3, 2, 5, 4, 3, 1}}) {
    auto x = filled<float>({k.n, k.c, k.h, k.w}, 1), w = filled<float>({k.o, k.c, k.k, k.k}, 2),
         b = filled<float>({1, k.o, 1, 1}, 3), dy = filled<float>({k.n, k.o, k.h, k.w}, 4);
    auto xd = x.to(Device::cuda), wd = w.to(Device::cuda), bd = b.to(Device::cuda),
         dyd = dy.to(Device::cuda);
    for (const char* m : {"ieee", "sr", "rr", "pb", "mca", "sr_equal"}) {
      for (int t : {24, 10}) {
        // exact contract, then each cost option of MCA.md v2 (tile:5 cuts reductions mid-row)
        for (int opt = 0; opt < 4; ++opt) {
          mca::ArithConfig cfg;
          cfg.mode = mca::parse_mode(m);
          cfg.t32 = t;
          cfg.seed = 17;
          cfg.member = 2;
          if (opt > 0 && cfg.mode == mca::Mode::ieee) continue;
          if (opt == 1) cfg.fma = mca::FmaMode::fused;
          if (opt == 2 && (cfg.mode == mca::Mode::sr || cfg.mode == mca::Mode::sr_equal)) {
            cfg.sr_bits = 16;
            cfg.rounds = 7;
          }
          if (opt == 3) cfg.tile = 5;
          CAPTURE(m);
          CAPTURE(t);
          CAPTURE(cfg.describe_options());
          mca::with_policy(cfg, [&](auto pol) {
            auto y = Tensor<float>::empty({k.n, k.o, k.h, k.w}), yd = y.to(Device::cuda);
            conv2d_forward(pol, x, w, b, y);
            conv2d_forward(pol, xd, wd, bd, yd);
            CHECK(host_values(y) == host_values(yd));
            auto dx = filled<float>(x.shape(), 5), dxd = dx.to(Device::cuda);
            conv2d_backward_data(pol, dy, w, dx, GradMode::accumulate);
            conv2d_backward_data(pol, dyd, wd, dxd, GradMode::accumulate);
            CHECK(host_values(dx) == host_values(dxd));
            auto dw = Tensor<float>::empty(w.shape()), dwd = dw.to(Device::cuda);
            conv2d_backward_weight(pol, dy, x, dw, GradMode::overwrite);
            conv2d_backward_weight(pol, dyd, xd, dwd, GradMode::overwrite);
            CHECK(host_values(dw) == host_values(dwd));
            auto db = Tensor<float>::empty(b.shape()), dbd = db.to(Device::cuda);
            conv2d_backward_bias(pol, dy, db, GradMode::overwrite);
            conv2d_backward_bias(pol, dyd, dbd, GradMode::overwrite);
            CHECK(host_values(db) == host_values(dbd));
          });
        }
      }
    }
  }
  // Mixed devices are refused.
  auto x = Tensor<float>::zeros({1, 1, 3, 3}), w = Tensor<float>::zeros({1, 1, 3, 3}),
       b = Tensor<float>::zeros({1, 1, 1, 1});
  auto yd = Tensor<float>::zeros({1, 1, 3, 3}, Device::cuda);
  CHECK_THROWS_AS(conv2d_forward(mca::Ieee{}, x, w, b, yd), ShapeError);
}

TEST_CASE("gpu: max-pool / max-unpool forward and backward equal the CPU bit for bit") {
  const Shape s{2, 3, 9, 12}, ps{2, 3, 4, 6};
  auto x = filled<float>(s, 31), g = filled<float>(ps, 32), g2 = filled<float>(s, 33);
  auto xd = x.to(Device::cuda), gd = g.to(Device::cuda), g2d = g2.to(Device::cuda);
  auto y = Tensor<float>::empty(ps), yd = y.to(Device::cuda);
  auto idx = Tensor<int32_t>::empty(ps), idxd = idx.to(Device::cuda);
  maxpool2x2_forward(x, y, idx);
  maxpool2x2_forward(xd, yd, idxd);
  CHECK(host_values(y) == host_values(yd));
  CHECK(host_values(idx) == host_values(idxd));
  for (const char* m : {"ieee", "sr", "mca"}) {
    mca::ArithConfig cfg;
    cfg.mode = mca::parse_mode(m);
    cfg.seed = 3;
    mca::with_policy(cfg, [&](auto pol) {
      auto dx = filled<float>(s, 34), dxd = dx.to(Device::cuda);
      maxpool2x2_backward(pol, g, idx, dx, GradMode::accumulate);
      maxpool2x2_backward(pol, gd, idxd, dxd, GradMode::accumulate);
      CHECK(host_values(dx) == host_values(dxd));
      auto u = Tensor<float>::empty(s), ud = u.to(Device::cuda);
      maxunpool2x2_forward(g, idx, u);
      maxunpool2x2_forward(gd, idxd, ud);
      CHECK(host_values(u) == host_values(ud));
      auto dv = filled<float>(ps, 35), dvd = dv.to(Device::cuda);
      maxunpool2x2_backward(pol, g2, idx, dv, GradMode::accumulate);
      maxunpool2x2_backward(pol, g2d, idxd, dvd, GradMode::accumulate);
      CHECK(host_values(dv) == host_values(dvd));
    });
  }
  auto bad = idx.clone();
  bad.data()[5] = 1000;
  auto badd = bad.to(Device::cuda);
  auto u = Tensor<float>::empty(s, Device::cuda);
  CHECK_THROWS_AS(maxunpool2x2_forward(gd, badd, u), ShapeError);
}

TEST_CASE("gpu: prelu (with the slope reduction) and maxout equal the CPU bit for bit") {
  const Shape s{2, 5, 33, 41};  // 13530 elements: several reduction chunks, a partial last one
  auto x = filled<float>(s, 41), x2 = filled<float>(s, 42), g = filled<float>(s, 43);
  auto xd = x.to(Device::cuda), x2d = x2.to(Device::cuda), gd = g.to(Device::cuda);
  auto y = Tensor<float>::empty(s), yd = y.to(Device::cuda);
  auto w = Tensor<uint8_t>::empty(s), wd = w.to(Device::cuda);
  maxout_forward(x, x2, y, w);
  maxout_forward(xd, x2d, yd, wd);
  CHECK(host_values(y) == host_values(yd));
  CHECK(host_values(w) == host_values(wd));
  for (const char* m : {"ieee", "sr", "rr", "mca"}) {
    mca::ArithConfig cfg;
    cfg.mode = mca::parse_mode(m);
    cfg.t32 = 14;
    cfg.seed = 8;
    CAPTURE(m);
    mca::with_policy(cfg, [&](auto pol) {
      prelu_forward(pol, x, 0.25f, y);
      prelu_forward(pol, xd, 0.25f, yd);
      CHECK(host_values(y) == host_values(yd));
      auto dx = filled<float>(s, 44), dxd = dx.to(Device::cuda);
      float ds = 0.5f, dsd = 0.5f;
      prelu_backward(pol, g, x, 0.25f, dx, ds, GradMode::accumulate);
      prelu_backward(pol, gd, xd, 0.25f, dxd, dsd, GradMode::accumulate);
      CHECK(host_values(dx) == host_values(dxd));
      CHECK(ds == dsd);
      auto da = filled<float>(s, 45), db = filled<float>(s, 46);
      auto dad = da.to(Device::cuda), dbd = db.to(Device::cuda);
      maxout_backward(pol, g, w, da, db, GradMode::accumulate);
      maxout_backward(pol, gd, wd, dad, dbd, GradMode::accumulate);
      CHECK(host_values(da) == host_values(dad));
      CHECK(host_values(db) == host_values(dbd));
    });
  }
}

TEST_CASE("gpu: batchnorm2d train/eval/backward and adam equal the CPU bit for bit") {
  const Shape s{3, 4, 9, 11}, cs{1, 4, 1, 1};
  auto x = filled<float>(s, 51, 3.0), g = filled<float>(s, 52);
  auto gamma = filled<float>(cs, 53), beta = filled<float>(cs, 54);
  for (const char* m : {"ieee", "sr", "mca"}) {
    mca::ArithConfig cfg;
    cfg.mode = mca::parse_mode(m);
    cfg.t32 = 16;
    cfg.seed = 12;
    CAPTURE(m);
    mca::with_policy(cfg, [&](auto pol) {
      auto on_gpu = [](const Tensor<float>& t) { return t.to(Device::cuda); };
      auto rm = filled<float>(cs, 55), rv = filled<float>(cs, 56);
      for (int64_t c = 0; c < cs.c; ++c) rv.data()[c] = 0.5f + std::fabs(rv.data()[c]);
      auto rmd = on_gpu(rm), rvd = on_gpu(rv);
      auto mean = Tensor<float>::empty(cs), invstd = Tensor<float>::empty(cs),
           y = Tensor<float>::empty(s);
      auto meand = on_gpu(mean), invstdd = on_gpu(invstd), yd = on_gpu(y);
      const auto xd = on_gpu(x), gd = on_gpu(g), gammad = on_gpu(gamma), betad = on_gpu(beta);
      batchnorm2d_forward_train(pol, x, gamma, beta, rm, rv, mean, invstd, y);
      batchnorm2d_forward_train(pol, xd, gammad, betad, rmd, rvd, meand, invstdd, yd);
      CHECK(host_values(y) == host_values(yd));
      CHECK(host_values(rm) == host_values(rmd));
      CHECK(host_values(rv) == host_values(rvd));
      batchnorm2d_forward_eval(pol, x, gamma, beta, rm, rv, y);
      batchnorm2d_forward_eval(pol, xd, gammad, betad, rmd, rvd, yd);
      CHECK(host_values(y) == host_values(yd));
      auto dx = filled<float>(s, 57), dgm = filled<float>(cs, 58), dbt = filled<float>(cs, 59);
      auto dxd = on_gpu(dx), dgmd = on_gpu(dgm), dbtd = on_gpu(dbt);
      batchnorm2d_backward(pol, g, x, gamma, mean, invstd, dx, dgm, dbt, GradMode::accumulate);
      batchnorm2d_backward(pol, gd, xd, gammad, meand, invstdd, dxd, dgmd, dbtd,
                           GradMode::accumulate);
      CHECK(host_values(dx) == host_values(dxd));
      CHECK(host_values(dgm) == host_values(dgmd));
      CHECK(host_values(dbt) == host_values(dbtd));
      // Adam on a flat buffer
      auto p = filled<float>({1, 1, 1, 5000}, 60), gr = filled<float>({1, 1, 1, 5000}, 61);
      auto mm = Tensor<float>::zeros(p.shape()), vv = Tensor<float>::zeros(p.shape());
      auto pd = on_gpu(p), grd = on_gpu(gr), mmd = on_gpu(mm), vvd = on_gpu(vv);
      AdamParams prm;
      prm.lr = 0.01;
      prm.weight_decay = 1e-4;
      for (int64_t t = 1; t <= 3; ++t) {
        adam_step(pol, p.data(), gr.data(), mm.data(), vv.data(), p.numel(), t, prm);
        adam_step(pol, pd.data(), grd.data(), mmd.data(), vvd.data(), p.numel(), t, prm,
                  Device::cuda);
      }
      CHECK(host_values(p) == host_values(pd));
      CHECK(host_values(vv) == host_values(vvd));
    });
  }
}

TEST_CASE("gpu: softmax and CE + Dice loss match the CPU (exp/log may differ in the last bit)") {
  // The device libm's exp/log are not glibc's, so results are compared to a tolerance here, not
  // bit for bit (mca/policy.hpp, "transcendental functions").
  const Shape s{2, 6, 17, 19}, ls{2, 1, 17, 19};
  auto z = filled<float>(s, 71, 4.0), w = filled<float>(ls, 72);
  for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] = 1.0f + std::fabs(w.data()[i]);
  auto lab = Tensor<int32_t>::empty(ls);
  for (int64_t i = 0; i < lab.numel(); ++i) lab.data()[i] = int32_t((i * 5 + 1) % s.c);
  const auto zd = z.to(Device::cuda), wd = w.to(Device::cuda);
  const auto labd = lab.to(Device::cuda);
  for (const char* m : {"ieee", "sr"}) {
    mca::ArithConfig cfg;
    cfg.mode = mca::parse_mode(m);
    cfg.seed = 4;
    CAPTURE(m);
    mca::with_policy(cfg, [&](auto pol) {
      auto p = Tensor<float>::empty(s), dz = Tensor<float>::empty(s);
      auto pd = p.to(Device::cuda), dzd = dz.to(Device::cuda);
      const auto v = ce_dice_loss(pol, z, lab, w, p, dz);
      const auto vd = ce_dice_loss(pol, zd, labd, wd, pd, dzd);
      CHECK(vd.total == doctest::Approx(v.total).epsilon(1e-5));
      CHECK(vd.ce == doctest::Approx(v.ce).epsilon(1e-5));
      const auto a = host_values(dz), b = host_values(dzd);
      double worst = 0;
      for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
      CHECK(worst < 1e-6);
      auto g = filled<float>(s, 73), gd = g.to(Device::cuda);
      softmax_backward(pol, p, g, dz);
      softmax_backward(pol, pd, gd, dzd);
      const auto c1 = host_values(dz), c2 = host_values(dzd);
      worst = 0;
      for (size_t i = 0; i < c1.size(); ++i)
        worst = std::max(worst, double(std::fabs(c1[i] - c2[i])));
      CHECK(worst < 1e-5);
    });
  }
  auto bad = lab.clone();
  bad.data()[7] = 6;
  auto badd = bad.to(Device::cuda);
  auto pd = Tensor<float>::empty(s, Device::cuda), dzd = Tensor<float>::empty(s, Device::cuda);
  CHECK_THROWS_AS(ce_dice_loss(mca::Ieee{}, zd, badd, wd, pd, dzd), ShapeError);
}
