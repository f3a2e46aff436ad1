// conv2d entry points: shape checks, then the CPU reference (one output element per iteration,
// OpenMP over elements) or the CUDA kernel (one thread per output element), both built on
// conv2d_impl.hpp; ieee binary32 on the CPU takes the implicit-GEMM fast path of conv2d_fast.hpp,
// which computes the same bits.
#include <algorithm>
#include <atomic>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "kernels/conv2d.hpp"
#include "kernels/conv2d_fast.hpp"
#include "kernels/conv2d_impl.hpp"
#include "kernels/launch.hpp"
#include "mca/policy.hpp"

namespace numens::kernels {

namespace {

using detail::ConvGeom;

std::atomic<ConvCpuImpl> g_cpu_impl{ConvCpuImpl::fast};

template <class P, class T>
bool use_fast() {
  return std::is_same_v<P, mca::Ieee> && std::is_same_v<T, float> &&
         g_cpu_impl.load(std::memory_order_relaxed) == ConvCpuImpl::fast;
}
// The sr fast path covers the exact contract and most cost options (conv2d_fast.hpp).
template <class P, class T>
bool use_sr_fast(const P& pol) {
  if constexpr (std::is_same_v<P, mca::Sr> && std::is_same_v<T, float>) {
    return g_cpu_impl.load(std::memory_order_relaxed) == ConvCpuImpl::fast &&
           detail::conv2d_sr_fast_available(pol);
  } else {
    return false;
  }
}

ConvGeom check_conv(const char* op, const Shape& x, const Shape& w) {
  if (x.c != w.c)
    throw ShapeError(std::string(op) + ": input " + x.str() + " has " + std::to_string(x.c) +
                     " channels, weight " + w.str() + " expects " + std::to_string(w.c));
  if (w.h != w.w || w.h % 2 == 0 || w.h < 1)
    throw ShapeError(std::string(op) + ": weight " + w.str() +
                     " must have a square, odd kernel (k x k, k = 1, 3, 5, ...)");
  return {x.n, x.c, x.h, x.w, w.n, w.h, w.h / 2};
}

using detail::common_device;

template <class P, class T>
void launch_cuda(const P& pol, detail::ConvPass pass, const ConvGeom& g, const T* a, const T* b,
                 const T* c, T* out, bool accumulate) {
#if NUMENS_HAVE_CUDA
  detail::conv2d_cuda(pol, pass, g, a, b, c, out, accumulate);
#else
  (void)pol, (void)pass, (void)g, (void)a, (void)b, (void)c, (void)out, (void)accumulate;
  throw Error("conv2d: CUDA tensor but numens was built without the CUDA backend");
#endif
}

template <class F>
void for_each_output(int64_t count, F&& f) {
#pragma omp parallel for schedule(static)
  for (int64_t out = 0; out < count; ++out) f(out);
}

}  // namespace

void set_conv2d_cpu_impl(ConvCpuImpl impl) {
  g_cpu_impl.store(impl);
}
ConvCpuImpl conv2d_cpu_impl() {
  return g_cpu_impl.load();
}

template <class P, class T>
void conv2d_forward(const P& pol, const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b,
                    Tensor<T>& y) {
  const char* op = "conv2d_forward";
  const ConvGeom g = check_conv(op, x.shape(), w.shape());
  expect_shape(op, "bias", b.shape(), Shape{1, g.o, 1, 1});
  expect_shape(op, "output", y.shape(), Shape{g.n, g.o, g.h, g.w});
  if (common_device(op, {x.device(), w.device(), b.device(), y.device()}) == Device::cuda)
    return launch_cuda(pol, detail::ConvPass::fprop, g, x.data(), w.data(), b.data(), y.data(),
                       false);
  if constexpr (std::is_same_v<T, float>)
    if (use_fast<P, T>()) return detail::conv2d_fwd_fast(g, x.data(), w.data(), b.data(), y.data());
  if constexpr (std::is_same_v<P, mca::Sr> && std::is_same_v<T, float>)
    if (use_sr_fast<P, T>(pol))
      return detail::conv2d_fwd_sr(pol, g, x.data(), w.data(), b.data(), y.data());
  const T* xp = x.data();
  const T* wp = w.data();
  const T* bp = b.data();
  T* yp = y.data();
  for_each_output(y.numel(), [&](int64_t out) {
    yp[out] = detail::conv2d_fwd_element(pol, g, xp, wp, bp, out);
  });
}

template <class P, class T>
void conv2d_backward_data(const P& pol, const Tensor<T>& dy, const Tensor<T>& w, Tensor<T>& dx,
                          GradMode mode) {
  const char* op = "conv2d_backward_data";
  const ConvGeom g = check_conv(op, dx.shape(), w.shape());
  expect_shape(op, "output gradient", dy.shape(), Shape{g.n, g.o, g.h, g.w});
  const bool acc = mode == GradMode::accumulate;
  if (common_device(op, {dy.device(), w.device(), dx.device()}) == Device::cuda)
    return launch_cuda(pol, detail::ConvPass::dgrad, g, dy.data(), w.data(),
                       static_cast<const T*>(nullptr), dx.data(), acc);
  if constexpr (std::is_same_v<T, float>)
    if (use_fast<P, T>()) return detail::conv2d_dgrad_fast(g, dy.data(), w.data(), dx.data(), acc);
  if constexpr (std::is_same_v<P, mca::Sr> && std::is_same_v<T, float>)
    if (use_sr_fast<P, T>(pol))
      return detail::conv2d_dgrad_sr(pol, g, dy.data(), w.data(), dx.data(), acc);
  const T* dyp = dy.data();
  const T* wp = w.data();
  T* dxp = dx.data();
  for_each_output(dx.numel(), [&](int64_t out) {
    dxp[out] = detail::conv2d_dgrad_element(pol, g, dyp, wp, acc ? dxp[out] : T(0), out);
  });
}

template <class P, class T>
void conv2d_backward_weight(const P& pol, const Tensor<T>& dy, const Tensor<T>& x, Tensor<T>& dw,
                            GradMode mode) {
  const char* op = "conv2d_backward_weight";
  const ConvGeom g = check_conv(op, x.shape(), dw.shape());
  if (uint64_t(g.n * g.h * g.w) * P::kFmaDraws > 0xFFFFFFFFull)
    throw ShapeError(std::string(op) + ": " + x.shape().str() +
                     " has too many pixels per weight (N H W must stay below 2^32 / " +
                     std::to_string(P::kFmaDraws) + " for the draw counter)");
  expect_shape(op, "output gradient", dy.shape(), Shape{g.n, g.o, g.h, g.w});
  const bool acc = mode == GradMode::accumulate;
  if (common_device(op, {dy.device(), x.device(), dw.device()}) == Device::cuda)
    return launch_cuda(pol, detail::ConvPass::wgrad, g, dy.data(), x.data(),
                       static_cast<const T*>(nullptr), dw.data(), acc);
  if constexpr (std::is_same_v<T, float>)
    if (use_fast<P, T>()) return detail::conv2d_wgrad_fast(g, dy.data(), x.data(), dw.data(), acc);
  if constexpr (std::is_same_v<P, mca::Sr> && std::is_same_v<T, float>)
    if (use_sr_fast<P, T>(pol))
      return detail::conv2d_wgrad_sr(pol, g, dy.data(), x.data(), dw.data(), acc);
  const T* dyp = dy.data();
  const T* xp = x.data();
  T* dwp = dw.data();
  for_each_output(dw.numel(), [&](int64_t out) {
    dwp[out] = detail::conv2d_wgrad_element(pol, g, dyp, xp, acc ? dwp[out] : T(0), out);
  });
}

template <class P, class T>
void conv2d_backward_bias(const P& pol, const Tensor<T>& dy, Tensor<T>& db, GradMode mode) {
  const char* op = "conv2d_backward_bias";
  const Shape s = dy.shape();
  expect_shape(op, "bias gradient", db.shape(), Shape{1, s.c, 1, 1});
  const ConvGeom g{s.n, 0, s.h, s.w, s.c, 1, 0};
  const bool acc = mode == GradMode::accumulate;
  if (common_device(op, {dy.device(), db.device()}) == Device::cuda)
    return launch_cuda(pol, detail::ConvPass::bgrad, g, dy.data(), static_cast<const T*>(nullptr),
                       static_cast<const T*>(nullptr), db.data(), acc);
  const T* dyp = dy.data();
  T* dbp = db.data();
  for_each_output(s.c, [&](int64_t o) {
    dbp[o] = detail::conv2d_bgrad_element(pol, g, dyp, acc ? dbp[o] : T(0), o);
  });
}

#define NUMENS_CONV2D_INSTANTIATE(P, T)                                                    \
  template void conv2d_forward<P, T>(const P&, const Tensor<T>&, const Tensor<T>&,         \
                                     const Tensor<T>&, Tensor<T>&);                        \
  template void conv2d_backward_data<P, T>(const P&, const Tensor<T>&, const Tensor<T>&,   \
                                           Tensor<T>&, GradMode);                          \
  template void conv2d_backward_weight<P, T>(const P&, const Tensor<T>&, const Tensor<T>&, \
                                             Tensor<T>&, GradMode);                        \
  template void conv2d_backward_bias<P, T>(const P&, const Tensor<T>&, Tensor<T>&, GradMode);
#define NUMENS_CONV2D_INSTANTIATE_BOTH(P) \
  NUMENS_CONV2D_INSTANTIATE(P, float)     \
  NUMENS_CONV2D_INSTANTIATE(P, double)
NUMENS_CONV2D_INSTANTIATE_BOTH(mca::Ieee)
NUMENS_CONV2D_INSTANTIATE_BOTH(mca::Sr)
NUMENS_CONV2D_INSTANTIATE_BOTH(mca::Rr)
NUMENS_CONV2D_INSTANTIATE_BOTH(mca::Pb)
NUMENS_CONV2D_INSTANTIATE_BOTH(mca::Mca)
NUMENS_CONV2D_INSTANTIATE_BOTH(mca::SrEqual)

}  // namespace numens::kernels
