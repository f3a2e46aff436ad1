// The MCA.md statistical cases on the device, and GPU == CPU bit for bit for identical counters.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <vector>

#include "mca/batch.hpp"
#include "mca/batch_cuda.hpp"
#include "mca/dispatch.hpp"
#include "tests/mca/mca_cases.hpp"
#include "tests/mca/options_cases.hpp"

using namespace numens::mca;
using namespace numens::mca::testing;

namespace {

template <class T>
struct DeviceBuffer {
  T* p = nullptr;
  explicit DeviceBuffer(const std::vector<T>& h) {
    cuda::check(cudaMalloc(&p, h.size() * sizeof(T)), "cudaMalloc");
    cuda::check(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), "H2D");
  }
  ~DeviceBuffer() { cudaFree(p); }
  void to_host(std::vector<T>& h) const {
    cuda::check(cudaMemcpy(h.data(), p, h.size() * sizeof(T), cudaMemcpyDeviceToHost), "D2H");
  }
};

struct GpuBackend {
  template <class P, class T>
  void binary(const P& pol, BinaryOp op, const std::vector<T>& a, const std::vector<T>& b,
              std::vector<T>& out) {
    DeviceBuffer<T> da(a), db(b), dout(out);
    cuda::binary_n(pol, op, da.p, db.p, dout.p, out.size());
    dout.to_host(out);
  }
  template <class P, class T>
  void fma(const P& pol, bool fused, const std::vector<T>& a, const std::vector<T>& b,
           const std::vector<T>& c, std::vector<T>& out) {
    DeviceBuffer<T> da(a), db(b), dc(c), dout(out);
    cuda::fma_n(pol, fused, da.p, db.p, dc.p, dout.p, out.size());
    dout.to_host(out);
  }
  template <class P, class T>
  void unary(const P& pol, UnaryOp op, const std::vector<T>& a, std::vector<T>& out) {
    DeviceBuffer<T> da(a), dout(out);
    cuda::unary_n(pol, op, da.p, dout.p, out.size());
    dout.to_host(out);
  }
};

}  // namespace

TEST_CASE("gpu: philox words equal the host generator (10 and 7 rounds)") {
  for (int rounds : {10, 7}) {
    const Stream s = Stream::make(123, 45, 678, 9, rounds);
    std::vector<uint32_t> w(4 * 1000);
    DeviceBuffer<uint32_t> dw(w);
    cuda::philox_words32(s, 77, 3, dw.p, 1000);
    dw.to_host(w);
    for (size_t i = 0; i < w.size(); ++i) REQUIRE(w[i] == s.u32(4 * 77 + i, 3));
  }
}

TEST_CASE("gpu: sr two outcomes, unbiased") {
  GpuBackend be;
  for (int t : float_ts) check_two_outcomes<float, Mode::sr>(be, t);
  for (int t : double_ts) check_two_outcomes<double, Mode::sr>(be, t);
  for (int t : float_ts) check_two_outcomes<float, Mode::sr_equal>(be, t);
}
TEST_CASE("gpu: rr unbiased and noise size") {
  GpuBackend be;
  for (int t : {4, 8, 11, 16}) check_rr_unbiased<float>(be, t);
  for (int t : {8, 11, 16, 20}) check_rr_noise_size<float>(be, t, 1.1f, 1.3f);
  for (int t : {8, 24, 40}) check_rr_noise_size<double>(be, t, 1.1, 1.3);
}
TEST_CASE("gpu: cost options: r-bit two outcomes, fused fma") {
  GpuBackend be;
  for (int r : {2, 8, 16}) {
    check_two_outcomes_r<float>(be, 24, r, 10);
    check_two_outcomes_r<double>(be, 53, r, 7);
  }
  check_fused_fma<float>(be, 10);
  check_fused_fma<double>(be, 7);
}
TEST_CASE("gpu: exactness and verificarlo cases") {
  GpuBackend be;
  check_exactness<float>(be);
  check_exactness<double>(be);
  check_verificarlo_cases<Mode::sr>(be);
}

TEST_CASE("gpu: bitwise equal to the CPU for identical counters") {
  GpuBackend gpu;
  const size_t n = 200003;
  auto compare = [&](auto pol, auto tag) {
    using T = decltype(tag);
    std::vector<T> a(n), b(n), c(n), og(n), oc(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = T(std::ldexp(1.0 + std::sin(0.1 * double(i)), int(i % 41) - 20));
      b[i] = T(0.75 + 0.5 * std::cos(0.37 * double(i)));
      c[i] = T(std::ldexp(std::sin(double(i)), -3));
    }
    for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div}) {
      gpu.binary(pol, op, a, b, og);
      binary_n(pol, op, a.data(), b.data(), oc.data(), n);
      REQUIRE(og == oc);
    }
    gpu.unary(pol, UnaryOp::sqrt, a, og);
    unary_n(pol, UnaryOp::sqrt, a.data(), oc.data(), n);
    REQUIRE(og == oc);
    for (bool fused : {false, true}) {
      gpu.fma(pol, fused, a, b, c, og);
      fma_n(pol, fused, a.data(), b.data(), c.data(), oc.data(), n);
      REQUIRE(og == oc);
    }
  };
  // The cost options of MCA.md v2: {fma fused, sr_bits, rounds, tile} per perturbed mode.
  struct Opts {
    bool fused;
    int sr_bits, rounds, tile;
  };
  const Opts exact{false, 32, 10, 1};
  const Opts options[] = {
      exact, {true, 32, 10, 1}, {false, 16, 10, 1}, {false, 8, 7, 1}, {true, 16, 7, 16}};
  for (const char* m : {"ieee", "sr", "rr", "pb", "mca", "sr_equal"}) {
    for (int t : {24, 12}) {
      for (const Opts& o : options) {
        ArithConfig cfg;
        cfg.mode = parse_mode(m);
        cfg.t32 = t;
        cfg.t64 = t + 29;
        cfg.seed = 99;
        cfg.member = 3;
        cfg.fma = o.fused ? FmaMode::fused : FmaMode::split;
        cfg.sr_bits = o.sr_bits;
        cfg.rounds = o.rounds;
        cfg.tile = o.tile;
        if (cfg.mode == Mode::ieee && !cfg.exact_contract()) continue;
        if (o.sr_bits < 32 && cfg.mode != Mode::sr && cfg.mode != Mode::sr_equal) continue;
        CAPTURE(m);
        CAPTURE(t);
        CAPTURE(cfg.describe_options());
        with_policy(cfg, [&](auto pol) {
          compare(pol, float{});
          compare(pol, double{});
        });
      }
    }
  }
}
