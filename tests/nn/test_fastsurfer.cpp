// FastSurferNet: exact parameter counts of MODEL.md, naming, initialisation statistics, and a
// finite-difference gradient check of a whole small network in binary64.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "kernels/loss.hpp"
#include "nn/fastsurfer.hpp"
#include "tests/kernels/test_util.hpp"

using namespace numens;
using namespace numens::nn;
using namespace numens::testing;

TEST_CASE("nn: parameter counts of FastSurferCNN 1.x and VINN match MODEL.md exactly") {
  // Counts read from FastSurfer's PyTorch models (MODEL.md); they pin the topology: a missing
  // BN, a wrong conv width or a forgotten PReLU slope changes them.
  CHECK(parameter_count(fastsurfer_cnn(79)) == 1'799'206);
  CHECK(parameter_count(fastsurfer_cnn(51)) == 1'797'386);
  CHECK(parameter_count(vinn_like(79)) == 1'854'632);
  CHECK(parameter_count(vinn_like(51)) == 1'852'616);
  // the built models agree with the closed form
  FastSurferNet<float> cnn(fastsurfer_cnn(79));
  CHECK(cnn.parameter_count() == 1'799'206);
  FastSurferNet<float> vinn(vinn_like(79));
  CHECK(vinn.parameter_count() == 1'854'632);
  // names are unique paths; running statistics are kept apart (2 per BN)
  std::set<std::string> names;
  for (const auto& p : cnn.params().entries()) names.insert(p.name);
  CHECK(names.size() == cnn.params().entries().size());
  CHECK(cnn.params().find("enc1.conv0.weight") >= 0);
  CHECK(cnn.params().info(cnn.params().find("enc1.conv2.weight")).shape == Shape{64, 64, 1, 1});
  CHECK(cnn.params().info(cnn.params().find("enc1.bn0.weight")).shape == Shape{1, 7, 1, 1});
  CHECK(cnn.params().find("dec1.prelu.weight") >= 0);
  CHECK(cnn.params().find("classifier.weight") >= 0);
  // BNs: input block 4, the 8 other blocks 3 each
  CHECK(cnn.stats().entries().size() == 2 * (4 + 8 * 3));
  CHECK(vinn.params().info(vinn.params().find("output.conv0.weight")).shape ==
        Shape{71, 103, 3, 3});
  CHECK_THROWS_AS(parameter_count(NetConfig{7, 64, 4, 3, 4, 79, 0}), ConfigError);  // even kernel
}

TEST_CASE("nn: initialisation follows FastSurfer and depends only on the seed") {
  FastSurferNet<float> a(fastsurfer_cnn(79)), b(fastsurfer_cnn(79)), c(fastsurfer_cnn(79));
  a.init(7);
  b.init(7);
  c.init(8);
  const auto& pa = a.params().values();
  int64_t same_c = 0;
  for (int64_t i = 0; i < pa.numel(); ++i) {
    REQUIRE(pa.data()[i] == b.params().values().data()[i]);
    same_c += pa.data()[i] == c.params().values().data()[i];
  }
  // only the constants (BN, PReLU) coincide between seeds
  CHECK(same_c < 10'000);
  // Kaiming normal, fan_out: std = sqrt(2 / (64 * 25)) = 0.03536 for a 5x5 conv; 102400 samples
  // give the sample std to ~0.2 % (relative sd of a sample std is 1/sqrt(2n)), so 1 % is 5 sd.
  const int w = a.params().find("enc2.conv1.weight");
  const Tensor<float> wt = a.params().value(w);
  double s1 = 0, s2 = 0;
  for (int64_t i = 0; i < wt.numel(); ++i) {
    s1 += wt.data()[i];
    s2 += double(wt.data()[i]) * wt.data()[i];
  }
  const double n = double(wt.numel()), mean = s1 / n, sd = std::sqrt(s2 / n - mean * mean);
  const double want = std::sqrt(2.0 / (64 * 25));
  CHECK(std::fabs(mean) < 5 * want / std::sqrt(n));
  CHECK(sd == doctest::Approx(want).epsilon(0.01));
  // bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 64 * 25
  const Tensor<float> bt = a.params().value(a.params().find("enc2.conv1.bias"));
  float bmax = 0;
  for (int64_t i = 0; i < bt.numel(); ++i) bmax = std::max(bmax, std::fabs(bt.data()[i]));
  CHECK(bmax <= 1.0f / 40.0f);
  CHECK(bmax > 0.5f / 40.0f);  // 64 draws: all below half the bound has probability 2^-64
  CHECK(a.params().value(a.params().find("enc2.bn1.weight")).data()[5] == 1.0f);
  CHECK(a.params().value(a.params().find("enc2.bn1.bias")).data()[5] == 0.0f);
  CHECK(a.params().value(a.params().find("enc2.prelu.weight")).data()[0] == 0.25f);
  CHECK(a.stats().value(a.stats().find("enc2.bn1.running_var")).data()[3] == 1.0f);
}

namespace {

// A small, generic setting: random images, labels and weight maps from fixed seeds.
struct Problem {
  Tensor<double> x;
  Tensor<int32_t> labels;
  Tensor<double> weights;
};

Problem make_problem(const NetConfig& cfg, int64_t batch, int64_t size, uint32_t seed) {
  Problem p;
  p.x = filled<double>({batch, cfg.in_channels, size, size}, seed, 2.0);
  const Shape ls{batch, 1, size, size};
  p.labels = Tensor<int32_t>::empty(ls);
  const mca::Stream st = mca::Stream::make(seed, 99);
  for (int64_t i = 0; i < p.labels.numel(); ++i)
    p.labels.data()[i] = int32_t(st.u32(uint64_t(i), 0) % uint32_t(cfg.classes));
  p.weights = filled<double>(ls, seed + 1, 1.0);
  for (int64_t i = 0; i < p.weights.numel(); ++i)
    p.weights.data()[i] = 1.5 + p.weights.data()[i];  // in [0.5, 2.5): like a weight map
  return p;
}

// Gradient check of every parameter kind of every block and of the input, in binary64.
void check_gradients(const NetConfig& cfg) {
  FastSurferNet<double> net(cfg);
  net.init(3);
  // Slopes away from 0.25 and BN affine parameters away from 1 / 0, so that a gradient that
  // ignores them (e.g. treating gamma as 1) cannot pass.
  {
    auto& ps = net.params();
    for (size_t i = 0; i < ps.entries().size(); ++i) {
      const ParamInfo& e = ps.entries()[i];
      double* v = ps.value_ptr(int(i));
      if (e.name.find(".bn") != std::string::npos)
        for (int64_t k = 0; k < e.shape.numel(); ++k) v[k] += 0.3 * init_normal(11, e.offset + k);
      if (e.name.ends_with("prelu.weight")) v[0] = 0.1 + 0.05 * double(i % 7);
    }
  }
  Problem pb = make_problem(cfg, 2, 16, 5);
  const mca::Ieee pol;
  const Pass pass{true, 0, 0, true};
  const Shape ls{2, cfg.classes, 16, 16};
  auto probs = Tensor<double>::empty(ls), dlogits = Tensor<double>::empty(ls);
  auto loss = [&] {
    const Tensor<double>& logits = net.forward(pol, pass, pb.x);
    return kernels::ce_dice_loss(pol, logits, pb.labels, pb.weights, probs, dlogits).total;
  };
  loss();
  auto dx = Tensor<double>::empty(pb.x.shape());
  net.backward(pol, pass, dlogits, &dx);
  const Tensor<double> grads = net.params().grads().clone();

  // |analytic - numeric| <= 1e-7 + 1e-5 |numeric|: central differences with h = 1e-6 have a
  // truncation error ~h^2 |f'''| (1e-12 here) and a rounding error ~1e-16 |L| / h (1e-10); 1e-5
  // relative is far above both and far below any structural error (a missing term or factor).
  auto check = [&](const std::string& what, double analytic, double* value) {
    const double numeric = central_difference(value, 1e-6, loss);
    CAPTURE(what);
    CAPTURE(analytic);
    CAPTURE(numeric);
    CHECK(std::fabs(analytic - numeric) <= 1e-7 + 1e-5 * std::fabs(numeric));
    return std::fabs(numeric) > 1e-6;
  };
  int nonzero = 0, checked = 0;
  auto& ps = net.params();
  for (size_t i = 0; i < ps.entries().size(); ++i) {
    const ParamInfo& e = ps.entries()[i];
    const int64_t n = e.shape.numel();
    for (int64_t k : {int64_t(0), n / 2, n - 1}) {
      nonzero += check(e.name + "[" + std::to_string(k) + "]", grads.data()[e.offset + k],
                       ps.value_ptr(int(i)) + k);
      ++checked;
      if (n == 1) break;
    }
  }
  for (int64_t k : {int64_t(0), int64_t(777), pb.x.numel() - 1}) {
    nonzero += check("input[" + std::to_string(k) + "]", dx.data()[k], pb.x.data() + k);
    ++checked;
  }
  // Only meaningful if the gradients are not all negligible; conv biases before a BN are the
  // expected zeros (BN removes a per-channel constant).
  CAPTURE(checked);
  CHECK(nonzero > checked / 2);
}

}  // namespace

TEST_CASE("nn: whole-network gradients match central differences (binary64, FastSurferCNN form)") {
  check_gradients(NetConfig{3, 4, 5, 3, 2, 3, 0});
}

TEST_CASE("nn: whole-network gradients match central differences (binary64, VINN form)") {
  check_gradients(NetConfig{3, 4, 3, 4, 2, 3, 2});
}
