// CUDA twins of mca/batch.hpp: the same element-wise operations on device pointers. Element i
// draws as element (first_element + i), exactly like the CPU path, so for identical inputs and
// counters the GPU result is bitwise the CPU result (tests/gpu checks it).
#pragma once

#include <string>

#include "mca/batch.hpp"

namespace numens::mca::cuda {

// True when a CUDA device can be used; otherwise `why` says what the runtime answered.
bool device_available(std::string* why);

template <class P, class T>
void binary_n(const P& pol, BinaryOp op, const T* a, const T* b, T* out, size_t n,
              uint64_t first_element = 0);
template <class P, class T>
void unary_n(const P& pol, UnaryOp op, const T* a, T* out, size_t n, uint64_t first_element = 0);
template <class P, class T>
void fma_n(const P& pol, bool fused, const T* a, const T* b, const T* c, T* out, size_t n,
           uint64_t first_element = 0);
void philox_words32(const Stream& s, uint64_t group0, uint32_t draw, uint32_t* words,
                    size_t groups);

// Throws numens::Error with the CUDA error string and the call site.
void check(int cuda_error, const char* what);

}  // namespace numens::mca::cuda
