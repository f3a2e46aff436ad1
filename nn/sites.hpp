// MCA op-site numbering. Every kernel call of a training iteration gets its own 16-bit site so
// that no two calls at the same step share random draws (mca/stream.hpp puts the site in counter
// word 1 and the global iteration in word 3):
//
//   site = micro << 12 | module << 6 | op
//
//   micro   0..14: the micro-batch of gradient accumulation; 15: inference / validation forward
//   module  0: VINN input block; 1..L: encoder levels; L+1: bottleneck; L+2..2L+1: decoder levels
//           (decoder level l at L+1+l); 2L+2: VINN output block; 2L+3: classifier;
//           62: loss; 63: optimizer
//   op      inside a block (nn/blocks.hpp):
//             conv i (i = 0..3): forward 4i, backward data 4i+1, weight 4i+2, bias 4i+3
//             BN j (j = 0 the input block's BN0, j = i+1 after conv i): train 16+3j, eval 17+3j,
//               backward 18+3j
//             PReLU use u (u = 0 head, u = i before conv i): forward 31+2u, backward 32+2u
//             maxout producing m_i (i = 1..3): backward 38+i
//             BN j parameter gradients added on later micro-batches: 46+2j (weight), 47+2j (bias)
//             PReLU slope: head part added to the rest 56, added to the gradient on later
//               micro-batches 57
//           level ops: max-pool backward 42, unpool backward 43, skip maxout backward 44,
//             gradient sum of a tensor with two consumers 45
//           classifier: the conv ops 0..3; loss: 0 ce_dice_loss, 1 the 1/k gradient scale;
//           optimizer: 0 adam_step
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "kernels/tensor.hpp"

namespace numens::nn {

inline constexpr uint32_t kMaxMicroBatches = 15;
inline constexpr uint32_t kInferenceMicro = 15;
inline constexpr uint32_t kLossModule = 62;
inline constexpr uint32_t kOptimizerModule = 63;
inline constexpr uint32_t kMaxLevels = 29;  // 2L + 3 < kLossModule

namespace op {
inline constexpr uint32_t conv_fwd(int i) {
  return uint32_t(4 * i);
}
inline constexpr uint32_t conv_dgrad(int i) {
  return uint32_t(4 * i + 1);
}
inline constexpr uint32_t conv_wgrad(int i) {
  return uint32_t(4 * i + 2);
}
inline constexpr uint32_t conv_bgrad(int i) {
  return uint32_t(4 * i + 3);
}
inline constexpr uint32_t bn_train(int j) {
  return uint32_t(16 + 3 * j);
}
inline constexpr uint32_t bn_eval(int j) {
  return uint32_t(17 + 3 * j);
}
inline constexpr uint32_t bn_bwd(int j) {
  return uint32_t(18 + 3 * j);
}
inline constexpr uint32_t prelu_fwd(int u) {
  return uint32_t(31 + 2 * u);
}
inline constexpr uint32_t prelu_bwd(int u) {
  return uint32_t(32 + 2 * u);
}
inline constexpr uint32_t maxout_bwd(int i) {
  return uint32_t(38 + i);
}
inline constexpr uint32_t bn_accumulate(int j, int which) {
  return uint32_t(46 + 2 * j + which);
}
inline constexpr uint32_t slope_sum = 56, slope_accumulate = 57;
inline constexpr uint32_t pool_bwd = 42, unpool_bwd = 43, skip_maxout_bwd = 44, grad_sum = 45;
inline constexpr uint32_t loss = 0, loss_scale = 1, adam = 0;
}  // namespace op

// The numbering above as the compiler sees it: every op index of a block (4 convs, 5 BNs, 4 PReLU
// uses, 3 maxouts, the accumulations and the level ops) distinct and inside the 6-bit op field, so
// a new op that reuses a number fails to compile instead of silently sharing random draws.
namespace detail {
inline constexpr int kBlockOps = 4 * 4 + 5 * 3 + 4 * 2 + 3 + 5 * 2 + 6;
constexpr std::array<uint32_t, kBlockOps> block_ops() {
  std::array<uint32_t, kBlockOps> a{};
  std::size_t n = 0;
  for (int i = 0; i < 4; ++i)
    for (uint32_t x : {op::conv_fwd(i), op::conv_dgrad(i), op::conv_wgrad(i), op::conv_bgrad(i)})
      a[n++] = x;
  for (int j = 0; j < 5; ++j)
    for (uint32_t x : {op::bn_train(j), op::bn_eval(j), op::bn_bwd(j)}) a[n++] = x;
  for (int u = 0; u < 4; ++u)
    for (uint32_t x : {op::prelu_fwd(u), op::prelu_bwd(u)}) a[n++] = x;
  for (int i = 1; i <= 3; ++i) a[n++] = op::maxout_bwd(i);
  for (int j = 0; j < 5; ++j)
    for (int w = 0; w < 2; ++w) a[n++] = op::bn_accumulate(j, w);
  for (uint32_t x : {op::slope_sum, op::slope_accumulate, op::pool_bwd, op::unpool_bwd,
                     op::skip_maxout_bwd, op::grad_sum})
    a[n++] = x;
  return a;
}
constexpr bool distinct_and_in_field(const std::array<uint32_t, kBlockOps>& a) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] >= 64) return false;
    for (std::size_t j = 0; j < i; ++j)
      if (a[i] == a[j]) return false;
  }
  return true;
}
}  // namespace detail
static_assert(detail::distinct_and_in_field(detail::block_ops()),
              "two ops of a block share an MCA site number, or one leaves the 6-bit op field");
static_assert(2 * kMaxLevels + 3 < kLossModule, "decoder modules would reach the loss module");
static_assert(kInferenceMicro < 16 && kOptimizerModule < 64, "site fields are 4 and 6 bits");

inline constexpr uint32_t site(uint32_t micro, uint32_t module, uint32_t op_index) {
  return micro << 12 | module << 6 | op_index;
}

// What every op of one forward/backward pass needs besides its tensors.
struct Pass {
  bool training = true;     // BN batch statistics (and running-average updates) or running stats
  uint32_t micro = 0;       // site field; kInferenceMicro for inference
  uint32_t step = 0;        // MCA step counter: the global training iteration
  bool first_micro = true;  // parameter gradients are overwritten, else accumulated

  template <class P>
  P at(const P& pol, uint32_t module, uint32_t op_index) const {
    return pol.at(site(micro, module, op_index), step);
  }
};

}  // namespace numens::nn
