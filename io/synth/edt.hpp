// Exact Euclidean distance transform with nearest-feature indices, on a 3-D grid with anisotropic
// spacing. The atrophy model ranks voxels by their distance to a tissue (cortex to CSF, white
// matter to the ventricles) and needs to know which voxel is the nearest one (which ventricle,
// which lobe), so the transform returns both.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace numens::io::synth {

struct DistanceMap {
  std::vector<float> dist;         // mm to the nearest feature voxel (0 on features); +inf if none
  std::vector<std::int64_t> near;  // linear index of that voxel, -1 if there is no feature at all
};

// `feature[v] != 0` marks the feature set; dims (nx, ny, nz), x fastest; spacing in mm.
// Separable lower-envelope algorithm (Felzenszwalb & Huttenlocher 2012), one pass per axis; every
// line is independent, so the result does not depend on the OpenMP thread count.
DistanceMap distance_transform(const std::vector<std::uint8_t>& feature,
                               std::array<std::int64_t, 3> dims, std::array<double, 3> spacing);

}  // namespace numens::io::synth
