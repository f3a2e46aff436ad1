// The ensemble configuration of `numens ensemble` (docs/ensemble.md): a training configuration
// (the base every member starts from) plus an [ensemble] section with the run directory, the views,
// what each member segments, and the arms. Members, their stable ids, seeds and arithmetic are
// derived here and nowhere else, so `numens ensemble`, `numens variability` and a rerun with a
// bigger config all agree on what member m1003 is.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "drivers/train_config.hpp"
#include "io/slices.hpp"
#include "mca/config.hpp"

namespace numens::drivers {

enum class ArmKind { ieee, seed, mca, seed_mca };
const char* arm_kind_name(ArmKind k);

struct Arm {
  std::string name;
  ArmKind kind = ArmKind::ieee;
  int64_t members = 1;
  int64_t id_base = 0;
  mca::Mode mode = mca::Mode::ieee;  // mca and seed+mca arms
  int t32 = 24;
  // Cost options of the arm's members (MCA.md v2), by default the base [arith] ones; ieee arms
  // keep the defaults.
  mca::CostOptions cost;
};

struct Member {
  int64_t id = 0;
  const Arm* arm = nullptr;
  int64_t index = 0;  // within the arm
  uint32_t init_seed = 0, data_seed = 0, augment_seed = 0;
  mca::ArithConfig arith;        // mode, t32, t64, seed (the MCA seed), member
  std::string dir_name() const;  // "m0003"
};

struct EnsembleSettings {
  std::filesystem::path config_file;
  std::vector<std::string> overrides;  // --set, applied to every member's training config
  std::filesystem::path dir;           // the run directory
  std::vector<io::View> views;
  std::filesystem::path segment_cohort;
  std::vector<std::string> segment_subjects;  // empty: every subject of the cohort
  bool segment_member_arith = false;          // false: segment in IEEE
  int segment_batch = 8;
  std::vector<Arm> arms;
  TrainSettings base;  // the training sections as read (view and output dir are per member)

  std::vector<Member> members() const;  // ascending id
  // The training settings of one member's view, output in <dir>/members/<m>.
  TrainSettings member_settings(const Member& m, io::View view) const;
  std::filesystem::path member_dir(const Member& m) const;
};

// Reads and validates the file (every key of [ensemble] documented in docs/ensemble.md; unknown
// keys are errors; the training sections as `numens train` reads them). Throws ConfigError naming
// the file, the key and the problem.
EnsembleSettings load_ensemble_settings(const std::filesystem::path& file,
                                        const std::vector<std::string>& overrides);

// member.toml of a member: id, arm, kind, index, seeds and arithmetic.
std::string member_toml(const Member& m);

// What a rerun in the same directory must agree on: the training base that changes numbers,
// the views and the segmentation settings (not the arms: they may grow).
std::string ensemble_key(const EnsembleSettings& e);

// The resolved configuration: ensemble_key plus the arms with their member counts.
std::string to_toml(const EnsembleSettings& e);

}  // namespace numens::drivers
