#include "kernels/elementwise_fast.hpp"

#include <algorithm>
#include <atomic>

#include "kernels/activation_impl.hpp"
#include "kernels/batchnorm_impl.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/elementwise_impl.hpp"
#include "kernels/loss_impl.hpp"
#include "kernels/optim_impl.hpp"
#include "mca/batch.hpp"
#include "mca/sr_lanes.hpp"

namespace numens::kernels {

namespace {
std::atomic<ElementwiseCpuImpl> g_impl{ElementwiseCpuImpl::fast};
}  // namespace

void set_elementwise_cpu_impl(ElementwiseCpuImpl impl) {
  g_impl.store(impl);
}
ElementwiseCpuImpl elementwise_cpu_impl() {
  return g_impl.load();
}

}  // namespace numens::kernels

namespace numens::kernels::detail {

#if defined(__AVX2__) && defined(__FMA__)

namespace {

constexpr int64_t kRun = 256;  // elements per run: the draws of a run stay in L1

// Draws of one run: u[k][l] = stream.ur(e0 + l, k, r, 0).
template <int K>
struct RunDraws {
  alignas(64) uint32_t u[K][kRun + 8];
  void fill(const mca::Sr& pol, uint64_t e0, int64_t len, int draws) {
    for (int k = 0; k < draws; ++k)
      mca::draws_r32(pol.stream, pol.sr_bits, e0, uint32_t(k), u[k], size_t(len));
  }
};

// Elements [0, planes * plane) of a kernel whose element i lives in channel (i / plane) % channels
// and draws as element elem0 + i: runs of up to kRun elements inside one plane, `draws` draw
// indices generated per run, then quad(c, i, e, u, l) for the run's four-element groups and
// ref(i) for its last len % 4 elements.
template <int K, class Quad, class Ref>
void runs(const mca::Sr& pol, int64_t planes, int64_t plane, int64_t channels, uint64_t elem0,
          int draws, const Quad& quad, const Ref& ref) {
  const int64_t per = (plane + kRun - 1) / kRun;
#pragma omp parallel
  {
    RunDraws<K> rd;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < planes * per; ++t) {
      const int64_t pl = t / per, c = pl % channels;
      const int64_t i0 = pl * plane + (t % per) * kRun;
      const int64_t len = std::min<int64_t>(kRun, (pl + 1) * plane - i0);
      const uint64_t e0 = elem0 + uint64_t(i0);
      rd.fill(pol, e0, len, draws);
      int64_t l = 0;
      for (; l + 4 <= len; l += 4) quad(c, i0 + l, e0 + uint64_t(l), rd.u, l);
      for (; l < len; ++l) ref(i0 + l);
    }
  }
}

template <int K, class Quad, class Ref>
void per_channel_runs(const mca::Sr& pol, const BnGeom& g, int draws, const Quad& quad,
                      const Ref& ref) {
  runs<K>(pol, g.n * g.c, g.plane, g.c, g.elem0(), draws, quad, ref);
}

}  // namespace

bool elementwise_sr_fast_available(const mca::Sr& pol) {
  return elementwise_cpu_impl() == ElementwiseCpuImpl::fast && mca::simd::SrLanes::applies(pol);
}

void run(const BnNormalize<mca::Sr, float>& ref) {
  const mca::Sr& pol = ref.pol;
  const BnGeom& g = ref.g;
  const float *x = ref.x, *mean = ref.mean, *invstd = ref.invstd, *gamma = ref.gamma,
              *beta = ref.beta;
  float* y = ref.y;
  const mca::simd::SrLanes L(pol);
  // sub (draw 0), mul (1), fma (2, and 3 when split)
  per_channel_runs<4>(
      pol, g, pol.fused ? 3 : 4,
      [&](int64_t c, int64_t i, uint64_t e, const uint32_t(*u)[kRun + 8], int64_t l) {
        const __m128 d = L.sub(_mm_loadu_ps(x + i), _mm_set1_ps(mean[c]), u[0] + l, e, 0);
        const __m128 xhat = L.mul(d, _mm_set1_ps(invstd[c]), u[1] + l, e, 1);
        _mm_storeu_ps(y + i, L.fma(xhat, _mm_set1_ps(gamma[c]), _mm_set1_ps(beta[c]), u[2] + l,
                                   u[3] + l, e, 2));
      },
      ref);
}

void run(const BnBwdInput<mca::Sr, float>& ref) {
  const mca::Sr& pol = ref.pol;
  const BnGeom& g = ref.g;
  const float *dy = ref.dy, *x = ref.x, *mean = ref.mean, *invstd = ref.invstd,
              *sum_dy = ref.sum_dy, *sum_dyx = ref.sum_dyx, *scale = ref.scale;
  float* dx = ref.dx;
  const bool accumulate = ref.accumulate;
  const mca::simd::SrLanes L(pol);
  const __m128 m = _mm_set1_ps(float(g.m()));
  // The functor's order: sub 0, mul 1 (xhat); mul 2, sub 3 (M dy - sum dy); mul 4 (xhat sum dyx);
  // sub 5 (inner); mul 6 (scale inner); add 7 when accumulating.
  per_channel_runs<8>(
      pol, g, accumulate ? 8 : 7,
      [&](int64_t c, int64_t i, uint64_t e, const uint32_t(*u)[kRun + 8], int64_t l) {
        const __m128 xc = L.sub(_mm_loadu_ps(x + i), _mm_set1_ps(mean[c]), u[0] + l, e, 0);
        const __m128 xhat = L.mul(xc, _mm_set1_ps(invstd[c]), u[1] + l, e, 1);
        const __m128 mdy = L.mul(m, _mm_loadu_ps(dy + i), u[2] + l, e, 2);
        const __m128 m_dy = L.sub(mdy, _mm_set1_ps(sum_dy[c]), u[3] + l, e, 3);
        const __m128 xhat_dg = L.mul(xhat, _mm_set1_ps(sum_dyx[c]), u[4] + l, e, 4);
        const __m128 inner = L.sub(m_dy, xhat_dg, u[5] + l, e, 5);
        const __m128 gi = L.mul(_mm_set1_ps(scale[c]), inner, u[6] + l, e, 6);
        _mm_storeu_ps(dx + i, accumulate ? L.add(_mm_loadu_ps(dx + i), gi, u[7] + l, e, 7) : gi);
      },
      ref);
}

// Draw index of term q's first own operation in one channel's sequential sums (batch norm
// statistics): each term first takes `own` draws of its own (the element-wise operations whose
// results the sums add), then feeds `sums` accumulators (mca/accumulate.hpp). At op granularity the
// accumulations take draws every term (`per_term` draws per term in all); at tile:k each
// accumulator takes one draw when it flushes, after terms k - 1, 2k - 1, ... (all flush together).
struct TermDraws {
  uint32_t own, per_term, sums;
  int tile;
  uint32_t at(uint64_t q) const {
    return uint32_t(tile <= 1 ? q * per_term : q * own + sums * (q / uint64_t(tile)));
  }
};

// Channel c's terms in order (n, q), in runs of up to kRun inside one plane: the draws of the run
// generated first (one Philox block per draw: they are one element's), then four(i, k, u, l) with
// each four terms' draw indices and draws (own draw o of lane b: u[o][b], index k[b] + o), one(i,
// k, l) for a run's last len % 4 terms, and sum(i, k, l) for every term of the run in order.
template <class Four, class One, class Sum>
void channel_terms(const mca::Sr& pol, const BnGeom& g, int64_t c, uint64_t element,
                   const TermDraws& td, uint32_t* run, const Four& four, const One& one,
                   const Sum& sum) {
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t q0 = 0; q0 < g.plane; q0 += kRun) {
      const int64_t len = std::min<int64_t>(kRun, g.plane - q0);
      const int64_t base = (n * g.c + c) * g.plane + q0;
      const uint64_t qg = uint64_t(n * g.plane + q0);
      const uint32_t j0 = td.at(qg), jn = td.at(qg + uint64_t(len - 1)) + td.own;
      mca::draw_run_r32(pol.stream, pol.sr_bits, element, j0, run, jn - j0);
      alignas(16) uint32_t k[4], u[2][4];
      int64_t l = 0;
      for (; l + 4 <= len; l += 4) {
        for (int b = 0; b < 4; ++b) {
          k[b] = td.at(qg + uint64_t(l + b));
          for (uint32_t o = 0; o < td.own; ++o) u[o][b] = run[k[b] + o - j0];
        }
        four(base + l, k, u, l);
      }
      for (; l < len; ++l) one(base + l, td.at(qg + uint64_t(l)), l);
      for (l = 0; l < len; ++l) sum(base + l, td.at(qg + uint64_t(l)), l);
    }
}

constexpr int64_t kRunDraws = 5 * kRun + 16;  // at most 5 draws per term (op granularity, split)

__m128i load_u(const uint32_t* u) {
  return _mm_load_si128(reinterpret_cast<const __m128i*>(u));
}

// body(c, run) for every channel c of g, channels split over the threads; `run` is a thread's
// buffer for channel_terms' draws.
template <class Body>
void for_channels(const BnGeom& g, const Body& body) {
#pragma omp parallel
  {
    alignas(64) uint32_t run[kRunDraws];
#pragma omp for schedule(static)
    for (int64_t c = 0; c < g.c; ++c) body(c, run);
  }
}

void run(const BnTrainStats<mca::Sr, float>& ref) {
  const mca::Sr& pol = ref.pol;
  const mca::simd::SrLanes L(pol);
  // The variance pass: term q is dev = x - mean (own draw 0), then sq += dev dev.
  const TermDraws td{1, pol.fused ? 2u : 3u, 1, pol.tile};
  for_channels(ref.g, [&](int64_t c, uint32_t* run) {
    alignas(64) float dev[kRun];
    const float mean = ref.channel_mean(c);
    const uint64_t e = bn_channel_element(c, 1);
    mca::Draws dv = pol.draws(e);
    mca::Accumulator<mca::Sr, float> sq(0.0f);
    const __m128 mv = _mm_set1_ps(mean);
    channel_terms(
        pol, ref.g, c, e, td, run,
        [&](int64_t i, const uint32_t* k, const uint32_t(*u)[4], int64_t l) {
          _mm_store_ps(dev + l, L.op<1>(_mm_loadu_ps(ref.x + i), mv, load_u(u[0]),
                                        [&](int b) { return pol.draws(e, k[b]); }));
        },
        [&](int64_t i, uint32_t k, int64_t l) {
          mca::Draws d = pol.draws(e, k);
          dev[l] = ref.deviation(i, mean, d);
        },
        [&](int64_t, uint32_t k, int64_t l) {
          dv.next = k + 1;
          sq.fma(pol, dev[l], dev[l], dv);
        });
    ref.finish(c, mean, sq.result(pol, dv));
  });
}

void run(const BnBwdStats<mca::Sr, float>& ref) {
  const mca::Sr& pol = ref.pol;
  const mca::simd::SrLanes L(pol);
  // Term q: xhat = (x - mean) invstd (own draws 0, 1), then sum_dy += dy, sum_dyx += dy xhat.
  const TermDraws td{2, pol.fused ? 4u : 5u, 2, pol.tile};
  for_channels(ref.g, [&](int64_t c, uint32_t* run) {
    alignas(64) float xhat[kRun];
    const uint64_t e = bn_channel_element(c, 3);
    mca::Draws d = pol.draws(e);
    mca::Accumulator<mca::Sr, float> sdy(0.0f), sdyx(0.0f);
    const __m128 mv = _mm_set1_ps(ref.mean[c]), iv = _mm_set1_ps(ref.invstd[c]);
    channel_terms(
        pol, ref.g, c, e, td, run,
        [&](int64_t i, const uint32_t* k, const uint32_t(*u)[4], int64_t l) {
          const __m128 xc = L.op<1>(_mm_loadu_ps(ref.x + i), mv, load_u(u[0]),
                                    [&](int b) { return pol.draws(e, k[b]); });
          _mm_store_ps(xhat + l, L.op<2>(xc, iv, load_u(u[1]),
                                         [&](int b) { return pol.draws(e, k[b] + 1); }));
        },
        [&](int64_t i, uint32_t k, int64_t l) {
          mca::Draws dd = pol.draws(e, k);
          xhat[l] = ref.xhat(c, i, dd);
        },
        [&](int64_t i, uint32_t k, int64_t l) {
          d.next = k + 2;
          sdy.add(pol, ref.dy[i], d);
          sdyx.fma(pol, ref.dy[i], xhat[l], d);
        });
    const float s1 = sdy.result(pol, d);
    const float s2 = sdyx.result(pol, d);
    ref.finish(c, s1, s2);
  });
}

// ---- per-pixel functors over classes (kernels/loss_impl.hpp) -----------------------------------
// Four adjacent pixels of one plane run the same sequence of operations over the classes, so the
// path runs a whole run of up to kPix pixels op by op (the draws of one op for the run in one
// generator call) with the pixels' running values in small arrays.
constexpr int64_t kPix = 64;

// mca::Accumulator for the pixels of a run (they share one cursor position k): op granularity adds
// each term with an SR add, tile:k sums k terms to nearest and adds the partial sum.
struct RunSum {
  alignas(64) float acc[kPix];
  alignas(64) float part[kPix];
  int n = 0;

  void reset() {
    std::fill(acc, acc + kPix, 0.0f);
    std::fill(part, part + kPix, 0.0f);
    n = 0;
  }
  void add(const mca::simd::SrLanes& L, const float* term, int64_t stride, int64_t len, uint64_t e0,
           uint32_t& k, uint32_t* u) {
    const mca::Sr& pol = L.policy();
    if (pol.tile <= 1) {
      mca::draws_r32(pol.stream, pol.sr_bits, e0, k, u, size_t(len));
      for (int64_t l = 0; l < len; l += 4)
        _mm_store_ps(acc + l, L.add(_mm_load_ps(acc + l), _mm_loadu_ps(term + l * stride), u + l,
                                    e0 + uint64_t(l), k));
      ++k;
      return;
    }
    for (int64_t l = 0; l < len; ++l) part[l] = part[l] + term[l * stride];
    if (++n == pol.tile) flush(L, len, e0, k, u);
  }
  void flush(const mca::simd::SrLanes& L, int64_t len, uint64_t e0, uint32_t& k, uint32_t* u) {
    if (n == 0) return;
    const mca::Sr& pol = L.policy();
    mca::draws_r32(pol.stream, pol.sr_bits, e0, k, u, size_t(len));
    for (int64_t l = 0; l < len; l += 4)
      _mm_store_ps(acc + l,
                   L.add(_mm_load_ps(acc + l), _mm_load_ps(part + l), u + l, e0 + uint64_t(l), k));
    ++k;
    std::fill(part, part + kPix, 0.0f);
    n = 0;
  }
};

// Runs of up to kPix pixels inside one plane, len rounded down to a multiple of 4 for pix(px0,
// len4) and the functor for the rest.
template <class Pix, class Ref>
void pixel_runs(int64_t pixels, int64_t plane, const Pix& pix, const Ref& ref) {
  const int64_t per = (plane + kPix - 1) / kPix, planes = pixels / plane;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < planes * per; ++t) {
    const int64_t q0 = (t % per) * kPix, len = std::min<int64_t>(kPix, plane - q0);
    const int64_t px0 = (t / per) * plane + q0, len4 = len & ~int64_t(3);
    if (len4 > 0) pix(px0, len4);
    for (int64_t l = len4; l < len; ++l) ref(px0 + l);
  }
}

void run(const SoftmaxPixel<mca::Sr, float>& ref, int64_t pixels) {
  const mca::Sr& pol = ref.pol;
  const PixelGeom g = ref.g;
  const mca::simd::SrLanes L(pol);
  pixel_runs(
      pixels, g.plane,
      [&](int64_t px0, int64_t len) {
        const float* z = ref.logits + g.offset(px0);
        float* p = ref.probs + g.offset(px0);
        const uint64_t e0 = uint64_t(px0);
        alignas(64) uint32_t u[kPix];
        alignas(64) float mx[kPix], d[kPix];
        RunSum sum;
        sum.reset();
        auto draws = [&](uint32_t k) {
          mca::draws_r32(pol.stream, pol.sr_bits, e0, k, u, size_t(len));
        };
        for (int64_t l = 0; l < len; l += 4) {
          __m128 m = _mm_loadu_ps(z + l);
          for (int64_t c = 1; c < g.c; ++c) {  // the functor's max: z > mx ? z : mx (NaN skipped)
            const __m128 zc = _mm_loadu_ps(z + c * g.plane + l);
            m = _mm_blendv_ps(m, zc, _mm_cmpgt_ps(zc, m));
          }
          _mm_store_ps(mx + l, m);
        }
        uint32_t k = 0;
        for (int64_t c = 0; c < g.c; ++c) {
          float* pc = p + c * g.plane;
          draws(k);
          for (int64_t l = 0; l < len; l += 4)
            _mm_store_ps(d + l, L.sub(_mm_loadu_ps(z + c * g.plane + l), _mm_load_ps(mx + l), u + l,
                                      e0 + uint64_t(l), k));
          draws(++k);
          for (int64_t l = 0; l < len; l += 4)
            _mm_storeu_ps(pc + l, L.exp(_mm_load_ps(d + l), u + l, e0 + uint64_t(l), k));
          ++k;
          sum.add(L, pc, 1, len, e0, k, u);
        }
        sum.flush(L, len, e0, k, u);
        for (int64_t c = 0; c < g.c; ++c, ++k) {
          float* pc = p + c * g.plane;
          draws(k);
          for (int64_t l = 0; l < len; l += 4)
            _mm_storeu_ps(pc + l, L.div(_mm_loadu_ps(pc + l), _mm_load_ps(sum.acc + l), u + l,
                                        e0 + uint64_t(l), k));
        }
        if (ref.lse != nullptr)  // two operations per pixel: the scalar policy
          for (int64_t l = 0; l < len; ++l) {
            mca::Draws dd = pol.draws(e0 + uint64_t(l), k);
            ref.lse[px0 + l] = ref.log_partition(mx[l], sum.acc[l], dd);
          }
      },
      ref);
}

// The CE + Dice gradient. A pixel's draw index depends on its label: the class equal to it takes
// one more operation in each loop over the classes (2 u - 2 I, and p - 1). So lane b's operation
// at relative index rel of a class sits at base + rel + off[b], off = 1 once the lane has passed
// its label class: the run's draws of indices base .. base + 7 are generated per class and each
// lane takes its own.
struct LaneDraws {
  alignas(64) uint32_t U[8][kPix];
  const mca::Sr* pol;
  uint64_t e0;
  int64_t len;
  uint32_t base = 0;

  void gen(uint32_t b, int n) {
    base = b;
    for (int i = 0; i < n; ++i)
      mca::draws_r32(pol->stream, pol->sr_bits, e0, b + uint32_t(i), U[i], size_t(len));
  }
  // Draws and cursors of lanes l .. l + 3 at base + rel + off (off: all-ones lanes add one).
  struct Pick {
    __m128i u;
    const mca::Sr* pol;
    uint64_t e;
    uint32_t k[4];
    mca::Draws operator()(int b) const { return pol->draws(e + uint64_t(b), k[b]); }
  };
  Pick pick(int64_t l, int rel, __m128i off) const {
    Pick p;
    p.u = _mm_blendv_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(U[rel] + l)),
                          _mm_load_si128(reinterpret_cast<const __m128i*>(U[rel + 1] + l)), off);
    p.pol = pol;
    p.e = e0 + uint64_t(l);
    const int m = _mm_movemask_ps(_mm_castsi128_ps(off));
    for (int b = 0; b < 4; ++b) p.k[b] = base + uint32_t(rel) + uint32_t((m >> b) & 1);
    return p;
  }
};

void run(const LossGradPixel<mca::Sr, float>& ref, int64_t pixels) {
  const mca::Sr& pol = ref.pol;
  const PixelGeom g = ref.g;
  const int64_t C = g.c;
  const mca::simd::SrLanes L(pol);
  const bool op_level = pol.tile <= 1;
  pixel_runs(
      pixels, g.plane,
      [&](int64_t px0, int64_t len) {
        const int32_t* lab = ref.labels + px0;
        for (int64_t l = 0; l < len; ++l)
          if (lab[l] < 0 || lab[l] >= C) {  // labels the loss rejects: the functor decides
            for (int64_t i = 0; i < len; ++i) ref(px0 + i);
            return;
          }
        const float* p = ref.probs + g.offset(px0);
        float* dz = ref.dlogits + g.offset(px0);
        // L's op with the draw and cursor of a LaneDraws::Pick
        auto op = [&]<int Op>(__m128 x, __m128 y, const LaneDraws::Pick& pc) {
          return L.op<Op>(x, y, pc.u, pc);
        };
        LaneDraws D;
        D.pol = &pol;
        D.e0 = ref.element0 + uint64_t(px0);
        D.len = len;
        alignas(64) float inv_c[kPix], acc[kPix], part[kPix], dot[kPix], wm[kPix];
        const __m128 two = _mm_set1_ps(2.0f), zero = _mm_setzero_ps(), one = _mm_set1_ps(1.0f);
        D.gen(0, 1);
        for (int64_t l = 0; l < len; l += 4) {
          _mm_store_ps(inv_c + l, L.div(_mm_set1_ps(-1.0f), _mm_set1_ps(float(C)), D.U[0] + l,
                                        D.e0 + uint64_t(l), 0));
          _mm_store_ps(acc + l, zero);
          _mm_store_ps(part + l, zero);
        }
        // Loop 1: dp_c = (1/C)' (num / u^2), accumulated into dot = sum p_c dp_c.
        uint32_t b = 1;
        int n = 0;  // terms in the current tile
        for (int64_t c = 0; c < C; ++c) {
          const __m128 uc = _mm_set1_ps(ref.uni[c]), ic = _mm_set1_ps(ref.inter[c]);
          const bool flush = !op_level && n + 1 == pol.tile;
          D.gen(b, 8);
          const __m128i cv = _mm_set1_epi32(int32_t(c));
          for (int64_t l = 0; l < len; l += 4) {
            const __m128i lv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(lab + l));
            const __m128i is = _mm_cmpeq_epi32(lv, cv), before = _mm_cmpgt_epi32(cv, lv);
            const __m128i off = _mm_or_si128(before, is);
            auto pk = [&](int rel, __m128i o) { return D.pick(l, rel, o); };
            const __m128 two_i = op.template operator()<2>(two, ic, pk(0, before));
            __m128 a = zero;
            if (_mm_movemask_ps(_mm_castsi128_ps(is)))
              a = _mm_blendv_ps(zero, op.template operator()<2>(two, uc, pk(1, before)),
                                _mm_castsi128_ps(is));
            const __m128 num = op.template operator()<1>(a, two_i, pk(1, off));
            const __m128 uu = op.template operator()<2>(uc, uc, pk(2, off));
            const LaneDraws::Pick pd = pk(3, off);
            const __m128 q = L.div(num, uu, pd.u, pd);
            const __m128 dp = op.template operator()<2>(_mm_load_ps(inv_c + l), q, pk(4, off));
            _mm_storeu_ps(dz + c * g.plane + l, dp);
            const __m128 pc = _mm_loadu_ps(p + c * g.plane + l);
            if (op_level) {
              __m128 r;
              if (pol.fused) {
                const LaneDraws::Pick pf = pk(5, off);
                r = L.fma_fused(pc, dp, _mm_load_ps(acc + l), pf.u, pf);
              } else {
                r = op.template operator()<0>(op.template operator()<2>(pc, dp, pk(5, off)),
                                              _mm_load_ps(acc + l), pk(6, off));
              }
              _mm_store_ps(acc + l, r);
            } else {
              const __m128 pt = _mm_load_ps(part + l);
              const __m128 np =
                  pol.fused ? _mm_fmadd_ps(pc, dp, pt) : _mm_add_ps(pt, _mm_mul_ps(pc, dp));
              if (flush) {
                _mm_store_ps(acc + l,
                             op.template operator()<0>(_mm_load_ps(acc + l), np, pk(5, off)));
                _mm_store_ps(part + l, zero);
              } else {
                _mm_store_ps(part + l, np);
              }
            }
          }
          b += 5 + (op_level ? (pol.fused ? 1 : 2) : (flush ? 1 : 0));
          n = flush ? 0 : n + 1;
        }
        // Every lane has passed its label: one common index again.
        uint32_t k = b + 1;
        if (!op_level && n > 0) {
          D.gen(k, 1);
          for (int64_t l = 0; l < len; l += 4)
            _mm_store_ps(acc + l, L.add(_mm_load_ps(acc + l), _mm_load_ps(part + l), D.U[0] + l,
                                        D.e0 + uint64_t(l), k));
          ++k;
        }
        std::copy(acc, acc + len, dot);
        D.gen(k, 1);
        for (int64_t l = 0; l < len; l += 4)
          _mm_store_ps(wm + l,
                       L.div(_mm_loadu_ps(ref.weights + px0 + l), _mm_set1_ps(float(ref.pixels)),
                             D.U[0] + l, D.e0 + uint64_t(l), k));
        ++k;
        // Loop 2: dz_c = p_c (dz_c - dot) + wm (p_c - t_c).
        for (int64_t c = 0; c < C; ++c, k += 4) {
          D.gen(k, 5);
          const __m128i cv = _mm_set1_epi32(int32_t(c));
          for (int64_t l = 0; l < len; l += 4) {
            const __m128i lv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(lab + l));
            const __m128i is = _mm_cmpeq_epi32(lv, cv), before = _mm_cmpgt_epi32(cv, lv);
            const __m128i off = _mm_or_si128(before, is);
            const __m128 pc = _mm_loadu_ps(p + c * g.plane + l);
            const __m128 s1 = op.template operator()<1>(_mm_loadu_ps(dz + c * g.plane + l),
                                                        _mm_load_ps(dot + l), D.pick(l, 0, before));
            const __m128 dice_g = op.template operator()<2>(pc, s1, D.pick(l, 1, before));
            __m128 t = pc;
            if (_mm_movemask_ps(_mm_castsi128_ps(is)))
              t = _mm_blendv_ps(pc, op.template operator()<1>(pc, one, D.pick(l, 2, before)),
                                _mm_castsi128_ps(is));
            const __m128 ce_g =
                op.template operator()<2>(_mm_load_ps(wm + l), t, D.pick(l, 2, off));
            _mm_storeu_ps(dz + c * g.plane + l,
                          op.template operator()<0>(dice_g, ce_g, D.pick(l, 3, off)));
          }
        }
      },
      ref);
}

// ---- flat element-wise functors: element i draws as element i
// ------------------------------------
void run(const AddElement<mca::Sr, float>& ref, int64_t n) {
  const mca::simd::SrLanes L(ref.pol);
  runs<1>(
      ref.pol, 1, n, 1, 0, 1,
      [&](int64_t, int64_t i, uint64_t e, const uint32_t(*u)[kRun + 8], int64_t l) {
        _mm_storeu_ps(ref.y + i,
                      L.add(_mm_loadu_ps(ref.y + i), _mm_loadu_ps(ref.x + i), u[0] + l, e, 0));
      },
      ref);
}

void run(const ScaleElement<mca::Sr, float>& ref, int64_t n) {
  const mca::simd::SrLanes L(ref.pol);
  const __m128 alpha = _mm_set1_ps(ref.alpha);
  runs<1>(
      ref.pol, 1, n, 1, 0, 1,
      [&](int64_t, int64_t i, uint64_t e, const uint32_t(*u)[kRun + 8], int64_t l) {
        _mm_storeu_ps(ref.x + i, L.mul(alpha, _mm_loadu_ps(ref.x + i), u[0] + l, e, 0));
      },
      ref);
}

void run(const MaxoutBwd<mca::Sr, float>& ref, int64_t n) {
  const mca::simd::SrLanes L(ref.pol);
  runs<2>(
      ref.pol, 1, n, 1, 0, ref.accumulate ? 2 : 0,
      [&](int64_t, int64_t i, uint64_t e, const uint32_t(*u)[kRun + 8], int64_t l) {
        // winner 0 takes dy for a, else for b
        const __m128i w =
            _mm_cvtepu8_epi32(_mm_cvtsi32_si128(*reinterpret_cast<const int32_t*>(ref.winner + i)));
        const __m128 to_a = _mm_castsi128_ps(_mm_cmpeq_epi32(w, _mm_setzero_si128()));
        const __m128 g = _mm_loadu_ps(ref.dy + i), zero = _mm_setzero_ps();
        const __m128 ga = _mm_blendv_ps(zero, g, to_a), gb = _mm_blendv_ps(g, zero, to_a);
        if (!ref.accumulate) {
          _mm_storeu_ps(ref.da + i, ga);
          _mm_storeu_ps(ref.db + i, gb);
          return;
        }
        _mm_storeu_ps(ref.da + i, L.add(_mm_loadu_ps(ref.da + i), ga, u[0] + l, e, 0));
        _mm_storeu_ps(ref.db + i, L.add(_mm_loadu_ps(ref.db + i), gb, u[1] + l, e, 1));
      },
      ref);
}

void run(const AdamElement<mca::Sr, float>& ref, int64_t n) {
  const mca::Sr& pol = ref.pol;
  const mca::simd::SrLanes L(pol);
  // Draws before the moments: the decoupled decay's multiply, or the coupled decay's fma.
  const uint32_t k0 = ref.decoupled ? 1u : ref.wd != 0.0f ? (pol.fused ? 1u : 2u) : 0u;
  auto c = [](float v) { return _mm_set1_ps(v); };
  runs<16>(
      pol, 1, n, 1, 0, int(k0 + 13),
      [&](int64_t, int64_t i, uint64_t e, const uint32_t(*u)[kRun + 8], int64_t l) {
        __m128 p = _mm_loadu_ps(ref.param + i), g = _mm_loadu_ps(ref.grad + i);
        if (ref.decoupled) {
          p = L.mul(p, c(ref.decay), u[0] + l, e, 0);
        } else if (ref.wd != 0.0f) {
          g = L.fma(c(ref.wd), p, g, u[0] + l, u[1] + l, e, 0);
        }
        const uint32_t k = k0;
        const __m128 m_old = L.mul(c(ref.b1), _mm_loadu_ps(ref.m + i), u[k] + l, e, k);
        const __m128 m_new = L.mul(c(ref.one_b1), g, u[k + 1] + l, e, k + 1);
        const __m128 mi = L.add(m_old, m_new, u[k + 2] + l, e, k + 2);
        const __m128 v_old = L.mul(c(ref.b2), _mm_loadu_ps(ref.v + i), u[k + 3] + l, e, k + 3);
        const __m128 gg = L.mul(g, g, u[k + 4] + l, e, k + 4);
        const __m128 v_new = L.mul(c(ref.one_b2), gg, u[k + 5] + l, e, k + 5);
        const __m128 vi = L.add(v_old, v_new, u[k + 6] + l, e, k + 6);
        const __m128 root = L.sqrt(vi, u[k + 7] + l, e, k + 7);
        const __m128 scaled = L.div(root, c(ref.sqrt_bc2), u[k + 8] + l, e, k + 8);
        const __m128 denom = L.add(scaled, c(ref.eps), u[k + 9] + l, e, k + 9);
        const __m128 q = L.div(mi, denom, u[k + 10] + l, e, k + 10);
        const __m128 st = L.mul(c(ref.step_size), q, u[k + 11] + l, e, k + 11);
        _mm_storeu_ps(ref.param + i, L.sub(p, st, u[k + 12] + l, e, k + 12));
        _mm_storeu_ps(ref.m + i, mi);
        _mm_storeu_ps(ref.v + i, vi);
      },
      ref);
}

void run(const PreluFwd<mca::Sr, float>& ref, int64_t n) {
  const mca::Sr& pol = ref.pol;
  const float* x = ref.x;
  const float slope = ref.slope;
  float* y = ref.y;
  const mca::simd::SrLanes L(pol);
  const __m128 s = _mm_set1_ps(slope), zero = _mm_setzero_ps();
  runs<1>(
      pol, 1, n, 1, 0, 1,
      [&](int64_t, int64_t i, uint64_t e, const uint32_t(*u)[kRun + 8], int64_t l) {
        const __m128 v = _mm_loadu_ps(x + i);
        const __m128 pos = _mm_cmpgt_ps(v, zero);
        // The functor multiplies only where v <= 0 (or NaN); the lanes it skips are discarded.
        const __m128 m = _mm_movemask_ps(pos) == 0xF ? v : L.mul(s, v, u[0] + l, e, 0);
        _mm_storeu_ps(y + i, _mm_blendv_ps(m, v, pos));
      },
      ref);
}

void run(const PreluBwdInput<mca::Sr, float>& ref, int64_t n) {
  const mca::Sr& pol = ref.pol;
  const float *dy = ref.dy, *x = ref.x;
  const float slope = ref.slope;
  float* dx = ref.dx;
  const bool accumulate = ref.accumulate;
  const mca::simd::SrLanes L(pol);
  const __m128 s = _mm_set1_ps(slope), zero = _mm_setzero_ps();
  runs<2>(
      pol, 1, n, 1, 0, accumulate ? 2 : 1,
      [&](int64_t, int64_t i, uint64_t e, const uint32_t(*u)[kRun + 8], int64_t l) {
        const __m128 g0 = _mm_loadu_ps(dy + i);
        const __m128 pos = _mm_cmpgt_ps(_mm_loadu_ps(x + i), zero);
        const __m128 m = _mm_movemask_ps(pos) == 0xF ? g0 : L.mul(s, g0, u[0] + l, e, 0);
        const __m128 g = _mm_blendv_ps(m, g0, pos);
        if (!accumulate) return _mm_storeu_ps(dx + i, g);
        // The functor's add takes the next draw: 1 after the multiply, 0 where x > 0 skipped it.
        alignas(16) uint32_t k[4];
        const __m128i posi = _mm_castps_si128(pos);
        _mm_store_si128(reinterpret_cast<__m128i*>(k), _mm_add_epi32(_mm_set1_epi32(1), posi));
        const __m128i ua =
            _mm_blendv_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u[1] + l)),
                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(u[0] + l)), posi);
        _mm_storeu_ps(dx + i, L.op<0>(_mm_loadu_ps(dx + i), g, ua,
                                      [&](int b) { return pol.draws(e + uint64_t(b), k[b]); }));
      },
      ref);
}

#else  // no AVX2 + FMA: the functors run instead

bool elementwise_sr_fast_available(const mca::Sr&) {
  return false;
}

#endif

// The entry points: the SIMD path where it applies, else false (the kernel runs the functor).
#if defined(__AVX2__) && defined(__FMA__)
#define NUMENS_SIMD_PATH(F, ...)                                                 \
  bool simd_path(const F<mca::Sr, float>& f, Device d, int64_t count) {          \
    (void)count;                                                                 \
    if (d != Device::cpu || !elementwise_sr_fast_available(f.pol)) return false; \
    run(__VA_ARGS__);                                                            \
    return true;                                                                 \
  }
#else
#define NUMENS_SIMD_PATH(F, ...)                              \
  bool simd_path(const F<mca::Sr, float>&, Device, int64_t) { \
    return false;                                             \
  }
#endif
NUMENS_SIMD_PATH(BnNormalize, f)
NUMENS_SIMD_PATH(BnBwdInput, f)
NUMENS_SIMD_PATH(BnTrainStats, f)
NUMENS_SIMD_PATH(BnBwdStats, f)
NUMENS_SIMD_PATH(SoftmaxPixel, f, count)
NUMENS_SIMD_PATH(LossGradPixel, f, count)
NUMENS_SIMD_PATH(AddElement, f, count)
NUMENS_SIMD_PATH(ScaleElement, f, count)
NUMENS_SIMD_PATH(MaxoutBwd, f, count)
NUMENS_SIMD_PATH(AdamElement, f, count)
NUMENS_SIMD_PATH(PreluFwd, f, count)
NUMENS_SIMD_PATH(PreluBwdInput, f, count)
#undef NUMENS_SIMD_PATH

}  // namespace numens::kernels::detail
