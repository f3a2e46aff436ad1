#include "nn/init.hpp"

#include <cmath>
#include <numbers>

#include "mca/stream.hpp"

namespace numens::nn {

double init_uniform01(uint32_t seed, int64_t element, uint32_t draw) {
  const mca::Stream s = mca::Stream::make(seed, kInitStream);
  return double(s.u64(uint64_t(element), draw) >> 11) * 0x1p-53;
}

double init_normal(uint32_t seed, int64_t element) {
  const double u0 = init_uniform01(seed, element, 0), u1 = init_uniform01(seed, element, 1);
  return std::sqrt(-2.0 * std::log(1.0 - u0)) * std::cos(2.0 * std::numbers::pi * u1);
}

template <class T>
void fill_normal(ParamStore<T>& ps, int id, uint32_t seed, double std) {
  const ParamInfo& p = ps.info(id);
  T* v = ps.value_ptr(id);
  for (int64_t i = 0; i < p.shape.numel(); ++i) v[i] = T(std * init_normal(seed, p.offset + i));
}

template <class T>
void fill_uniform(ParamStore<T>& ps, int id, uint32_t seed, double lo, double hi) {
  const ParamInfo& p = ps.info(id);
  T* v = ps.value_ptr(id);
  for (int64_t i = 0; i < p.shape.numel(); ++i)
    v[i] = T(lo + (hi - lo) * init_uniform01(seed, p.offset + i, 0));
}

template <class T>
void fill_constant(ParamStore<T>& ps, int id, double value) {
  const ParamInfo& p = ps.info(id);
  T* v = ps.value_ptr(id);
  for (int64_t i = 0; i < p.shape.numel(); ++i) v[i] = T(value);
}

template void fill_normal<float>(ParamStore<float>&, int, uint32_t, double);
template void fill_normal<double>(ParamStore<double>&, int, uint32_t, double);
template void fill_uniform<float>(ParamStore<float>&, int, uint32_t, double, double);
template void fill_uniform<double>(ParamStore<double>&, int, uint32_t, double, double);
template void fill_constant<float>(ParamStore<float>&, int, double);
template void fill_constant<double>(ParamStore<double>&, int, double);

}  // namespace numens::nn
