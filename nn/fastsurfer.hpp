// FastSurferNet: the FastSurferCNN 1.x and FastSurferVINN topologies (docs MODEL.md) on the
// blocks of nn/blocks.hpp, with a flat parameter store, explicit forward and backward.
//
//   [VINN only] s0 = input block (kind input, in_channels -> input_filters)
//   encoder level l = 1..L: e_l = block(prev); pooled_l, idx_l = maxpool2x2(e_l); skip_l = e_l
//       level 1 is an input-kind block (BN on its input, no maxout with it), the rest dense
//   bottleneck: b = dense block(pooled_L)
//   decoder level l = L..1: u = maxunpool(prev, idx_l); m = max(u, skip_l); d_l = dense block(m)
//   [VINN only] o = output block(concat(d_1, s0)) (kind output, filters + input_filters -> filters)
//   logits = conv1x1(last)  (the classifier)
//
// VINN's resolution normalisation (Zoom2d interpolation of s0 to 1 mm and back) has no
// parameters and is the identity for 1 mm input; numens conforms images to 1 mm before the net,
// so it is left out. The parameter counts of MODEL.md are reproduced exactly
// (tests/nn/test_fastsurfer.cpp).
//
// Shapes: x [N, in_channels, H, W] with H and W divisible by 2^levels; logits [N, classes, H, W].
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "kernels/conv2d.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/pool.hpp"
#include "nn/blocks.hpp"
#include "nn/init.hpp"

namespace numens::nn {

// The network's input convention, one home for training and inference: a conformed uint8
// intensity v enters as v / 255 (FastSurfer's scaling), rounded once to binary32.
inline float input_intensity(uint8_t v) {
  return float(v) / 255.0f;
}

struct NetConfig {
  int in_channels = 7;      // thick slice: the slice and 3 neighbours on each side
  int filters = 64;         // every level has the same width
  int kernel = 5;           // k of the k x k convs (1.x: 5; VINN: 3)
  int convs_per_block = 3;  // 3: FastSurferCNN 1.x (k, k, 1x1); 4: VINN (k x 4)
  int levels = 4;           // encoder/decoder levels
  int classes = 79;
  int input_filters = 0;  // > 0: VINN's input and output blocks at this width; 0: none (1.x)

  // Throws ConfigError naming the field.
  void validate() const;
  std::string describe() const;
  // The net halves its planes `levels` times: the size a plane of n pixels is zero-padded to (at
  // the bottom / right), the same in training and inference.
  int64_t padded_extent(int64_t n) const {
    const int64_t m = int64_t(1) << levels;
    return (n + m - 1) / m * m;
  }
};

NetConfig fastsurfer_cnn(int classes = 79);  // FastSurferCNN 1.x: 64 filters, 5x5, 3 convs
NetConfig vinn_like(int classes = 79);       // FastSurferVINN: 71 filters (32 input), 3x3, 4 convs

// Number of trainable parameters of a configuration (conv weights and biases, BN affine weights,
// PReLU slopes; not the BN running statistics), without building the model.
int64_t parameter_count(const NetConfig& cfg);

template <class T>
class FastSurferNet {
 public:
  explicit FastSurferNet(const NetConfig& cfg) : cfg_(cfg), params_(true), stats_(false) {
    cfg_.validate();
    const int L = cfg_.levels;
    std::vector<int> ks;
    for (int i = 0; i < cfg_.convs_per_block; ++i)
      ks.push_back(cfg_.convs_per_block == 3 && i == 2 ? 1 : cfg_.kernel);
    const int64_t F = cfg_.filters;
    if (vinn()) pre_ = make(BlockKind::input, "input", 0, cfg_.in_channels, cfg_.input_filters, ks);
    for (int l = 0; l < L; ++l) {
      const int64_t cin = l > 0 ? F : vinn() ? cfg_.input_filters : cfg_.in_channels;
      enc_.push_back(make(l == 0 ? BlockKind::input : BlockKind::dense,
                          "enc" + std::to_string(l + 1), uint32_t(1 + l), cin, F, ks));
    }
    bottleneck_ = make(BlockKind::dense, "bottleneck", uint32_t(L + 1), F, F, ks);
    // Declared deepest first, the order they run in.
    dec_.resize(size_t(L));
    for (int l = L - 1; l >= 0; --l)
      dec_[size_t(l)] =
          make(BlockKind::dense, "dec" + std::to_string(l + 1), uint32_t(L + 2 + l), F, F, ks);
    if (vinn())
      post_ = make(BlockKind::output, "output", uint32_t(2 * L + 2), F + cfg_.input_filters, F, ks);
    cls_w_ = params_.add("classifier.weight", {cfg_.classes, F, 1, 1});
    cls_b_ = params_.add("classifier.bias", {1, cfg_.classes, 1, 1});
    params_.allocate();
    stats_.allocate();
    d_below_.resize(size_t(L));
    pooled_.resize(size_t(L));
    idx_.resize(size_t(L));
    up_.resize(size_t(L));
    merged_.resize(size_t(L));
    win_.resize(size_t(L));
    d_enc_.resize(size_t(L));
    d_pooled_.resize(size_t(L));
    d_up_.resize(size_t(L));
    d_merged_.resize(size_t(L));
  }
  FastSurferNet(const FastSurferNet&) = delete;
  FastSurferNet& operator=(const FastSurferNet&) = delete;

  const NetConfig& config() const { return cfg_; }
  ParamStore<T>& params() { return params_; }
  const ParamStore<T>& params() const { return params_; }
  ParamStore<T>& stats() { return stats_; }  // BN running mean / var
  const ParamStore<T>& stats() const { return stats_; }
  int64_t parameter_count() const { return params_.size(); }

  // All blocks in declaration order (tests and initialisation walk them).
  std::vector<CompetitiveBlock<T>*> blocks() {
    std::vector<CompetitiveBlock<T>*> b;
    if (pre_) b.push_back(pre_.get());
    for (auto& e : enc_) b.push_back(e.get());
    b.push_back(bottleneck_.get());
    for (int l = cfg_.levels - 1; l >= 0; --l) b.push_back(dec_[size_t(l)].get());
    if (post_) b.push_back(post_.get());
    return b;
  }
  int classifier_weight() const { return cls_w_; }
  int classifier_bias() const { return cls_b_; }

  // FastSurfer's initialisation (networks.py, with PyTorch's defaults where it sets nothing):
  //   conv weights  Kaiming normal, mode fan_out, leaky_relu gain with negative slope a = 0
  //                 (kaiming_normal_'s default): std = sqrt(2 / (1 + a^2)) / sqrt(out k k)
  //   conv biases   PyTorch's Conv2d default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in k k
  //   BN            weight 1, bias 0; running mean 0, running var 1
  //   PReLU slope   0.25 (nn.PReLU's default)
  // The classifier is a conv like the others.
  void init(uint32_t seed) {
    auto conv = [&](int w, int b) {
      const Shape s = params_.info(w).shape;
      fill_normal(params_, w, seed, std::sqrt(2.0 / double(s.n * s.h * s.w)));
      const double bound = 1.0 / std::sqrt(double(s.c * s.h * s.w));
      fill_uniform(params_, b, seed, -bound, bound);
    };
    for (CompetitiveBlock<T>* blk : blocks()) {
      for (int i = 0; i < blk->convs(); ++i) conv(blk->conv_weight(i), blk->conv_bias(i));
      for (int j = blk->kind() == BlockKind::input ? 0 : 1; j <= blk->convs(); ++j) {
        fill_constant(params_, blk->bn_weight(j), 1.0);
        fill_constant(params_, blk->bn_bias(j), 0.0);
      }
      fill_constant(params_, blk->slope(), 0.25);
    }
    conv(cls_w_, cls_b_);
    for (size_t i = 0; i < stats_.entries().size(); ++i) {
      const bool var = stats_.entries()[i].name.ends_with("running_var");
      fill_constant(stats_, int(i), var ? 1.0 : 0.0);
    }
  }

  // x [N, in_channels, H, W] -> logits [N, classes, H, W] (owned by the net, valid until the
  // next forward). x must stay unchanged until backward.
  template <class P>
  const Tensor<T>& forward(const P& pol, const Pass& pass, const Tensor<T>& x) {
    using namespace kernels;
    const int L = cfg_.levels;
    const Shape xs = x.shape();
    const int64_t div = int64_t(1) << L;
    if (xs.c != cfg_.in_channels || xs.h % div != 0 || xs.w % div != 0 || xs.h == 0 || xs.w == 0)
      throw ShapeError("FastSurferNet: input " + xs.str() + " needs " +
                       std::to_string(cfg_.in_channels) + " channels and H, W divisible by " +
                       std::to_string(div) + " (" + std::to_string(L) + " pooling levels)");
    x_ = x;
    const Tensor<T>* cur = &x;
    if (pre_) cur = &pre_->forward(pol, pass, x);
    for (int l = 0; l < L; ++l) {
      const Tensor<T>& e = enc_[size_t(l)]->forward(pol, pass, *cur);
      const Shape s = e.shape(), ps{s.n, s.c, s.h / 2, s.w / 2};
      maxpool2x2_forward(e, ensure(pooled_[size_t(l)], ps), ensure(idx_[size_t(l)], ps));
      cur = &pooled_[size_t(l)];
    }
    cur = &bottleneck_->forward(pol, pass, *cur);
    for (int l = L - 1; l >= 0; --l) {
      const Tensor<T>& skip = enc_[size_t(l)]->output();
      const Shape s = skip.shape();
      maxunpool2x2_forward(*cur, idx_[size_t(l)], ensure(up_[size_t(l)], s));
      // torch.maximum(unpooled, skip): ties go to the unpooled map
      maxout_forward(up_[size_t(l)], skip, ensure(merged_[size_t(l)], s),
                     ensure(win_[size_t(l)], s));
      cur = &dec_[size_t(l)]->forward(pol, pass, merged_[size_t(l)]);
    }
    if (post_) {
      const Tensor<T>& s0 = pre_->output();
      const Shape cs{xs.n, cfg_.filters + cfg_.input_filters, xs.h, xs.w};
      concat_channels(*cur, s0, ensure(cat_, cs));
      cur = &post_->forward(pol, pass, cat_);
    }
    last_ = *cur;
    const Shape ls{xs.n, cfg_.classes, xs.h, xs.w};
    conv2d_forward(pass.at(pol, cls_module(), op::conv_fwd(0)), *cur, params_.value(cls_w_),
                   params_.value(cls_b_), ensure(logits_, ls));
    return logits_;
  }

  // dlogits [N, classes, H, W] -> parameter gradients (overwritten on pass.first_micro, else
  // accumulated); dx [N, in_channels, H, W] (overwritten) when not null.
  template <class P>
  void backward(const P& pol, const Pass& pass, const Tensor<T>& dlogits, Tensor<T>* dx = nullptr) {
    using namespace kernels;
    const int L = cfg_.levels;
    expect_shape("FastSurferNet backward", "logit gradient", dlogits.shape(), logits_.shape());
    const GradMode pmode = pass.first_micro ? GradMode::overwrite : GradMode::accumulate;
    const uint32_t cm = cls_module();
    Tensor<T> dw = params_.grad(cls_w_), db = params_.grad(cls_b_);
    conv2d_backward_weight(pass.at(pol, cm, op::conv_wgrad(0)), dlogits, last_, dw, pmode);
    conv2d_backward_bias(pass.at(pol, cm, op::conv_bgrad(0)), dlogits, db, pmode);
    conv2d_backward_data(pass.at(pol, cm, op::conv_dgrad(0)), dlogits, params_.value(cls_w_),
                         ensure(d_last_, last_.shape()), GradMode::overwrite);
    const Tensor<T>* d = &d_last_;
    if (post_) {
      post_->backward(pol, pass, d_last_, ensure(d_cat_, cat_.shape()));
      split_channels(d_cat_, ensure(d_dec_out_, dec_[0]->output().shape()),
                     ensure(d_s0_post_, pre_->output().shape()));
      d = &d_dec_out_;
    }
    for (int l = 0; l < L; ++l) {
      const size_t ul = size_t(l);
      const Shape s = merged_[ul].shape();
      dec_[ul]->backward(pol, pass, *d, ensure(d_merged_[ul], s));
      const uint32_t mod = uint32_t(L + 2 + l);
      maxout_backward(pass.at(pol, mod, op::skip_maxout_bwd), d_merged_[ul], win_[ul],
                      ensure(d_up_[ul], s), ensure(d_enc_[ul], s), GradMode::overwrite);
      // the gradient of the level below: the bottleneck's output for the deepest level
      const Shape below = pooled_[ul].shape();
      Tensor<T>& d_below = ensure(l + 1 < L ? d_below_[ul] : d_bott_, below);
      maxunpool2x2_backward(pass.at(pol, mod, op::unpool_bwd), d_up_[ul], idx_[ul], d_below,
                            GradMode::overwrite);
      d = &d_below;
    }
    bottleneck_->backward(pol, pass, d_bott_,
                          ensure(d_pooled_[size_t(L - 1)], pooled_[size_t(L - 1)].shape()));
    for (int l = L - 1; l >= 0; --l) {
      const size_t ul = size_t(l);
      const uint32_t mod = uint32_t(1 + l);
      // e_l feeds the pool and the skip: add the pool's gradient to the skip's
      maxpool2x2_backward(pass.at(pol, mod, op::pool_bwd), d_pooled_[ul], idx_[ul], d_enc_[ul],
                          GradMode::accumulate);
      Tensor<T>* d_in = nullptr;
      Tensor<T> scratch;
      if (l > 0) {
        d_in = &ensure(d_pooled_[ul - 1], pooled_[ul - 1].shape());
      } else if (pre_) {
        d_in = &ensure(d_s0_, pre_->output().shape());
      } else if (dx) {
        d_in = dx;
      } else {
        d_in = &ensure(d_x_scratch_, x_.shape());
      }
      enc_[ul]->backward(pol, pass, d_enc_[ul], *d_in);
    }
    if (pre_) {
      // s0 feeds encoder level 1 and the output block
      add_inplace(pass.at(pol, 0, op::grad_sum), d_s0_, d_s0_post_);
      pre_->backward(pol, pass, d_s0_, dx ? *dx : ensure(d_x_scratch_, x_.shape()));
    }
  }

 private:
  bool vinn() const { return cfg_.input_filters > 0; }
  uint32_t cls_module() const { return uint32_t(2 * cfg_.levels + 3); }
  std::unique_ptr<CompetitiveBlock<T>> make(BlockKind kind, std::string name, uint32_t module,
                                            int64_t in, int64_t f, const std::vector<int>& ks) {
    return std::make_unique<CompetitiveBlock<T>>(kind, std::move(name), module, in, f, ks, params_,
                                                 stats_);
  }

  NetConfig cfg_;
  ParamStore<T> params_, stats_;
  std::unique_ptr<CompetitiveBlock<T>> pre_, bottleneck_, post_;
  std::vector<std::unique_ptr<CompetitiveBlock<T>>> enc_, dec_;
  int cls_w_ = -1, cls_b_ = -1;
  // forward state
  Tensor<T> x_, last_, cat_, logits_;
  std::vector<Tensor<T>> pooled_, up_, merged_;
  std::vector<Tensor<int32_t>> idx_;
  std::vector<Tensor<uint8_t>> win_;
  // backward scratch
  Tensor<T> d_last_, d_cat_, d_dec_out_, d_s0_post_, d_s0_, d_bott_, d_x_scratch_;
  std::vector<Tensor<T>> d_below_, d_enc_, d_pooled_, d_up_, d_merged_;
};

}  // namespace numens::nn
