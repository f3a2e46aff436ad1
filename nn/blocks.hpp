// The competitive dense blocks of FastSurferCNN / FastSurferVINN with explicit forward and
// backward (llm.c style: forward saves what backward needs, no autograd). Every arithmetic op is
// a kernels/ call with its own MCA site (nn/sites.hpp).
//
// One class covers the three block kinds; n = number of convs (3: FastSurferCNN 1.x with kernels
// k, k, 1; 4: VINN with k, k, k, k), one PReLU slope shared by every activation of the block:
//
//   dense  (CompetitiveDenseBlock)        h = PReLU(x);  c0 = BN1(conv0(h));  m1 = max(x, c0)
//   input  (CompetitiveDenseBlockInput)   h = BN0(x);    c0 = BN1(conv0(h));  m1 = c0
//   output (VINN OutputDenseBlock)        h = PReLU(x);  c0 = BN1(conv0(h));  m1 = c0
//   then for i = 1 .. n-2:  c_i = BN_{i+1}(conv_i(PReLU(m_i)));  m_{i+1} = max(c_i, m_i)
//   and                     out = BN_n(conv_{n-1}(PReLU(m_{n-1})))
//
// The output block's first maxout is max(m_1, c_1) (FastSurfer's argument order); the order only
// decides exact ties, which go wholly to the first argument (kernels/activation.hpp).
// Dense blocks need in_channels == filters (the maxout with the input).
#pragma once

#include <string>
#include <vector>

#include "kernels/activation.hpp"
#include "kernels/batchnorm.hpp"
#include "kernels/conv2d.hpp"
#include "kernels/elementwise.hpp"
#include "nn/params.hpp"
#include "nn/sites.hpp"

namespace numens::nn {

enum class BlockKind : uint8_t { input, dense, output };

// The storage of a layer-owned tensor: reallocated only when the shape changes.
template <class T>
Tensor<T>& ensure(Tensor<T>& t, Shape s) {
  if (!t.defined() || !(t.shape() == s)) t = Tensor<T>::empty(s);
  return t;
}

template <class T>
class CompetitiveBlock {
 public:
  static constexpr int kMaxConvs = 4;

  // Declares the block's parameters ("<name>.conv0.weight", ...) in `params` and its BN running
  // statistics in `stats`.
  CompetitiveBlock(BlockKind kind, std::string name, uint32_t module, int64_t in_channels,
                   int64_t filters, std::vector<int> kernels, ParamStore<T>& params,
                   ParamStore<T>& stats)
      : kind_(kind),
        name_(std::move(name)),
        module_(module),
        in_(in_channels),
        f_(filters),
        k_(std::move(kernels)),
        ps_(&params),
        st_(&stats) {
    const int n = convs();
    if (n < 2 || n > kMaxConvs)
      throw ShapeError(name_ + ": a competitive block needs 2 to 4 convolutions, got " +
                       std::to_string(n));
    if (kind_ == BlockKind::dense && in_ != f_)
      throw ShapeError(name_ + ": a dense block maxes its input with its first conv, so it needs " +
                       "in_channels == filters (got " + std::to_string(in_) + " and " +
                       std::to_string(f_) + ")");
    if (kind_ == BlockKind::input) bn_[0] = declare_bn(0, in_);
    for (int i = 0; i < n; ++i) {
      const int64_t cin = i == 0 ? in_ : f_;
      conv_w_[i] = ps_->add(pname("conv" + std::to_string(i) + ".weight"), {f_, cin, k_[i], k_[i]});
      conv_b_[i] = ps_->add(pname("conv" + std::to_string(i) + ".bias"), {1, f_, 1, 1});
      bn_[i + 1] = declare_bn(i + 1, f_);
    }
    slope_ = ps_->add(pname("prelu.weight"), {1, 1, 1, 1});
  }

  BlockKind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  int convs() const { return int(k_.size()); }
  int64_t in_channels() const { return in_; }
  int64_t filters() const { return f_; }
  // Parameter ids, for initialisation and tests.
  int conv_weight(int i) const { return conv_w_[i]; }
  int conv_bias(int i) const { return conv_b_[i]; }
  int bn_weight(int j) const { return bn_[j].gamma; }
  int bn_bias(int j) const { return bn_[j].beta; }
  int slope() const { return slope_; }
  int kernel(int i) const { return k_[size_t(i)]; }

  // x [N, in, H, W] -> out [N, filters, H, W] (owned by the block, valid until the next forward).
  // x must stay unchanged until backward.
  template <class P>
  const Tensor<T>& forward(const P& pol, const Pass& pass, const Tensor<T>& x) {
    using namespace kernels;
    const Shape xs = x.shape();
    if (xs.c != in_)
      throw ShapeError(name_ + ": input " + xs.str() + " has " + std::to_string(xs.c) +
                       " channels, the block expects " + std::to_string(in_));
    const Shape fs{xs.n, f_, xs.h, xs.w};
    const int n = convs();
    const T slope = ps_->value_ptr(slope_)[0];
    x_ = x;
    // head
    ensure(head_, xs);
    if (kind_ == BlockKind::input) {
      bn_forward(pol, pass, 0, x, head_);
    } else {
      prelu_forward(pass.at(pol, module_, op::prelu_fwd(0)), x, slope, head_);
    }
    for (int i = 0; i < n; ++i) {
      const Tensor<T>& a = i == 0 ? head_ : ensure(a_[i], fs);
      if (i > 0) prelu_forward(pass.at(pol, module_, op::prelu_fwd(i)), m_[i], slope, a_[i]);
      ensure(z_[i], fs);
      conv2d_forward(pass.at(pol, module_, op::conv_fwd(i)), a, ps_->value(conv_w_[i]),
                     ps_->value(conv_b_[i]), z_[i]);
      ensure(c_[i], fs);
      bn_forward(pol, pass, i + 1, z_[i], c_[i]);
      if (i == n - 1) break;
      // m_{i+1}
      if (i == 0) {
        if (kind_ == BlockKind::dense) {
          maxout_forward(x, c_[0], ensure(m_[1], fs), ensure(win_[1], fs));
        } else {
          m_[1] = c_[0];  // no maxout: m_1 is c_0 itself
        }
      } else if (kind_ == BlockKind::output && i == 1) {
        maxout_forward(m_[1], c_[1], ensure(m_[2], fs), ensure(win_[2], fs));
      } else {
        maxout_forward(c_[i], m_[i], ensure(m_[i + 1], fs), ensure(win_[i + 1], fs));
      }
    }
    return c_[n - 1];
  }

  const Tensor<T>& output() const { return c_[convs() - 1]; }

  // dout [N, filters, H, W] -> dx [N, in, H, W] (overwritten). Parameter gradients are
  // overwritten on the first micro-batch (pass.first_micro) and accumulated after.
  //
  // The shared slope collects one gradient per PReLU use; they are summed in backward order
  // (use n-1 first, the head last) into a block-local scalar, which then overwrites or is added
  // to the slope's gradient. Kernels take one GradMode for their input gradient and their
  // parameter gradient, so where the two differ the parameter part goes through a scratch
  // tensor and kernels::add_inplace.
  template <class P>
  void backward(const P& pol, const Pass& pass, const Tensor<T>& dout, Tensor<T>& dx) {
    using namespace kernels;
    const Shape xs = x_.shape();
    const Shape fs{xs.n, f_, xs.h, xs.w};
    expect_shape(name_.c_str(), "output gradient", dout.shape(), fs);
    expect_shape(name_.c_str(), "input gradient", dx.shape(), xs);
    const int n = convs();
    const GradMode pmode = pass.first_micro ? GradMode::overwrite : GradMode::accumulate;
    const T slope = ps_->value_ptr(slope_)[0];
    const Shape one{1, 1, 1, 1};
    T& ds = ensure(ds_, one).data()[0];
    ensure(dz_, fs);
    ensure(da_, fs);
    for (int i = n - 1; i >= 0; --i) {
      const Tensor<T>& dc = i == n - 1                            ? dout
                            : i == 0 && kind_ != BlockKind::dense ? dm_[1]
                                                                  : dc_[i];
      bn_backward(pol, pass, i + 1, dc, z_[i], dz_);
      const Tensor<T>& a = i == 0 ? head_ : a_[i];
      Tensor<T>& da = i == 0 ? ensure(dhead_, xs) : da_;
      Tensor<T> dw = ps_->grad(conv_w_[i]), db = ps_->grad(conv_b_[i]);
      conv2d_backward_weight(pass.at(pol, module_, op::conv_wgrad(i)), dz_, a, dw, pmode);
      conv2d_backward_bias(pass.at(pol, module_, op::conv_bgrad(i)), dz_, db, pmode);
      conv2d_backward_data(pass.at(pol, module_, op::conv_dgrad(i)), dz_, ps_->value(conv_w_[i]),
                           da, GradMode::overwrite);
      if (i == 0) break;
      // a_i = PReLU(m_i); m_i also feeds the maxout making m_{i+1}, whose gradient is already in
      // dm_[i] for i < n-1.
      const GradMode acc = i < n - 1 ? GradMode::accumulate : GradMode::overwrite;
      prelu_backward(pass.at(pol, module_, op::prelu_bwd(i)), da, m_[i], slope, ensure(dm_[i], fs),
                     ds, acc);
      if (i >= 2) {
        const auto bp = pass.at(pol, module_, op::maxout_bwd(i));
        ensure(dc_[i - 1], fs);
        ensure(dm_[i - 1], fs);
        if (kind_ == BlockKind::output && i == 2) {
          maxout_backward(bp, dm_[2], win_[2], dm_[1], dc_[1], GradMode::overwrite);
        } else {
          maxout_backward(bp, dm_[i], win_[i], dc_[i - 1], dm_[i - 1], GradMode::overwrite);
        }
      } else if (kind_ == BlockKind::dense) {  // i == 1: m_1 = max(x, c_0)
        maxout_backward(pass.at(pol, module_, op::maxout_bwd(1)), dm_[1], win_[1], dx,
                        ensure(dc_[0], fs), GradMode::overwrite);
      }
    }
    // head, with dhead_ = dL/dh
    if (kind_ == BlockKind::input) {
      bn_backward(pol, pass, 0, dhead_, x_, dx);
    } else if (kind_ == BlockKind::dense) {  // dx holds the maxout part already
      prelu_backward(pass.at(pol, module_, op::prelu_bwd(0)), dhead_, x_, slope, dx, ds,
                     GradMode::accumulate);
    } else {  // output block: dx is fresh, the slope part is summed separately
      T& ds_head = ensure(ds_head_, one).data()[0];
      prelu_backward(pass.at(pol, module_, op::prelu_bwd(0)), dhead_, x_, slope, dx, ds_head,
                     GradMode::overwrite);
      add_inplace(pass.at(pol, module_, op::slope_sum), ds_, ds_head_);
    }
    Tensor<T> gslope = ps_->grad(slope_);
    if (pass.first_micro) {
      gslope.data()[0] = ds;
    } else {
      add_inplace(pass.at(pol, module_, op::slope_accumulate), gslope, ds_);
    }
  }

 private:
  struct Bn {
    int gamma = -1, beta = -1, mean = -1, var = -1;
  };

  std::string pname(const std::string& leaf) const { return name_ + "." + leaf; }
  Bn declare_bn(int j, int64_t c) {
    const std::string b = "bn" + std::to_string(j) + ".";
    return {ps_->add(pname(b + "weight"), {1, c, 1, 1}), ps_->add(pname(b + "bias"), {1, c, 1, 1}),
            st_->add(pname(b + "running_mean"), {1, c, 1, 1}),
            st_->add(pname(b + "running_var"), {1, c, 1, 1})};
  }

  template <class P>
  void bn_forward(const P& pol, const Pass& pass, int j, const Tensor<T>& x, Tensor<T>& y) {
    using namespace kernels;
    const Bn& b = bn_[j];
    const Tensor<T> gamma = ps_->value(b.gamma), beta = ps_->value(b.beta);
    Tensor<T> rm = st_->value(b.mean), rv = st_->value(b.var);
    if (pass.training) {
      const Shape cs{1, x.shape().c, 1, 1};
      batchnorm2d_forward_train(pass.at(pol, module_, op::bn_train(j)), x, gamma, beta, rm, rv,
                                ensure(mean_[j], cs), ensure(invstd_[j], cs), y);
    } else {
      batchnorm2d_forward_eval(pass.at(pol, module_, op::bn_eval(j)), x, gamma, beta, rm, rv, y);
    }
  }

  template <class P>
  void bn_backward(const P& pol, const Pass& pass, int j, const Tensor<T>& dy, const Tensor<T>& x,
                   Tensor<T>& dx) {
    if (!pass.training)
      throw Error(name_ + ": backward after an inference forward (BN used running statistics)");
    const Bn& b = bn_[j];
    Tensor<T> dgamma = ps_->grad(b.gamma), dbeta = ps_->grad(b.beta);
    const auto bp = pass.at(pol, module_, op::bn_bwd(j));
    const Tensor<T> gamma = ps_->value(b.gamma);
    if (pass.first_micro) {
      kernels::batchnorm2d_backward(bp, dy, x, gamma, mean_[j], invstd_[j], dx, dgamma, dbeta,
                                    kernels::GradMode::overwrite);
      return;
    }
    // dx is fresh but the parameter gradients accumulate: compute them apart, then add.
    const Shape cs = gamma.shape();
    kernels::batchnorm2d_backward(bp, dy, x, gamma, mean_[j], invstd_[j], dx, ensure(tg_, cs),
                                  ensure(tb_, cs), kernels::GradMode::overwrite);
    kernels::add_inplace(pass.at(pol, module_, op::bn_accumulate(j, 0)), dgamma, tg_);
    kernels::add_inplace(pass.at(pol, module_, op::bn_accumulate(j, 1)), dbeta, tb_);
  }

  BlockKind kind_;
  std::string name_;
  uint32_t module_;
  int64_t in_, f_;
  std::vector<int> k_;
  ParamStore<T>* ps_;
  ParamStore<T>* st_;
  int conv_w_[kMaxConvs] = {-1, -1, -1, -1}, conv_b_[kMaxConvs] = {-1, -1, -1, -1};
  Bn bn_[kMaxConvs + 1];
  int slope_ = -1;

  // saved by forward
  Tensor<T> x_, head_;
  Tensor<T> a_[kMaxConvs], z_[kMaxConvs], c_[kMaxConvs], m_[kMaxConvs];
  Tensor<uint8_t> win_[kMaxConvs];
  Tensor<T> mean_[kMaxConvs + 1], invstd_[kMaxConvs + 1];
  // backward scratch
  Tensor<T> dz_, da_, dhead_, dc_[kMaxConvs], dm_[kMaxConvs];
  Tensor<T> ds_, ds_head_, tg_, tb_;
};

}  // namespace numens::nn
