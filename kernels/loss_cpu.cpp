#include <algorithm>
#include <string>
#include <vector>

#include "kernels/elementwise_fast.hpp"
#include "kernels/launch.hpp"
#include "kernels/loss.hpp"
#include "kernels/loss_impl.hpp"
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
  const char* op = "softmax_forward";
  const Shape s = logits.shape();
  expect_shape(op, "probabilities", probs.shape(), s);
  const Device dev = detail::common_device(op, {logits.device(), probs.device()});
  detail::for_each_simd(
      op, dev, s.n * s.plane(),
      detail::SoftmaxPixel<P, T>{pol, {s.c, s.plane()}, logits.data(), probs.data()});
}

template <class P, class T>
void softmax_backward(const P& pol, const Tensor<T>& probs, const Tensor<T>& dprobs,
                      Tensor<T>& dlogits) {
  const char* op = "softmax_backward";
  const Shape s = probs.shape();
  expect_shape(op, "probability gradient", dprobs.shape(), s);
  expect_shape(op, "logit gradient", dlogits.shape(), s);
  const Device dev =
      detail::common_device(op, {probs.device(), dprobs.device(), dlogits.device()});
  detail::for_each(op, dev, s.n * s.plane(),
                   detail::SoftmaxBwdPixel<P, T>{pol, {s.c, s.plane()}, probs.data(),
                                                 dprobs.data(), dlogits.data()});
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
  const Device dev = detail::common_device(
      op, {logits.device(), labels.device(), weights.device(), probs.device(), dlogits.device()});
  // Labels are checked and counted on the host (copied when they live on the device).
  const Tensor<int32_t> host_labels = dev == Device::cpu ? labels : labels.to(Device::cpu);
  check_labels(op, host_labels, s.c);
  const detail::PixelGeom g{s.c, s.plane()};
  const int64_t pixels = s.n * s.plane();
  // softmax_forward's probabilities, and each pixel's log-partition for the CE term
  Tensor<T> lse = Tensor<T>::empty(ls, dev);
  detail::for_each_simd(
      op, dev, pixels, detail::SoftmaxPixel<P, T>{pol, g, logits.data(), probs.data(), lse.data()});

  // Draw elements: [0, pixels) per pixel; then the CE reduction; then 2 reductions per class.
  uint64_t e = uint64_t(pixels);
  const T ce_sum = detail::chunked_sum_on<T>(
      op, dev, pol, e, pixels,
      detail::CeTerm<P, T>{pol, g, logits.data(), lse.data(), labels.data(), weights.data()});
  e += reduce_elements(pixels);
  std::vector<T> inter(size_t(s.c)), uni(size_t(s.c));
  std::vector<int64_t> count(size_t(s.c), 0);
  for (int64_t px = 0; px < pixels; ++px) ++count[size_t(host_labels.data()[px])];
  for (int64_t c = 0; c < s.c; ++c) {
    inter[size_t(c)] = detail::chunked_sum_on<T>(
        op, dev, pol, e, pixels,
        detail::ClassProbTerm<T>{g, probs.data(), labels.data(), int32_t(c), false});
    e += reduce_elements(pixels);
    const T psum = detail::chunked_sum_on<T>(
        op, dev, pol, e, pixels,
        detail::ClassProbTerm<T>{g, probs.data(), labels.data(), int32_t(c), true});
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
  Tensor<T> inter_t = Tensor<T>::empty({1, s.c, 1, 1}), uni_t = Tensor<T>::empty({1, s.c, 1, 1});
  std::copy(inter.begin(), inter.end(), inter_t.data());
  std::copy(uni.begin(), uni.end(), uni_t.data());
  if (dev == Device::cuda) {
    inter_t = inter_t.to(dev);
    uni_t = uni_t.to(dev);
  }
  detail::for_each_simd(
      op, dev, pixels,
      detail::LossGradPixel<P, T>{pol, g, probs.data(), labels.data(), weights.data(),
                                  inter_t.data(), uni_t.data(), pixels, e, dlogits.data()});
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
