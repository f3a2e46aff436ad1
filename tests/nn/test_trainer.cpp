// Trainer: bitwise independence of the thread count (ieee and sr), bitwise resume from an
// exported state, accumulation semantics, and a small end-to-end training run on procedural
// shapes whose held-out Dice must clear a reasoned bar.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "nn/metrics.hpp"
#include "nn/trainer.hpp"
#include "tests/kernels/test_util.hpp"

using namespace numens;
using namespace numens::nn;
using namespace numens::testing;

namespace {

// Procedural segmentation data: each image holds one disc and one axis-aligned rectangle
// (random centres and sizes, never overlapping) on a noisy background. Label 0 background,
// 1 disc, 2 rectangle. Channel c of the image is the shape indicator times a per-image contrast
// plus independent noise, so every channel carries the signal at a different noise draw (a
// stand-in for the 7 neighbouring slices). Deterministic in (seed, index).
Batch shapes_batch(int64_t count, int64_t size, int channels, uint32_t seed, int64_t first) {
  Batch b;
  b.images = Tensor<float>::empty({count, channels, size, size});
  b.labels = Tensor<int32_t>::empty({count, 1, size, size});
  b.weights = Tensor<float>::empty({count, 1, size, size});
  for (int64_t n = 0; n < count; ++n) {
    const mca::Stream st = mca::Stream::make(seed, uint32_t(first + n));
    auto uni = [&](uint32_t k) { return double(st.u32(0, k)) * 0x1p-32; };
    const double s = double(size);
    // disc in the left half, rectangle in the right half, or the reverse
    const bool disc_left = uni(0) < 0.5;
    const double r = s * (0.12 + 0.08 * uni(1));
    const double cx = (disc_left ? 0.25 : 0.75) * s + (uni(2) - 0.5) * 0.1 * s;
    const double cy = s * (0.3 + 0.4 * uni(3));
    const double hw = s * (0.1 + 0.1 * uni(4)), hh = s * (0.1 + 0.1 * uni(5));
    const double rx = (disc_left ? 0.75 : 0.25) * s + (uni(6) - 0.5) * 0.1 * s;
    const double ry = s * (0.3 + 0.4 * uni(7));
    const double contrast = 0.8 + 0.4 * uni(8);
    for (int64_t i = 0; i < size; ++i)
      for (int64_t j = 0; j < size; ++j) {
        const double x = double(j) + 0.5, y = double(i) + 0.5;
        int32_t lab = 0;
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) lab = 1;
        if (std::fabs(x - rx) <= hw && std::fabs(y - ry) <= hh) lab = 2;
        b.labels.at(n, 0, i, j) = lab;
        b.weights.at(n, 0, i, j) = 1.0f;
        for (int c = 0; c < channels; ++c) {
          const uint64_t e = uint64_t(((c * size) + i) * size + j) + 1;
          const double noise = double(st.u32(e, 16)) * 0x1p-32 - 0.5;
          b.images.at(n, c, i, j) = float((lab != 0 ? contrast : 0.0) + 0.5 * noise);
        }
      }
  }
  return b;
}

NetConfig small_net() {
  return NetConfig{3, 4, 3, 3, 2, 3, 0};
}

TrainConfig small_config(mca::Mode mode, int accumulation) {
  TrainConfig c;
  c.net = small_net();
  c.optim = vinn_optim();
  c.optim.lr = 0.01;
  c.arith.mode = mode;
  c.arith.t32 = 24;
  c.arith.seed = 17;
  c.arith.member = 2;
  c.init_seed = 5;
  c.accumulation = accumulation;
  c.iterations_per_epoch = 3;  // the cosine schedule moves within the test
  return c;
}

std::vector<Batch> micro_batches(int k, int64_t step) {
  std::vector<Batch> mb;
  for (int i = 0; i < k; ++i) mb.push_back(shapes_batch(2, 16, 3, 100, (step * k + i) * 2));
  return mb;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TrainerState run(const TrainConfig& cfg, int steps, std::vector<double>* losses = nullptr) {
  Trainer t(cfg);
  for (int s = 0; s < steps; ++s) {
    const auto mb = micro_batches(cfg.accumulation, s);
    const StepReport r = t.step(mb);
    if (losses) losses->push_back(r.loss);
  }
  return t.state();
}

}  // namespace

TEST_CASE("nn trainer: weights after training steps are bitwise equal at 1 and 2 threads") {
  const int saved = omp_get_max_threads();
  for (mca::Mode mode : {mca::Mode::ieee, mca::Mode::sr}) {
    CAPTURE(mca::to_string(mode));
    const TrainConfig cfg = small_config(mode, 2);
    omp_set_num_threads(1);
    const TrainerState one = run(cfg, 2);
    omp_set_num_threads(2);
    const TrainerState two = run(cfg, 2);
    CHECK(bitwise_equal(one.params, two.params));
    CHECK(bitwise_equal(one.stats, two.stats));
    CHECK(bitwise_equal(one.adam_m, two.adam_m));
    CHECK(bitwise_equal(one.adam_v, two.adam_v));
    // the parameters moved (a trainer that does nothing would pass the equality trivially)
    Trainer fresh(cfg);
    CHECK_FALSE(bitwise_equal(one.params, fresh.state().params));
    // the VINN form (input and output blocks, concatenation, two-consumer gradient sum)
    TrainConfig vinn = cfg;
    vinn.net = NetConfig{3, 4, 3, 4, 2, 3, 2};
    omp_set_num_threads(1);
    const TrainerState v1 = run(vinn, 2);
    omp_set_num_threads(2);
    const TrainerState v2 = run(vinn, 2);
    CHECK(bitwise_equal(v1.params, v2.params));
    CHECK(bitwise_equal(v1.stats, v2.stats));
  }
  omp_set_num_threads(saved);
}

TEST_CASE("nn trainer: sr perturbs every run differently per member, reproducibly per seed") {
  const TrainConfig ieee = small_config(mca::Mode::ieee, 1);
  TrainConfig sr = small_config(mca::Mode::sr, 1), sr_other = sr;
  sr_other.arith.member = 3;
  const TrainerState a = run(ieee, 2), b = run(sr, 2), b2 = run(sr, 2), c = run(sr_other, 2);
  CHECK(bitwise_equal(b.params, b2.params));
  CHECK_FALSE(bitwise_equal(a.params, b.params));
  CHECK_FALSE(bitwise_equal(b.params, c.params));
}

TEST_CASE("nn trainer: resume from an exported state continues bitwise") {
  for (mca::Mode mode : {mca::Mode::ieee, mca::Mode::sr}) {
    CAPTURE(mca::to_string(mode));
    const TrainConfig cfg = small_config(mode, 2);
    const int n = 4, k = 2;
    const TrainerState straight = run(cfg, n);
    Trainer first(cfg);
    for (int s = 0; s < k; ++s) first.step(micro_batches(cfg.accumulation, s));
    const TrainerState mid = first.state();
    CHECK(mid.step == k);
    Trainer second(cfg, mid);
    CHECK(second.epoch() == doctest::Approx(double(k) / 3));
    for (int s = k; s < n; ++s) second.step(micro_batches(cfg.accumulation, s));
    const TrainerState resumed = second.state();
    CHECK(resumed.step == n);
    CHECK(bitwise_equal(straight.params, resumed.params));
    CHECK(bitwise_equal(straight.stats, resumed.stats));
    CHECK(bitwise_equal(straight.adam_m, resumed.adam_m));
    CHECK(bitwise_equal(straight.adam_v, resumed.adam_v));
  }
  // a state of another model is refused and leaves the trainer as it was
  Trainer t(small_config(mca::Mode::ieee, 1));
  TrainerState bad = t.state();
  bad.adam_v.pop_back();
  const TrainerState before = t.state();
  CHECK_THROWS_AS(t.set_state(bad), ShapeError);
  CHECK(bitwise_equal(before.params, t.state().params));
  CHECK_THROWS_AS(t.step(micro_batches(2, 0)), ConfigError);  // 2 micro-batches, config says 1
}

TEST_CASE("nn trainer: accumulating two micro-batches averages their gradients") {
  // With k = 2 and identical micro-batches the accumulated gradient is (g/2 + g/2) = g. Not
  // bitwise: the conv and BN kernels fold the earlier gradient into the start of their reduction
  // (acc = old, then + each term), which rounds differently from g/2 + g/2. Relative to the
  // largest gradient, 1e-5 is ~100x float's unit roundoff times the reduction depth's growth and
  // still rejects a sum (factor 2) or a lost micro-batch (factor 1/2).
  Trainer a(small_config(mca::Mode::ieee, 1)), b(small_config(mca::Mode::ieee, 2));
  const Batch batch = shapes_batch(2, 16, 3, 100, 0);
  a.step(std::vector<Batch>{batch});
  b.step(std::vector<Batch>{batch, batch});
  const Tensor<float>& ga = a.net().params().grads();
  const Tensor<float>& gb = b.net().params().grads();
  float gmax = 0, dmax = 0;
  for (int64_t i = 0; i < ga.numel(); ++i) {
    gmax = std::max(gmax, std::fabs(ga.data()[i]));
    dmax = std::max(dmax, std::fabs(ga.data()[i] - gb.data()[i]));
  }
  CHECK(gmax > 0);
  CHECK(dmax <= 1e-5f * gmax);
}

TEST_CASE("nn trainer: a small network learns to tell discs from rectangles") {
  // 3 levels of 3x3 convs see the whole shape at the bottleneck (receptive field > 32 px), so
  // the task is solvable; 100 steps of 4 images is what the run needs to separate the classes
  // (at 60 steps the shape Dice is still ~0.7).
  TrainConfig cfg;
  cfg.net = NetConfig{3, 8, 3, 3, 3, 3, 0};
  cfg.optim = vinn_optim();
  cfg.optim.schedule = ScheduleKind::constant;
  cfg.optim.lr = 0.01;
  cfg.arith.mode = mca::Mode::ieee;
  cfg.init_seed = 1;
  Trainer t(cfg);
  const int steps = 100;
  const int64_t batch = 4;
  std::vector<double> losses;
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    const Batch b = shapes_batch(batch, 32, 3, 7, s * batch);
    losses.push_back(t.step(std::vector<Batch>{b}).loss);
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("shapes run: ", ms / steps, " ms per step (batch 4, 32x32, 8 filters, 3 levels, ieee)");
  // Loss decreases: the last 10 steps average below a quarter of the first 10 (an untrained net
  // has CE ~ ln 3 plus Dice ~ 0.6; a net that only finds the foreground keeps a large CE and
  // Dice term on the two shape classes).
  double first = 0, last = 0;
  for (int s = 0; s < 10; ++s) {
    first += losses[size_t(s)] / 10;
    last += losses[size_t(steps - 10 + s)] / 10;
  }
  CHECK(last < 0.25 * first);
  // Held-out images (another data seed, never trained on), inference mode (running statistics).
  OverlapCounter ov(3);
  const Batch held = shapes_batch(32, 32, 3, 8, 0);
  ov.add(argmax_classes(t.predict(held.images)), held.labels);
  // Finding the foreground alone is not enough: labelling all foreground as one class gives that
  // class Dice 2|D| / (|D| + |D| + |R|) ~ 0.67 and the other 0, a coin flip per pixel or per
  // shape ~0.5 each. Both shape classes above 0.8 therefore require telling the shapes apart.
  CAPTURE(ov.dice(1));
  CAPTURE(ov.dice(2));
  CHECK(ov.dice(0) > 0.95);
  CHECK(ov.dice(1) > 0.8);
  CHECK(ov.dice(2) > 0.8);
  CHECK(ov.mean_iou() > 0.7);
}

TEST_CASE("nn sites: every op of a module has its own site number below 64") {
  std::vector<uint32_t> ops;
  for (int i = 0; i < 4; ++i)
    for (uint32_t o : {op::conv_fwd(i), op::conv_dgrad(i), op::conv_wgrad(i), op::conv_bgrad(i),
                       op::prelu_fwd(i), op::prelu_bwd(i)})
      ops.push_back(o);
  for (int j = 0; j < 5; ++j)
    for (uint32_t o : {op::bn_train(j), op::bn_eval(j), op::bn_bwd(j), op::bn_accumulate(j, 0),
                       op::bn_accumulate(j, 1)})
      ops.push_back(o);
  for (int i = 1; i < 4; ++i) ops.push_back(op::maxout_bwd(i));
  for (uint32_t o : {op::pool_bwd, op::unpool_bwd, op::skip_maxout_bwd, op::grad_sum, op::slope_sum,
                     op::slope_accumulate})
    ops.push_back(o);
  std::vector<uint32_t> sorted = ops;
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
  CHECK(sorted.back() < 64);
  // fields do not overlap: the largest module and micro values stay inside 16 bits
  CHECK(site(kInferenceMicro, kOptimizerModule, 63) == 0xFFFFu);
  CHECK(site(1, 0, 0) == 1u << 12);
}

TEST_CASE("nn metrics: argmax ties, Dice and IoU by hand") {
  auto logits = Tensor<float>::zeros({1, 3, 1, 4});
  // pixel 0: class 2; pixel 1: tie of 0 and 1 -> 0; pixel 2: class 1; pixel 3: all equal -> 0
  logits.at(0, 2, 0, 0) = 1;
  logits.at(0, 0, 0, 1) = 2;
  logits.at(0, 1, 0, 1) = 2;
  logits.at(0, 1, 0, 2) = 0.5f;
  const Tensor<int32_t> pred = argmax_classes(logits);
  CHECK(pred.data()[0] == 2);
  CHECK(pred.data()[1] == 0);
  CHECK(pred.data()[2] == 1);
  CHECK(pred.data()[3] == 0);
  auto truth = Tensor<int32_t>::empty({1, 1, 1, 4});
  const int32_t tv[4] = {2, 1, 1, 0};
  std::copy(tv, tv + 4, truth.data());
  OverlapCounter ov(4);
  ov.add(pred, truth);
  CHECK(ov.dice(0) == doctest::Approx(2.0 * 1 / (2 + 1)));
  CHECK(ov.dice(1) == doctest::Approx(2.0 * 1 / (1 + 2)));
  CHECK(ov.dice(2) == 1.0);
  CHECK(std::isnan(ov.dice(3)));  // absent from both: left out of the means
  CHECK(ov.iou(1) == doctest::Approx(0.5));
  CHECK(ov.mean_dice() == doctest::Approx((2.0 / 3 + 2.0 / 3 + 1) / 3));
  CHECK(ov.mean_iou(1) == doctest::Approx((0.5 + 1) / 2));
  auto bad = Tensor<int32_t>::empty({1, 1, 1, 4});
  std::copy(tv, tv + 4, bad.data());
  bad.data()[3] = 4;
  CHECK_THROWS_AS(ov.add(pred, bad), ShapeError);
}
