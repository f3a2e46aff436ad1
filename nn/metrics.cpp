#include "nn/metrics.hpp"

#include <cmath>
#include <limits>
#include <string>

namespace numens::nn {

template <class T>
Tensor<int32_t> argmax_classes(const Tensor<T>& logits) {
  const Shape s = logits.shape();
  if (logits.device() != Device::cpu)
    throw ShapeError("argmax_classes: logits must be a host tensor");
  Tensor<int32_t> out = Tensor<int32_t>::empty({s.n, 1, s.h, s.w});
  const int64_t plane = s.plane();
  const T* lp = logits.data();
  int32_t* op = out.data();
#pragma omp parallel for schedule(static)
  for (int64_t px = 0; px < s.n * plane; ++px) {
    const int64_t n = px / plane, q = px % plane;
    const T* base = lp + n * s.c * plane + q;
    int32_t best = 0;
    T bv = base[0];
    for (int64_t c = 1; c < s.c; ++c) {
      const T v = base[c * plane];
      if (v > bv || (bv != bv && v == v)) {  // strictly greater keeps the lowest index on ties
        bv = v;
        best = int32_t(c);
      }
    }
    op[px] = best;
  }
  return out;
}

template Tensor<int32_t> argmax_classes<float>(const Tensor<float>&);
template Tensor<int32_t> argmax_classes<double>(const Tensor<double>&);

OverlapCounter::OverlapCounter(int classes)
    : inter_(size_t(classes), 0), pred_(size_t(classes), 0), truth_(size_t(classes), 0) {
  if (classes < 1) throw ShapeError("OverlapCounter: need at least one class");
}

void OverlapCounter::add(const Tensor<int32_t>& pred, const Tensor<int32_t>& truth) {
  const char* op = "OverlapCounter::add";
  expect_shape(op, "prediction", pred.shape(), truth.shape());
  if (truth.shape().c != 1)
    throw ShapeError(std::string(op) + ": labels " + truth.shape().str() + " must have 1 channel");
  const int32_t C = int32_t(classes());
  for (int64_t i = 0; i < pred.numel(); ++i) {
    const int32_t p = pred.data()[i], t = truth.data()[i];
    if (p < 0 || p >= C || t < 0 || t >= C)
      throw ShapeError(std::string(op) + ": label " + std::to_string(p < 0 || p >= C ? p : t) +
                       " at pixel " + std::to_string(i) + " is outside [0, " + std::to_string(C) +
                       ")");
    ++pred_[size_t(p)];
    ++truth_[size_t(t)];
    if (p == t) ++inter_[size_t(p)];
  }
}

double OverlapCounter::dice(int c) const {
  const int64_t denom = predicted(c) + truth(c);
  if (denom == 0) return std::numeric_limits<double>::quiet_NaN();
  return 2.0 * double(intersection(c)) / double(denom);
}

double OverlapCounter::iou(int c) const {
  const int64_t uni = predicted(c) + truth(c) - intersection(c);
  if (uni == 0) return std::numeric_limits<double>::quiet_NaN();
  return double(intersection(c)) / double(uni);
}

namespace {
template <class F>
double mean_present(int classes, int first, F&& f) {
  double sum = 0;
  int n = 0;
  for (int c = first; c < classes; ++c) {
    const double v = f(c);
    if (!std::isnan(v)) {
      sum += v;
      ++n;
    }
  }
  return n > 0 ? sum / n : std::numeric_limits<double>::quiet_NaN();
}
}  // namespace

double OverlapCounter::mean_dice(int first_class) const {
  return mean_present(classes(), first_class, [&](int c) { return dice(c); });
}
double OverlapCounter::mean_iou(int first_class) const {
  return mean_present(classes(), first_class, [&](int c) { return iou(c); });
}

}  // namespace numens::nn
