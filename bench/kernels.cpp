// bench/kernels: GFLOP/s of conv2d (forward, dgrad, wgrad) and GB/s of the element-wise and
// normalisation kernels, in ieee and in sr at t = 24, on CPU tensors, at FastSurferCNN's layer
// shapes (64 channels, 5x5 and 1x1 kernels, batch 4) at a chosen image size.
// Each configuration is verified before it is timed: sr must stay within 2^-10 (relative to the
// sum of |terms|) of ieee, and the output must not be all zeros.
//
// usage: kernels [--size S] [--ieee-only] [--reference]
//        (size default 32; FastSurfer's full size is 256, its pooled sizes 128, 64, 32, 16)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/activation.hpp"
#include "kernels/batchnorm.hpp"
#include "kernels/conv2d.hpp"
#include "mca/dispatch.hpp"

using namespace numens;
using namespace numens::kernels;

namespace {

using Clock = std::chrono::steady_clock;

template <class F>
double median_seconds(F&& f) {
  f();  // warm-up
  std::vector<double> t;
  double total = 0;
  while (t.size() < 3 || (total < 1.0 && t.size() < 20)) {
    const auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    total += t.back();
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

Tensor<float> filled(Shape s, uint32_t seed, double scale) {
  Tensor<float> t = Tensor<float>::empty(s);
  const mca::Stream st = mca::Stream::make(seed, 0xbe4cu);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data()[i] = float(scale * (double(st.u32(uint64_t(i), 0)) * 0x1p-32 * 2.0 - 1.0));
  return t;
}

double max_diff(const Tensor<float>& a, const Tensor<float>& b) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    m = std::max(m, double(std::fabs(a.data()[i] - b.data()[i])));
  return m;
}

bool all_zero(const Tensor<float>& a) {
  for (int64_t i = 0; i < a.numel(); ++i)
    if (a.data()[i] != 0.0f) return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t size = 32;
  std::vector<std::string> modes = {"ieee", "sr"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--size" && i + 1 < argc) {
      size = std::stoll(argv[++i]);
    } else if (a == "--ieee-only") {
      modes = {"ieee"};  // the perturbed reference at 256x256 takes tens of minutes
    } else if (a == "--reference") {
      set_conv2d_cpu_impl(ConvCpuImpl::reference);  // time the plain ieee reference instead
    } else {
      std::fprintf(stderr, "usage: kernels [--size S] [--ieee-only] [--reference]\n");
      return 2;
    }
  }
  const int64_t n = 4, c = 64;
  std::printf("bench/kernels: CPU, %d OpenMP threads, batch %lld, %lld channels, %lldx%lld\n",
              omp_get_max_threads(), (long long)n, (long long)c, (long long)size, (long long)size);
  std::printf("%-22s %-5s %10s %12s %8s\n", "op", "mode", "ms", "GFLOP/s|GB/s", "x ieee");
  const Shape xs{n, c, size, size};
  const auto x = filled(xs, 1, 1.0), dy = filled(xs, 2, 1.0);
  bool ok = true;
  for (int64_t k : {5, 1}) {
    const auto w = filled({c, c, k, k}, 3, 1.0 / std::sqrt(double(c * k * k)));
    const auto b = filled({1, c, 1, 1}, 4, 0.1);
    const double flops = 2.0 * double(n * c * c * k * k * size * size);
    double ieee_ms[3] = {0, 0, 0};
    Tensor<float> ref[3];
    for (const std::string& mode_name : modes) {
      const char* mode = mode_name.c_str();
      mca::ArithConfig cfg;
      cfg.mode = mca::parse_mode(mode);
      cfg.seed = 1;
      mca::with_policy(cfg, [&](auto pol) {
        auto y = Tensor<float>::empty(xs), dx = Tensor<float>::empty(xs),
             dw = Tensor<float>::empty(w.shape());
        const char* names[3] = {"conv fwd", "conv dgrad", "conv wgrad"};
        for (int pass = 0; pass < 3; ++pass) {
          auto run = [&] {
            if (pass == 0) conv2d_forward(pol, x, w, b, y);
            if (pass == 1) conv2d_backward_data(pol, dy, w, dx, GradMode::overwrite);
            if (pass == 2) conv2d_backward_weight(pol, dy, x, dw, GradMode::overwrite);
          };
          run();
          const Tensor<float>& out = pass == 0 ? y : (pass == 1 ? dx : dw);
          if (all_zero(out)) ok = false;
          if (std::string(mode) == "ieee") {
            ref[pass] = out.clone();
          } else {
            // |terms| <= 1 * 1/sqrt(C k k) (fwd, dgrad) or 1 (wgrad): bound the sr deviation
            // by 2^-10 of the number of terms.
            const double terms = pass == 2 ? double(n * size * size) : double(c * k * k);
            if (max_diff(out, ref[pass]) > std::ldexp(terms, -10)) ok = false;
          }
          const double s = median_seconds(run);
          if (std::string(mode) == "ieee") ieee_ms[pass] = s * 1e3;
          char label[64];
          std::snprintf(label, sizeof label, "%s %lldx%lld", names[pass], (long long)k,
                        (long long)k);
          std::printf("%-22s %-5s %10.2f %12.2f %8.2f\n", label, mode, s * 1e3, flops / s * 1e-9,
                      s * 1e3 / ieee_ms[pass]);
        }
      });
    }
  }
  // Element-wise and normalisation kernels: GB/s of the tensors they read and write.
  double base[3] = {0, 0, 0};
  for (const std::string& mode_name : modes) {
    const char* mode = mode_name.c_str();
    mca::ArithConfig cfg;
    cfg.mode = mca::parse_mode(mode);
    cfg.seed = 1;
    mca::with_policy(cfg, [&](auto pol) {
      auto y = Tensor<float>::empty(xs);
      auto win = Tensor<uint8_t>::empty(xs);
      const auto cs = Shape{1, c, 1, 1};
      auto gamma = filled(cs, 5, 1.0), beta = filled(cs, 6, 1.0), rm = filled(cs, 7, 1.0),
           rv = filled(cs, 8, 1.0), mean = Tensor<float>::empty(cs),
           istd = Tensor<float>::empty(cs);
      const double bytes = double(x.bytes());
      struct Op {
        const char* name;
        double bytes;
      } ops[3] = {{"prelu fwd", 2 * bytes},
                  {"maxout fwd", 3 * bytes + bytes / 4},
                  {"batchnorm fwd", 3 * bytes}};
      for (int i = 0; i < 3; ++i) {
        const double s = median_seconds([&] {
          if (i == 0) prelu_forward(pol, x, 0.25f, y);
          if (i == 1) maxout_forward(x, dy, y, win);
          if (i == 2) batchnorm2d_forward_train(pol, x, gamma, beta, rm, rv, mean, istd, y);
        });
        if (std::string(mode) == "ieee") base[i] = s;
        std::printf("%-22s %-5s %10.2f %12.2f %8.2f\n", ops[i].name, mode, s * 1e3,
                    ops[i].bytes / s * 1e-9, base[i] > 0 ? s / base[i] : 1.0);
      }
    });
  }
  std::printf("verification: %s\n", ok ? "passed" : "FAILED");
  return ok ? 0 : 1;
}
