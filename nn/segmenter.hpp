// The 3-view segmenter (MODEL.md, "Inference"): each view's network runs over the thick slices of
// its planes, the weighted LOGITS of the views are summed per voxel (axial 0.4, coronal 0.4,
// sagittal 0.2), and the argmax is the class map. Pure compute: the volume and the networks come
// in, class indices (and optionally quantised probabilities, through a sink) go out. How a view
// cuts the volume is io/'s (io::plane_layout, io::thick_slice); drivers/ hands it in as a
// SegmenterView so that training and inference cut slices through one function. A network with L
// pooling levels sees each plane zero-padded at the bottom and right to multiples of 2^L (the
// padded pixels' outputs are dropped); intensities enter as float(v) / 255.
//
// Memory (the FastSurfer complaint of MODEL.md: ~80 classes x 256^3 in float32 is 5.3 GB):
//   - the aggregated logits are kept only for voxels inside the bounding box of non-zero input
//     voxels (when `crop` is on, the default); voxels outside it are background (class 0, p = 1).
//     A conformed head leaves most of the 256^3 grid outside that box;
//   - the accumulator stores binary16 by default (2 bytes per class per voxel of the box;
//     Accumulator::float32 doubles that). The sum is rounded to binary16 after each view's
//     addition; the argmax then sees those rounded sums (ties: lowest class);
//   - besides: the class map (int16 per voxel, returned), one batch of thick slices and the
//     network's activations and logits for it (batch x classes x H x W float32 and the layers'),
//     and one block of probabilities (classes x probs_block_voxels bytes) when asked for.
//   So a 256^3 volume with 79 classes needs 256^3 x (79 x 2 + 2) bytes = 2.7 GB with binary16 and
//   no crop (FastSurfer's float32 view aggregation: 5.3 GB), and 160 bytes per voxel of the head's
//   bounding box with crop (about 1.2 GB for a 180 x 220 x 200 box).
//
// Order and determinism: views are added in the fixed order axial, coronal, sagittal (those
// present); each voxel is written by exactly one pixel per view, so the sums do not depend on the
// thread count or on how planes are cut into batches. In ieee mode the networks' outputs do not
// depend on the batch either, so the result is a function of (volume, weights, views). The
// weighting, the binary16 rounding, the argmax and the softmax of the probabilities are plain IEEE
// (outside the arithmetic policy): they are deterministic post-processing, the perturbation under
// study is the networks'.
//
// MCA counters: every forward gets its own 32-bit step counter (mca/stream.hpp, word 3) at the
// inference site field (nn/sites.hpp, micro 15), so no two batches, views or subjects reuse
// random numbers:
//   step = subject << 17 | view << 15 | batch
//   subject  0..32767: the subject's index in its cohort (not in a selection, so a subject gets
//            the same numbers whichever subset is segmented)
//   view     0 axial, 1 coronal, 2 sagittal
//   batch    0..32767: index of the batch among the view's planes that are segmented
// A subject index above 32767 or more than 32768 batches in a view is refused (ConfigError). In sr
// and mca modes the result is reproducible for the same (seed, member, batch size, crop); another
// batch size gives other random numbers, as the elements of a batch are numbered within it.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "mca/config.hpp"
#include "nn/fastsurfer.hpp"

namespace numens::nn {

// MODEL.md's view weights, in view-code order (axial, coronal, sagittal).
inline constexpr double kViewWeights[3] = {0.4, 0.4, 0.2};
inline constexpr uint32_t kMaxSegmentSubjects = 32768;  // subject field of the step counter
inline constexpr uint32_t kMaxSegmentBatches = 32768;   // batch field

// One view as the segmenter sees it: its network, its weight, and how it cuts the volume. The
// layout numbers are io::PlaneLayout's: pixel (r, c) of plane p is voxel
// p * plane_stride + r * row_stride + c * col_stride of the x-fastest volume.
struct SegmenterView {
  int code = 0;                         // 0 axial, 1 coronal, 2 sagittal: order and step field
  FastSurferNet<float>* net = nullptr;  // eval-mode forward (running BN statistics)
  int64_t planes = 0, rows = 0, cols = 0;
  int64_t plane_stride = 0, row_stride = 0, col_stride = 0;
  // Fills `out` (in_channels x out_rows x out_cols, uint8) with the thick slice of `plane`,
  // zero-padded at the bottom and right (io::thick_slice).
  std::function<void(int64_t plane, std::span<uint8_t> out, int64_t out_rows, int64_t out_cols)>
      thick_slice;
};

enum class Accumulator : uint8_t { float16, float32 };

// Receives the quantised probabilities of voxels [first, first + count) of the x-fastest volume:
// probs[c * count + v] = round(255 * softmax(aggregated logits)_c) of voxel first + v.
using ProbsSink = std::function<void(int64_t first, int64_t count, std::span<const uint8_t> probs)>;

struct SegmentOptions {
  int batch = 8;         // planes per forward, 1..1024
  uint32_t subject = 0;  // the subject's cohort index, for the MCA step counter
  bool crop = true;      // aggregate only inside the bounding box of non-zero voxels
  Accumulator accumulator = Accumulator::float16;
  ProbsSink probs;                 // empty: no probabilities computed
  int64_t probs_block_voxels = 0;  // voxels per sink call (> 0 when probs is set)
};

struct Segmentation {
  std::vector<int16_t> classes;  // class index per voxel, x fastest
  int64_t box_voxels = 0;        // voxels inside the aggregation box
  int64_t accumulator_bytes = 0;
};

// Weights of the views present: kViewWeights renormalised to sum to 1 over those views (one view
// gets weight 1, axial + coronal get 0.5 each), so a subset still yields comparable logits.
std::vector<double> view_weights(std::span<const SegmenterView> views);

// Segments one conformed volume (uint8 intensities, x fastest, dims (nx, ny, nz)). Every view's
// network must have the same class count and in_channels (thick-slice thickness); the layouts
// must cover the same volume. Throws ConfigError/ShapeError naming the problem.
Segmentation segment(std::span<const SegmenterView> views, std::span<const uint8_t> volume,
                     const std::array<int64_t, 3>& dims, const mca::ArithConfig& arith,
                     const SegmentOptions& opt);

// The binary16 accumulator's conversions (round to nearest even; overflow gives infinity; NaN
// stays NaN). to_half/from_half use the CPU's F16C instructions where the build targets them and
// the portable reference otherwise; both give the same bits (tests/nn/test_segmenter.cpp).
uint16_t to_half(float x);
float from_half(uint16_t h);
uint16_t to_half_reference(float x);
float from_half_reference(uint16_t h);

}  // namespace numens::nn
