// Reading an ensemble run directory (docs/ensemble.md, "Run directory"): the members under
// <dir>/members/mXXXX/, each described by member.toml and complete only once its DONE marker
// exists. This is the readers' side of the contract (`numens variability`, later `numens
// brainage`); `numens ensemble` writes it. Nothing here opens the segmentation files: callers
// open MemberRecord::seg() with io/segmentation.hpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/error.hpp"

namespace numens::io {

// A run directory that breaks the contract: missing or incomplete member, malformed or
// inconsistent member.toml, duplicate ids. The message names the file and the problem.
struct EnsembleError : IoError {
  using IoError::IoError;
};

struct MemberRecord {
  std::int64_t id = 0;
  std::string arm;   // arm name, [A-Za-z0-9_-]+
  std::string kind;  // "ieee" | "seed" | "mca" | "seed+mca"
  std::int64_t index = 0;
  std::string seeds;  // member.toml [seeds] as a TOML inline table, "{init = 4, data = 5, ...}"
  std::string arith;  // member.toml [arith] as "mode=sr t32=24 t64=53" ("" when absent)
  std::filesystem::path dir;  // <ensemble>/members/mXXXX

  std::filesystem::path seg() const { return dir / "seg.h5"; }
};

struct EnsembleArm {
  std::string name, kind;
  std::vector<std::size_t> members;  // positions in EnsembleDir::members, ascending id
};

struct EnsembleDir {
  std::filesystem::path dir;
  std::vector<EnsembleArm> arms;      // config order (ensemble.toml), else by smallest member id
  std::vector<MemberRecord> members;  // ascending id
};

// Member ids of the arm at position k start at k times this unless the arm sets id_base; it is
// also the most members an arm may have, so default id ranges never overlap.
inline constexpr std::int64_t kArmIdStride = 1000;

// The directory name of member `id`: "m" and the id in at least four digits ("m0007", "m1000").
std::string member_dir_name(std::int64_t id);

// Parses one member.toml: id, arm, kind, index required, [seeds] and [arith] optional; other
// keys are ignored (forward compatibility with newer writers).
MemberRecord read_member_toml(const std::filesystem::path& file);

// Reads <dir>/members/m*/member.toml. Every member directory must hold DONE (an incomplete member
// is an error naming it, the first in id order); ids are unique and match their directory names;
// (arm, index) pairs are unique; an arm has one kind. When <dir>/ensemble.toml lists arms
// ([[ensemble.arms]] name, kind, members, id_base defaulting to 1000 x position), every configured
// member must be there and complete, and no member may belong to an arm it does not list.
EnsembleDir read_ensemble_dir(const std::filesystem::path& dir);

}  // namespace numens::io
