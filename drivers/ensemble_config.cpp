#include "drivers/ensemble_config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "drivers/config_section.hpp"
#include "io/ensemble.hpp"
#include "io/error.hpp"

namespace numens::drivers {

namespace fs = std::filesystem;

const char* arm_kind_name(ArmKind k) {
  switch (k) {
    case ArmKind::ieee:
      return "ieee";
    case ArmKind::seed:
      return "seed";
    case ArmKind::mca:
      return "mca";
    case ArmKind::seed_mca:
      return "seed+mca";
  }
  return "?";
}

std::string Member::dir_name() const {
  return io::member_dir_name(id);
}

namespace {

ArmKind parse_kind(const std::string& s, Section& sec) {
  if (s == "ieee") return ArmKind::ieee;
  if (s == "seed") return ArmKind::seed;
  if (s == "mca") return ArmKind::mca;
  if (s == "seed+mca") return ArmKind::seed_mca;
  throw sec.bad("kind", "must be \"ieee\", \"seed\", \"mca\" or \"seed+mca\", got \"" + s + "\"");
}

bool varies_seeds(ArmKind k) {
  return k == ArmKind::seed || k == ArmKind::seed_mca;
}
bool perturbs(ArmKind k) {
  return k == ArmKind::mca || k == ArmKind::seed_mca;
}

}  // namespace

namespace {

// One [[ensemble.arms]] table: name (unique), kind, members, id_base, and for a perturbing arm its
// mode, precision and cost options (validated against the base arithmetic).
Arm read_arm(Section& a, std::size_t k, const mca::ArithConfig& base,
             std::set<std::string>& names) {
  Arm arm;
  arm.name = a.string("name", "");
  if (arm.name.empty() ||
      arm.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                                 "OPQRSTUVWXYZ0123456789_-") != std::string::npos)
    throw a.bad("name", "must be a non-empty [A-Za-z0-9_-] name, got \"" + arm.name + "\"");
  if (!names.insert(arm.name).second) throw a.bad("name", "\"" + arm.name + "\" is used twice");
  arm.kind = parse_kind(a.string("kind", ""), a);
  arm.members = a.integer("members", 1, 1, io::kArmIdStride);
  arm.id_base = a.integer("id_base", int64_t(k) * io::kArmIdStride, 0, 9999 - io::kArmIdStride + 1);
  if (perturbs(arm.kind)) {
    try {
      arm.mode = mca::parse_mode(a.string("mode", "sr"));
    } catch (const ConfigError& err) {
      throw a.bad("mode", std::string("is invalid: ") + err.what());
    }
    if (arm.mode == mca::Mode::ieee)
      throw a.bad("mode", "must perturb (sr, rr, pb, mca, ...) in a \"" +
                              std::string(arm_kind_name(arm.kind)) + "\" arm");
    arm.t32 = int(a.integer("t", 24, 1, 24));
    mca::ArithConfig opts = base;
    read_cost_options(a, opts);
    arm.cost = opts.cost();
    opts.mode = arm.mode;
    opts.t32 = arm.t32;
    try {
      opts.validate();
    } catch (const ConfigError& err) {
      throw a.bad("mode", std::string("and its cost options: ") + err.what());
    }
  }
  if (arm.kind == ArmKind::ieee && arm.members != 1)
    throw a.bad("members", "must be 1 in an \"ieee\" arm (its members would be identical)");
  a.finish();
  return arm;
}

}  // namespace

EnsembleSettings load_ensemble_settings(const fs::path& file,
                                        const std::vector<std::string>& overrides) {
  const std::string fname = file.string();
  if (file.empty()) throw ConfigError("ensemble: --config is required");
  if (const std::string why = io::file_problem(file); !why.empty())
    throw ConfigError(fname + ": " + why);
  EnsembleSettings e;
  e.config_file = file;
  e.overrides = overrides;
  // The training sections first: the same reader and checks as `numens train`.
  e.base = load_train_settings(file, overrides, {"ensemble", "study"});

  toml::table root = load_toml(file, overrides);
  const toml::table* et = root["ensemble"].as_table();
  if (!et) throw ConfigError(fname + ": no [ensemble] section (docs/ensemble.md)");
  Section s(fname, "ensemble", et);
  auto relative = [&](const std::string& p) {
    fs::path q(p);
    return q.is_relative() ? file.parent_path() / q : q;
  };
  const std::string dir = s.string("dir", "");
  if (dir.empty()) throw s.bad("dir", "is required (the run directory)");
  e.dir = relative(dir);
  std::vector<std::string> views = s.strings("views");
  if (views.empty()) views = {"axial", "coronal", "sagittal"};
  for (const auto& v : views) {
    const io::View view = io::parse_view(v, file);
    if (std::find(e.views.begin(), e.views.end(), view) != e.views.end())
      throw s.bad("views", "lists '" + v + "' twice");
    e.views.push_back(view);
  }
  const std::string cohort = s.string("segment_cohort", "");
  if (cohort.empty()) throw s.bad("segment_cohort", "is required (the cohort members segment)");
  e.segment_cohort = relative(cohort);
  e.segment_subjects = s.strings("segment_subjects");
  const std::string sa = s.string("segment_arith", "ieee");
  if (sa != "ieee" && sa != "member")
    throw s.bad("segment_arith", "must be \"ieee\" or \"member\", got \"" + sa + "\"");
  e.segment_member_arith = sa == "member";
  e.segment_batch = int(s.integer("segment_batch", 8, 1, 1024));

  const toml::node* arms = s.raw("arms");
  if (!arms || !arms->is_array_of_tables() || arms->as_array()->empty())
    throw s.bad("arms", "is required: one or more [[ensemble.arms]] tables");
  std::set<std::string> names;
  const auto& arr = *arms->as_array();
  for (std::size_t k = 0; k < arr.size(); ++k) {
    Section a(fname, "ensemble.arms[" + std::to_string(k) + "]", arr[k].as_table());
    e.arms.push_back(read_arm(a, k, e.base.train.arith, names));
  }
  s.finish();
  // Ids must not collide across arms (explicit id_base values may overlap).
  std::map<int64_t, std::string> owner;
  for (const Arm& arm : e.arms)
    for (int64_t i = 0; i < arm.members; ++i) {
      auto [it, fresh] = owner.emplace(arm.id_base + i, arm.name);
      if (!fresh)
        throw ConfigError(fname + ": [ensemble] arms '" + it->second + "' and '" + arm.name +
                          "' both have member id " + std::to_string(arm.id_base + i) +
                          " (set id_base)");
    }
  return e;
}

std::vector<Member> EnsembleSettings::members() const {
  std::vector<Member> out;
  const nn::TrainConfig& tc = base.train;
  for (const Arm& arm : arms)
    for (int64_t i = 0; i < arm.members; ++i) {
      Member m;
      m.id = arm.id_base + i;
      m.arm = &arm;
      m.index = i;
      const uint32_t d = varies_seeds(arm.kind) ? uint32_t(i + 1) : 0u;
      m.init_seed = tc.init_seed + d;
      m.data_seed = base.data_seed + d;
      m.augment_seed = base.augment_seed + d;
      m.arith = tc.arith;
      if (perturbs(arm.kind)) {
        m.arith.mode = arm.mode;
        m.arith.t32 = arm.t32;
        m.arith.member = uint32_t(i);
        m.arith.set_cost(arm.cost);
      } else {
        m.arith.mode = mca::Mode::ieee;
        m.arith.member = 0;
        m.arith.set_cost({});
      }
      out.push_back(m);
    }
  std::sort(out.begin(), out.end(), [](const Member& a, const Member& b) { return a.id < b.id; });
  return out;
}

fs::path EnsembleSettings::member_dir(const Member& m) const {
  return dir / "members" / m.dir_name();
}

TrainSettings EnsembleSettings::member_settings(const Member& m, io::View view) const {
  TrainSettings s = base;
  s.view = view;
  s.train.init_seed = m.init_seed;
  s.data_seed = m.data_seed;
  s.augment_seed = m.augment_seed;
  s.train.arith = m.arith;
  s.out_dir = fs::absolute(member_dir(m)).string();
  return s;
}

std::string member_toml(const Member& m) {
  std::ostringstream t;
  t << "id = " << m.id << "\narm = " << toml_quoted(m.arm->name)
    << "\nkind = " << toml_quoted(arm_kind_name(m.arm->kind)) << "\nindex = " << m.index
    << "\n\n[seeds]\ninit = " << m.init_seed << "\ndata = " << m.data_seed
    << "\naugment = " << m.augment_seed << "\nmca = " << m.arith.seed
    << "\n\n[arith]\nmode = " << toml_quoted(std::string(mca::to_string(m.arith.mode)))
    << "\nt32 = " << m.arith.t32 << "\nt64 = " << m.arith.t64 << "\nmember = " << m.arith.member
    << "\n"
    << cost_options_toml(m.arith.cost());
  return t.str();
}

namespace {

std::string ensemble_section(const EnsembleSettings& e) {
  std::ostringstream t;
  t << "[ensemble]\nviews = [";
  for (std::size_t i = 0; i < e.views.size(); ++i)
    t << (i ? ", " : "") << toml_quoted(io::view_name(e.views[i]));
  t << "]\nsegment_cohort = "
    << toml_quoted(fs::absolute(e.segment_cohort).lexically_normal().string())
    << "\nsegment_subjects = [";
  for (std::size_t i = 0; i < e.segment_subjects.size(); ++i)
    t << (i ? ", " : "") << toml_quoted(e.segment_subjects[i]);
  t << "]\nsegment_arith = " << toml_quoted(e.segment_member_arith ? "member" : "ieee")
    << "\nsegment_batch = " << e.segment_batch << "\n";
  return t.str();
}

}  // namespace

std::string ensemble_key(const EnsembleSettings& e) {
  // The member-independent training base (seeds and arithmetic are the base ones; the view is
  // per member, so it is fixed in the key) and the epochs, which resume_key leaves out.
  TrainSettings b = e.base;
  b.view = io::View::axial;
  return ensemble_section(e) + "\n" + resume_key(b) + "\n# epochs = " + std::to_string(b.epochs) +
         "\n";
}

std::string to_toml(const EnsembleSettings& e) {
  std::ostringstream t;
  t << ensemble_section(e)
    << "dir = " << toml_quoted(fs::absolute(e.dir).lexically_normal().string()) << "\n";
  for (const Arm& a : e.arms) {
    t << "\n[[ensemble.arms]]\nname = " << toml_quoted(a.name)
      << "\nkind = " << toml_quoted(arm_kind_name(a.kind)) << "\nmembers = " << a.members
      << "\nid_base = " << a.id_base << "\n";
    if (perturbs(a.kind))
      t << "mode = " << toml_quoted(std::string(mca::to_string(a.mode))) << "\nt = " << a.t32
        << "\n"
        << cost_options_toml(a.cost);
  }
  TrainSettings b = e.base;
  fs::path slices(b.slices);  // keeps its {view} tag
  if (slices.is_relative()) slices = e.config_file.parent_path() / slices;
  b.slices = fs::absolute(slices).lexically_normal().string();
  b.out_dir = fs::absolute(e.dir / "members").lexically_normal().string();
  t << "\n" << to_toml(b);
  return t.str();
}

}  // namespace numens::drivers
