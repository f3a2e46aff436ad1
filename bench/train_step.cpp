// bench/train_step: time of one FastSurferCNN training step (forward, weighted CE + soft Dice
// loss, backward, Adam update) through nn::Trainer, in each requested arithmetic mode, on CPU
// tensors at FastSurferCNN's training shape (batch 4, 7 x 256 x 256 thick slices, 79 classes).
//
// Verified before it is timed, per mode, on a small image (2^levels pixels a side, where a step
// costs milliseconds in ieee and seconds in sr):
//   - the model has nn::parameter_count(cfg) parameters, and 1,799,206 for FastSurferCNN at 79
//     classes (docs MODEL.md);
//   - the loss is finite and the step changes the parameters (a step that does nothing would
//     time well and pass the next check trivially); not all of them: at 16 x 16 the bottleneck
//     is 1 x 1, so the 5 x 5 taps that only ever see padding (24 of 25 there, 16 of 25 at 2 x 2)
//     get exactly zero gradients and Adam leaves them;
//   - a second trainer fed the same batch, run on one OpenMP thread, ends with bitwise the same
//     parameters (the trainer's determinism contract, nn/trainer.hpp);
//   - a perturbed mode's first loss is within 2^(14 - t) (relative) of the ieee loss: the loss
//     is taken before the update, so the two see the same weights.
// The timed steps then check that every loss stays finite.
//
// --modes takes arithmetic specs: a mode, then MCA.md v2 cost options joined by '+' (fused, rN,
// rounds7, tileK), e.g. --modes ieee,sr,sr+fused+r16,sr+tile16.
//
// usage: train_step [--batch B] [--size S] [--classes C] [--modes ieee,sr] [--t T] [--steps N]
//                   [--warmup W] [--filters F] [--kernel K]
//        (defaults: FastSurferCNN, batch 4, 256 x 256, 79 classes, ieee and sr at t = 24,
//        1 warm-up step and 3 timed steps). An sr step at the full shape takes minutes on two
//        cores: time it with --modes sr --warmup 0 --steps 1.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "mca/config.hpp"
#include "mca/stream.hpp"
#include "nn/trainer.hpp"

using namespace numens;

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int64_t batch = 4;
  int64_t size = 256;
  int classes = 79;
  std::vector<std::string> modes = {"ieee", "sr"};
  int t = 24;
  int steps = 3;
  int warmup = 1;
  int filters = 64;
  int kernel = 5;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = std::min(s.find(',', start), s.size());
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// A synthetic batch that looks like a segmentation problem rather than noise, so that the loss
// kernels see realistic label runs and class counts: labels are the Voronoi cells of random
// seed points (piecewise constant, straight boundaries), the first `classes` cells taking every
// class once so that each class is present; image channels are a class-dependent tone plus
// per-channel noise, in [0, 1]; the weight map is 1 plus FastSurfer's edge weight 5 where the
// label changes between 4-neighbours (the 2-D stand-in for its 3-D label gradient).
nn::Batch synthetic_batch(int64_t batch, int channels, int64_t size, int classes, uint32_t seed) {
  nn::Batch b;
  b.images = Tensor<float>::empty({batch, channels, size, size});
  b.labels = Tensor<int32_t>::empty({batch, 1, size, size});
  b.weights = Tensor<float>::empty({batch, 1, size, size});
  const int64_t cells = std::max<int64_t>(classes, size * size / 256);
  for (int64_t n = 0; n < batch; ++n) {
    const mca::Stream st = mca::Stream::make(seed, uint32_t(n));
    auto uni = [&](uint64_t e, uint32_t d) { return double(st.u32(e, d)) * 0x1p-32; };
    const size_t nc = size_t(cells);
    std::vector<double> px(nc), py(nc);
    std::vector<int32_t> cls(nc);
    for (int64_t c = 0; c < cells; ++c) {
      px[size_t(c)] = uni(uint64_t(c), 0) * double(size);
      py[size_t(c)] = uni(uint64_t(c), 1) * double(size);
      cls[size_t(c)] =
          c < classes ? int32_t(c) : int32_t(st.u32(uint64_t(c), 2) % uint32_t(classes));
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < size; ++i)
      for (int64_t j = 0; j < size; ++j) {
        const double y = double(i) + 0.5, x = double(j) + 0.5;
        double best = 1e300;
        int32_t lab = 0;
        for (int64_t c = 0; c < cells; ++c) {
          const double dx = x - px[size_t(c)], dy = y - py[size_t(c)], d = dx * dx + dy * dy;
          if (d < best) {
            best = d;
            lab = cls[size_t(c)];
          }
        }
        b.labels.at(n, 0, i, j) = lab;
      }
    const double golden = 0.6180339887498949;  // neighbouring class ids get distant tones
    for (int64_t i = 0; i < size; ++i)
      for (int64_t j = 0; j < size; ++j) {
        const int32_t lab = b.labels.at(n, 0, i, j);
        bool edge = false;
        if (i > 0 && b.labels.at(n, 0, i - 1, j) != lab) edge = true;
        if (i + 1 < size && b.labels.at(n, 0, i + 1, j) != lab) edge = true;
        if (j > 0 && b.labels.at(n, 0, i, j - 1) != lab) edge = true;
        if (j + 1 < size && b.labels.at(n, 0, i, j + 1) != lab) edge = true;
        b.weights.at(n, 0, i, j) = edge ? 6.0f : 1.0f;
        const double tone = std::fmod(double(lab) * golden, 1.0);
        for (int c = 0; c < channels; ++c) {
          const uint64_t e = uint64_t((c * size + i) * size + j);
          const double v = 0.15 + 0.7 * tone + 0.3 * (uni(e, 3) - 0.5);
          b.images.at(n, c, i, j) = float(std::clamp(v, 0.0, 1.0));
        }
      }
  }
  return b;
}

// Floating-point operations of the convolutions of one training step: each conv runs forward,
// data gradient and weight gradient (the first conv's data gradient included: the trainer
// computes the input gradient), 2 flops per multiply-add each. FastSurferCNN 1.x topology only.
double conv_flops(const nn::NetConfig& c, int64_t batch, int64_t size) {
  const int n = c.convs_per_block;
  auto block_macs = [&](int64_t in) {  // per output pixel
    double m = 0;
    for (int i = 0; i < n; ++i) {
      const int64_t k = n == 3 && i == 2 ? 1 : c.kernel;
      m += double(c.filters) * double(i == 0 ? in : c.filters) * double(k * k);
    }
    return m;
  };
  double macs = 0;
  for (int l = 0; l < c.levels; ++l) {
    const double pixels = double((size >> l) * (size >> l));
    macs += pixels * (block_macs(l == 0 ? c.in_channels : c.filters) + block_macs(c.filters));
  }
  macs += double((size >> c.levels) * (size >> c.levels)) * block_macs(c.filters);
  macs += double(size * size) * double(c.classes) * double(c.filters);  // classifier
  return 3.0 * 2.0 * macs * double(batch);
}

// `spec`: a mode with optional cost options, "sr+fused+r16" (mca::parse_arith_spec), at t = o.t.
nn::TrainConfig train_config(const Options& o, const std::string& spec) {
  nn::TrainConfig cfg;
  cfg.net = nn::fastsurfer_cnn(o.classes);
  cfg.net.filters = o.filters;
  cfg.net.kernel = o.kernel;
  cfg.optim = nn::fastsurfer_cnn_optim();
  mca::ArithConfig base;
  base.t32 = o.t;
  base.seed = 1;
  cfg.arith = mca::parse_arith_spec(spec, base);
  cfg.init_seed = 1;
  // a step early in the first epoch, as in a real run (the schedule does not move)
  cfg.iterations_per_epoch = 1000;
  return cfg;
}

// Process CPU time (user + system, all threads). Beside the wall time because the development VM
// is shared: with other jobs on the cores, wall time grows while CPU time stays near 2x the
// unloaded wall time (less exactly: threads spinning at a barrier for a descheduled peer count).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// 1-minute load average, recorded beside every timing (the machine is shared).
double load_average() {
  std::ifstream f("/proc/loadavg");
  double l = -1;
  f >> l;
  return l;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

int64_t count_changed(const std::vector<float>& a, const std::vector<float>& b) {
  int64_t k = 0;
  for (size_t i = 0; i < a.size(); ++i) k += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  return k;
}

// The checks of the header comment for one mode. `ieee_loss` < 0: no reference yet (the mode is
// ieee itself). Returns the first-step loss, or NaN on failure (after printing why).
double verify(const Options& o, const std::string& mode_name, double ieee_loss) {
  const nn::TrainConfig cfg = train_config(o, mode_name);
  const int64_t vs = int64_t(1) << cfg.net.levels;
  const std::vector<nn::Batch> mb = {
      synthetic_batch(o.batch, cfg.net.in_channels, vs, o.classes, 7)};
  auto fail = [&](const std::string& why) {
    std::printf("verification %s (%lldx%lld): FAILED: %s\n", mode_name.c_str(), (long long)vs,
                (long long)vs, why.c_str());
    return std::nan("");
  };
  nn::Trainer a(cfg);
  const int64_t want = nn::parameter_count(cfg.net);
  if (a.net().parameter_count() != want)
    return fail("model has " + std::to_string(a.net().parameter_count()) + " parameters, " +
                std::to_string(want) + " expected");
  const std::vector<float> before = a.state().params;
  const nn::StepReport r = a.step(mb);
  const std::vector<float> after = a.state().params;
  if (!std::isfinite(r.loss)) return fail("loss is " + std::to_string(r.loss));
  const int64_t changed = count_changed(before, after);
  if (changed == 0) return fail("the step left every parameter unchanged");
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  nn::Trainer b(cfg);
  const nn::StepReport rb = b.step(mb);
  omp_set_num_threads(saved);
  if (!bitwise_equal(after, b.state().params) || rb.loss != r.loss)
    return fail("a second trainer (1 thread) fed the same batch differs");
  if (ieee_loss >= 0) {
    const double tol = std::min(0.5, std::ldexp(1.0, 14 - o.t));
    if (!(std::fabs(r.loss - ieee_loss) <= tol * ieee_loss))
      return fail("first loss " + std::to_string(r.loss) + " vs ieee " + std::to_string(ieee_loss) +
                  " beyond relative " + std::to_string(tol));
  }
  std::printf(
      "verification %-20s (%lldx%lld): passed (loss %.6f, %lld of %lld parameters moved, "
      "1-thread rerun bitwise equal)\n",
      mode_name.c_str(), (long long)vs, (long long)vs, r.loss, (long long)changed,
      (long long)after.size());
  return r.loss;
}

struct Row {
  std::string mode;
  double mean_ms = 0, min_ms = 0, cpu_ms = 0, loss = 0, load_before = 0, load_after = 0;
  bool ok = true;
};

Row time_mode(const Options& o, const std::string& mode_name, const std::vector<nn::Batch>& batch) {
  Row row{mode_name};
  const nn::TrainConfig cfg = train_config(o, mode_name);
  nn::Trainer tr(cfg);
  for (int s = 0; s < o.warmup; ++s) {
    const nn::StepReport r = tr.step(batch);
    row.ok = row.ok && std::isfinite(r.loss);
  }
  std::vector<double> ms;
  double cpu_total = 0;
  row.load_before = load_average();
  for (int s = 0; s < o.steps; ++s) {
    const double c0 = cpu_seconds();
    const auto t0 = Clock::now();
    const nn::StepReport r = tr.step(batch);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    const double cpu = (cpu_seconds() - c0) * 1e3;
    cpu_total += cpu;
    row.ok = row.ok && std::isfinite(r.loss);
    row.loss = r.loss;
    std::printf("  %-4s step %lld: %10.1f ms wall, %10.1f ms CPU, load %.2f, loss %.6f\n",
                mode_name.c_str(), (long long)r.step, ms.back(), cpu, load_average(), r.loss);
    std::fflush(stdout);
  }
  row.load_after = load_average();
  double total = 0;
  for (double m : ms) total += m;
  row.mean_ms = total / double(ms.size());
  row.cpu_ms = cpu_total / double(ms.size());
  row.min_ms = *std::min_element(ms.begin(), ms.end());
  return row;
}

int usage() {
  std::fprintf(stderr,
               "usage: train_step [--batch B] [--size S] [--classes C] [--modes ieee,sr] [--t T]\n"
               "                  [--steps N] [--warmup W] [--filters F] [--kernel K]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) try {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string v = argv[++i];
    if (a == "--batch") {
      o.batch = std::stoll(v);
    } else if (a == "--size") {
      o.size = std::stoll(v);
    } else if (a == "--classes") {
      o.classes = std::stoi(v);
    } else if (a == "--modes") {
      o.modes = split_commas(v);
    } else if (a == "--t") {
      o.t = mca::parse_precision(v, "--t", 24);
    } else if (a == "--steps") {
      o.steps = std::stoi(v);
    } else if (a == "--warmup") {
      o.warmup = std::stoi(v);
    } else if (a == "--filters") {
      o.filters = std::stoi(v);
    } else if (a == "--kernel") {
      o.kernel = std::stoi(v);
    } else {
      return usage();
    }
  }
  if (o.batch < 1 || o.size < 1 || o.steps < 1 || o.warmup < 0 || o.modes.empty()) return usage();
  const nn::TrainConfig cfg0 = train_config(o, "ieee");
  cfg0.validate();
  for (const std::string& m : o.modes) train_config(o, m);  // refuse a bad spec before any work
  const int64_t params = nn::parameter_count(cfg0.net);
  const nn::NetConfig ref = nn::fastsurfer_cnn(79);
  const bool is_cnn79 = cfg0.net.filters == ref.filters && cfg0.net.kernel == ref.kernel &&
                        cfg0.net.classes == ref.classes;
  std::printf("bench/train_step: CPU, %d OpenMP threads, FastSurferCNN (%s)\n",
              omp_get_max_threads(), cfg0.net.describe().c_str());
  std::printf("batch %lld x %d x %lld x %lld, %lld parameters, Adam lr %.3g, sr/mca t = %d\n",
              (long long)o.batch, cfg0.net.in_channels, (long long)o.size, (long long)o.size,
              (long long)params, cfg0.optim.lr, o.t);
  bool ok = true;
  if (is_cnn79 && params != 1799206) {
    std::printf(
        "verification: FAILED: FastSurferCNN at 79 classes has %lld parameters, "
        "1,799,206 expected (MODEL.md)\n",
        (long long)params);
    ok = false;
  }
  // ieee first: the perturbed modes' losses are checked against it
  const double ieee_loss = verify(o, "ieee", -1);
  ok = ok && std::isfinite(ieee_loss);
  for (const std::string& m : o.modes)
    if (m != "ieee") ok = verify(o, m, ieee_loss) >= 0 && ok;
  if (!ok) {
    std::printf("verification: FAILED, nothing timed\n");
    return 1;
  }

  const double flops = conv_flops(cfg0.net, o.batch, o.size);
  std::printf("conv work per step: %.1f GFLOP (forward, data and weight gradients)\n",
              flops * 1e-9);
  const std::vector<nn::Batch> batch = {
      synthetic_batch(o.batch, cfg0.net.in_channels, o.size, o.classes, 1)};
  std::printf("timing: %d warm-up and %d timed step(s) per mode\n", o.warmup, o.steps);
  std::vector<Row> rows;
  for (const std::string& m : o.modes) rows.push_back(time_mode(o, m, batch));

  double ieee_ms = 0;
  for (const Row& r : rows)
    if (r.mode == "ieee") ieee_ms = r.mean_ms;
  std::printf("%-20s %4s %12s %12s %12s %9s %13s %8s %10s %11s\n", "arith", "t", "ms/step",
              "min ms", "CPU ms/step", "images/s", "conv GFLOP/s", "x ieee", "last loss", "load");
  for (const Row& r : rows) {
    char ratio[32] = "-";
    if (ieee_ms > 0) std::snprintf(ratio, sizeof ratio, "%.2f", r.mean_ms / ieee_ms);
    std::printf("%-20s %4d %12.1f %12.1f %12.1f %9.3f %13.2f %8s %10.6f %5.2f-%5.2f%s\n",
                r.mode.c_str(), r.mode == "ieee" ? 24 : o.t, r.mean_ms, r.min_ms, r.cpu_ms,
                double(o.batch) / (r.mean_ms * 1e-3), flops / (r.mean_ms * 1e-3) * 1e-9, ratio,
                r.loss, r.load_before, r.load_after, r.ok ? "" : "  NON-FINITE LOSS");
    ok = ok && r.ok;
  }
  std::printf("verification: %s\n", ok ? "passed" : "FAILED");
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "train_step: %s\n", e.what());
  return 1;
}
