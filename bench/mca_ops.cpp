// bench/mca_ops: nanoseconds per operation of every mode, binary32 and binary64, on three CPU
// paths, and the ratio to IEEE on the same path:
//   scalar   one thread, one policy call per element (what a naive kernel pays)
//   batch-L2 mca/batch.hpp with OpenMP on 2^15 elements (operands stay in cache)
//   batch-RAM mca/batch.hpp with OpenMP on 2^24 binary32 / 2^23 binary64 elements: 64 MiB per
//            operand, twice this machine's 32 MiB L3, the regime of activation tensors
//            (4 x 64 x 256 x 256 floats is 64 MiB)
// Each configuration is verified before it is timed: the batched result must equal the scalar
// policy bit for bit. Times are the median of samples (each about 2 ms of back-to-back calls)
// after a warm-up. The row "philox word" times the generator alone (the words the binary32 sr
// fast paths draw, one per element) against the ieee add: the floor under any binary32 sr op.
//
// usage: mca_ops [--quick]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "mca/batch.hpp"
#include "mca/dispatch.hpp"

using namespace numens::mca;

namespace {

using Clock = std::chrono::steady_clock;

// Seconds per call: the median over samples, a sample being as many back-to-back calls as fill
// about 2 ms. A single in-cache call lasts a few microseconds, where one timer read, one
// scheduler tick or the OpenMP fork of that call would dominate a one-call sample.
template <class F>
double median_seconds(F&& f, double min_total) {
  auto t0 = Clock::now();
  f();  // warm-up, and the length of one call
  const double once = std::chrono::duration<double>(Clock::now() - t0).count();
  const int reps = int(std::clamp(2e-3 / std::max(once, 1e-9), 1.0, 10000.0));
  std::vector<double> times;
  double total = 0;
  while (times.size() < 3 || (total < min_total && times.size() < 50)) {
    t0 = Clock::now();
    for (int r = 0; r < reps; ++r) f();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    times.push_back(s / reps);
    total += s;
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

enum class Op { add, mul, div, sqrt, fma };
const char* name(Op o) {
  switch (o) {
    case Op::add: return "add";
    case Op::mul: return "mul";
    case Op::div: return "div";
    case Op::sqrt: return "sqrt";
    case Op::fma: return "fma";
  }
  return "?";
}

template <class T>
struct Data {
  std::vector<T> a, b, c, out, ref;
  explicit Data(size_t n) : a(n), b(n), c(n), out(n), ref(n) {
    for (size_t i = 0; i < n; ++i) {
      a[i] = T(1.0 + 0.5 * std::sin(0.001 * double(i)));
      b[i] = T(0.8 + 0.3 * std::cos(0.0007 * double(i)));
      c[i] = T(0.25 * std::sin(0.0003 * double(i)));
    }
  }
};

template <class P, class T>
void batch(const P& pol, Op op, Data<T>& d) {
  const size_t n = d.a.size();
  switch (op) {
    case Op::add: binary_n(pol, BinaryOp::add, d.a.data(), d.b.data(), d.out.data(), n); break;
    case Op::mul: binary_n(pol, BinaryOp::mul, d.a.data(), d.b.data(), d.out.data(), n); break;
    case Op::div: binary_n(pol, BinaryOp::div, d.a.data(), d.b.data(), d.out.data(), n); break;
    case Op::sqrt: unary_n(pol, UnaryOp::sqrt, d.a.data(), d.out.data(), n); break;
    case Op::fma: fma_n(pol, false, d.a.data(), d.b.data(), d.c.data(), d.out.data(), n); break;
  }
}

template <class P, class T>
void scalar(const P& pol, Op op, Data<T>& d, std::vector<T>& out) {
  const size_t n = d.a.size();
  for (size_t i = 0; i < n; ++i) {
    Draws dr = pol.draws(i);
    switch (op) {
      case Op::add: out[i] = pol.add(d.a[i], d.b[i], dr); break;
      case Op::mul: out[i] = pol.mul(d.a[i], d.b[i], dr); break;
      case Op::div: out[i] = pol.div(d.a[i], d.b[i], dr); break;
      case Op::sqrt: out[i] = pol.sqrt(d.a[i], dr); break;
      case Op::fma: out[i] = pol.fma(d.a[i], d.b[i], d.c[i], dr); break;
    }
  }
}

struct Row {
  std::string type, mode, op;
  double scalar_ns, l2_ns, ram_ns;
  std::string base_op;  // the ieee row the ratios divide by (the row's own op if empty)
};

template <class T>
void run_type(const char* tname, bool quick, std::vector<Row>& rows) {
  const size_t n_small = size_t(1) << 15;
  const size_t n_large = quick ? size_t(1) << 20 : (size_t(1) << 26) / sizeof(T);
  const double min_total = quick ? 0.05 : 0.3;
  Data<T> small(n_small), large(n_large);
  for (const char* m : {"ieee", "sr", "rr", "pb", "mca", "sr_equal"}) {
    ArithConfig cfg;
    cfg.mode = parse_mode(m);
    cfg.t32 = 24;
    cfg.t64 = 53;
    cfg.seed = 1;
    with_policy(cfg, [&](auto pol) {
      for (Op op : {Op::add, Op::mul, Op::div, Op::sqrt, Op::fma}) {
        // Verify: batched (OpenMP, fast paths) == scalar policy, bit for bit.
        batch(pol, op, small);
        scalar(pol, op, small, small.ref);
        if (std::memcmp(small.out.data(), small.ref.data(), n_small * sizeof(T)) != 0) {
          std::fprintf(stderr, "mca_ops: verification failed for %s %s %s\n", tname, m, name(op));
          std::exit(1);
        }
        Row r{tname, m, name(op), 0, 0, 0, ""};
        r.scalar_ns = 1e9 / double(n_small) *
                      median_seconds([&] { scalar(pol, op, small, small.ref); }, min_total);
        r.l2_ns = 1e9 / double(n_small) * median_seconds([&] { batch(pol, op, small); }, min_total);
        r.ram_ns = 1e9 / double(n_large) * median_seconds([&] { batch(pol, op, large); }, min_total);
        rows.push_back(r);
      }
    });
  }
}

// The generator alone: the Philox4x32-10 words the binary32 sr fast paths consume (one per
// element), batched over 1024-word chunks with OpenMP as they are, and one block per four words
// on the scalar path. MCA.md fixes one word per draw, so this is a floor under every binary32
// sr op; its ratio is to the ieee add.
void run_philox(bool quick, std::vector<Row>& rows) {
  const size_t n_small = size_t(1) << 15;
  const size_t n_large = quick ? size_t(1) << 20 : (size_t(1) << 26) / sizeof(uint32_t);
  const double min_total = quick ? 0.05 : 0.3;
  const Stream st = Stream::make(1, 0);
  auto batched = [&](std::vector<uint32_t>& w) {
    const long long chunks = static_cast<long long>(w.size() / 1024);
#pragma omp parallel for schedule(static)
    for (long long c = 0; c < chunks; ++c)
      philox_words32(st, uint64_t(c) * 256, 0, w.data() + size_t(c) * 1024, 256);
  };
  auto scalar = [&](std::vector<uint32_t>& w) {
    for (size_t g = 0; g < w.size() / 4; ++g) {
      const Philox4x32::Block b = st.block(g, 0, 0);
      std::memcpy(w.data() + 4 * g, b.w, sizeof(b.w));
    }
  };
  std::vector<uint32_t> small(n_small), ref(n_small), large(n_large);
  batched(small);
  scalar(ref);
  if (small != ref) {
    std::fprintf(stderr, "mca_ops: verification failed for the batched Philox words\n");
    std::exit(1);
  }
  Row r{"binary32", "philox", "word", 0, 0, 0, "add"};
  r.scalar_ns = 1e9 / double(n_small) * median_seconds([&] { scalar(ref); }, min_total);
  r.l2_ns = 1e9 / double(n_small) * median_seconds([&] { batched(small); }, min_total);
  r.ram_ns = 1e9 / double(n_large) * median_seconds([&] { batched(large); }, min_total);
  rows.push_back(r);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  std::vector<Row> rows;
  run_type<float>("binary32", quick, rows);
  run_philox(quick, rows);
  run_type<double>("binary64", quick, rows);
  std::printf("mca_ops: %d OpenMP threads, t = 24 (binary32) / 53 (binary64), ns per operation\n",
              omp_get_max_threads());
  std::printf("%-8s %-8s %-4s | %9s %6s | %9s %6s | %9s %6s\n", "type", "mode", "op", "scalar",
              "x ieee", "batch-L2", "x ieee", "batch-RAM", "x ieee");
  for (const Row& r : rows) {
    const Row* ieee = nullptr;
    const std::string& base = r.base_op.empty() ? r.op : r.base_op;
    for (const Row& q : rows)
      if (q.type == r.type && q.op == base && q.mode == "ieee") ieee = &q;
    std::printf("%-8s %-8s %-4s | %9.3f %6.1f | %9.3f %6.1f | %9.3f %6.1f\n", r.type.c_str(),
                r.mode.c_str(), r.op.c_str(), r.scalar_ns, r.scalar_ns / ieee->scalar_ns,
                r.l2_ns, r.l2_ns / ieee->l2_ns, r.ram_ns, r.ram_ns / ieee->ram_ns);
  }
  return 0;
}
