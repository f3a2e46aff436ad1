// One optimizer step of FastSurfer training, with no file I/O: forward, weighted CE + soft Dice
// loss, backward, gradient accumulation over k micro-batches, Adam/AdamW update with the learning
// rate of the schedule at the step's fractional epoch. Validation forward (running BN statistics)
// and the state a checkpoint needs.
//
// Determinism: every random value is a function of configuration and counters. Initialisation:
// init_seed (nn/init.hpp). MCA perturbations: key (arith.seed, arith.member), counter (site,
// step = global iteration, element, draw) (nn/sites.hpp). Data order and augmentation are the
// driver's: the trainer takes the batches it is given. Hence TrainerState {step, parameters, BN
// statistics, Adam moments} determines the continuation bit for bit, whatever the thread count.
//
// Gradient accumulation: the k micro-batch gradients are averaged: each micro-batch's logit
// gradient is scaled by 1/k (exact for k a power of two) and parameter gradients of micro-batches
// after the first are added with the policy's add. BN statistics are per micro-batch, as in
// PyTorch with accumulation.
//
// Schedule: the learning rate of optimizer step s (0-based) is the schedule at epoch
// e = s / iterations_per_epoch (fractional for cosine warm restarts, floor(e) for StepLR); this is
// PyTorch's scheduler.step(epoch + i / iters) called before each optimizer step.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/loss.hpp"
#include "mca/config.hpp"
#include "nn/fastsurfer.hpp"

namespace numens::nn {

enum class OptimizerKind : uint8_t { adam, adamw };
enum class ScheduleKind : uint8_t { constant, cosine_warm_restarts, step };

struct OptimConfig {
  OptimizerKind kind = OptimizerKind::adamw;
  double lr = 0.01;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-4;  // AdamW: decoupled; Adam: L2 term added to the gradient
  ScheduleKind schedule = ScheduleKind::cosine_warm_restarts;
  double t0 = 10, t_mult = 2, eta_min = 1e-4;  // cosine annealing with warm restarts
  int64_t step_size = 5;                       // StepLR
  double gamma = 0.3;

  void validate() const;  // throws ConfigError naming the field
};

OptimConfig vinn_optim();            // AdamW 0.01, wd 1e-4, cosine warm restarts T0 10, Tmult 2
OptimConfig fastsurfer_cnn_optim();  // Adam 0.01, no weight decay, StepLR(5, 0.3)

struct TrainConfig {
  NetConfig net;
  OptimConfig optim;
  mca::ArithConfig arith;  // mode, precisions, MCA seed and member
  uint32_t init_seed = 0;
  int accumulation = 1;              // micro-batches per optimizer step, 1..kMaxMicroBatches
  int64_t iterations_per_epoch = 1;  // optimizer steps per epoch, for the schedule
  double dice_smooth = 0.001;

  void validate() const;
};

// One micro-batch (host tensors).
struct Batch {
  Tensor<float> images;    // [B, in_channels, H, W]
  Tensor<int32_t> labels;  // [B, 1, H, W], values in [0, classes)
  Tensor<float> weights;   // [B, 1, H, W], the per-pixel CE weight map
};

struct StepReport {
  int64_t step = 0;  // the step just taken (0-based global iteration)
  double lr = 0;
  double loss = 0, ce = 0, dice = 0;  // means over the micro-batches
};

// Everything a checkpoint must hold to continue bit for bit. Vectors are in the flat layouts of
// FastSurferNet::params() / stats() (names and offsets there).
struct TrainerState {
  int64_t step = 0;  // optimizer steps taken; the next step's MCA step counter and Adam t - 1
  std::vector<float> params, stats, adam_m, adam_v;
};

class Trainer {
 public:
  // Fresh model initialised from cfg.init_seed.
  explicit Trainer(const TrainConfig& cfg);
  // Continue from a saved state (shapes checked against the configuration).
  Trainer(const TrainConfig& cfg, const TrainerState& state);

  // One optimizer step on exactly cfg.accumulation micro-batches.
  StepReport step(std::span<const Batch> micro_batches);
  // Inference logits [B, classes, H, W] (BN running statistics; MCA micro field 15 at the current
  // step). Valid until the next call.
  const Tensor<float>& predict(const Tensor<float>& images);

  TrainerState state() const;
  void set_state(const TrainerState& s);

  int64_t steps_taken() const { return step_; }
  double epoch() const { return double(step_) / double(cfg_.iterations_per_epoch); }
  double lr_at(int64_t step) const;
  const TrainConfig& config() const { return cfg_; }
  FastSurferNet<float>& net() { return net_; }
  const FastSurferNet<float>& net() const { return net_; }

 private:
  TrainConfig cfg_;
  FastSurferNet<float> net_;
  Tensor<float> m_, v_;  // Adam moments, flat like the parameters
  Tensor<float> probs_, dlogits_;
  int64_t step_ = 0;
};

}  // namespace numens::nn
