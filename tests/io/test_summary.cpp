// Summary files: round trip of every table and of the voxel maps, atomic writing, refusal of
// tables that do not fit their axes. Ensemble run directories: member.toml parsing, arm order,
// and each way a directory can break the contract (no DONE, duplicate id or index, bad kind,
// configured member missing).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <vector>

#include "io/ensemble.hpp"
#include "io/segmentation.hpp"
#include "io/summary.hpp"
#include "tests/io/expect_error.hpp"
#include "tests/io/tmpdir.hpp"

using namespace numens;
using namespace numens::io;
using numens::io::testing::check_error;
using numens::io::testing::TempDir;

namespace {

// A = 2 arms, M = 3 members, S = 2 subjects, R = 2 regions; values encode their position.
SummaryTables small_tables() {
  SummaryTables t;
  t.config = "[variability]\n";
  t.seeds = "{}";
  t.cohort = "cohort.h5";
  t.cohort_creation_time = "2026-01-01T00:00:00Z";
  t.arm_names = {"ieee", "sr24"};
  t.arm_kinds = {"ieee", "mca"};
  t.member_ids = {0, 1000, 1001};
  t.member_arms = {0, 1, 1};
  t.member_seeds = {"{init = 1}", "{init = 1}", "{init = 1}"};
  t.member_arith = {"mode=ieee", "mode=sr t32=24", "mode=sr t32=24"};
  t.subject_ids = {"s1", "s2"};
  t.ages = {30.5, 71};
  t.region_values = {3, 17};
  t.region_names = {"Left-Cerebral-Cortex", "Left-Hippocampus"};
  t.region_cortical = {1, 0};
  for (int i = 0; i < 12; ++i) t.dice.push_back(0.5f + 0.01f * float(i));
  for (int i = 0; i < 12; ++i) t.volume_mm3.push_back(100.0 * i);
  for (int i = 0; i < 8; ++i) {
    t.dice_pairwise_min.push_back(i == 0 ? NAN : 0.7f + 0.01f * float(i));
    t.dice_pairwise_mean.push_back(0.8f);
    t.volume_mean.push_back(10.0 * i);
    t.volume_std.push_back(i);
    t.volume_cv.push_back(0.1 * i);
    t.volume_sigdigits.push_back(i < 4 ? NAN : 12.5);
    t.majority_dice.push_back(0.9f);
  }
  t.sigdigits.method = "general";
  t.sigdigits.base = 10;
  t.correlations.push_back({0, 1, "volume_cv", 2, 0.5, -1.0});
  return t;
}

Geometry grid(int64_t nx, int64_t ny, int64_t nz) {
  Geometry g;
  g.dims = {nx, ny, nz};
  g.voxel_size = {2, 2, 2};
  g.affine = {{{-2, 0, 0, 1}, {0, 0, 2, 2}, {0, -2, 0, 3}, {0, 0, 0, 1}}};
  return g;
}

void write_text(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// members/mXXXX/{member.toml, DONE}
void add_member(const TempDir& d, int64_t id, const std::string& arm, const std::string& kind,
                int64_t index, bool done = true) {
  const auto dir = d.path() / "members" / member_dir_name(id);
  write_text(dir / "member.toml", "id = " + std::to_string(id) + "\narm = \"" + arm +
                                      "\"\nkind = \"" + kind +
                                      "\"\nindex = " + std::to_string(index) +
                                      "\n[seeds]\ninit = 4\ndata = 5\naugment = 6\nmca = 0\n"
                                      "[arith]\nmode = \"sr\"\nt32 = 24\nt64 = 53\n");
  if (done) write_text(dir / "DONE", "");
}

}  // namespace

TEST_CASE("summary file: tables and maps round trip, nothing visible before commit") {
  TempDir dir;
  const auto path = dir / "summary.h5";
  const SummaryTables t = small_tables();
  const Geometry g = grid(3, 2, 2);
  ArmMaps maps;
  maps.entropy = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255};
  maps.disagreement = std::vector<uint8_t>(12, 1);
  maps.majority = {0, 3, 3, 17, 0, 0, 0, 0, 0, 0, 17, -5};
  {
    SummaryWriter w(path, "0.test", "abc");
    w.write_maps("s2", "sr24", g, maps);
    CHECK(!std::filesystem::exists(path));
    w.commit(t);
  }
  CHECK(dir.entries() == 1);  // no temp file left
  const SummaryReader r(path);
  const SummaryTables& u = r.tables();
  CHECK(r.provenance("format") == "numens-summary");
  CHECK(r.provenance("numens_version") == "0.test");
  CHECK(u.arm_names == t.arm_names);
  CHECK(u.arm_kinds == t.arm_kinds);
  CHECK(u.member_ids == t.member_ids);
  CHECK(u.member_arms == t.member_arms);
  CHECK(u.member_arith == t.member_arith);
  CHECK(u.subject_ids == t.subject_ids);
  CHECK(u.ages == t.ages);
  CHECK(u.region_values == t.region_values);
  CHECK(u.region_names == t.region_names);
  CHECK(u.region_cortical == t.region_cortical);
  CHECK(u.dice == t.dice);
  CHECK(u.volume_mm3 == t.volume_mm3);
  CHECK(std::isnan(u.dice_pairwise_min[0]));
  CHECK(u.dice_pairwise_min[5] == t.dice_pairwise_min[5]);
  CHECK(u.volume_cv == t.volume_cv);
  CHECK(u.volume_sigdigits[7] == 12.5);
  CHECK(u.sigdigits.method == "general");
  CHECK(u.sigdigits.base == 10);
  CHECK(u.majority_dice == t.majority_dice);
  REQUIRE(u.correlations.size() == 1);
  CHECK(u.correlations[0].measure == "volume_cv");
  CHECK(u.correlations[0].spearman == -1.0);
  CHECK(u.asr(1, 1, 1) == 7);
  CHECK(u.smr(1, 2, 1) == 11);
  CHECK(r.has_maps("s2", "sr24"));
  CHECK(!r.has_maps("s1", "sr24"));
  CHECK(!r.has_maps("s2", "ieee"));
  CHECK(r.map_geometry("s2").dims == g.dims);
  const ArmMaps back = r.maps("s2", "sr24");
  CHECK(back.entropy == maps.entropy);
  CHECK(back.disagreement == maps.disagreement);
  CHECK(back.majority == maps.majority);
  check_error<IoError>([&] { r.maps("s1", "ieee"); }, "summary.h5", "no maps of subject 's1'");
}

TEST_CASE("summary file: tables that do not fit their axes are refused and leave no file") {
  TempDir dir;
  const auto path = dir / "summary.h5";
  auto attempt = [&](auto edit, const std::string& what) {
    SummaryTables t = small_tables();
    edit(t);
    check_error<IoError>(
        [&] {
          SummaryWriter w(path, "0.test", "abc");
          w.commit(t);
        },
        "summary.h5", what);
    CHECK(dir.entries() == 0);
  };
  attempt([](SummaryTables& t) { t.dice.pop_back(); }, "dice has 11 values");
  attempt([](SummaryTables& t) { t.majority_dice.clear(); }, "majority_dice has 0 values");
  attempt([](SummaryTables& t) { t.member_ids = {0, 1001, 1000}; }, "not ascending");
  attempt([](SummaryTables& t) { t.member_arms[2] = 2; }, "arm index 2 of 2 arms");
  attempt([](SummaryTables& t) { t.region_values[1] = 0; }, "region value 0");
  attempt([](SummaryTables& t) { t.arm_names[1] = "ieee"; }, "arm 'ieee' twice");
  attempt([](SummaryTables& t) { t.ages.push_back(3); }, "ages has 3 values");
  // maps of a subject the tables do not list
  check_error<IoError>(
      [&] {
        SummaryWriter w(path, "0.test", "abc");
        ArmMaps m{std::vector<uint8_t>(12), std::vector<uint8_t>(12), std::vector<int16_t>(12)};
        w.write_maps("s9", "ieee", grid(3, 2, 2), m);
        w.commit(small_tables());
      },
      "summary.h5", "subject 's9'");
  CHECK(dir.entries() == 0);
  // maps of the wrong size
  check_error<IoError>(
      [&] {
        SummaryWriter w(path, "0.test", "abc");
        ArmMaps m{std::vector<uint8_t>(11), std::vector<uint8_t>(12), std::vector<int16_t>(12)};
        w.write_maps("s1", "ieee", grid(3, 2, 2), m);
      },
      "summary.h5", "do not have the grid's 12 voxels");
  CHECK(dir.entries() == 0);
}

TEST_CASE("summary reader refuses another file kind") {
  TempDir dir;
  const auto path = dir / "seg.h5";
  SegmentationInfo info;
  info.lut = {{0, "Unknown", {0, 0, 0}}, {4, "Vent", {1, 2, 3}}};
  info.class_values = {0, 4};
  info.class_names = {"Unknown", "Vent"};
  {
    SegmentationWriter w(path, info, "0.test", "abc");
    w.begin_subject("s1", grid(2, 2, 1), false);
    w.end_subject(std::vector<int16_t>{0, 4, 4, 0});
    w.commit();
  }
  check_error<IoError>([&] { SummaryReader r(path); }, "seg.h5",
                       "format is 'numens-segmentation', expected 'numens-summary'");
}

TEST_CASE("ensemble directory: members, arms in config order, member.toml fields") {
  TempDir d;
  add_member(d, 1001, "sr24", "mca", 1);
  add_member(d, 0, "ieee", "ieee", 0);
  add_member(d, 1000, "sr24", "mca", 0);
  add_member(d, 2000, "seed", "seed", 0);
  {
    const EnsembleDir e = read_ensemble_dir(d.path());
    REQUIRE(e.members.size() == 4);
    CHECK(e.members[0].id == 0);
    CHECK(e.members[3].id == 2000);
    CHECK(e.members[1].seeds == "{init = 4, data = 5, augment = 6, mca = 0}");
    CHECK(e.members[1].arith == "mode=sr t32=24 t64=53");
    CHECK(e.members[1].seg() == d.path() / "members" / "m1000" / "seg.h5");
    REQUIRE(e.arms.size() == 3);  // no ensemble.toml: by smallest member id
    CHECK(e.arms[0].name == "ieee");
    CHECK(e.arms[1].name == "sr24");
    CHECK(e.arms[1].members == std::vector<std::size_t>{1, 2});
    CHECK(e.arms[2].kind == "seed");
  }
  // ensemble.toml decides the arm order and which members must exist
  write_text(d / "ensemble.toml",
             "[ensemble]\ndir = \".\"\n[[ensemble.arms]]\nname = \"seed\"\nkind = \"seed\"\n"
             "members = 1\nid_base = 2000\n[[ensemble.arms]]\nname = \"ieee\"\nkind = \"ieee\"\n"
             "members = 1\nid_base = 0\n[[ensemble.arms]]\nname = \"sr24\"\nkind = \"mca\"\n"
             "members = 2\nid_base = 1000\n");
  {
    const EnsembleDir e = read_ensemble_dir(d.path());
    REQUIRE(e.arms.size() == 3);
    CHECK(e.arms[0].name == "seed");
    CHECK(e.arms[2].name == "sr24");
  }
  write_text(d / "ensemble.toml",
             "[ensemble]\n[[ensemble.arms]]\nname = \"ieee\"\nkind = \"ieee\"\nmembers = 1\n"
             "[[ensemble.arms]]\nname = \"sr24\"\nkind = \"mca\"\nmembers = 3\n"
             "[[ensemble.arms]]\nname = \"seed\"\nkind = \"seed\"\nmembers = 1\n");
  check_error<EnsembleError>([&] { read_ensemble_dir(d.path()); }, "m1002",
                             "member 1002 (arm 'sr24', index 2) is missing");
}

TEST_CASE("ensemble directory: contract violations, one line naming the file") {
  {
    TempDir d;
    add_member(d, 0, "ieee", "ieee", 0);
    add_member(d, 1000, "seed", "seed", 0, false);
    check_error<EnsembleError>([&] { read_ensemble_dir(d.path()); }, "m1000",
                               "incomplete (no DONE marker)");
  }
  {
    TempDir d;
    add_member(d, 0, "ieee", "ieee", 0);
    // a copy of m0000 under another name: its id is a duplicate
    add_member(d, 0, "ieee", "ieee", 0);
    std::filesystem::rename(d / "members/m0000", d / "members/m0007");
    add_member(d, 0, "ieee", "ieee", 0);
    check_error<EnsembleError>([&] { read_ensemble_dir(d.path()); }, "m0007/member.toml",
                               "id 0 belongs in directory m0000");
  }
  {
    TempDir d;
    add_member(d, 1000, "seed", "seed", 0);
    add_member(d, 1001, "seed", "seed", 0);
    check_error<EnsembleError>([&] { read_ensemble_dir(d.path()); }, "m1001/member.toml",
                               "index 0 is also member 1000");
  }
  {
    TempDir d;
    add_member(d, 1000, "seed", "seed", 0);
    add_member(d, 1001, "seed", "mca", 1);
    check_error<EnsembleError>([&] { read_ensemble_dir(d.path()); }, "m1001/member.toml",
                               "arm 'seed' is of kind 'seed'");
  }
  {
    TempDir d;
    add_member(d, 0, "ieee", "fp", 0);
    check_error<EnsembleError>([&] { read_ensemble_dir(d.path()); }, "m0000/member.toml",
                               "kind 'fp' is not");
  }
  {
    TempDir d;
    write_text(d / "members/m0000/member.toml", "id = 0\narm = \"ieee\"\nkind = \"ieee\"\n");
    write_text(d / "members/m0000/DONE", "");
    check_error<EnsembleError>([&] { read_ensemble_dir(d.path()); }, "m0000/member.toml",
                               "no 'index'");
    write_text(d / "members/m0000/member.toml",
               "id = 0\narm = \"ieee\"\nkind = \"ieee\"\nindex = \"0\"\n");
    check_error<EnsembleError>([&] { read_ensemble_dir(d.path()); }, "m0000/member.toml",
                               "'index' must be an integer");
    // keys a newer writer may add are ignored
    write_text(d / "members/m0000/member.toml",
               "id = 0\narm = \"ieee\"\nkind = \"ieee\"\nindex = 0\nviews = [\"axial\"]\n");
    CHECK(read_ensemble_dir(d.path()).members.size() == 1);
    write_text(d / "members/m0000/member.toml", "id = = 0\n");
    check_error<EnsembleError>([&] { read_ensemble_dir(d.path()); }, "member.toml:1", "");
  }
  {
    TempDir d;
    check_error<EnsembleError>([&] { read_ensemble_dir(d.path()); }, d.path().string(),
                               "no members/ directory");
    check_error<EnsembleError>([&] { read_ensemble_dir(d / "nowhere"); }, "nowhere",
                               "ensemble directory not found");
  }
}
