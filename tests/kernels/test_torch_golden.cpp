// Golden values from an independent implementation: tests/fixtures/torch_golden.h5, written once
// by tests/fixtures/make_torch_golden.py with PyTorch on the CPU in binary64. The kernels run in
// binary64 ieee and must agree to rounding level (the reduction orders differ); conv2d also runs
// in binary32 (the fast path) and in sr at t = 24, within binary32 accumulation error.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "io/h5.hpp"
#include "kernels/activation.hpp"
#include "kernels/batchnorm.hpp"
#include "kernels/conv2d.hpp"
#include "kernels/loss.hpp"
#include "kernels/optim.hpp"
#include "kernels/pool.hpp"
#include "tests/kernels/test_util.hpp"

using namespace numens;
using namespace numens::kernels;
using namespace numens::testing;

namespace {

const std::string kGolden = std::string(NUMENS_TEST_FIXTURES) + "/torch_golden.h5";

// A dataset as an NCHW tensor: rank 4 as is, rank 1 [C] as [1, C, 1, 1], rank 0 as [1, 1, 1, 1].
template <class T>
Tensor<T> load(const io::Group& g, const std::string& name) {
  const io::Array<T> a = g.read<T>(name);
  Shape s{1, 1, 1, 1};
  if (a.shape.size() == 4) {
    s = Shape{int64_t(a.shape[0]), int64_t(a.shape[1]), int64_t(a.shape[2]), int64_t(a.shape[3])};
  } else if (a.shape.size() == 1) {
    s = Shape{1, int64_t(a.shape[0]), 1, 1};
  } else {
    REQUIRE(a.shape.empty());
  }
  Tensor<T> t = Tensor<T>::empty(s);
  REQUIRE(a.data.size() == size_t(t.numel()));
  std::copy(a.data.begin(), a.data.end(), t.data());
  return t;
}

// Largest |a - b| / (1 + |b|) over the elements.
template <class A, class B>
double max_rel(const Tensor<A>& a, const Tensor<B>& b) {
  REQUIRE(a.numel() == b.numel());
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    m = std::max(m, std::abs(double(a.data()[i]) - double(b.data()[i])) /
                        (1.0 + std::abs(double(b.data()[i]))));
  return m;
}

template <class T>
Tensor<T> cast(const Tensor<double>& t) {
  Tensor<T> o = Tensor<T>::empty(t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) o.data()[i] = T(t.data()[i]);
  return o;
}

// binary64 results that differ from PyTorch's only by summation order.
constexpr double kTol64 = 1e-12;

}  // namespace

TEST_CASE("torch golden: conv2d forward and gradients (binary64, binary32 fast path, sr t=24)") {
  const io::File f = io::File::open(kGolden);
  const io::Group root = f.root().group("conv2d");
  for (int idx = 0; root.exists(std::to_string(idx)); ++idx) {
    INFO("case ", idx);
    const io::Group g = root.group(std::to_string(idx));
    const auto x = load<double>(g, "x"), w = load<double>(g, "w"), b = load<double>(g, "b"),
               y = load<double>(g, "y"), dy = load<double>(g, "dy"), dx = load<double>(g, "dx"),
               dw = load<double>(g, "dw"), db = load<double>(g, "db");
    auto yo = Tensor<double>::empty(y.shape()), dxo = Tensor<double>::empty(x.shape()),
         dwo = Tensor<double>::empty(w.shape()), dbo = Tensor<double>::empty(b.shape());
    conv2d_forward(ieee(), x, w, b, yo);
    conv2d_backward_data(ieee(), dy, w, dxo, GradMode::overwrite);
    conv2d_backward_weight(ieee(), dy, x, dwo, GradMode::overwrite);
    conv2d_backward_bias(ieee(), dy, dbo, GradMode::overwrite);
    CHECK(max_rel(yo, y) < kTol64);
    CHECK(max_rel(dxo, dx) < kTol64);
    CHECK(max_rel(dwo, dw) < kTol64);
    CHECK(max_rel(dbo, db) < kTol64);

    // binary32: inputs are rounded to float, each output sums at most 5 * 5 * 5 = 125 products of
    // values below 1 (wgrad: 3 * 7 = 21 pixels per weight), so the error stays below 2^-24 per
    // term in relative terms plus input rounding: 1e-5 is loose enough and far below any bug.
    mca::Sr sr;
    sr.stream = mca::Stream::make(9, 0, 1, 0);
    for (int mode = 0; mode < 2; ++mode) {
      INFO("binary32 mode ", (mode == 0 ? "ieee" : "sr t=24"));
      const auto xf = cast<float>(x), wf = cast<float>(w), bf = cast<float>(b),
                 dyf = cast<float>(dy);
      auto yf = Tensor<float>::empty(y.shape()), dxf = Tensor<float>::empty(x.shape()),
           dwf = Tensor<float>::empty(w.shape());
      if (mode == 0) {
        conv2d_forward(ieee(), xf, wf, bf, yf);
        conv2d_backward_data(ieee(), dyf, wf, dxf, GradMode::overwrite);
        conv2d_backward_weight(ieee(), dyf, xf, dwf, GradMode::overwrite);
      } else {
        conv2d_forward(sr, xf, wf, bf, yf);
        conv2d_backward_data(sr, dyf, wf, dxf, GradMode::overwrite);
        conv2d_backward_weight(sr, dyf, xf, dwf, GradMode::overwrite);
      }
      CHECK(max_rel(yf, y) < 1e-5);
      CHECK(max_rel(dxf, dx) < 1e-5);
      CHECK(max_rel(dwf, dw) < 1e-5);
    }
  }
}

TEST_CASE("torch golden: batchnorm training and eval forward, backward, running statistics") {
  const io::File f = io::File::open(kGolden);
  const io::Group g = f.root().group("batchnorm");
  const auto x = load<double>(g, "x"), gamma = load<double>(g, "gamma"),
             beta = load<double>(g, "beta"), dy = load<double>(g, "dy");
  auto rm = load<double>(g, "running_mean_in"), rv = load<double>(g, "running_var_in");
  const auto rm_in = rm.clone(), rv_in = rv.clone();
  const Shape cs{1, x.shape().c, 1, 1};
  auto mean = Tensor<double>::empty(cs), istd = Tensor<double>::empty(cs),
       y = Tensor<double>::empty(x.shape());
  batchnorm2d_forward_train(ieee(), x, gamma, beta, rm, rv, mean, istd, y);
  CHECK(max_rel(y, load<double>(g, "y")) < kTol64);
  CHECK(max_rel(rm, load<double>(g, "running_mean_out")) < kTol64);
  CHECK(max_rel(rv, load<double>(g, "running_var_out")) < kTol64);
  auto dx = Tensor<double>::empty(x.shape()), dgamma = Tensor<double>::empty(cs),
       dbeta = Tensor<double>::empty(cs);
  batchnorm2d_backward(ieee(), dy, x, gamma, mean, istd, dx, dgamma, dbeta, GradMode::overwrite);
  CHECK(max_rel(dx, load<double>(g, "dx")) < kTol64);
  CHECK(max_rel(dgamma, load<double>(g, "dgamma")) < kTol64);
  CHECK(max_rel(dbeta, load<double>(g, "dbeta")) < kTol64);
  auto ye = Tensor<double>::empty(x.shape());
  batchnorm2d_forward_eval(ieee(), x, gamma, beta, rm_in, rv_in, ye);
  CHECK(max_rel(ye, load<double>(g, "y_eval")) < kTol64);
}

TEST_CASE("torch golden: PReLU, max-pool with indices, max-unpool, and their backward passes") {
  const io::File f = io::File::open(kGolden);
  {
    const io::Group g = f.root().group("prelu");
    const auto x = load<double>(g, "x"), dy = load<double>(g, "dy");
    const double slope = load<double>(g, "slope").data()[0];
    auto y = Tensor<double>::empty(x.shape()), dx = Tensor<double>::empty(x.shape());
    prelu_forward(ieee(), x, slope, y);
    CHECK(max_rel(y, load<double>(g, "y")) < kTol64);
    double dslope = 0;
    prelu_backward(ieee(), dy, x, slope, dx, dslope, GradMode::overwrite);
    CHECK(max_rel(dx, load<double>(g, "dx")) < kTol64);
    CHECK(std::abs(dslope - load<double>(g, "dslope").data()[0]) < 1e-12);
  }
  {
    const io::Group g = f.root().group("pool");
    const auto x = load<double>(g, "x"), yref = load<double>(g, "y"), dy = load<double>(g, "dy");
    const auto iref = load<int32_t>(g, "index");
    auto y = Tensor<double>::empty(yref.shape());
    auto index = Tensor<int32_t>::empty(yref.shape());
    maxpool2x2_forward(x, y, index);
    CHECK(max_rel(y, yref) == 0.0);
    int64_t wrong = 0;
    for (int64_t i = 0; i < index.numel(); ++i) wrong += index.data()[i] != iref.data()[i];
    CHECK(wrong == 0);
    auto dx = Tensor<double>::empty(x.shape());
    maxpool2x2_backward(ieee(), dy, index, dx, GradMode::overwrite);
    CHECK(max_rel(dx, load<double>(g, "dx")) == 0.0);

    const auto ux = load<double>(g, "unpool_x"), uyref = load<double>(g, "unpool_y"),
               udy = load<double>(g, "unpool_dy");
    const auto uidx = load<int32_t>(g, "unpool_index");
    auto uy = Tensor<double>::empty(uyref.shape()), udx = Tensor<double>::empty(ux.shape());
    maxunpool2x2_forward(ux, uidx, uy);
    CHECK(max_rel(uy, uyref) == 0.0);
    maxunpool2x2_backward(ieee(), udy, uidx, udx, GradMode::overwrite);
    CHECK(max_rel(udx, load<double>(g, "unpool_dx")) == 0.0);
  }
}

TEST_CASE("torch golden: softmax, weighted cross-entropy + soft Dice loss and its gradient") {
  const io::File f = io::File::open(kGolden);
  const io::Group g = f.root().group("loss");
  const auto z = load<double>(g, "logits"), w = load<double>(g, "weights");
  const auto labels = load<int32_t>(g, "labels");
  auto p = Tensor<double>::empty(z.shape()), dz = Tensor<double>::empty(z.shape());
  const LossValue<double> l = ce_dice_loss(ieee(), z, labels, w, p, dz);
  CHECK(max_rel(p, load<double>(g, "probs")) < kTol64);
  CHECK(std::abs(l.ce - load<double>(g, "ce").data()[0]) < kTol64);
  CHECK(std::abs(l.dice - load<double>(g, "dice").data()[0]) < kTol64);
  CHECK(std::abs(l.total - load<double>(g, "total").data()[0]) < kTol64);
  CHECK(max_rel(dz, load<double>(g, "dlogits")) < kTol64);
}

TEST_CASE("torch golden: Adam and AdamW over three steps; cosine warm restarts schedule") {
  const io::File f = io::File::open(kGolden);
  for (const char* name : {"adam", "adamw"}) {
    INFO(name);
    const io::Group g = f.root().group(name);
    std::vector<double> p = g.read<double>("param_in").data;
    const io::Array<double> grads = g.read<double>("grads");
    const int64_t n = int64_t(p.size());
    std::vector<double> m(p.size(), 0.0), v(p.size(), 0.0);
    AdamParams prm;
    prm.lr = 1e-2;
    prm.weight_decay = g.attr_double("weight_decay");
    prm.decoupled = std::string(name) == "adamw";
    for (int64_t step = 1; step <= 3; ++step)
      adam_step(ieee(), p.data(), grads.data.data() + (step - 1) * n, m.data(), v.data(), n, step,
                prm);
    const auto pref = g.read<double>("param_out").data, mref = g.read<double>("m_out").data,
               vref = g.read<double>("v_out").data;
    double worst = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      worst = std::max(worst, std::abs(p[i] - pref[i]) / (1 + std::abs(pref[i])));
      worst = std::max(worst, std::abs(m[i] - mref[i]) / (1 + std::abs(mref[i])));
      worst = std::max(worst, std::abs(v[i] - vref[i]) / (1 + std::abs(vref[i])));
    }
    CHECK(worst < kTol64);
  }
  const io::Group g = f.root().group("cosine_warm_restarts");
  const auto epoch = g.read<double>("epoch").data, lr = g.read<double>("lr").data;
  for (size_t i = 0; i < epoch.size(); ++i) {
    INFO("epoch ", epoch[i]);
    CHECK(std::abs(cosine_warm_restarts_lr(0.01, 1e-4, 10, 2, epoch[i]) - lr[i]) < 1e-15);
  }
}
