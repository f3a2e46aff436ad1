// bench/kernels: every kernel of issue 3 at FastSurferCNN's layer shapes (batch 4, 64 channels,
// 5x5 and 1x1 convolutions, 79 classes for the softmax and the loss, an optimizer step over the
// model's 1.8 M parameters), in ieee and in sr at t = 24, on CPU tensors or on the GPU.
// Convolutions report GFLOP/s (2 N O C k^2 H W per pass); the other kernels GB/s of the tensors
// their passes read and write.
//
// Each row is verified before it is timed: the output is finite and not all zeros; sr conv stays
// within 2^-10 (relative to the number of terms) of ieee; on the GPU, the ieee conv equals the CPU
// ieee conv bit for bit, and every other kernel equals the CPU kernel of the same mode bit for
// bit (softmax and loss to 1e-5: the device's exp and log differ from glibc's in the last bit).
// Times are medians of repeated runs after a warm-up, each sample long enough (>= 20 ms) that
// kernel launches and the final device synchronisation do not dominate.
//
// Arithmetic variants (--arith, comma-separated): ieee, sr (the exact contract at t = 24), and sr
// with the cost options of MCA.md v2 joined by '+': fused (fma = fused), rN (sr_bits = N), rounds7,
// tileK (granularity tile:K); e.g. sr+fused+r16, sr+tile16. The "x ieee" column is each row's time
// over the ieee row's time measured in the same run.
//
// --only peer: one row at the shape other tools were measured on (64 -> 64 channels, 5x5, 64 x 64,
// batch 1, one forward pass).
//
// usage: kernels [--size S] [--device cpu|cuda] [--ieee-only] [--only conv|other|peer]
//                [--arith LIST] [--simd scalar|avx2|avx512] [--reference]
//        (--simd: the Philox generator's vector path, at most what the build and CPU have)
//        (size default 32; FastSurfer's full size is 256, its pooled sizes 128, 64, 32, 16)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/activation.hpp"
#include "kernels/batchnorm.hpp"
#include "kernels/conv2d.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/loss.hpp"
#include "kernels/optim.hpp"
#include "kernels/pool.hpp"
#include "mca/batch.hpp"
#include "mca/dispatch.hpp"

#if NUMENS_BENCH_CUDA
#include "mca/batch_cuda.hpp"
#endif

using namespace numens;
using namespace numens::kernels;

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kBatch = 4, kChannels = 64, kClasses = 79, kParams = 1799206;

// Seconds per run of f on device d: warm-up, then samples of `reps` runs (calibrated so that a
// sample lasts >= 20 ms) until 1 s or 20 samples, at least 3; the median sample over reps.
template <class F>
double seconds_per_run(Device d, F&& f) {
  auto sample = [&](int reps) {
    const auto t0 = Clock::now();
    for (int r = 0; r < reps; ++r) f();
    synchronize(d);
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  double first = sample(1);  // warm-up
  int reps = 1;
  while (first < 0.02 && reps < (1 << 20)) {
    reps *= 2;
    first = sample(reps);
  }
  std::vector<double> t;
  double total = 0;
  while (t.size() < 3 || (total < 1.0 && t.size() < 20)) {
    t.push_back(sample(reps));
    total += t.back();
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2] / reps;
}

template <class T>
Tensor<T> host_copy(const Tensor<T>& t) {
  return t.device() == Device::cpu ? t : t.to(Device::cpu);
}

Tensor<float> filled(Shape s, uint32_t seed, double scale) {
  Tensor<float> t = Tensor<float>::empty(s);
  const mca::Stream st = mca::Stream::make(seed, 0xbe4cu);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data()[i] = float(scale * (double(st.u32(uint64_t(i), 0)) * 0x1p-32 * 2.0 - 1.0));
  return t;
}

// Every operand and result of the table, on one device. The inputs are generated on the host
// from fixed seeds, so the CPU and the GPU workspaces hold the same values.
struct Workspace {
  Device dev;
  int64_t s;
  Tensor<float> x, x2, dy, w5, w1, bias, y, dx, dx2, dw5, dw1, db;
  Tensor<uint8_t> win;
  Tensor<float> pooled, pooled_dy, unpooled;
  Tensor<int32_t> pidx;
  // rmean/rvar are updated by every training forward; the eval row reads emean/evar, which stay.
  Tensor<float> gamma, beta, rmean, rvar, emean, evar, smean, sinvstd, dgamma, dbeta;
  // fixed_probs: the softmax backward's input, apart from probs, which the forward rows rewrite.
  Tensor<float> logits, probs, fixed_probs, dprobs, dlogits, weights;
  Tensor<int32_t> labels;
  Tensor<float> param, grad, m, v;
  Tensor<float> xp, yp, bp;  // the peers' shape: x [1, 64, 64, 64]

  Workspace(Device d, int64_t size) : dev(d), s(size) {
    const Shape xs{kBatch, kChannels, s, s}, ps{kBatch, kChannels, s / 2, s / 2},
        cs{1, kChannels, 1, 1}, ls{kBatch, kClasses, s, s}, ms{kBatch, 1, s, s};
    const double w5s = 1.0 / std::sqrt(double(kChannels * 25)), w1s = 1.0 / 8.0;
    x = filled(xs, 1, 1.0).to(d);
    dy = filled(xs, 2, 1.0).to(d);
    x2 = filled(xs, 3, 1.0).to(d);
    w5 = filled({kChannels, kChannels, 5, 5}, 4, w5s).to(d);
    w1 = filled({kChannels, kChannels, 1, 1}, 5, w1s).to(d);
    bias = filled(cs, 6, 0.1).to(d);
    y = Tensor<float>::zeros(xs, d);
    dx = Tensor<float>::zeros(xs, d);
    dx2 = Tensor<float>::zeros(xs, d);
    dw5 = Tensor<float>::zeros(w5.shape(), d);
    dw1 = Tensor<float>::zeros(w1.shape(), d);
    db = Tensor<float>::zeros(cs, d);
    win = Tensor<uint8_t>::zeros(xs, d);
    pooled = Tensor<float>::zeros(ps, d);
    pooled_dy = filled(ps, 7, 1.0).to(d);
    unpooled = Tensor<float>::zeros(xs, d);
    pidx = Tensor<int32_t>::zeros(ps, d);
    maxpool2x2_forward(x, pooled, pidx);  // indices for the unpool and pool-backward rows
    gamma = filled(cs, 8, 1.0).to(d);
    beta = filled(cs, 9, 1.0).to(d);
    rmean = filled(cs, 10, 0.1).to(d);
    Tensor<float> rv = filled(cs, 11, 0.5);
    for (int64_t i = 0; i < rv.numel(); ++i) rv.data()[i] += 1.0f;  // variances > 0
    rvar = rv.to(d);
    emean = rmean.clone();
    evar = rvar.clone();
    smean = Tensor<float>::zeros(cs, d);
    sinvstd = Tensor<float>::zeros(cs, d);
    dgamma = Tensor<float>::zeros(cs, d);
    dbeta = Tensor<float>::zeros(cs, d);
    logits = filled(ls, 12, 4.0).to(d);
    probs = Tensor<float>::zeros(ls, d);
    Tensor<float> fp = filled(ls, 18, 0.5);
    for (int64_t i = 0; i < fp.numel(); ++i) fp.data()[i] += 0.5f;  // in (0, 1]
    fixed_probs = fp.to(d);
    dprobs = filled(ls, 13, 1.0).to(d);
    dlogits = Tensor<float>::zeros(ls, d);
    Tensor<float> wm = filled(ms, 14, 0.5);
    Tensor<int32_t> lab = Tensor<int32_t>::empty(ms);
    const mca::Stream st = mca::Stream::make(15, 0xbe4cu);
    for (int64_t i = 0; i < wm.numel(); ++i) {
      wm.data()[i] += 1.0f;
      lab.data()[i] = int32_t(st.u32(uint64_t(i), 0) % uint32_t(kClasses));
    }
    weights = wm.to(d);
    labels = lab.to(d);
    const Shape as{1, 1, 1, kParams};
    param = filled(as, 16, 0.05).to(d);
    grad = filled(as, 17, 0.01).to(d);
    m = Tensor<float>::zeros(as, d);
    v = Tensor<float>::zeros(as, d);
    xp = filled({1, kChannels, 64, 64}, 19, 1.0).to(d);
    yp = Tensor<float>::zeros({1, kChannels, 64, 64}, d);
    bp = filled(cs, 20, 0.1).to(d);
  }
};

struct Row {
  std::string name;
  bool conv;  // GFLOP/s of `work` flops; else GB/s of `work` bytes
  double work;
  bool libm;  // exp/log inside: GPU and CPU agree to 1e-5, not bitwise
  std::function<void()> run;
  std::function<std::vector<const Tensor<float>*>()> outputs;
};

// The table for one policy on one workspace.
template <class P>
std::vector<Row> rows(const P& pol, Workspace& ws, const std::string& only) {
  const double n = double(kBatch), c = double(kChannels), hw = double(ws.s * ws.s);
  const double B = 4.0 * n * c * hw, Bp = B / 4, Bl = 4.0 * n * double(kClasses) * hw,
               Bm = 4.0 * n * hw, Bc = 4.0 * c;
  std::vector<Row> r;
  if (only == "peer") {
    r.push_back({"conv fwd 5x5 peer", true, 2.0 * c * c * 25 * 64 * 64, false,
                 [&] { conv2d_forward(pol, ws.xp, ws.w5, ws.bp, ws.yp); },
                 [&] { return std::vector<const Tensor<float>*>{&ws.yp}; }});
    return r;
  }
  if (only != "other") {
    for (int k : {5, 1}) {
      Tensor<float>& w = k == 5 ? ws.w5 : ws.w1;
      Tensor<float>& dw = k == 5 ? ws.dw5 : ws.dw1;
      const double fl = 2.0 * n * c * c * k * k * hw;
      const std::string kk = " " + std::to_string(k) + "x" + std::to_string(k);
      r.push_back({"conv fwd" + kk, true, fl, false,
                   [&, &w = w] { conv2d_forward(pol, ws.x, w, ws.bias, ws.y); },
                   [&] { return std::vector<const Tensor<float>*>{&ws.y}; }});
      r.push_back({"conv dgrad" + kk, true, fl, false,
                   [&, &w = w] { conv2d_backward_data(pol, ws.dy, w, ws.dx, GradMode::overwrite); },
                   [&] { return std::vector<const Tensor<float>*>{&ws.dx}; }});
      r.push_back(
          {"conv wgrad" + kk, true, fl, false,
           [&, &dw = dw] { conv2d_backward_weight(pol, ws.dy, ws.x, dw, GradMode::overwrite); },
           [&, &dw = dw] { return std::vector<const Tensor<float>*>{&dw}; }});
    }
  }
  if (only == "conv") return r;
  using V = std::vector<const Tensor<float>*>;
  r.push_back({"conv bgrad", false, B + Bc, false,
               [&] { conv2d_backward_bias(pol, ws.dy, ws.db, GradMode::overwrite); },
               [&] { return V{&ws.db}; }});
  r.push_back({"prelu fwd", false, 2 * B, false, [&] { prelu_forward(pol, ws.x, 0.25f, ws.y); },
               [&] { return V{&ws.y}; }});
  r.push_back({"prelu bwd", false, 3 * B, false,
               [&] {
                 float ds = 0;
                 prelu_backward(pol, ws.dy, ws.x, 0.25f, ws.dx, ds, GradMode::overwrite);
               },
               [&] { return V{&ws.dx}; }});
  r.push_back({"maxout fwd", false, 3 * B + B / 4, false,
               [&] { maxout_forward(ws.x, ws.x2, ws.y, ws.win); }, [&] { return V{&ws.y}; }});
  r.push_back({"maxout bwd", false, 3 * B + B / 4, false,
               [&] { maxout_backward(pol, ws.dy, ws.win, ws.dx, ws.dx2, GradMode::overwrite); },
               [&] {
                 return V{&ws.dx, &ws.dx2};
               }});
  r.push_back({"maxpool fwd", false, B + 2 * Bp, false,
               [&] { maxpool2x2_forward(ws.x, ws.pooled, ws.pidx); },
               [&] { return V{&ws.pooled}; }});
  r.push_back({"maxpool bwd", false, B + 2 * Bp, false,
               [&] { maxpool2x2_backward(pol, ws.pooled_dy, ws.pidx, ws.dx, GradMode::overwrite); },
               [&] { return V{&ws.dx}; }});
  r.push_back({"maxunpool fwd", false, B + 2 * Bp, false,
               [&] { maxunpool2x2_forward(ws.pooled_dy, ws.pidx, ws.unpooled); },
               [&] { return V{&ws.unpooled}; }});
  r.push_back({"maxunpool bwd", false, B + 2 * Bp, false,
               [&] { maxunpool2x2_backward(pol, ws.dy, ws.pidx, ws.pooled, GradMode::overwrite); },
               [&] { return V{&ws.pooled}; }});
  r.push_back({"batchnorm train fwd", false, 3 * B, false,
               [&] {
                 batchnorm2d_forward_train(pol, ws.x, ws.gamma, ws.beta, ws.rmean, ws.rvar,
                                           ws.smean, ws.sinvstd, ws.y);
               },
               [&] {
                 return V{&ws.y, &ws.smean, &ws.sinvstd};
               }});
  r.push_back(
      {"batchnorm eval fwd", false, 2 * B, false,
       [&] { batchnorm2d_forward_eval(pol, ws.x, ws.gamma, ws.beta, ws.emean, ws.evar, ws.y); },
       [&] { return V{&ws.y}; }});
  r.push_back({"batchnorm bwd", false, 5 * B, false,
               [&] {
                 batchnorm2d_backward(pol, ws.dy, ws.x, ws.gamma, ws.smean, ws.sinvstd, ws.dx,
                                      ws.dgamma, ws.dbeta, GradMode::overwrite);
               },
               [&] {
                 return V{&ws.dx, &ws.dgamma, &ws.dbeta};
               }});
  r.push_back({"softmax fwd", false, 2 * Bl, true,
               [&] { softmax_forward(pol, ws.logits, ws.probs); }, [&] { return V{&ws.probs}; }});
  r.push_back({"softmax bwd", false, 3 * Bl, false,
               [&] { softmax_backward(pol, ws.fixed_probs, ws.dprobs, ws.dlogits); },
               [&] { return V{&ws.dlogits}; }});
  // Passes of the loss: softmax (logits in, probs out), CE and Dice reductions (probs, labels,
  // weights), the gradient (probs, labels, weights in, dlogits out).
  r.push_back({"ce+dice loss+grad", false, 5 * Bl + 4 * Bm, true,
               [&] { ce_dice_loss(pol, ws.logits, ws.labels, ws.weights, ws.probs, ws.dlogits); },
               [&] {
                 return V{&ws.probs, &ws.dlogits};
               }});
  const AdamParams ap{0.001, 0.9, 0.999, 1e-8, 1e-4, true};
  r.push_back({"adamw step", false, 7 * 4.0 * double(kParams), false,
               [&, ap] {
                 adam_step(pol, ws.param.data(), ws.grad.data(), ws.m.data(), ws.v.data(), kParams,
                           1, ap, ws.dev);
               },
               [&] {
                 return V{&ws.param, &ws.m, &ws.v};
               }});
  r.push_back({"add (y += x)", false, 3 * B, false, [&] { add_inplace(pol, ws.y, ws.x); },
               [&] { return V{&ws.y}; }});
  return r;
}

bool sane(const Tensor<float>& t) {
  const Tensor<float> h = host_copy(t);
  bool nonzero = false;
  for (int64_t i = 0; i < h.numel(); ++i) {
    if (!std::isfinite(h.data()[i])) return false;
    nonzero = nonzero || h.data()[i] != 0.0f;
  }
  return nonzero;
}

// Largest |a - b|, or with `relative` the largest |a - b| / max(1, |b|).
double max_diff(const Tensor<float>& a, const Tensor<float>& b, bool relative) {
  const Tensor<float> ha = host_copy(a), hb = host_copy(b);
  double m = 0;
  for (int64_t i = 0; i < ha.numel(); ++i) {
    const double d = std::fabs(double(ha.data()[i]) - double(hb.data()[i]));
    m = std::max(m, relative ? d / std::max(1.0, std::fabs(double(hb.data()[i]))) : d);
  }
  return m;
}

bool bitwise_equal(const Tensor<float>& a, const Tensor<float>& b) {
  const Tensor<float> ha = host_copy(a), hb = host_copy(b);
  return ha.numel() == hb.numel() && std::memcmp(ha.data(), hb.data(), size_t(ha.bytes())) == 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: kernels [--size S] [--device cpu|cuda] [--ieee-only] "
               "[--only conv|other|peer] [--arith LIST] [--simd scalar|avx2|avx512] "
               "[--reference]\n");
  return 2;
}

// "sr+fused+r16+rounds7+tile16" -> an ArithConfig at t = 24, seed 1 (mca::parse_arith_spec).
mca::ArithConfig parse_variant(const std::string& label) {
  mca::ArithConfig base;
  base.seed = 1;
  return mca::parse_arith_spec(label, base);
}

}  // namespace

int main(int argc, char** argv) try {
  int64_t size = 32;
  Device dev = Device::cpu;
  std::string only;
  std::vector<std::string> modes = {"ieee", "sr"};
  bool modes_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--size" && i + 1 < argc) {
      size = std::stoll(argv[++i]);
      if (size < 2 || size % 2 != 0) {
        std::fprintf(stderr, "kernels: --size must be even and >= 2 (got %lld)\n", (long long)size);
        return 2;
      }
    } else if (a == "--device" && i + 1 < argc) {
      const std::string d = argv[++i];
      if (d != "cpu" && d != "cuda") return usage();
      dev = d == "cpu" ? Device::cpu : Device::cuda;
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
      if (only != "conv" && only != "other" && only != "peer") return usage();
      if (only != "other" && !modes_set)  // conv rows: every cost option beside ieee and sr
        modes = {"ieee",
                 "sr",
                 "sr+r16",
                 "sr+fused+r16",
                 "sr+rounds7",
                 "sr+tile16",
                 "sr+fused+r16+tile16"};
    } else if (a == "--ieee-only") {
      modes = {"ieee"};  // the perturbed CPU conv at 256x256 takes minutes per pass
      modes_set = true;
    } else if (a == "--arith" && i + 1 < argc) {
      modes.clear();
      const std::string list = argv[++i];
      for (size_t p0 = 0; p0 <= list.size();) {
        const size_t p1 = std::min(list.find(',', p0), list.size());
        if (p1 > p0) modes.push_back(list.substr(p0, p1 - p0));
        p0 = p1 + 1;
      }
      modes_set = true;
    } else if (a == "--simd" && i + 1 < argc) {
      const std::string v = argv[++i];  // force a narrower generator path (mca::set_simd_level)
      if (v != "scalar" && v != "avx2" && v != "avx512") return usage();
      mca::set_simd_level(v == "scalar" ? mca::SimdLevel::scalar
                          : v == "avx2" ? mca::SimdLevel::avx2
                                        : mca::SimdLevel::avx512);
    } else if (a == "--reference") {
      set_conv2d_cpu_impl(ConvCpuImpl::reference);  // time the plain ieee reference instead
    } else {
      return usage();
    }
  }
  if (dev == Device::cuda) {
#if NUMENS_BENCH_CUDA
    std::string why;
    if (!mca::cuda::device_available(&why)) {
      std::fprintf(stderr, "kernels: --device cuda: no usable CUDA device (%s)\n", why.c_str());
      return 1;
    }
#else
    std::fprintf(stderr, "kernels: --device cuda: this build has no CUDA backend\n");
    return 1;
#endif
  }
  std::printf("bench/kernels: generator %s\n", mca::simd_level_name(mca::simd_level()));
  std::printf("bench/kernels: %s, batch %lld, %lld channels (%lld classes), %lldx%lld\n",
              dev == Device::cpu
                  ? ("CPU, " + std::to_string(omp_get_max_threads()) + " OpenMP threads").c_str()
                  : "CUDA",
              (long long)kBatch, (long long)kChannels, (long long)kClasses, (long long)size,
              (long long)size);
  std::printf("%-22s %-20s %10s %10s %-7s %8s\n", "op", "arith", "ms", "rate", "unit", "x ieee");
  Workspace ws(dev, size);
  // On the GPU, the CPU workspace is the reference for the bitwise checks.
  std::unique_ptr<Workspace> cpu_ws;
  if (dev == Device::cuda) cpu_ws = std::make_unique<Workspace>(Device::cpu, size);
  bool ok = true;
  std::map<std::string, double> ieee_s;           // seconds per run, by row
  std::map<std::string, Tensor<float>> ieee_out;  // ieee conv outputs, sr conv's reference
  for (const std::string& mode : modes) {
    const mca::ArithConfig cfg = parse_variant(mode);
    mca::with_policy(cfg, [&](auto pol) {
      std::vector<Row> table = rows(pol, ws, only);
      std::vector<Row> cpu_table;
      if (cpu_ws) cpu_table = rows(pol, *cpu_ws, only);
      for (size_t i = 0; i < table.size(); ++i) {
        Row& row = table[i];
        row.run();
        synchronize(dev);
        std::string why;
        for (const Tensor<float>* o : row.outputs())
          if (!sane(*o)) why = "output not finite or all zeros";
        if (row.conv && mode == "ieee") {
          ieee_out[row.name] = row.outputs()[0]->clone();
        } else if (row.conv && ieee_out.count(row.name)) {
          // |terms| <= 1 / sqrt(C k k) (fwd), <= 1 (dgrad with the scaled weights, wgrad): the
          // sr deviation is bounded by 2^-10 of the number of terms.
          const double terms = row.name.rfind("conv wgrad", 0) == 0 ? double(kBatch * size * size)
                                                                    : double(kChannels * 25);
          // (a tile:k sum is within the same bound: k-term partials in round to nearest)
          const double m = max_diff(*row.outputs()[0], ieee_out[row.name], false);
          if (m > std::ldexp(terms, -10)) why = "sr deviates from ieee by " + std::to_string(m);
        }
        // GPU vs CPU: the ieee conv (the CPU's sr conv takes minutes at large sizes), and every
        // other kernel in both modes.
        if (!cpu_table.empty() && (!row.conv || mode == "ieee")) {
          cpu_table[i].run();
          const auto go = row.outputs(), co = cpu_table[i].outputs();
          for (size_t q = 0; q < go.size(); ++q) {
            if (row.libm ? max_diff(*go[q], *co[q], true) > 1e-5 : !bitwise_equal(*go[q], *co[q]))
              why = "GPU result differs from the CPU";
          }
        }
        if (!why.empty()) {
          std::printf("%-22s %-20s verification FAILED: %s\n", row.name.c_str(), mode.c_str(),
                      why.c_str());
          ok = false;
          continue;
        }
        const double s = seconds_per_run(dev, row.run);
        if (mode == "ieee") ieee_s[row.name] = s;
        const double rate = row.work / s * 1e-9;
        std::printf("%-22s %-20s %10.3f %10.2f %-7s %8.2f\n", row.name.c_str(), mode.c_str(),
                    s * 1e3, rate, row.conv ? "GFLOP/s" : "GB/s",
                    ieee_s.count(row.name) ? s / ieee_s[row.name] : 1.0);
        std::fflush(stdout);
      }
    });
  }
  std::printf("verification: %s\n", ok ? "passed" : "FAILED");
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "kernels: error: %s\n", e.what());
  return 1;
}
