// numens train: one view's network from its slice file. Wires the slice reader (io/), the trainer
// (nn/) and checkpoint files (io/ through drivers/model_io): data order, augmentation, the epoch
// loop, validation, checkpoints, progress output.
//
// Determinism: the slice order of epoch e is a Fisher-Yates shuffle driven by Philox keyed on the
// data seed with counter (epoch, position); the shift of slice b of micro-batch m at optimizer
// step s comes from the augmentation seed with counter (s, m * batch + b); MCA noise and the
// initialisation come from the trainer's own counters. Checkpoints are written at epoch ends, so
// a resumed run recomputes exactly the numbers an uninterrupted one would draw.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "drivers/commands.hpp"
#include "drivers/model_io.hpp"
#include "drivers/timing.hpp"
#include "drivers/train.hpp"
#include "drivers/train_config.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint.hpp"
#include "io/error.hpp"
#include "io/slice_file.hpp"
#include "mca/stream.hpp"
#include "nn/metrics.hpp"
#include "numens/version.hpp"

namespace numens::drivers {

namespace fs = std::filesystem;

namespace {

constexpr uint32_t kDataStream = 0xDA7Au;
constexpr uint32_t kAugmentStream = 0xA06Au;
const char* const kHistoryHeader = "epoch,step,lr,loss,ce,dice_loss,val_dice,val_iou,seconds\n";

constexpr int64_t kEpochsNotGiven = std::numeric_limits<int64_t>::min();

struct TrainFlags {
  std::string config;
  std::string view;
  int64_t epochs = kEpochsNotGiven;
  std::string out;
  std::string resume;
  std::vector<std::string> sets;
  bool force = false;
  bool check = false;
};

// Training and validation slices, by subject.
struct Split {
  std::vector<int64_t> train, val;
  std::vector<std::string> val_subjects;
};

Split split_slices(const TrainSettings& s, const io::SliceFileInfo& info, const fs::path& slices) {
  const size_t S = info.subject_ids.size();
  std::vector<char> is_val(S, 0);
  if (!s.validation_subjects.empty()) {
    for (const auto& id : s.validation_subjects) {
      size_t i = 0;
      while (i < S && info.subject_ids[i] != id) ++i;
      if (i == S)
        throw ConfigError(s.config_file.string() + ": [data] validation_subjects: '" + id +
                          "' is not a subject of " + slices.string());
      is_val[i] = 1;
    }
  } else {
    // Subjects that have slices, every k-th in cohort order: spread over the cohort's ages
    // rather than a block of them.
    std::set<int32_t> present(info.subject_index.begin(), info.subject_index.end());
    const std::vector<int32_t> subj(present.begin(), present.end());
    const double f = s.validation_fraction;
    for (size_t i = 0; i < subj.size(); ++i)
      if (std::floor(double(i + 1) * f) > std::floor(double(i) * f)) is_val[size_t(subj[i])] = 1;
  }
  Split sp;
  for (size_t i = 0; i < S; ++i)
    if (is_val[i]) sp.val_subjects.push_back(info.subject_ids[i]);
  for (int64_t r = 0; r < info.count; ++r)
    (is_val[size_t(info.subject_index[size_t(r)])] ? sp.val : sp.train).push_back(r);
  return sp;
}

// The slice order of one epoch.
std::vector<int64_t> epoch_order(const std::vector<int64_t>& rows, uint32_t seed, int64_t epoch) {
  std::vector<int64_t> o = rows;
  const mca::Stream st = mca::Stream::make(seed, kDataStream, 0, uint32_t(epoch));
  for (size_t i = o.size(); i > 1; --i) {
    // j uniform in [0, i): the high word of a 64 x 64 product (bias < i / 2^64)
    const auto j = size_t((unsigned __int128)st.u64(i - 1, 0) * i >> 64);
    std::swap(o[i - 1], o[j]);
  }
  return o;
}

// Planes are padded at the bottom and right (NetConfig::padded_extent): image 0, background,
// loss weight 0, so padding never contributes to the CE term.
// Slices -> the trainer's batch: images to [0, 1] as FastSurfer's ToTensor, the random shift,
// the padding.
void to_batch(const io::SliceBatch& sb, int64_t n, const io::SliceFileInfo& I,
              const nn::NetConfig& net, int64_t translate, const mca::Stream* aug,
              uint64_t aug_base, nn::Batch& b) {
  const int64_t T = I.thickness, H = I.height, W = I.width;
  const int64_t Hp = net.padded_extent(H), Wp = net.padded_extent(W);
  b.images = Tensor<float>::zeros({n, T, Hp, Wp});
  b.labels = Tensor<int32_t>::zeros({n, 1, Hp, Wp});
  b.weights = Tensor<float>::zeros({n, 1, Hp, Wp});
  for (int64_t k = 0; k < n; ++k) {
    int64_t dy = 0, dx = 0;
    if (translate > 0 && aug) {
      const uint64_t span = uint64_t(2 * translate + 1);
      dy = int64_t(aug->u32(aug_base + uint64_t(k), 0) % span) - translate;
      dx = int64_t(aug->u32(aug_base + uint64_t(k), 1) % span) - translate;
    }
    // destination (y, x) takes source (y - dy, x - dx); outside: image 0, background, weight 0
    for (int64_t y = 0; y < H; ++y) {
      const int64_t sy = y - dy;
      if (sy < 0 || sy >= H) continue;
      for (int64_t x = 0; x < W; ++x) {
        const int64_t sx = x - dx;
        if (sx < 0 || sx >= W) continue;
        const int64_t src = sy * W + sx, dst = y * Wp + x;
        for (int64_t c = 0; c < T; ++c)
          b.images.data()[(k * T + c) * Hp * Wp + dst] =
              nn::input_intensity(sb.images[size_t((k * T + c) * H * W + src)]);
        b.labels.data()[k * Hp * Wp + dst] = sb.labels[size_t(k * H * W + src)];
        b.weights.data()[k * Hp * Wp + dst] = sb.weights[size_t(k * H * W + src)];
      }
    }
  }
}

// The unpadded H x W window of [n, 1, Hp, Wp] class maps.
Tensor<int32_t> crop(const Tensor<int32_t>& t, int64_t H, int64_t W) {
  const Shape s = t.shape();
  if (s.h == H && s.w == W) return t;
  Tensor<int32_t> out = Tensor<int32_t>::zeros({s.n, 1, H, W});
  for (int64_t k = 0; k < s.n; ++k)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        out.data()[(k * H + y) * W + x] = t.data()[(k * s.h + y) * s.w + x];
  return out;
}

struct Validation {
  double dice = std::nan(""), iou = std::nan("");
};

Validation validate(nn::Trainer& tr, const io::SliceFile& sf, const std::vector<int64_t>& rows,
                    int64_t batch) {
  Validation v;
  if (rows.empty()) return v;
  nn::OverlapCounter oc(tr.config().net.classes);
  io::SliceBatch sb;
  nn::Batch b;
  for (size_t first = 0; first < rows.size(); first += size_t(batch)) {
    const size_t n = std::min(rows.size() - first, size_t(batch));
    sf.read(std::span<const int64_t>(rows.data() + first, n), sb);
    const io::SliceFileInfo& I = sf.info();
    to_batch(sb, int64_t(n), I, tr.config().net, 0, nullptr, 0, b);
    oc.add(crop(nn::argmax_classes(tr.predict(b.images)), I.height, I.width),
           crop(b.labels, I.height, I.width));
  }
  v.dice = oc.mean_dice(1);
  v.iou = oc.mean_iou(1);
  return v;
}

// Progress on a terminal: one line redrawn in place; otherwise a plain line every log_every steps.
class Progress {
 public:
  Progress(int64_t log_every, std::FILE* out)
      : out_(out), tty_(isatty(fileno(out)) != 0), every_(log_every) {}
  void update(const std::string& view, int64_t epoch, int64_t epochs, int64_t step, int64_t steps,
              double loss, double lr, double rate) {
    if (tty_) {
      const int width = 24;
      const int filled = int(double(width) * double(step) / double(steps));
      const double eta = rate > 0 ? double(steps - step) * per_step_ : 0;
      std::fprintf(
          out_, "\r%s epoch %lld/%lld [%s%s] %lld/%lld loss %.4f lr %.2e %.1f slices/s ETA %lds  ",
          view.c_str(), (long long)epoch, (long long)epochs,
          std::string(size_t(filled), '#').c_str(),
          std::string(size_t(width - filled), '.').c_str(), (long long)step, (long long)steps, loss,
          lr, rate, long(eta));
      std::fflush(out_);
    } else if (step % every_ == 0 || step == steps) {
      std::fprintf(
          out_, "numens train: %s epoch %lld/%lld step %lld/%lld loss %.4f lr %.3e %.1f slices/s\n",
          view.c_str(), (long long)epoch, (long long)epochs, (long long)step, (long long)steps,
          loss, lr, rate);
    }
  }
  void set_step_seconds(double s) { per_step_ = s; }
  void end_epoch() {
    if (tty_) std::fprintf(out_, "\r\033[K");
  }

 private:
  std::FILE* out_;
  bool tty_;
  int64_t every_;
  double per_step_ = 0;
};

}  // namespace

namespace {

// The slice split and the steps of an epoch, checked: enough training slices for one step.
struct DataPlan {
  Split split;
  int64_t steps = 0;
};
DataPlan plan_data(TrainSettings& s, const io::SliceFile& sf, const fs::path& slices) {
  const io::SliceFileInfo& info = sf.info();
  bind_to_slices(s, info, slices);
  DataPlan d;
  d.split = split_slices(s, info, slices);
  const Split& sp = d.split;
  const int64_t per_step = s.batch_size * s.train.accumulation;
  const int64_t pass_steps = int64_t(sp.train.size()) / per_step;
  if (sp.train.empty() || (s.steps_per_epoch == 0 && pass_steps == 0))
    throw ConfigError(slices.string() + ": " + std::to_string(sp.train.size()) +
                      " training slices (after holding out " +
                      std::to_string(sp.val_subjects.size()) +
                      " validation subjects) are fewer than one optimizer step needs (" +
                      std::to_string(per_step) + " = batch_size x accumulation)");
  d.steps = s.steps_per_epoch > 0 ? s.steps_per_epoch : pass_steps;
  s.train.iterations_per_epoch = d.steps;
  return d;
}

// Where a view's run writes.
struct OutPaths {
  fs::path dir, ckpt, best, csv, toml;
};
OutPaths out_paths(const TrainSettings& s, const TrainRun& run) {
  OutPaths o;
  o.dir = s.out_dir;
  if (o.dir.is_relative() && !s.config_file.empty()) o.dir = s.config_file.parent_path() / o.dir;
  const std::string vname = io::view_name(s.view);
  o.ckpt = o.dir / ("ckpt_" + vname + ".h5");
  o.best = o.dir / ("ckpt_" + vname + "_best.h5");
  o.csv = o.dir / ("train_" + vname + ".csv");
  o.toml = o.dir / ("train_" + vname + ".toml");
  if (run.resume.empty() && !run.force && fs::exists(o.ckpt))
    throw ConfigError(o.ckpt.string() +
                      " exists: continue it with --resume, or pass --force to start over");
  return o;
}

// The trainer and what the run has done so far: fresh, or restored from --resume (which must
// have been trained with this configuration and have fewer epochs than asked for).
struct RunState {
  std::unique_ptr<nn::Trainer> trainer;
  int64_t epoch0 = 0, best_epoch = -1;
  double best = -1;
  std::string history = kHistoryHeader;
};
RunState start_or_resume(const TrainSettings& s, const TrainRun& run) {
  RunState st;
  st.trainer = std::make_unique<nn::Trainer>(s.train);
  if (run.resume.empty()) return st;
  const std::string resume = run.resume.string();
  const io::Checkpoint c = io::read_checkpoint(run.resume);
  if (c.resume_key != resume_key(s))
    throw ConfigError(resume + ": was trained with another configuration (" +
                      first_difference(c.resume_key, resume_key(s)) + ")");
  if (c.epoch >= s.epochs)
    throw ConfigError(resume + ": already has " + std::to_string(c.epoch) +
                      " epochs; ask for more with --epochs");
  st.trainer->set_state(get_state(st.trainer->net(), c, resume));
  st.epoch0 = c.epoch;
  st.best = std::isnan(c.best_metric) ? -1 : c.best_metric;
  st.best_epoch = c.best_epoch;
  st.history = c.history.empty() ? kHistoryHeader : c.history;
  return st;
}

io::Checkpoint make_checkpoint(const TrainSettings& s, const RunState& st,
                               const io::SliceFileInfo& info, int64_t epoch, double lr) {
  io::Checkpoint c;
  c.config = to_toml(s);
  c.seeds = seeds_toml(s);
  c.view = io::view_name(s.view);
  c.arch = arch_name(s.train.net);
  c.net = s.train.net.describe();
  c.arith = s.train.arith.describe();
  c.resume_key = resume_key(s);
  c.epoch = epoch;
  c.best_metric = st.best < 0 ? std::nan("") : st.best;
  c.best_epoch = st.best_epoch;
  c.lr = lr;
  c.history = st.history;
  c.class_values = info.class_values;
  c.class_names = info.class_names;
  put_state(st.trainer->net(), st.trainer->state(), c);
  return c;
}

// Means over an epoch's steps.
struct EpochStats {
  double loss = 0, ce = 0, dice = 0, lr = 0;
};
EpochStats train_epoch(const TrainSettings& s, nn::Trainer& tr, const io::SliceFile& sf,
                       const DataPlan& plan, const mca::Stream& aug, int64_t epoch,
                       Progress& progress) {
  const int64_t B = s.batch_size, K = s.train.accumulation, steps = plan.steps;
  const auto t0 = Clock::now();
  const std::vector<int64_t> order = epoch_order(plan.split.train, s.data_seed, epoch);
  io::SliceBatch sb;
  std::vector<nn::Batch> micro(static_cast<size_t>(K));
  std::vector<int64_t> rows(static_cast<size_t>(B));
  EpochStats e;
  for (int64_t st = 0; st < steps; ++st) {
    for (int64_t m = 0; m < K; ++m) {
      for (int64_t b = 0; b < B; ++b)
        rows[size_t(b)] = order[size_t(((st * K + m) * B + b) % int64_t(order.size()))];
      sf.read(rows, sb);
      const mca::Stream a = aug.at(0, uint32_t(tr.steps_taken()));
      to_batch(sb, B, sf.info(), s.train.net, s.translate, &a, uint64_t(m * B), micro[size_t(m)]);
    }
    const nn::StepReport r = tr.step(micro);
    if (!std::isfinite(r.loss))
      throw Error("training diverged: loss is " + std::to_string(r.loss) + " at epoch " +
                  std::to_string(epoch + 1) + " step " + std::to_string(st + 1) +
                  " (lower [optim] lr?)");
    e.loss += r.loss / double(steps);
    e.ce += r.ce / double(steps);
    e.dice += r.dice / double(steps);
    e.lr = r.lr;
    const double secs = seconds_since(t0);
    progress.set_step_seconds(secs / double(st + 1));
    progress.update(io::view_name(s.view), epoch + 1, s.epochs, st + 1, steps, r.loss, r.lr,
                    double((st + 1) * B * K) / secs);
  }
  progress.end_epoch();
  return e;
}

// What the run is about to do, on the log.
void print_start(std::FILE* log, const TrainSettings& s, const RunState& st, const DataPlan& plan,
                 const OutPaths& out) {
  const Split& sp = plan.split;
  const std::string vname = io::view_name(s.view);
  std::fprintf(log, "numens train: %s view, %s, %lld parameters, %s\n", vname.c_str(),
               arch_name(s.train.net).c_str(), (long long)st.trainer->net().parameter_count(),
               s.train.arith.describe().c_str());
  std::fprintf(log,
               "  %zu training slices, %zu validation slices (%zu subjects held out), "
               "%lld steps/epoch of %lld x %lld slices, epochs %lld..%lld -> %s\n",
               sp.train.size(), sp.val.size(), sp.val_subjects.size(), (long long)plan.steps,
               (long long)s.batch_size, (long long)s.train.accumulation, (long long)st.epoch0 + 1,
               (long long)s.epochs, out.dir.string().c_str());
  std::fflush(log);
}

}  // namespace

void train_view(TrainSettings s, const TrainRun& run) {
  std::FILE* log = run.log ? run.log : stdout;
  const std::string cfg_name =
      s.config_file.empty() ? std::string("(command line)") : s.config_file.string();
  // Everything is checked before the first step: slice file, model vs slices, split, output.
  const fs::path slices = s.slices_path();
  if (const std::string why = io::file_problem(slices); !why.empty())
    throw ConfigError(cfg_name + ": [data] slices: " + slices.string() + ": " + why);
  const io::SliceFile sf(slices);
  const DataPlan plan = plan_data(s, sf, slices);
  const Split& sp = plan.split;
  const OutPaths out = out_paths(s, run);
  if (run.check) {  // everything above is the validation; show what would run
    std::fprintf(log, "%s", to_toml(s).c_str());
    std::fprintf(log, "# %zu training slices, %zu validation slices, %lld steps per epoch: ok\n",
                 sp.train.size(), sp.val.size(), (long long)plan.steps);
    return;
  }
  RunState st = start_or_resume(s, run);
  // A directory this run creates is removed again if the run fails or is interrupted (SIGINT,
  // SIGTERM, SIGHUP: io::TempPath) before its first checkpoint, when it holds only the resolved
  // configuration written here: no output without a result is left.
  struct NewDirGuard {
    fs::path dir, toml;
    bool armed = false;
    io::TempPath dir_guard, toml_guard;
    ~NewDirGuard() {
      if (!armed) return;
      std::error_code ec;
      fs::remove(toml, ec);
      if (fs::is_empty(dir, ec)) fs::remove(dir, ec);
    }
    void disarm() {
      armed = false;
      dir_guard.release();
      toml_guard.release();
    }
  } new_dir{out.dir, out.toml, !fs::exists(out.dir), {}, {}};
  io::make_output_dir(out.dir);
  if (new_dir.armed) {
    new_dir.dir_guard.hold(out.dir, /*directory=*/true);
    new_dir.toml_guard.hold(out.toml);
  }
  io::write_text_atomic(out.toml, to_toml(s));

  print_start(log, s, st, plan, out);
  auto checkpoint = [&](const fs::path& p, int64_t epoch, double lr) {
    io::write_checkpoint(p, make_checkpoint(s, st, sf.info(), epoch, lr), kVersion, kGitCommit);
    new_dir.disarm();  // the directory now holds a result
  };

  const mca::Stream aug = mca::Stream::make(s.augment_seed, kAugmentStream);
  Progress progress(s.log_every, run.log ? run.log : stderr);
  for (int64_t epoch = st.epoch0; epoch < s.epochs; ++epoch) {
    const auto t0 = Clock::now();
    const EpochStats e = train_epoch(s, *st.trainer, sf, plan, aug, epoch, progress);
    const Validation v = validate(*st.trainer, sf, sp.val, s.batch_size);
    const double secs = seconds_since(t0);
    char line[256];
    std::snprintf(line, sizeof line, "%lld,%lld,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.3f\n",
                  (long long)epoch + 1, (long long)st.trainer->steps_taken(), e.lr, e.loss, e.ce,
                  e.dice, v.dice, v.iou, secs);
    st.history += line;
    // Model selection on the validation mean IoU (FastSurfer's criterion).
    const bool improved = !std::isnan(v.iou) && v.iou > st.best;
    if (improved) st.best = v.iou, st.best_epoch = epoch + 1;
    std::fprintf(log,
                 "epoch %lld/%lld  loss %.4f (ce %.4f, dice %.4f)  val dice %.4f iou %.4f  lr "
                 "%.3e  %.1f s%s\n",
                 (long long)epoch + 1, (long long)s.epochs, e.loss, e.ce, e.dice, v.dice, v.iou,
                 e.lr, secs, improved ? "  best" : "");
    std::fflush(log);
    if (improved) checkpoint(out.best, epoch + 1, e.lr);
    if ((epoch + 1) % s.checkpoint_every == 0 || epoch + 1 == s.epochs)
      checkpoint(out.ckpt, epoch + 1, e.lr);
    io::write_text_atomic(out.csv, st.history);
  }
  std::fprintf(
      log, "numens train: done; %s%s\n", out.ckpt.string().c_str(),
      st.best_epoch > 0
          ? (", best epoch " + std::to_string(st.best_epoch) + " -> " + out.best.string()).c_str()
          : "");
  std::fflush(log);
}

namespace {

int run_train(const TrainFlags& f) {
  std::vector<std::string> overrides = f.sets;
  if (!f.view.empty()) overrides.push_back("data.view=\"" + f.view + "\"");
  if (f.epochs != kEpochsNotGiven) {
    if (f.epochs < 1)
      throw ConfigError("--epochs must be at least 1 (the total number of epochs), got " +
                        std::to_string(f.epochs));
    overrides.push_back("train.epochs=" + std::to_string(f.epochs));
  }
  TrainSettings s = load_train_settings(f.config, overrides);
  if (!f.out.empty()) s.out_dir = fs::absolute(f.out).string();
  TrainRun run;
  run.resume = f.resume;
  run.force = f.force;
  run.check = f.check;
  train_view(std::move(s), run);
  return 0;
}

}  // namespace

Runner add_train(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  CLI::App* sub = app.add_subcommand("train", "Train one view's network on a slice file");
  sub->add_option("--config", f->config, "training configuration (TOML; see docs/train.md)");
  sub->add_option("--view", f->view, "axial | coronal | sagittal (overrides [data] view)");
  sub->add_option("--epochs", f->epochs, "total epochs (overrides [train] epochs)");
  sub->add_option("--out", f->out, "output directory (overrides [output] dir)");
  sub->add_option("--resume", f->resume, "continue from this checkpoint, bit for bit");
  sub->add_option("--set", f->sets, "override a key: section.key=value (repeatable)");
  sub->add_flag("--force", f->force, "start over even if the output checkpoint exists");
  sub->add_flag("--check", f->check,
                "validate the configuration against the slice file, print it resolved, exit");
  return [f] { return run_train(*f); };
}

}  // namespace numens::drivers
