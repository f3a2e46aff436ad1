#include "analysis/brainage.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <set>
#include <string>

#include "analysis/ridge.hpp"
#include "mca/error.hpp"
#include "mca/stream.hpp"

namespace numens::analysis {

namespace {

// What a draw is for: the Philox op site, so that the uses never share a stream.
enum class Site : std::uint32_t {
  split = 11,
  inner = 12,
  combination = 13,
  gaussian = 14,
  bootstrap = 15,
  permutation = 16,
  holdout = 17,
  members = 18
};

class Rng {
 public:
  Rng(std::uint32_t seed, std::uint32_t index, Site site, std::uint32_t step = 0)
      : s_(mca::Stream::make(seed, index, std::uint32_t(site), step)) {}
  double uniform(std::uint64_t element, std::uint32_t draw = 0) const {
    return (double(s_.u64(element, draw) >> 11) + 0.5) * 0x1p-53;  // in (0, 1)
  }
  std::size_t below(std::size_t n, std::uint64_t element, std::uint32_t draw = 0) const {
    return std::min(n - 1, std::size_t(uniform(element, draw) * double(n)));
  }
  double normal(std::uint64_t element, std::uint32_t draw = 0) const {
    const double u1 = uniform(element, 2 * draw), u2 = uniform(element, 2 * draw + 1);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  // A uniformly random permutation of 0..n-1 (Fisher-Yates, draw i decides position i).
  std::vector<std::size_t> permutation(std::size_t n) const {
    std::vector<std::size_t> p(n);
    std::iota(p.begin(), p.end(), std::size_t(0));
    for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[below(i, i - 1)]);
    return p;
  }

 private:
  mca::Stream s_;
};

std::string who(const VolumeTable& t) {
  return t.source.empty() ? "brainage" : t.source;
}

std::string subject_name(const VolumeTable& t, std::size_t s) {
  return s < t.subject_ids.size() ? "'" + t.subject_ids[s] + "'" : "#" + std::to_string(s);
}

// Mean and scale of each feature over the training rows; scale 1 where the std is 0 (the
// feature carries nothing in this fold and becomes 0, as with scikit-learn's StandardScaler).
struct Standardizer {
  std::vector<double> mean, scale;
  Standardizer(const std::vector<double>& rows, std::size_t p) : mean(p, 0.0), scale(p, 0.0) {
    const std::size_t n = rows.size() / p;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < p; ++j) mean[j] += rows[i * p + j];
    for (auto& m : mean) m /= double(n);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < p; ++j) {
        const double d = rows[i * p + j] - mean[j];
        scale[j] += d * d;
      }
    for (std::size_t j = 0; j < p; ++j) {
      scale[j] = std::sqrt(scale[j] / double(n));
      // Relative threshold: the mean of n equal values can differ from them by rounding, so a
      // constant column may show a std of a few ulps of its mean; that is constant too.
      if (!(scale[j] > 10 * std::numeric_limits<double>::epsilon() * std::abs(mean[j])))
        scale[j] = 1.0;
    }
  }
  void apply(std::vector<double>& rows) const {
    const std::size_t p = mean.size();
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = (rows[i] - mean[i % p]) / scale[i % p];
  }
};

// Pooled within-subject std across members, per region, over the given subjects. Deviations are
// taken from member 0 before the variance (a shifted two-moment formula): identical members give
// exactly 0, where the plain mean of M equal values may differ from them by rounding.
std::vector<double> member_sigma(const VolumeTable& t, const std::vector<std::size_t>& subjects) {
  std::vector<double> var(t.regions, 0.0);
  if (t.members < 2) return var;
  const double M = double(t.members);
  for (std::size_t s : subjects)
    for (std::size_t r = 0; r < t.regions; ++r) {
      double sum = 0, sq = 0;
      for (std::size_t k = 1; k < t.members; ++k) {
        const double d = t.at(s, k, r) - t.at(s, 0, r);
        sum += d;
        sq += d * d;
      }
      var[r] += std::max(0.0, sq / M - (sum / M) * (sum / M));
    }
  for (auto& v : var) v = std::sqrt(v / double(subjects.size()));
  return var;
}

struct Rows {
  std::vector<double> x, y;
};

Rows training_rows(const VolumeTable& t, const std::vector<std::size_t>& subjects,
                   const SchemeSpec& spec, const std::vector<double>& sigma, std::uint32_t seed) {
  Rows out;
  const std::size_t R = t.regions;
  const bool ens = spec.scheme == Scheme::ensemble || spec.scheme == Scheme::ensemble_gaussian;
  const bool gau = spec.scheme == Scheme::gaussian || spec.scheme == Scheme::ensemble_gaussian;
  for (std::size_t s : subjects) {
    auto add = [&](const double* r) {
      out.x.insert(out.x.end(), r, r + R);
      out.y.push_back(t.age[s]);
    };
    add(t.row(s, t.reference));
    if (ens)
      for (std::size_t m : spec.members) add(t.row(s, m));
    if (gau) {
      // Keyed by (seed, subject, row): a subject's synthetic rows are the same in every split.
      const Rng rng(seed, std::uint32_t(s), Site::gaussian);
      const double* ref = t.row(s, t.reference);
      for (std::size_t k = 0; k < spec.gaussian_rows; ++k)
        for (std::size_t r = 0; r < R; ++r)
          out.x.push_back(ref[r] + sigma[r] * rng.normal(k * R + r));
      out.y.insert(out.y.end(), spec.gaussian_rows, t.age[s]);
    }
  }
  return out;
}

struct Candidate {
  double a = 0, gamma = 0;  // alpha (ridge) or C (svr), gamma (svr rbf)
};

std::vector<Candidate> candidates(const ModelGrid& g, std::size_t regions) {
  std::vector<Candidate> out;
  if (g.kind == ModelKind::ridge) {
    for (double a : g.alphas) out.push_back({a, 0});
    return out;
  }
  std::vector<double> gammas = g.gammas;
  if (g.kernel == Kernel::linear)
    gammas = {0.0};
  else if (gammas.empty())
    gammas = {1.0 / double(regions)};
  for (double c : g.Cs)
    for (double gm : gammas) out.push_back({c, gm});
  return out;
}

// A fitted model on standardised features; predicts raw rows.
class Fitted {
 public:
  Fitted(const ModelGrid& g, const Candidate& c, Rows rows, std::size_t p)
      : st_(rows.x, p), kind_(g.kind), p_(p) {
    st_.apply(rows.x);
    const Matrix X{rows.x, rows.y.size(), p};
    if (kind_ == ModelKind::ridge) {
      ridge_ = fit_ridge(X, rows.y, c.a);
    } else {
      SvrParams sp;
      sp.kernel = g.kernel;
      sp.C = c.a;
      sp.gamma = c.gamma;
      sp.epsilon = g.epsilon;
      sp.tol = g.tol;
      svr_ = fit_svr(X, rows.y, sp);
    }
  }
  std::vector<double> predict_rows(std::vector<double> x) const {
    st_.apply(x);
    const Matrix X{x, x.size() / p_, p_};
    return kind_ == ModelKind::ridge ? predict(ridge_, X) : predict(svr_, X);
  }

 private:
  Standardizer st_;
  ModelKind kind_;
  std::size_t p_;
  RidgeModel ridge_;
  SvrModel svr_;
};

std::vector<double> reference_rows(const VolumeTable& t, const std::vector<std::size_t>& subjects) {
  std::vector<double> x;
  for (std::size_t s : subjects)
    x.insert(x.end(), t.row(s, t.reference), t.row(s, t.reference) + t.regions);
  return x;
}

std::vector<Split> kfold_of(const std::vector<std::size_t>& order, std::size_t k) {
  const std::size_t n = order.size();
  std::vector<Split> out(k);
  for (std::size_t f = 0; f < k; ++f) {
    const std::size_t lo = f * n / k, hi = (f + 1) * n / k;
    for (std::size_t i = 0; i < n; ++i)
      (i >= lo && i < hi ? out[f].test : out[f].train).push_back(order[i]);
    std::sort(out[f].train.begin(), out[f].train.end());
    std::sort(out[f].test.begin(), out[f].test.end());
  }
  return out;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

// Percentile of sorted values (linear interpolation between order statistics).
double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const std::size_t i = std::size_t(pos);
  if (i + 1 >= v.size()) return v.back();
  return v[i] + (pos - double(i)) * (v[i + 1] - v[i]);
}

}  // namespace

// ---- inputs ---------------------------------------------------------------------------------
void validate(const VolumeTable& t) {
  const std::string w = who(t);
  auto bad = [&](const std::string& m) { throw ConfigError(w + ": " + m); };
  if (t.subjects < 2)
    bad("brain-age regression needs at least 2 subjects, got " + std::to_string(t.subjects));
  if (t.members < 1 || t.regions < 1) bad("no members or no regions");
  if (t.volume.size() != t.subjects * t.members * t.regions)
    bad("volume table holds " + std::to_string(t.volume.size()) + " values, expected " +
        std::to_string(t.subjects) + " x " + std::to_string(t.members) + " x " +
        std::to_string(t.regions));
  if (t.age.size() != t.subjects) bad("ages do not match the subjects");
  if (t.reference >= t.members) bad("reference member out of range");
  for (std::size_t s = 0; s < t.subjects; ++s)
    if (!std::isfinite(t.age[s]) || !(t.age[s] > 0))
      bad("subject " + subject_name(t, s) + " has age " + std::to_string(t.age[s]));
  for (std::size_t s = 0; s < t.subjects; ++s)
    for (std::size_t m = 0; m < t.members; ++m)
      for (std::size_t r = 0; r < t.regions; ++r) {
        const double v = t.at(s, m, r);
        if (!std::isfinite(v) || v < 0)
          bad("volume of subject " + subject_name(t, s) + ", member " +
              (m < t.member_ids.size() ? std::to_string(t.member_ids[m])
                                       : "#" + std::to_string(m)) +
              ", region " +
              (r < t.region_names.size() ? "'" + t.region_names[r] + "'"
                                         : "#" + std::to_string(r)) +
              " is " + std::to_string(v) + " (volumes must be finite and >= 0)");
      }
}

VolumeTable normalise_by_total(const VolumeTable& t) {
  VolumeTable out = t;
  for (std::size_t s = 0; s < t.subjects; ++s)
    for (std::size_t m = 0; m < t.members; ++m) {
      double sum = 0;
      for (std::size_t r = 0; r < t.regions; ++r) sum += t.at(s, m, r);
      if (!(sum > 0))
        throw ConfigError(who(t) + ": subject " + subject_name(t, s) +
                          " has zero total volume; cannot normalise by intracranial volume");
      for (std::size_t r = 0; r < t.regions; ++r)
        out.volume[(s * t.members + m) * t.regions + r] = t.at(s, m, r) / sum;
    }
  return out;
}

VolumeTable simulate_members(const VolumeTable& truth, std::size_t members, double cv,
                             std::uint32_t seed) {
  if (members < 1) throw ConfigError("simulated ensemble needs at least 1 member");
  if (!(cv >= 0) || !std::isfinite(cv))
    throw ConfigError("noise cv must be finite and >= 0, got " + std::to_string(cv));
  VolumeTable out = truth;
  out.members = members;
  out.reference = 0;
  out.member_ids.clear();
  for (std::size_t m = 0; m < members; ++m) out.member_ids.push_back(std::int64_t(m));
  out.volume.assign(truth.subjects * members * truth.regions, 0.0);
  for (std::size_t s = 0; s < truth.subjects; ++s) {
    const Rng rng(seed, std::uint32_t(s), Site::members);
    for (std::size_t m = 0; m < members; ++m)
      for (std::size_t r = 0; r < truth.regions; ++r)
        out.volume[(s * members + m) * truth.regions + r] =
            truth.at(s, truth.reference, r) *
            std::exp(cv * rng.normal(m * truth.regions + r) - 0.5 * cv * cv);
  }
  return out;
}

const char* scheme_name(Scheme s) {
  switch (s) {
    case Scheme::none:
      return "none";
    case Scheme::ensemble:
      return "ensemble";
    case Scheme::gaussian:
      return "gaussian";
    case Scheme::ensemble_gaussian:
      return "ensemble+gaussian";
  }
  return "?";
}

Scheme parse_scheme(std::string_view name) {
  for (Scheme s : {Scheme::none, Scheme::ensemble, Scheme::gaussian, Scheme::ensemble_gaussian})
    if (name == scheme_name(s)) return s;
  throw ConfigError("unknown scheme '" + std::string(name) +
                    "' (none, ensemble, gaussian, ensemble+gaussian)");
}

std::size_t ModelGrid::size(std::size_t regions) const {
  return candidates(*this, regions).size();
}

// ---- splits ---------------------------------------------------------------------------------
std::vector<Split> kfold_splits(std::size_t subjects, std::size_t k, std::uint32_t seed) {
  if (k < 2)
    throw ConfigError("k-fold cross-validation needs at least 2 folds, got " + std::to_string(k));
  if (k > subjects)
    throw ConfigError(std::to_string(k) + "-fold cross-validation needs at least " +
                      std::to_string(k) + " subjects, got " + std::to_string(subjects));
  return kfold_of(Rng(seed, 0, Site::split).permutation(subjects), k);
}

std::vector<Split> holdout_splits(std::size_t subjects, std::size_t repeats, double test_fraction,
                                  std::uint32_t seed) {
  if (!(test_fraction > 0 && test_fraction < 1))
    throw ConfigError("hold-out test fraction must be in (0, 1), got " +
                      std::to_string(test_fraction));
  if (repeats < 1) throw ConfigError("hold-out needs at least 1 repeat");
  const std::size_t n_test =
      std::max<std::size_t>(1, std::size_t(std::lround(test_fraction * double(subjects))));
  if (subjects < 3 || n_test + 2 > subjects)
    throw ConfigError("hold-out of " + std::to_string(n_test) + " test subjects needs at least " +
                      std::to_string(n_test + 2) + " subjects, got " + std::to_string(subjects));
  std::vector<Split> out(repeats);
  for (std::size_t r = 0; r < repeats; ++r) {
    const auto p = Rng(seed, std::uint32_t(r), Site::holdout).permutation(subjects);
    out[r].test.assign(p.begin(), p.begin() + std::ptrdiff_t(n_test));
    out[r].train.assign(p.begin() + std::ptrdiff_t(n_test), p.end());
    std::sort(out[r].train.begin(), out[r].train.end());
    std::sort(out[r].test.begin(), out[r].test.end());
  }
  return out;
}

// ---- evaluation -----------------------------------------------------------------------------
Predictions evaluate(const VolumeTable& t, const std::vector<Split>& splits, const SchemeSpec& spec,
                     const EvalConfig& cfg) {
  for (std::size_t m : spec.members)
    if (m >= t.members || m == t.reference)
      throw ConfigError("scheme member " + std::to_string(m) + " is out of range or the reference");
  const auto grid = candidates(cfg.model, t.regions);
  if (grid.empty()) throw ConfigError("empty hyper-parameter grid");
  std::vector<Predictions> per(splits.size());
  std::vector<std::string> errors(splits.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (std::size_t k = 0; k < splits.size(); ++k) {
    try {
      const Split& sp = splits[k];
      const auto sigma = member_sigma(t, sp.train);
      Candidate best = grid[0];
      if (grid.size() > 1) {
        // Inner grouped k-fold on the training subjects only: the test fold never informs the
        // choice. Selection by the pooled MAE of the reference-member predictions.
        const std::size_t kin = cfg.inner_folds;
        if (kin < 2 || kin > sp.train.size())
          throw ConfigError("inner cross-validation of " + std::to_string(kin) + " folds needs " +
                            std::to_string(kin) + " training subjects, split " + std::to_string(k) +
                            " has " + std::to_string(sp.train.size()));
        const auto perm = Rng(cfg.seed, std::uint32_t(k), Site::inner).permutation(sp.train.size());
        std::vector<std::size_t> order(perm.size());
        for (std::size_t i = 0; i < perm.size(); ++i) order[i] = sp.train[perm[i]];
        const auto inner = kfold_of(order, kin);
        double best_mae = std::numeric_limits<double>::infinity();
        for (const Candidate& c : grid) {
          double err = 0;
          std::size_t count = 0;
          for (const Split& in : inner) {
            const Fitted f(cfg.model, c, training_rows(t, in.train, spec, sigma, cfg.seed),
                           t.regions);
            const auto pr = f.predict_rows(reference_rows(t, in.test));
            for (std::size_t i = 0; i < in.test.size(); ++i)
              err += std::abs(pr[i] - t.age[in.test[i]]);
            count += in.test.size();
          }
          if (err / double(count) < best_mae) best_mae = err / double(count), best = c;
        }
      }
      const Fitted f(cfg.model, best, training_rows(t, sp.train, spec, sigma, cfg.seed), t.regions);
      std::vector<double> all;
      for (std::size_t s : sp.test)
        for (std::size_t m = 0; m < t.members; ++m)
          all.insert(all.end(), t.row(s, m), t.row(s, m) + t.regions);
      const auto pr = f.predict_rows(std::move(all));
      Predictions& out = per[k];
      for (std::size_t i = 0; i < sp.test.size(); ++i) {
        const std::size_t s = sp.test[i];
        double sum = 0;
        for (std::size_t m = 0; m < t.members; ++m) sum += pr[i * t.members + m];
        out.subject.push_back(s);
        out.split.push_back(k);
        out.truth.push_back(t.age[s]);
        out.pred_reference.push_back(pr[i * t.members + t.reference]);
        out.pred_mean.push_back(sum / double(t.members));
      }
      out.chosen.push_back(best.a);
      out.chosen_gamma.push_back(best.gamma);
    } catch (const std::exception& e) {
      errors[k] = e.what();  // an exception may not leave an OpenMP region; rethrown below
    }
  }
  for (const auto& e : errors)
    if (!e.empty()) throw ConfigError(e);
  Predictions all;
  for (auto& p : per) {
    auto cat = [](auto& a, const auto& b) { a.insert(a.end(), b.begin(), b.end()); };
    cat(all.subject, p.subject);
    cat(all.split, p.split);
    cat(all.truth, p.truth);
    cat(all.pred_reference, p.pred_reference);
    cat(all.pred_mean, p.pred_mean);
    cat(all.chosen, p.chosen);
    cat(all.chosen_gamma, p.chosen_gamma);
  }
  return all;
}

Metrics metrics(const std::vector<double>& truth, const std::vector<double>& pred) {
  Metrics m;
  const std::size_t n = truth.size();
  if (n == 0 || pred.size() != n) throw ConfigError("metrics: empty or mismatched predictions");
  const double yt = mean_of(truth), yp = mean_of(pred);
  double ae = 0, se = 0, sst = 0, spp = 0, stp = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double e = pred[i] - truth[i];
    ae += std::abs(e);
    se += e * e;
    sst += (truth[i] - yt) * (truth[i] - yt);
    spp += (pred[i] - yp) * (pred[i] - yp);
    stp += (truth[i] - yt) * (pred[i] - yp);
  }
  m.mae = ae / double(n);
  m.rmse = std::sqrt(se / double(n));
  // Undefined when the truth (or the prediction) is constant: NaN, not a made-up number.
  m.r2 = sst > 0 ? 1.0 - se / sst : std::numeric_limits<double>::quiet_NaN();
  m.r =
      (sst > 0 && spp > 0) ? stp / std::sqrt(sst * spp) : std::numeric_limits<double>::quiet_NaN();
  return m;
}

namespace {
// Entries of each distinct subject, subjects ascending.
std::vector<std::vector<std::size_t>> by_subject(const Predictions& p) {
  std::vector<std::size_t> ids(p.subject.begin(), p.subject.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<std::vector<std::size_t>> g(ids.size());
  for (std::size_t i = 0; i < p.subject.size(); ++i)
    g[std::size_t(std::lower_bound(ids.begin(), ids.end(), p.subject[i]) - ids.begin())].push_back(
        i);
  return g;
}
}  // namespace

MetricsCI bootstrap_metrics(const Predictions& p, bool use_mean, std::size_t resamples,
                            double level, std::uint32_t seed) {
  const auto& pred = use_mean ? p.pred_mean : p.pred_reference;
  MetricsCI out;
  out.point = metrics(p.truth, pred);
  if (resamples == 0) {
    out.lo = out.hi = out.point;
    return out;
  }
  const auto groups = by_subject(p);
  std::vector<double> mae, rmse, r2, r;
  std::vector<double> yt, yp;
  for (std::size_t b = 0; b < resamples; ++b) {
    const Rng rng(seed, std::uint32_t(b), Site::bootstrap);
    yt.clear();
    yp.clear();
    for (std::size_t i = 0; i < groups.size(); ++i)
      for (std::size_t e : groups[rng.below(groups.size(), i)]) {
        yt.push_back(p.truth[e]);
        yp.push_back(pred[e]);
      }
    const Metrics m = metrics(yt, yp);
    mae.push_back(m.mae);
    rmse.push_back(m.rmse);
    r2.push_back(m.r2);
    r.push_back(m.r);
  }
  const double a = (1 - level) / 2;
  out.lo = {percentile(mae, a), percentile(rmse, a), percentile(r2, a), percentile(r, a)};
  out.hi = {percentile(mae, 1 - a), percentile(rmse, 1 - a), percentile(r2, 1 - a),
            percentile(r, 1 - a)};
  return out;
}

PairedTest paired_test(const Predictions& a, const Predictions& b, std::size_t resamples,
                       std::uint32_t seed) {
  if (a.subject != b.subject)
    throw ConfigError("paired test: the two evaluations did not test the same subjects");
  const auto groups = by_subject(a);
  std::vector<double> d(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    double s = 0;
    for (std::size_t e : groups[g])
      s += std::abs(a.pred_reference[e] - a.truth[e]) - std::abs(b.pred_reference[e] - b.truth[e]);
    d[g] = s / double(groups[g].size());
  }
  PairedTest out;
  out.subjects = d.size();
  out.mean_diff = mean_of(d);
  if (resamples == 0) return out;
  std::vector<double> boot;
  std::size_t extreme = 0;
  // Sign-flip exchangeability: under "no difference" each d_s is as likely to be -d_s. Ties
  // within rounding of the observed statistic count as extreme (conservative).
  const double obs = std::abs(out.mean_diff) * (1 - 1e-12);
  for (std::size_t k = 0; k < resamples; ++k) {
    const Rng rb(seed, std::uint32_t(k), Site::bootstrap),
        rp(seed, std::uint32_t(k), Site::permutation);
    double sb = 0, sp = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
      sb += d[rb.below(d.size(), i)];
      sp += rp.uniform(i) < 0.5 ? -d[i] : d[i];
    }
    boot.push_back(sb / double(d.size()));
    if (std::abs(sp / double(d.size())) >= obs) ++extreme;
  }
  out.lo = percentile(boot, 0.025);
  out.hi = percentile(boot, 0.975);
  out.p_value = double(extreme + 1) / double(resamples + 1);
  return out;
}

// ---- the study --------------------------------------------------------------------------------
StudyResult run_study(const VolumeTable& t, const StudyConfig& cfg) {
  validate(t);
  const std::size_t pool = t.members - 1;  // members other than the reference
  std::vector<std::size_t> others;
  for (std::size_t m = 0; m < t.members; ++m)
    if (m != t.reference) others.push_back(m);
  StudyResult res;
  res.splits = cfg.cv == CvKind::kfold
                   ? kfold_splits(t.subjects, cfg.folds, cfg.seed)
                   : holdout_splits(t.subjects, cfg.repeats, cfg.test_fraction, cfg.seed);
  if (candidates(cfg.eval.model, t.regions).size() > 1) {
    std::size_t min_train = t.subjects;
    for (const auto& s : res.splits) min_train = std::min(min_train, s.train.size());
    if (cfg.eval.inner_folds < 2 || cfg.eval.inner_folds > min_train)
      throw ConfigError("inner cross-validation of " + std::to_string(cfg.eval.inner_folds) +
                        " folds needs at least that many training subjects per split; the " +
                        "smallest training set has " + std::to_string(min_train));
  }
  std::vector<std::size_t> curve_n = cfg.no_curve ? std::vector<std::size_t>{} : cfg.curve_n;
  if (curve_n.empty() && !cfg.no_curve)
    for (std::size_t n = 0; n <= pool; ++n) curve_n.push_back(n);
  for (std::size_t n : curve_n)
    if (n > pool)
      throw ConfigError("curve point N = " + std::to_string(n) + " exceeds the " +
                        std::to_string(pool) + " non-reference members");
  const std::size_t grows = cfg.gaussian_rows > 0 ? cfg.gaussian_rows : pool;
  for (Scheme s : cfg.schemes)
    if (pool == 0 && s != Scheme::none)
      throw ConfigError(std::string("scheme '") + scheme_name(s) +
                        "' needs members besides the reference; the table has only one member");
  if (cfg.schemes.empty()) throw ConfigError("no scheme to evaluate");

  // The curve: N members drawn from the non-reference ones, several subsets per N.
  for (std::size_t n : curve_n) {
    CurvePoint cp;
    cp.n = n;
    double binom = 1;
    for (std::size_t i = 0; i < n; ++i) binom = binom * double(pool - i) / double(i + 1);
    const std::size_t want = std::size_t(
        std::min(double(std::max<std::size_t>(1, cfg.combinations)), std::round(binom)));
    std::set<std::vector<std::size_t>> seen;
    for (std::uint32_t draw = 0; cp.combos.size() < want; ++draw) {
      const auto perm = Rng(cfg.seed, std::uint32_t(n), Site::combination, draw).permutation(pool);
      std::vector<std::size_t> c;
      for (std::size_t i = 0; i < n; ++i) c.push_back(others[perm[i]]);
      std::sort(c.begin(), c.end());
      if (seen.insert(c).second) cp.combos.push_back(c);
    }
    for (const auto& c : cp.combos) {
      const SchemeSpec spec{n == 0 ? Scheme::none : Scheme::ensemble, c, 0};
      const Predictions p = evaluate(t, res.splits, spec, cfg.eval);
      cp.mae_reference.push_back(metrics(p.truth, p.pred_reference).mae);
      cp.mae_mean.push_back(metrics(p.truth, p.pred_mean).mae);
    }
    res.curve.push_back(std::move(cp));
  }

  for (Scheme s : cfg.schemes) {
    SchemeResult r;
    r.scheme = s;
    r.spec.scheme = s;
    if (s == Scheme::ensemble || s == Scheme::ensemble_gaussian) r.spec.members = others;
    if (s == Scheme::gaussian || s == Scheme::ensemble_gaussian) r.spec.gaussian_rows = grows;
    r.pred = evaluate(t, res.splits, r.spec, cfg.eval);
    r.reference = bootstrap_metrics(r.pred, false, cfg.bootstrap, cfg.level, cfg.seed);
    r.mean = bootstrap_metrics(r.pred, true, cfg.bootstrap, cfg.level, cfg.seed);
    res.schemes.push_back(std::move(r));
  }
  for (auto& r : res.schemes)
    r.vs_first = paired_test(r.pred, res.schemes.front().pred,
                             std::max<std::size_t>(cfg.bootstrap, 1), cfg.seed);
  return res;
}

}  // namespace numens::analysis
