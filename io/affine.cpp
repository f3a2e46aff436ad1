#include "io/affine.hpp"

#include <string>

#include "io/error.hpp"

namespace numens::io {

double affine_determinant(const Affine& a) {
  return a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
         a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
         a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
}

Affine invert_affine(const Affine& a, std::string_view what) {
  const double det = affine_determinant(a);
  if (det == 0.0) throw IoError(std::string(what) + ": affine is singular");
  Affine r{};
  r[0][0] = (a[1][1] * a[2][2] - a[1][2] * a[2][1]) / det;
  r[0][1] = (a[0][2] * a[2][1] - a[0][1] * a[2][2]) / det;
  r[0][2] = (a[0][1] * a[1][2] - a[0][2] * a[1][1]) / det;
  r[1][0] = (a[1][2] * a[2][0] - a[1][0] * a[2][2]) / det;
  r[1][1] = (a[0][0] * a[2][2] - a[0][2] * a[2][0]) / det;
  r[1][2] = (a[0][2] * a[1][0] - a[0][0] * a[1][2]) / det;
  r[2][0] = (a[1][0] * a[2][1] - a[1][1] * a[2][0]) / det;
  r[2][1] = (a[0][1] * a[2][0] - a[0][0] * a[2][1]) / det;
  r[2][2] = (a[0][0] * a[1][1] - a[0][1] * a[1][0]) / det;
  for (int i = 0; i < 3; ++i)
    r[i][3] = -(r[i][0] * a[0][3] + r[i][1] * a[1][3] + r[i][2] * a[2][3]);
  r[3] = {0, 0, 0, 1};
  return r;
}

Affine multiply_affine(const Affine& a, const Affine& b) {
  Affine out{};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      for (int k = 0; k < 4; ++k) out[r][c] += a[r][k] * b[k][c];
  return out;
}

std::array<double, 3> apply_affine(const Affine& a, double i, double j, double k) {
  return {a[0][0] * i + a[0][1] * j + a[0][2] * k + a[0][3],
          a[1][0] * i + a[1][1] * j + a[1][2] * k + a[1][3],
          a[2][0] * i + a[2][1] * j + a[2][2] * k + a[2][3]};
}

}  // namespace numens::io
