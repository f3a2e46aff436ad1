// Tensor<T>: an NCHW array on the host (64-byte aligned) or a CUDA device, owned through a shared
// buffer so that views (a batch sub-range, a reshape) cost nothing and keep the storage alive.
// Shapes are checked where tensors meet: every kernel states its shapes and throws ShapeError
// naming the op and the shapes when they do not fit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "mca/error.hpp"

namespace numens {

// A shape or argument does not fit the operation.
struct ShapeError : Error {
  using Error::Error;
};

enum class Device : uint8_t { cpu, cuda };

struct Shape {
  int64_t n = 0, c = 0, h = 0, w = 0;

  int64_t numel() const { return n * c * h * w; }
  int64_t plane() const { return h * w; }
  bool operator==(const Shape&) const = default;
  std::string str() const {
    return "[" + std::to_string(n) + ", " + std::to_string(c) + ", " + std::to_string(h) + ", " +
           std::to_string(w) + "]";
  }
};

namespace detail {
// Raw storage; CUDA allocation lives in kernels/memory_cuda.cu and throws when not built.
std::shared_ptr<void> allocate(size_t bytes, Device where);
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes);
}  // namespace detail

// Waits until every kernel queued on the device has finished and reports a failed one (CUDA
// launches return before the work is done; copies to the host wait by themselves). A no-op for
// the CPU, whose kernels are synchronous.
void synchronize(Device d);

template <class T>
class Tensor {
 public:
  Tensor() = default;

  // Uninitialised storage; zeros() when the contents matter.
  static Tensor empty(Shape s, Device d = Device::cpu) {
    check_shape(s);
    Tensor t;
    t.shape_ = s;
    t.device_ = d;
    t.buf_ = detail::allocate(size_t(s.numel()) * sizeof(T), d);
    t.ptr_ = static_cast<T*>(t.buf_.get());
    return t;
  }
  static Tensor zeros(Shape s, Device d = Device::cpu) {
    Tensor t = empty(s, d);
    t.fill_zero();
    return t;
  }

  const Shape& shape() const { return shape_; }
  Device device() const { return device_; }
  int64_t numel() const { return shape_.numel(); }
  size_t bytes() const { return size_t(numel()) * sizeof(T); }
  bool defined() const { return ptr_ != nullptr; }
  T* data() { return ptr_; }
  const T* data() const { return ptr_; }

  // Element access on host tensors (tests, references); kernels use data() and strides.
  T& at(int64_t n, int64_t c, int64_t h, int64_t w) { return ptr_[index(n, c, h, w)]; }
  const T& at(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return ptr_[index(n, c, h, w)];
  }
  int64_t index(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return ((n * shape_.c + c) * shape_.h + h) * shape_.w + w;
  }

  // Samples [first, first + count) of the batch, sharing storage.
  Tensor batch_view(int64_t first, int64_t count) const {
    if (first < 0 || count < 0 || first + count > shape_.n)
      throw ShapeError("batch_view: samples [" + std::to_string(first) + ", " +
                       std::to_string(first + count) + ") out of " + shape_.str());
    Tensor t = *this;
    t.shape_.n = count;
    t.ptr_ = ptr_ + first * shape_.c * shape_.plane();
    return t;
  }
  // The same elements under another shape with the same element count.
  Tensor reshaped(Shape s) const {
    if (s.numel() != numel())
      throw ShapeError("reshape: " + shape_.str() + " has " + std::to_string(numel()) +
                       " elements, " + s.str() + " needs " + std::to_string(s.numel()));
    Tensor t = *this;
    t.shape_ = s;
    return t;
  }

  Tensor to(Device d) const {
    Tensor t = empty(shape_, d);
    detail::copy_bytes(t.ptr_, d, ptr_, device_, bytes());
    return t;
  }
  Tensor clone() const { return to(device_); }

  void fill_zero() {
    if (device_ == Device::cpu) {
      for (int64_t i = 0; i < numel(); ++i) ptr_[i] = T(0);
    } else {
      Tensor h = Tensor::zeros(shape_, Device::cpu);
      detail::copy_bytes(ptr_, device_, h.ptr_, Device::cpu, bytes());
    }
  }

 private:
  static void check_shape(const Shape& s) {
    if (s.n < 0 || s.c < 0 || s.h < 0 || s.w < 0)
      throw ShapeError("tensor shape " + s.str() + " has a negative extent");
  }

  Shape shape_{};
  Device device_ = Device::cpu;
  std::shared_ptr<void> buf_;
  T* ptr_ = nullptr;
};

// Throws ShapeError("<op>: <what> is <shape>, expected <expected>") unless equal.
inline void expect_shape(const char* op, const char* what, const Shape& got, const Shape& want) {
  if (!(got == want))
    throw ShapeError(std::string(op) + ": " + what + " is " + got.str() + ", expected " +
                     want.str());
}

}  // namespace numens
