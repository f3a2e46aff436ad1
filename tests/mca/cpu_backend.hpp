// The CPU backend of the shared MCA cases: mca/batch.hpp on host vectors.
#pragma once

#include <vector>

#include "mca/batch.hpp"

namespace numens::mca::testing {

struct CpuBackend {
  template <class P, class T>
  void binary(const P& pol, BinaryOp op, const std::vector<T>& a, const std::vector<T>& b,
              std::vector<T>& out) {
    binary_n(pol, op, a.data(), b.data(), out.data(), out.size());
  }
  template <class P, class T>
  void fma(const P& pol, bool fused, const std::vector<T>& a, const std::vector<T>& b,
           const std::vector<T>& c, std::vector<T>& out) {
    fma_n(pol, fused, a.data(), b.data(), c.data(), out.data(), out.size());
  }
};

}  // namespace numens::mca::testing
