// Running one functor per output element on the tensors' device: an OpenMP loop on the CPU, one
// CUDA thread per element on the GPU. The functor (a struct with a NUMENS_HD operator()(int64_t))
// is the op's single definition of an output element, so both backends compute the same bits.
// Only kernels/*.cpp include this (NUMENS_HAVE_CUDA is private to the kernels library).
#pragma once

#include <initializer_list>
#include <string>

#include "kernels/reduce.hpp"
#include "kernels/tensor.hpp"

namespace numens::kernels::detail {

// Defined (and explicitly instantiated for every functor type) in kernels/launch_cuda.cu.
template <class F>
void for_each_cuda(const F& f, int64_t count);

template <class F>
void for_each(const char* op, Device d, int64_t count, const F& f) {
  if (d == Device::cuda) {
#if NUMENS_HAVE_CUDA
    (void)op;
    for_each_cuda(f, count);
    return;
#else
    throw Error(std::string(op) + ": CUDA tensor but numens was built without the CUDA backend");
#endif
  }
#pragma omp parallel
  {
    // A private copy: a store through the functor's output pointer could otherwise alias its
    // fields (a slope, a pointer), so the compiler would reload them every element and not
    // vectorise the loop. `simd`: elements are independent by construction (one functor call
    // per output element), which lets the compiler vectorise selects it would otherwise branch.
    const F local = f;
#pragma omp for simd schedule(static)
    for (int64_t e = 0; e < count; ++e) local(e);
  }
}

// All tensors of a call on one device; returns it.
inline Device common_device(const char* op, std::initializer_list<Device> ds) {
  const Device first = *ds.begin();
  for (Device d : ds)
    if (d != first) throw ShapeError(std::string(op) + ": tensors on different devices");
  return first;
}

// chunked_sum (reduce.hpp) with the chunks computed on device d: the partial sums are brought
// to the host and added there in chunk order, exactly as on the CPU.
template <class T, class P, class Term>
T chunked_sum_on(const char* op, Device d, const P& pol, uint64_t element0, int64_t n,
                 const Term& term) {
  if (d == Device::cpu) return chunked_sum<T>(pol, element0, n, term);
  const int64_t chunks = reduce_chunks(n);
  Tensor<T> partial = Tensor<T>::empty({1, 1, 1, chunks}, d);
  for_each(op, d, chunks, ChunkPartial<P, T, Term>{pol, element0, n, term, partial.data()});
  const Tensor<T> host = partial.to(Device::cpu);
  return finish_sum(pol, element0, std::vector<T>(host.data(), host.data() + chunks));
}

}  // namespace numens::kernels::detail
