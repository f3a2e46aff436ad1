#include "drivers/train_config.hpp"

#include <toml++/toml.h>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "drivers/config_section.hpp"
#include "drivers/model_io.hpp"
#include "io/error.hpp"
#include "mca/config.hpp"

namespace numens::drivers {

namespace fs = std::filesystem;

namespace {

const char* const kSections[] = {"data",  "model", "train",   "optim",
                                 "arith", "seeds", "augment", "output"};

std::string quoted(const std::string& s) {
  return toml_quoted(s);
}

std::string num(double v) {
  std::ostringstream o;
  o.precision(17);
  o << v;
  std::string s = o.str();
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it a TOML float
  return s;
}

const char* optimizer_name(nn::OptimizerKind k) {
  return k == nn::OptimizerKind::adam ? "adam" : "adamw";
}
const char* schedule_name(nn::ScheduleKind k) {
  switch (k) {
    case nn::ScheduleKind::constant:
      return "constant";
    case nn::ScheduleKind::cosine_warm_restarts:
      return "cosine";
    case nn::ScheduleKind::step:
      return "step";
  }
  return "?";
}

}  // namespace

fs::path TrainSettings::slices_path() const {
  std::string p = slices;
  const std::string tag = "{view}";
  for (auto pos = p.find(tag); pos != std::string::npos; pos = p.find(tag))
    p.replace(pos, tag.size(), io::view_name(view));
  fs::path path(p);
  if (path.is_relative() && !config_file.empty()) path = config_file.parent_path() / path;
  return path;
}

namespace {

constexpr int64_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kU32Max = std::numeric_limits<uint32_t>::max();

// [data]: the slice file, the view, the validation split.
void read_data(Section& d, TrainSettings& s, const std::string& fname) {
  s.slices = d.string("slices", "");
  if (s.slices.empty())
    throw d.bad("slices", "is required (the slice file, e.g. \"slices/{view}.h5\")");
  s.view = io::parse_view(d.string("view", "axial"), fname);
  s.validation_fraction = d.number("validation_fraction", 0.2, 0.0, 0.9);
  s.validation_subjects = d.strings("validation_subjects");
}

// [model]: the architecture and its sizes (classes and channels may come from the slices).
void read_model(Section& m, TrainSettings& s, const std::string& /*fname*/) {
  nn::TrainConfig& tc = s.train;
  s.arch = m.string("arch", "fastsurfer-cnn-1");
  if (s.arch == "fastsurfer-cnn-1")
    tc.net = nn::fastsurfer_cnn();
  else if (s.arch == "fastsurfer-vinn")
    tc.net = nn::vinn_like();
  else
    throw m.bad("arch",
                "must be \"fastsurfer-cnn-1\" or \"fastsurfer-vinn\", got \"" + s.arch + "\"");
  tc.net.filters = int(m.integer("filters", tc.net.filters, 1, 4096));
  tc.net.kernel = int(m.integer("kernel", tc.net.kernel, 1, 15));
  tc.net.convs_per_block = int(m.integer("convs_per_block", tc.net.convs_per_block, 3, 4));
  tc.net.levels = int(m.integer("levels", tc.net.levels, 1, 6));
  tc.net.input_filters = int(m.integer("input_filters", tc.net.input_filters, 0, 4096));
  // 0: take them from the slice file; otherwise they must agree with it
  tc.net.classes = int(m.integer("classes", 0, 0, 32767));
  tc.net.in_channels = int(m.integer("in_channels", 0, 0, 31));
  if (tc.net.kernel % 2 == 0) throw m.bad("kernel", "must be odd");
}

// [train]: epochs, batches, checkpoints.
void read_train(Section& t, TrainSettings& s, const std::string& /*fname*/) {
  nn::TrainConfig& tc = s.train;
  s.epochs = t.integer("epochs", 30, 1, 100000);
  s.batch_size = t.integer("batch_size", 16, 1, 4096);
  tc.accumulation = int(t.integer("accumulation", 1, 1, nn::kMaxMicroBatches));
  s.steps_per_epoch = t.integer("steps_per_epoch", 0, 0, kI32Max);
  s.checkpoint_every = t.integer("checkpoint_every", 2, 1, 100000);
  s.log_every = t.integer("log_every", 20, 1, kI32Max);
  tc.dice_smooth = t.number("dice_smooth", 0.001, 1e-12, 1e6);
}

// [optim]: the optimizer and its learning-rate schedule.
void read_optim(Section& o, TrainSettings& s, const std::string& /*fname*/) {
  nn::TrainConfig& tc = s.train;
  nn::OptimConfig& oc = tc.optim;
  const std::string kind = o.string("optimizer", s.arch == "fastsurfer-vinn" ? "adamw" : "adam");
  if (kind != "adam" && kind != "adamw")
    throw o.bad("optimizer", "must be \"adam\" or \"adamw\", got \"" + kind + "\"");
  oc = kind == "adam" ? nn::fastsurfer_cnn_optim() : nn::vinn_optim();
  const std::string sched = o.string("schedule", schedule_name(oc.schedule));
  if (sched == "constant")
    oc.schedule = nn::ScheduleKind::constant;
  else if (sched == "cosine")
    oc.schedule = nn::ScheduleKind::cosine_warm_restarts;
  else if (sched == "step")
    oc.schedule = nn::ScheduleKind::step;
  else
    throw o.bad("schedule", "must be \"constant\", \"cosine\" or \"step\", got \"" + sched + "\"");
  oc.lr = o.number("lr", oc.lr, 0.0, 1e3);
  oc.beta1 = o.number("beta1", oc.beta1, 0.0, 0.999999);
  oc.beta2 = o.number("beta2", oc.beta2, 0.0, 0.999999999);
  oc.eps = o.number("eps", oc.eps, 1e-30, 1.0);
  oc.weight_decay = o.number("weight_decay", oc.weight_decay, 0.0, 1e3);
  oc.t0 = o.number("t0", oc.t0, 1e-6, 1e6);
  oc.t_mult = o.number("t_mult", oc.t_mult, 1.0, 1e3);
  oc.eta_min = o.number("eta_min", oc.eta_min, 0.0, 1e3);
  oc.step_size = o.integer("step_size", oc.step_size, 1, kI32Max);
  oc.gamma = o.number("gamma", oc.gamma, 1e-12, 1e3);
}

// [arith]: the training arithmetic (mode, precisions, cost options).
void read_arith(Section& a, TrainSettings& s, const std::string& /*fname*/) {
  nn::TrainConfig& tc = s.train;
  try {
    tc.arith.mode = mca::parse_mode(a.string("mode", "ieee"));
  } catch (const ConfigError& e) {
    throw a.bad("mode", std::string("is invalid: ") + e.what());
  }
  tc.arith.t32 = int(a.integer("t32", 24, 1, 24));
  tc.arith.t64 = int(a.integer("t64", 53, 1, 53));
  tc.arith.member = uint32_t(a.integer("member", 0, 0, kU32Max));
  read_cost_options(a, tc.arith);
}

// [seeds]: the four independent seeds.
void read_seeds(Section& z, TrainSettings& s, const std::string& /*fname*/) {
  nn::TrainConfig& tc = s.train;
  tc.init_seed = uint32_t(z.integer("init", 0, 0, kU32Max));
  s.data_seed = uint32_t(z.integer("data", 0, 0, kU32Max));
  s.augment_seed = uint32_t(z.integer("augment", 0, 0, kU32Max));
  tc.arith.seed = uint32_t(z.integer("mca", 0, 0, kU32Max));
}

}  // namespace

TrainSettings load_train_settings(const fs::path& file, const std::vector<std::string>& overrides,
                                  const std::vector<std::string>& other_sections) {
  const std::string fname = file.empty() ? std::string("(command line)") : file.string();
  toml::table root = load_toml(file, overrides);
  for (const auto& [k, v] : root) {
    bool known = false;
    for (const char* s : kSections) known |= k.str() == s;
    for (const std::string& s : other_sections) known |= k.str() == s;
    if (!known) throw ConfigError(fname + ": unknown section [" + std::string(k.str()) + "]");
    if (!v.is_table())
      throw ConfigError(fname + ": '" + std::string(k.str()) + "' must be a [section]");
  }
  auto section = [&](const char* name) { return Section(fname, name, root[name].as_table()); };
  TrainSettings s;
  s.config_file = file;
  using Reader = void (*)(Section&, TrainSettings&, const std::string&);
  const std::pair<const char*, Reader> readers[] = {{"data", read_data},   {"model", read_model},
                                                    {"train", read_train}, {"optim", read_optim},
                                                    {"arith", read_arith}, {"seeds", read_seeds}};
  for (const auto& [name, read] : readers) {
    Section sec = section(name);
    read(sec, s, fname);
    sec.finish();
  }
  {
    Section g = section("augment");
    s.translate = g.integer("translate", 0, 0, 64);
    g.finish();
  }
  {
    Section o = section("output");
    s.out_dir = o.string("dir", "train");
    if (s.out_dir.empty()) throw o.bad("dir", "must not be empty");
    o.finish();
  }
  try {
    s.train.optim.validate();
    s.train.arith.validate();
  } catch (const ConfigError& e) {
    throw ConfigError(fname + ": " + e.what());
  }
  return s;
}

void bind_to_slices(TrainSettings& s, const io::SliceFileInfo& info, const fs::path& slices) {
  const std::string cfg = s.config_file.empty() ? "(command line)" : s.config_file.string();
  nn::NetConfig& net = s.train.net;
  const auto classes = int(info.class_values.size());
  if (info.view != s.view)
    throw ConfigError(cfg + ": [data] view is " + io::view_name(s.view) + " but " +
                      slices.string() + " holds " + io::view_name(info.view) + " slices");
  if (net.classes != 0 && net.classes != classes)
    throw ConfigError(cfg + ": [model] classes = " + std::to_string(net.classes) + " but " +
                      slices.string() + " has " + std::to_string(classes) +
                      " classes (its cohort's label table)");
  if (net.in_channels != 0 && net.in_channels != info.thickness)
    throw ConfigError(cfg + ": [model] in_channels = " + std::to_string(net.in_channels) +
                      " but the slices of " + slices.string() + " have " +
                      std::to_string(info.thickness) + " channels");
  net.classes = classes;
  net.in_channels = int(info.thickness);
  try {
    s.train.validate();
  } catch (const ConfigError& e) {
    throw ConfigError(cfg + ": " + e.what());
  }
}

namespace {
std::string section_text(const TrainSettings& s, bool for_resume) {
  const nn::TrainConfig& tc = s.train;
  const nn::OptimConfig& o = tc.optim;
  std::ostringstream t;
  t << "[data]\n";
  if (!for_resume) t << "slices = " << quoted(s.slices) << "\n";
  t << "view = " << quoted(io::view_name(s.view)) << "\n"
    << "validation_fraction = " << num(s.validation_fraction) << "\n"
    << "validation_subjects = [";
  for (size_t i = 0; i < s.validation_subjects.size(); ++i)
    t << (i ? ", " : "") << quoted(s.validation_subjects[i]);
  t << "]\n\n[model]\n"
    << "arch = " << quoted(s.arch) << "\n"
    << "filters = " << tc.net.filters << "\nkernel = " << tc.net.kernel
    << "\nconvs_per_block = " << tc.net.convs_per_block << "\nlevels = " << tc.net.levels
    << "\ninput_filters = " << tc.net.input_filters << "\nclasses = " << tc.net.classes
    << "\nin_channels = " << tc.net.in_channels << "\n\n[train]\n";
  if (!for_resume) t << "epochs = " << s.epochs << "\n";
  t << "batch_size = " << s.batch_size << "\naccumulation = " << tc.accumulation
    << "\nsteps_per_epoch = " << s.steps_per_epoch << "\n";
  if (!for_resume)
    t << "checkpoint_every = " << s.checkpoint_every << "\nlog_every = " << s.log_every << "\n";
  t << "dice_smooth = " << num(tc.dice_smooth) << "\n\n[optim]\n"
    << "optimizer = " << quoted(optimizer_name(o.kind)) << "\n"
    << "schedule = " << quoted(schedule_name(o.schedule)) << "\n"
    << "lr = " << num(o.lr) << "\nbeta1 = " << num(o.beta1) << "\nbeta2 = " << num(o.beta2)
    << "\neps = " << num(o.eps) << "\nweight_decay = " << num(o.weight_decay)
    << "\nt0 = " << num(o.t0) << "\nt_mult = " << num(o.t_mult) << "\neta_min = " << num(o.eta_min)
    << "\nstep_size = " << o.step_size << "\ngamma = " << num(o.gamma) << "\n\n[arith]\n"
    << "mode = " << quoted(std::string(mca::to_string(tc.arith.mode))) << "\nt32 = " << tc.arith.t32
    << "\nt64 = " << tc.arith.t64 << "\nmember = " << tc.arith.member << "\n"
    << cost_options_toml(tc.arith.cost()) << "\n[seeds]\ninit = " << tc.init_seed
    << "\ndata = " << s.data_seed << "\naugment = " << s.augment_seed << "\nmca = " << tc.arith.seed
    << "\n\n[augment]\n"
    << "translate = " << s.translate << "\n";
  if (!for_resume) t << "\n[output]\ndir = " << quoted(s.out_dir) << "\n";
  return t.str();
}
}  // namespace

std::string to_toml(const TrainSettings& s) {
  return section_text(s, false);
}
std::string resume_key(const TrainSettings& s) {
  return section_text(s, true);
}

std::string seeds_toml(const TrainSettings& s) {
  return "{init = " + std::to_string(s.train.init_seed) +
         ", data = " + std::to_string(s.data_seed) +
         ", augment = " + std::to_string(s.augment_seed) +
         ", mca = " + std::to_string(s.train.arith.seed) + "}";
}

std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream x(a), y(b);
  std::string la, lb;
  while (true) {
    const bool ga = bool(std::getline(x, la)), gb = bool(std::getline(y, lb));
    if (!ga && !gb) return "";
    if (!ga || !gb || la != lb)
      return "'" + (ga ? la : std::string("<end>")) + "' where now '" +
             (gb ? lb : std::string("<end>")) + "'";
  }
}

}  // namespace numens::drivers
