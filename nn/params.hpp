// Flat parameter storage: every parameter of a model lives in one contiguous buffer and every
// gradient in a second one with the same layout, so the optimizer, checkpoints and (later) MPI
// reductions see one array each. Layers hold an id into the store and take views (offset, shape)
// that share the storage; nothing is copied.
//
// Names are paths ("enc1.conv0.weight") in declaration order; they are the checkpoint keys, so
// renaming one breaks old checkpoints.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/tensor.hpp"

namespace numens::nn {

struct ParamInfo {
  std::string name;
  Shape shape;
  int64_t offset = 0;  // first element in the flat buffer
};

// T: float for training, double for gradient checks. with_grads = false gives a store of
// non-trainable state (BN running statistics) with no gradient buffer.
template <class T>
class ParamStore {
 public:
  explicit ParamStore(bool with_grads = true) : with_grads_(with_grads) {}
  ParamStore(const ParamStore&) = delete;  // views would alias the copy's storage
  ParamStore& operator=(const ParamStore&) = delete;
  ParamStore(ParamStore&&) = default;
  ParamStore& operator=(ParamStore&&) = default;

  // Declares a parameter; returns its id. Only before allocate().
  int add(std::string name, Shape shape) {
    if (allocated())
      throw Error("ParamStore: '" + name + "' declared after the buffers were allocated");
    if (find(name) >= 0) throw Error("ParamStore: parameter '" + name + "' declared twice");
    entries_.push_back({std::move(name), shape, size_});
    size_ += shape.numel();
    return int(entries_.size()) - 1;
  }
  // One zeroed buffer for the values (and one for the gradients).
  void allocate(Device d = Device::cpu) {
    values_ = Tensor<T>::zeros({size_, 1, 1, 1}, d);
    if (with_grads_) grads_ = Tensor<T>::zeros({size_, 1, 1, 1}, d);
    allocated_ = true;
  }
  bool allocated() const { return allocated_; }

  int64_t size() const { return size_; }
  const std::vector<ParamInfo>& entries() const { return entries_; }
  const ParamInfo& info(int id) const { return entries_.at(size_t(id)); }
  // The id of `name`, -1 when absent.
  int find(std::string_view name) const {
    for (size_t i = 0; i < entries_.size(); ++i)
      if (entries_[i].name == name) return int(i);
    return -1;
  }

  // Flat buffers, shape [size, 1, 1, 1].
  Tensor<T>& values() { return values_; }
  const Tensor<T>& values() const { return values_; }
  Tensor<T>& grads() { return grads_; }
  const Tensor<T>& grads() const { return grads_; }

  // Views of one parameter with its declared shape.
  Tensor<T> value(int id) const { return view(values_, id); }
  Tensor<T> grad(int id) const { return view(grads_, id); }
  T* value_ptr(int id) { return values_.data() + info(id).offset; }
  T* grad_ptr(int id) { return grads_.data() + info(id).offset; }

 private:
  Tensor<T> view(const Tensor<T>& flat, int id) const {
    const ParamInfo& p = info(id);
    if (!allocated_ || !flat.defined())
      throw Error("ParamStore: '" + p.name + "' used before allocate()");
    return flat.batch_view(p.offset, p.shape.numel()).reshaped(p.shape);
  }

  bool with_grads_;
  bool allocated_ = false;
  std::vector<ParamInfo> entries_;
  int64_t size_ = 0;
  Tensor<T> values_, grads_;
};

}  // namespace numens::nn
