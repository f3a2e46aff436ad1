#include "nn/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "kernels/elementwise.hpp"
#include "kernels/optim.hpp"
#include "mca/dispatch.hpp"

namespace numens::nn {

void OptimConfig::validate() const {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw ConfigError("optimizer configuration: " + what);
  };
  need(lr >= 0, "lr must be >= 0");
  need(beta1 >= 0 && beta1 < 1, "beta1 must be in [0, 1)");
  need(beta2 >= 0 && beta2 < 1, "beta2 must be in [0, 1)");
  need(eps > 0, "eps must be > 0");
  need(weight_decay >= 0, "weight_decay must be >= 0");
  need(t0 > 0 && t_mult >= 1 && eta_min >= 0,
       "cosine schedule needs T0 > 0, Tmult >= 1, eta_min >= 0");
  need(step_size >= 1 && gamma > 0, "StepLR needs step_size >= 1 and gamma > 0");
}

OptimConfig vinn_optim() {
  return OptimConfig{};
}

OptimConfig fastsurfer_cnn_optim() {
  OptimConfig o;
  o.kind = OptimizerKind::adam;
  o.lr = 0.01;
  o.weight_decay = 0;
  o.schedule = ScheduleKind::step;
  o.step_size = 5;
  o.gamma = 0.3;
  return o;
}

void TrainConfig::validate() const {
  net.validate();
  optim.validate();
  arith.validate();
  if (accumulation < 1 || accumulation > int(kMaxMicroBatches))
    throw ConfigError("training configuration: accumulation must be in [1, " +
                      std::to_string(kMaxMicroBatches) + "], got " + std::to_string(accumulation));
  if (iterations_per_epoch < 1)
    throw ConfigError("training configuration: iterations_per_epoch must be >= 1");
  if (!(dice_smooth > 0)) throw ConfigError("training configuration: dice_smooth must be > 0");
}

namespace {
const TrainConfig& validated(const TrainConfig& c) {
  c.validate();
  return c;
}
}  // namespace

Trainer::Trainer(const TrainConfig& cfg) : cfg_(validated(cfg)), net_(cfg.net) {
  net_.init(cfg_.init_seed);
  m_ = Tensor<float>::zeros(net_.params().values().shape());
  v_ = Tensor<float>::zeros(net_.params().values().shape());
}

Trainer::Trainer(const TrainConfig& cfg, const TrainerState& state) : Trainer(cfg) {
  set_state(state);
}

double Trainer::lr_at(int64_t s) const {
  const OptimConfig& o = cfg_.optim;
  const double e = double(s) / double(cfg_.iterations_per_epoch);
  switch (o.schedule) {
    case ScheduleKind::constant:
      return o.lr;
    case ScheduleKind::cosine_warm_restarts:
      return kernels::cosine_warm_restarts_lr(o.lr, o.eta_min, o.t0, o.t_mult, e);
    case ScheduleKind::step:
      return kernels::step_lr(o.lr, o.step_size, o.gamma, s / cfg_.iterations_per_epoch);
  }
  throw ConfigError("optimizer configuration: invalid schedule");
}

StepReport Trainer::step(std::span<const Batch> micro_batches) {
  const int k = cfg_.accumulation;
  if (int(micro_batches.size()) != k)
    throw ConfigError("Trainer::step: " + std::to_string(micro_batches.size()) +
                      " micro-batches given, the configuration accumulates " + std::to_string(k));
  if (step_ > int64_t(UINT32_MAX))
    throw ConfigError("Trainer::step: the MCA step counter is 32-bit; step " +
                      std::to_string(step_) + " is out of range");
  StepReport rep;
  rep.step = step_;
  rep.lr = lr_at(step_);
  mca::with_policy(cfg_.arith, [&](auto pol) {
    for (int mb = 0; mb < k; ++mb) {
      const Batch& b = micro_batches[size_t(mb)];
      const Pass pass{true, uint32_t(mb), uint32_t(step_), mb == 0};
      const Tensor<float>& logits = net_.forward(pol, pass, b.images);
      const Shape ls = logits.shape();
      const kernels::LossValue<float> lv =
          kernels::ce_dice_loss(pass.at(pol, kLossModule, op::loss), logits, b.labels, b.weights,
                                ensure(probs_, ls), ensure(dlogits_, ls), cfg_.dice_smooth);
      rep.loss += double(lv.total) / k;
      rep.ce += double(lv.ce) / k;
      rep.dice += double(lv.dice) / k;
      if (k > 1)
        kernels::scale_inplace(pass.at(pol, kLossModule, op::loss_scale), dlogits_, float(1.0 / k));
      net_.backward(pol, pass, dlogits_);
    }
    kernels::AdamParams prm;
    prm.lr = rep.lr;
    prm.beta1 = cfg_.optim.beta1;
    prm.beta2 = cfg_.optim.beta2;
    prm.eps = cfg_.optim.eps;
    prm.weight_decay = cfg_.optim.weight_decay;
    prm.decoupled = cfg_.optim.kind == OptimizerKind::adamw;
    ParamStore<float>& ps = net_.params();
    kernels::adam_step(pol.at(site(0, kOptimizerModule, op::adam), uint32_t(step_)),
                       ps.values().data(), ps.grads().data(), m_.data(), v_.data(), ps.size(),
                       step_ + 1, prm);
  });
  ++step_;
  return rep;
}

const Tensor<float>& Trainer::predict(const Tensor<float>& images) {
  return mca::with_policy(cfg_.arith, [&](auto pol) -> const Tensor<float>& {
    const Pass pass{false, kInferenceMicro, uint32_t(step_), true};
    return net_.forward(pol, pass, images);
  });
}

TrainerState Trainer::state() const {
  auto vec = [](const Tensor<float>& t) {
    return std::vector<float>(t.data(), t.data() + t.numel());
  };
  return {step_, vec(net_.params().values()), vec(net_.stats().values()), vec(m_), vec(v_)};
}

void Trainer::set_state(const TrainerState& s) {
  const std::pair<const std::vector<float>*, Tensor<float>*> parts[] = {
      {&s.params, &net_.params().values()},
      {&s.stats, &net_.stats().values()},
      {&s.adam_m, &m_},
      {&s.adam_v, &v_}};
  const char* names[] = {"params", "stats", "adam_m", "adam_v"};
  if (s.step < 0) throw ConfigError("Trainer::set_state: negative step");
  // all sizes first, so a mismatched state leaves the trainer untouched
  for (size_t i = 0; i < 4; ++i)
    if (int64_t(parts[i].first->size()) != parts[i].second->numel())
      throw ShapeError(std::string("Trainer::set_state: ") + names[i] + " has " +
                       std::to_string(parts[i].first->size()) + " values, the model needs " +
                       std::to_string(parts[i].second->numel()));
  for (const auto& [src, dst] : parts) std::copy(src->begin(), src->end(), dst->data());
  step_ = s.step;
}

}  // namespace numens::nn
