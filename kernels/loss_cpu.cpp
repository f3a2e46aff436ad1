#include <string>
#include <vector>

#include "kernels/loss.hpp"
#include "kernels/reduce.hpp"
#include "mca/policy.hpp"

namespace numens::kernels {

namespace {

void check_labels(const char* op, const Tensor<int32_t>& labels, int64_t classes) {
  const int32_t* lp = labels.data();
  for (int64_t i = 0; i < labels.numel(); ++i)
    if (lp[i] < 0 || lp[i] >= classes)
      throw ShapeError(std::string(op) + ": label " + std::to_string(lp[i]) + " at pixel " +
                       std::to_string(i) + " is outside [0, " + std::to_string(classes) + ")");
}

}  // namespace

template <class P, class T>
void softmax_forward(const P& pol, const Tensor<T>& logits, Tensor<T>& probs) {
  const Shape s = logits.shape();
  expect_shape("softmax_forward", "probabilities", probs.shape(), s);
  const int64_t plane = s.plane(), pixels = s.n * plane;
  const T* zp = logits.data();
  T* pp = probs.data();
#pragma omp parallel for schedule(static)
  for (int64_t px = 0; px < pixels; ++px) {
    const int64_t n = px / plane, q = px % plane;
    const T* z = zp + n * s.c * plane + q;
    T* p = pp + n * s.c * plane + q;
    mca::Draws d = pol.draws(uint64_t(px));
    T mx = z[0];
    for (int64_t c = 1; c < s.c; ++c) mx = z[c * plane] > mx ? z[c * plane] : mx;
    T sum = T(0);
    for (int64_t c = 0; c < s.c; ++c) {
      p[c * plane] = pol.exp(pol.sub(z[c * plane], mx, d), d);
      sum = pol.add(sum, p[c * plane], d);
    }
    for (int64_t c = 0; c < s.c; ++c) p[c * plane] = pol.div(p[c * plane], sum, d);
  }
}

template <class P, class T>
void softmax_backward(const P& pol, const Tensor<T>& probs, const Tensor<T>& dprobs,
                      Tensor<T>& dlogits) {
  const Shape s = probs.shape();
  expect_shape("softmax_backward", "probability gradient", dprobs.shape(), s);
  expect_shape("softmax_backward", "logit gradient", dlogits.shape(), s);
  const int64_t plane = s.plane(), pixels = s.n * plane;
#pragma omp parallel for schedule(static)
  for (int64_t px = 0; px < pixels; ++px) {
    const int64_t off = (px / plane) * s.c * plane + px % plane;
    const T* p = probs.data() + off;
    const T* dp = dprobs.data() + off;
    T* dz = dlogits.data() + off;
    mca::Draws d = pol.draws(uint64_t(px));
    T dot = T(0);
    for (int64_t c = 0; c < s.c; ++c) dot = pol.fma(p[c * plane], dp[c * plane], dot, d);
    for (int64_t c = 0; c < s.c; ++c)
      dz[c * plane] = pol.mul(p[c * plane], pol.sub(dp[c * plane], dot, d), d);
  }
}

template <class P, class T>
LossValue<T> ce_dice_loss(const P& pol, const Tensor<T>& logits, const Tensor<int32_t>& labels,
                          const Tensor<T>& weights, Tensor<T>& probs, Tensor<T>& dlogits,
                          double smooth) {
  const char* op = "ce_dice_loss";
  const Shape s = logits.shape();
  const Shape ls{s.n, 1, s.h, s.w};
  expect_shape(op, "labels", labels.shape(), ls);
  expect_shape(op, "weights", weights.shape(), ls);
  expect_shape(op, "probabilities", probs.shape(), s);
  expect_shape(op, "logit gradient", dlogits.shape(), s);
  if (s.c < 1 || s.numel() == 0) throw ShapeError(std::string(op) + ": empty logits " + s.str());
  check_labels(op, labels, s.c);
  softmax_forward(pol, logits, probs);

  const int64_t plane = s.plane(), pixels = s.n * plane;
  const int32_t* lab = labels.data();
  const T* wp = weights.data();
  const T* pp = probs.data();
  auto prob = [&](int64_t px, int64_t c) { return pp[(px / plane) * s.c * plane + c * plane + px % plane]; };
  // Draw elements: [0, pixels) per pixel; then the CE reduction; then 2 reductions per class.
  uint64_t e = uint64_t(pixels);
  const T ce_sum = chunked_sum<T>(pol, e, pixels, [&](int64_t px, mca::Draws& d) {
    return pol.mul(wp[px], pol.sub(T(0), pol.log(prob(px, lab[px]), d), d), d);
  });
  e += reduce_elements(pixels);
  std::vector<T> inter(size_t(s.c)), uni(size_t(s.c));
  std::vector<int64_t> count(size_t(s.c), 0);
  for (int64_t px = 0; px < pixels; ++px) ++count[size_t(lab[px])];
  for (int64_t c = 0; c < s.c; ++c) {
    inter[size_t(c)] = chunked_sum<T>(pol, e, pixels, [&](int64_t px, mca::Draws&) {
      return lab[px] == c ? prob(px, c) : T(0);
    });
    e += reduce_elements(pixels);
    const T psum = chunked_sum<T>(pol, e, pixels, [&](int64_t px, mca::Draws&) { return prob(px, c); });
    e += reduce_elements(pixels);
    mca::Draws d = pol.draws(e++);
    uni[size_t(c)] = pol.add(pol.add(psum, T(count[size_t(c)]), d), T(smooth), d);  // U_c + smooth
  }
  mca::Draws dl = pol.draws(e++);
  LossValue<T> out;
  out.ce = pol.div(ce_sum, T(pixels), dl);
  T dice = T(0);
  for (int64_t c = 0; c < s.c; ++c)
    dice = pol.add(dice, pol.sub(T(1), pol.div(pol.mul(T(2), inter[size_t(c)], dl), uni[size_t(c)], dl), dl), dl);
  out.dice = pol.div(dice, T(s.c), dl);
  out.total = pol.add(out.ce, out.dice, dl);

  // Gradient per pixel: Dice through the softmax Jacobian, plus the closed-form CE term.
  const uint64_t eg = e;
#pragma omp parallel for schedule(static)
  for (int64_t px = 0; px < pixels; ++px) {
    const int64_t off = (px / plane) * s.c * plane + px % plane;
    const T* p = pp + off;
    T* dz = dlogits.data() + off;
    mca::Draws d = pol.draws(eg + uint64_t(px));
    const T inv_c = pol.div(T(-1), T(s.c), d);
    T dot = T(0);
    for (int64_t c = 0; c < s.c; ++c) {
      const T u = uni[size_t(c)];
      const T two_i = pol.mul(T(2), inter[size_t(c)], d);
      const T num = lab[px] == c ? pol.sub(pol.mul(T(2), u, d), two_i, d) : pol.sub(T(0), two_i, d);
      const T dp = pol.mul(inv_c, pol.div(num, pol.mul(u, u, d), d), d);
      dz[c * plane] = dp;  // dp kept in place until the dot product is known
      dot = pol.fma(p[c * plane], dp, dot, d);
    }
    const T wm = pol.div(wp[px], T(pixels), d);
    for (int64_t c = 0; c < s.c; ++c) {
      const T dice_g = pol.mul(p[c * plane], pol.sub(dz[c * plane], dot, d), d);
      const T ce_g = pol.mul(wm, lab[px] == c ? pol.sub(p[c * plane], T(1), d) : p[c * plane], d);
      dz[c * plane] = pol.add(dice_g, ce_g, d);
    }
  }
  return out;
}

#define NUMENS_LOSS_INSTANTIATE(P, T)                                                          \
  template void softmax_forward<P, T>(const P&, const Tensor<T>&, Tensor<T>&);                 \
  template void softmax_backward<P, T>(const P&, const Tensor<T>&, const Tensor<T>&,           \
                                       Tensor<T>&);                                            \
  template LossValue<T> ce_dice_loss<P, T>(const P&, const Tensor<T>&, const Tensor<int32_t>&, \
                                           const Tensor<T>&, Tensor<T>&, Tensor<T>&, double);
#define NUMENS_LOSS_INSTANTIATE_BOTH(P) \
  NUMENS_LOSS_INSTANTIATE(P, float)     \
  NUMENS_LOSS_INSTANTIATE(P, double)
NUMENS_LOSS_INSTANTIATE_BOTH(mca::Ieee)
NUMENS_LOSS_INSTANTIATE_BOTH(mca::Sr)
NUMENS_LOSS_INSTANTIATE_BOTH(mca::Rr)
NUMENS_LOSS_INSTANTIATE_BOTH(mca::Pb)
NUMENS_LOSS_INSTANTIATE_BOTH(mca::Mca)
NUMENS_LOSS_INSTANTIATE_BOTH(mca::SrEqual)

}  // namespace numens::kernels
