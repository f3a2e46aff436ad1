#include <string>

#include "kernels/elementwise.hpp"
#include "kernels/elementwise_fast.hpp"
#include "kernels/elementwise_impl.hpp"
#include "kernels/launch.hpp"
#include "mca/policy.hpp"

namespace numens::kernels {

namespace {

// a [N, Ca, H, W] and b [N, Cb, H, W] against the joined y [N, Ca + Cb, H, W].
void check_join(const char* op, const Shape& a, const Shape& b, const Shape& y) {
  if (a.n != b.n || a.h != b.h || a.w != b.w)
    throw ShapeError(std::string(op) + ": parts " + a.str() + " and " + b.str() +
                     " differ in batch or plane size");
  expect_shape(op, "joined tensor", y, Shape{a.n, a.c + b.c, a.h, a.w});
}

}  // namespace

template <class P, class T>
void scale_inplace(const P& pol, Tensor<T>& x, T alpha) {
  detail::for_each_simd("scale_inplace", x.device(), x.numel(),
                        detail::ScaleElement<P, T>{pol, x.data(), alpha});
}

template <class P, class T>
void add_inplace(const P& pol, Tensor<T>& y, const Tensor<T>& x) {
  const char* op = "add_inplace";
  expect_shape(op, "addend", x.shape(), y.shape());
  const Device dev = detail::common_device(op, {x.device(), y.device()});
  detail::for_each_simd(op, dev, y.numel(), detail::AddElement<P, T>{pol, y.data(), x.data()});
}

template <class T>
void concat_channels(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& y) {
  const char* op = "concat_channels";
  check_join(op, a.shape(), b.shape(), y.shape());
  const Device dev = detail::common_device(op, {a.device(), b.device(), y.device()});
  const int64_t na = a.shape().c * a.shape().plane(), nb = b.shape().c * b.shape().plane();
  for (int64_t n = 0; n < a.shape().n; ++n) {
    ::numens::detail::copy_bytes(y.data() + n * (na + nb), dev, a.data() + n * na, dev,
                                 size_t(na) * sizeof(T));
    ::numens::detail::copy_bytes(y.data() + n * (na + nb) + na, dev, b.data() + n * nb, dev,
                                 size_t(nb) * sizeof(T));
  }
}

template <class T>
void split_channels(const Tensor<T>& dy, Tensor<T>& da, Tensor<T>& db) {
  const char* op = "split_channels";
  check_join(op, da.shape(), db.shape(), dy.shape());
  const Device dev = detail::common_device(op, {dy.device(), da.device(), db.device()});
  const int64_t na = da.shape().c * da.shape().plane(), nb = db.shape().c * db.shape().plane();
  for (int64_t n = 0; n < da.shape().n; ++n) {
    ::numens::detail::copy_bytes(da.data() + n * na, dev, dy.data() + n * (na + nb), dev,
                                 size_t(na) * sizeof(T));
    ::numens::detail::copy_bytes(db.data() + n * nb, dev, dy.data() + n * (na + nb) + na, dev,
                                 size_t(nb) * sizeof(T));
  }
}

template void concat_channels<float>(const Tensor<float>&, const Tensor<float>&, Tensor<float>&);
template void concat_channels<double>(const Tensor<double>&, const Tensor<double>&,
                                      Tensor<double>&);
template void split_channels<float>(const Tensor<float>&, Tensor<float>&, Tensor<float>&);
template void split_channels<double>(const Tensor<double>&, Tensor<double>&, Tensor<double>&);

#define NUMENS_ELEM_INSTANTIATE(P, T)                         \
  template void scale_inplace<P, T>(const P&, Tensor<T>&, T); \
  template void add_inplace<P, T>(const P&, Tensor<T>&, const Tensor<T>&);
#define NUMENS_ELEM_INSTANTIATE_BOTH(P) \
  NUMENS_ELEM_INSTANTIATE(P, float)     \
  NUMENS_ELEM_INSTANTIATE(P, double)
NUMENS_ELEM_INSTANTIATE_BOTH(mca::Ieee)
NUMENS_ELEM_INSTANTIATE_BOTH(mca::Sr)
NUMENS_ELEM_INSTANTIATE_BOTH(mca::Rr)
NUMENS_ELEM_INSTANTIATE_BOTH(mca::Pb)
NUMENS_ELEM_INSTANTIATE_BOTH(mca::Mca)
NUMENS_ELEM_INSTANTIATE_BOTH(mca::SrEqual)

}  // namespace numens::kernels
