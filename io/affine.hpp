// Algebra of voxel-to-world affines (4 x 4, row-major, bottom row 0 0 0 1): the one home for the
// determinant, inverse, product and point mapping that geometry validation, conforming and
// synthesis all need.
#pragma once

#include <array>
#include <string_view>

#include "io/nifti.hpp"  // Affine

namespace numens::io {

// Determinant of the linear (upper-left 3 x 3) part.
double affine_determinant(const Affine& a);
// Inverse of an affine with bottom row (0, 0, 0, 1); throws IoError "<what>: affine is singular"
// when the linear part has a zero determinant.
Affine invert_affine(const Affine& a, std::string_view what);
Affine multiply_affine(const Affine& a, const Affine& b);
// a * (i, j, k, 1), the first three coordinates.
std::array<double, 3> apply_affine(const Affine& a, double i, double j, double k);

}  // namespace numens::io
