// bench/mca_ops_cuda: the CUDA twin of mca_ops. For each mode, type and operation: verify the
// device result against the CPU batched path (bit for bit, 2^20 elements), then time 2^24
// elements with CUDA events (median of 20 after a warm-up) and print ns per op, GB/s and the
// ratio to IEEE.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "mca/batch.hpp"
#include "mca/batch_cuda.hpp"
#include "mca/dispatch.hpp"

using namespace numens::mca;

namespace {

enum class Op { add, mul, div, sqrt, fma };
const char* name(Op o) {
  const char* n[] = {"add", "mul", "div", "sqrt", "fma"};
  return n[int(o)];
}

template <class T>
struct Dev {
  T *a = nullptr, *b = nullptr, *c = nullptr, *out = nullptr;
  size_t n;
  explicit Dev(const std::vector<T>& ha, const std::vector<T>& hb, const std::vector<T>& hc)
      : n(ha.size()) {
    for (T** p : {&a, &b, &c, &out}) cuda::check(cudaMalloc(p, n * sizeof(T)), "cudaMalloc");
    cuda::check(cudaMemcpy(a, ha.data(), n * sizeof(T), cudaMemcpyHostToDevice), "H2D");
    cuda::check(cudaMemcpy(b, hb.data(), n * sizeof(T), cudaMemcpyHostToDevice), "H2D");
    cuda::check(cudaMemcpy(c, hc.data(), n * sizeof(T), cudaMemcpyHostToDevice), "H2D");
  }
  ~Dev() {
    for (T* p : {a, b, c, out}) cudaFree(p);
  }
};

template <class P, class T>
void run_gpu(const P& pol, Op op, Dev<T>& d) {
  switch (op) {
    case Op::add: cuda::binary_n(pol, BinaryOp::add, d.a, d.b, d.out, d.n); break;
    case Op::mul: cuda::binary_n(pol, BinaryOp::mul, d.a, d.b, d.out, d.n); break;
    case Op::div: cuda::binary_n(pol, BinaryOp::div, d.a, d.b, d.out, d.n); break;
    case Op::sqrt: cuda::unary_n(pol, UnaryOp::sqrt, d.a, d.out, d.n); break;
    case Op::fma: cuda::fma_n(pol, false, d.a, d.b, d.c, d.out, d.n); break;
  }
}
template <class P, class T>
void run_cpu(const P& pol, Op op, const std::vector<T>& a, const std::vector<T>& b,
             const std::vector<T>& c, std::vector<T>& out) {
  const size_t n = a.size();
  switch (op) {
    case Op::add: binary_n(pol, BinaryOp::add, a.data(), b.data(), out.data(), n); break;
    case Op::mul: binary_n(pol, BinaryOp::mul, a.data(), b.data(), out.data(), n); break;
    case Op::div: binary_n(pol, BinaryOp::div, a.data(), b.data(), out.data(), n); break;
    case Op::sqrt: unary_n(pol, UnaryOp::sqrt, a.data(), out.data(), n); break;
    case Op::fma: fma_n(pol, false, a.data(), b.data(), c.data(), out.data(), n); break;
  }
}

template <class T>
std::vector<T> fill(size_t n, double base, double amp, double freq) {
  std::vector<T> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = T(base + amp * std::sin(freq * double(i)));
  return v;
}

struct Row {
  std::string type, mode, op;
  double ns, gbs;
};

template <class T>
void run_type(const char* tname, std::vector<Row>& rows, bool& ok) {
  const size_t n_check = size_t(1) << 20, n_time = size_t(1) << 24;
  const auto a = fill<T>(n_time, 1.0, 0.5, 0.001), b = fill<T>(n_time, 0.8, 0.3, 0.0007),
             c = fill<T>(n_time, 0.0, 0.25, 0.0003);
  Dev<T> d(a, b, c);
  std::vector<T> ca(a.begin(), a.begin() + n_check), cb(b.begin(), b.begin() + n_check),
      cc(c.begin(), c.begin() + n_check), cpu(n_check), gpu(n_check);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  for (const char* m : {"ieee", "sr", "rr", "pb", "mca", "sr_equal"}) {
    ArithConfig cfg;
    cfg.mode = parse_mode(m);
    cfg.seed = 1;
    with_policy(cfg, [&](auto pol) {
      for (Op op : {Op::add, Op::mul, Op::div, Op::sqrt, Op::fma}) {
        run_gpu(pol, op, d);
        cuda::check(cudaDeviceSynchronize(), "sync");
        cuda::check(cudaMemcpy(gpu.data(), d.out, n_check * sizeof(T), cudaMemcpyDeviceToHost),
                    "D2H");
        run_cpu(pol, op, ca, cb, cc, cpu);
        if (std::memcmp(gpu.data(), cpu.data(), n_check * sizeof(T)) != 0) {
          std::fprintf(stderr, "mca_ops_cuda: GPU != CPU for %s %s %s\n", tname, m, name(op));
          ok = false;
        }
        std::vector<float> ms;
        for (int r = 0; r < 21; ++r) {
          cudaEventRecord(e0);
          run_gpu(pol, op, d);
          cudaEventRecord(e1);
          cudaEventSynchronize(e1);
          float t;
          cudaEventElapsedTime(&t, e0, e1);
          if (r > 0) ms.push_back(t);
        }
        std::sort(ms.begin(), ms.end());
        const double s = ms[ms.size() / 2] * 1e-3;
        const int arrays = op == Op::sqrt ? 2 : (op == Op::fma ? 4 : 3);
        rows.push_back({tname, m, name(op), s * 1e9 / double(n_time),
                        double(arrays) * sizeof(T) * double(n_time) / s * 1e-9});
      }
    });
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
}

}  // namespace

int main() {
  std::string why;
  if (!cuda::device_available(&why)) {
    std::printf("mca_ops_cuda: no usable CUDA device (%s)\n", why.c_str());
    return 0;
  }
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  std::vector<Row> rows;
  bool ok = true;
  run_type<float>("binary32", rows, ok);
  run_type<double>("binary64", rows, ok);
  std::printf("mca_ops_cuda on %s: 2^24 elements, t = 24 / 53, median of 20 (CUDA events)\n",
              prop.name);
  std::printf("%-8s %-8s %-4s | %9s %8s %7s\n", "type", "mode", "op", "ns/op", "GB/s", "x ieee");
  for (const Row& r : rows) {
    double ieee = r.ns;
    for (const Row& q : rows)
      if (q.type == r.type && q.op == r.op && q.mode == "ieee") ieee = q.ns;
    std::printf("%-8s %-8s %-4s | %9.4f %8.1f %7.2f\n", r.type.c_str(), r.mode.c_str(),
                r.op.c_str(), r.ns, r.gbs, r.ns / ieee);
  }
  std::printf("verification GPU == CPU (bitwise, 2^20 elements): %s\n", ok ? "passed" : "FAILED");
  return ok ? 0 : 1;
}
