// Validation metrics from hard predictions: per-class Dice and IoU accumulated over any number
// of batches (FastSurfer selects models by the mean IoU on the validation set). Integer counts
// only, so the result does not depend on how the set is cut into batches.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/tensor.hpp"

namespace numens::nn {

// logits [N, C, H, W] -> labels [N, 1, H, W]: the class of the largest logit, the lowest class
// index on ties (as torch.argmax). NaN logits are never chosen unless all are NaN (class 0).
template <class T>
Tensor<int32_t> argmax_classes(const Tensor<T>& logits);

class OverlapCounter {
 public:
  explicit OverlapCounter(int classes);

  // pred, truth [N, 1, H, W] with values in [0, classes); throws ShapeError otherwise.
  void add(const Tensor<int32_t>& pred, const Tensor<int32_t>& truth);

  int classes() const { return int(inter_.size()); }
  int64_t intersection(int c) const { return inter_.at(size_t(c)); }
  int64_t predicted(int c) const { return pred_.at(size_t(c)); }
  int64_t truth(int c) const { return truth_.at(size_t(c)); }
  // 2 |P & T| / (|P| + |T|) and |P & T| / |P | T|; NaN when the class is absent from both.
  double dice(int c) const;
  double iou(int c) const;
  // Means over the classes that are present in the prediction or the truth; from `first_class`
  // on (1 leaves out the background).
  double mean_dice(int first_class = 0) const;
  double mean_iou(int first_class = 0) const;

 private:
  std::vector<int64_t> inter_, pred_, truth_;
};

}  // namespace numens::nn
