// CPU conv2d: the plain reference, templated on the policy, parallel over output elements.
// (The blocked IEEE fast path and the SIMD perturbed path come next; they must match this
// reduction order bit for bit in perturbed modes.)
#include <algorithm>
#include <initializer_list>
#include <string>

#include "kernels/conv2d.hpp"
#include "mca/policy.hpp"

namespace numens::kernels {

namespace {

struct Geometry {
  int64_t n, c, h, w, o, k, p;
};

template <class T>
Geometry check_conv(const char* op, const Shape& x, const Shape& w) {
  if (x.c != w.c)
    throw ShapeError(std::string(op) + ": input " + x.str() + " has " + std::to_string(x.c) +
                     " channels, weight " + w.str() + " expects " + std::to_string(w.c));
  if (w.h != w.w || w.h % 2 == 0 || w.h < 1)
    throw ShapeError(std::string(op) + ": weight " + w.str() +
                     " must have a square, odd kernel (k x k, k = 1, 3, 5, ...)");
  return {x.n, x.c, x.h, x.w, w.n, w.h, w.h / 2};
}

inline void check_cpu(const char* op, std::initializer_list<Device> ds) {
  for (Device d : ds)
    if (d != Device::cpu)
      throw ShapeError(std::string(op) + ": CPU kernel called with a CUDA tensor");
}

}  // namespace

template <class P, class T>
void conv2d_forward(const P& pol, const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b,
                    Tensor<T>& y) {
  const char* op = "conv2d_forward";
  const Geometry g = check_conv<T>(op, x.shape(), w.shape());
  expect_shape(op, "bias", b.shape(), Shape{1, g.o, 1, 1});
  expect_shape(op, "output", y.shape(), Shape{g.n, g.o, g.h, g.w});
  check_cpu(op, {x.device(), w.device(), b.device(), y.device()});
  const T* xp = x.data();
  const T* wp = w.data();
  const T* bp = b.data();
  T* yp = y.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t o = 0; o < g.o; ++o) {
      for (int64_t i = 0; i < g.h; ++i) {
        for (int64_t j = 0; j < g.w; ++j) {
          const int64_t out = ((n * g.o + o) * g.h + i) * g.w + j;
          mca::Draws d = pol.draws(uint64_t(out));
          T acc = bp[o];
          for (int64_t c = 0; c < g.c; ++c) {
            const T* xc = xp + (n * g.c + c) * g.h * g.w;
            const T* wc = wp + (o * g.c + c) * g.k * g.k;
            for (int64_t u = 0; u < g.k; ++u) {
              const int64_t ii = i + u - g.p;
              if (ii < 0 || ii >= g.h) continue;
              for (int64_t v = 0; v < g.k; ++v) {
                const int64_t jj = j + v - g.p;
                if (jj < 0 || jj >= g.w) continue;
                acc = pol.fma(wc[u * g.k + v], xc[ii * g.w + jj], acc, d);
              }
            }
          }
          yp[out] = acc;
        }
      }
    }
  }
}

template <class P, class T>
void conv2d_backward_data(const P& pol, const Tensor<T>& dy, const Tensor<T>& w, Tensor<T>& dx,
                          GradMode mode) {
  const char* op = "conv2d_backward_data";
  const Geometry g = check_conv<T>(op, dx.shape(), w.shape());
  expect_shape(op, "output gradient", dy.shape(), Shape{g.n, g.o, g.h, g.w});
  check_cpu(op, {dy.device(), w.device(), dx.device()});
  const T* dyp = dy.data();
  const T* wp = w.data();
  T* dxp = dx.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t c = 0; c < g.c; ++c) {
      for (int64_t i = 0; i < g.h; ++i) {
        for (int64_t j = 0; j < g.w; ++j) {
          const int64_t out = ((n * g.c + c) * g.h + i) * g.w + j;
          mca::Draws d = pol.draws(uint64_t(out));
          T acc = mode == GradMode::accumulate ? dxp[out] : T(0);
          for (int64_t o = 0; o < g.o; ++o) {
            const T* dyo = dyp + (n * g.o + o) * g.h * g.w;
            const T* wo = wp + (o * g.c + c) * g.k * g.k;
            for (int64_t u = 0; u < g.k; ++u) {
              const int64_t ii = i - u + g.p;
              if (ii < 0 || ii >= g.h) continue;
              for (int64_t v = 0; v < g.k; ++v) {
                const int64_t jj = j - v + g.p;
                if (jj < 0 || jj >= g.w) continue;
                acc = pol.fma(wo[u * g.k + v], dyo[ii * g.w + jj], acc, d);
              }
            }
          }
          dxp[out] = acc;
        }
      }
    }
  }
}

template <class P, class T>
void conv2d_backward_weight(const P& pol, const Tensor<T>& dy, const Tensor<T>& x, Tensor<T>& dw,
                            GradMode mode) {
  const char* op = "conv2d_backward_weight";
  const Geometry g = check_conv<T>(op, x.shape(), dw.shape());
  expect_shape(op, "output gradient", dy.shape(), Shape{g.n, g.o, g.h, g.w});
  check_cpu(op, {dy.device(), x.device(), dw.device()});
  const T* dyp = dy.data();
  const T* xp = x.data();
  T* dwp = dw.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t o = 0; o < g.o; ++o) {
    for (int64_t c = 0; c < g.c; ++c) {
      for (int64_t u = 0; u < g.k; ++u) {
        for (int64_t v = 0; v < g.k; ++v) {
          const int64_t out = ((o * g.c + c) * g.k + u) * g.k + v;
          mca::Draws d = pol.draws(uint64_t(out));
          T acc = mode == GradMode::accumulate ? dwp[out] : T(0);
          // Output rows/columns whose input tap (i + u - p, j + v - p) is inside the image.
          const int64_t i0 = std::max<int64_t>(0, g.p - u), i1 = std::min(g.h, g.h + g.p - u);
          const int64_t j0 = std::max<int64_t>(0, g.p - v), j1 = std::min(g.w, g.w + g.p - v);
          for (int64_t n = 0; n < g.n; ++n) {
            const T* dyo = dyp + (n * g.o + o) * g.h * g.w;
            const T* xc = xp + (n * g.c + c) * g.h * g.w;
            for (int64_t i = i0; i < i1; ++i)
              for (int64_t j = j0; j < j1; ++j)
                acc = pol.fma(dyo[i * g.w + j], xc[(i + u - g.p) * g.w + (j + v - g.p)], acc, d);
          }
          dwp[out] = acc;
        }
      }
    }
  }
}

template <class P, class T>
void conv2d_backward_bias(const P& pol, const Tensor<T>& dy, Tensor<T>& db, GradMode mode) {
  const char* op = "conv2d_backward_bias";
  const Shape s = dy.shape();
  expect_shape(op, "bias gradient", db.shape(), Shape{1, s.c, 1, 1});
  check_cpu(op, {dy.device(), db.device()});
  const T* dyp = dy.data();
  T* dbp = db.data();
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < s.c; ++o) {
    mca::Draws d = pol.draws(uint64_t(o));
    T acc = mode == GradMode::accumulate ? dbp[o] : T(0);
    for (int64_t n = 0; n < s.n; ++n) {
      const T* dyo = dyp + (n * s.c + o) * s.plane();
      for (int64_t q = 0; q < s.plane(); ++q) acc = pol.add(acc, dyo[q], d);
    }
    dbp[o] = acc;
  }
}

#define NUMENS_CONV2D_INSTANTIATE(P, T)                                                       \
  template void conv2d_forward<P, T>(const P&, const Tensor<T>&, const Tensor<T>&,            \
                                     const Tensor<T>&, Tensor<T>&);                           \
  template void conv2d_backward_data<P, T>(const P&, const Tensor<T>&, const Tensor<T>&,      \
                                           Tensor<T>&, GradMode);                             \
  template void conv2d_backward_weight<P, T>(const P&, const Tensor<T>&, const Tensor<T>&,    \
                                             Tensor<T>&, GradMode);                           \
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
