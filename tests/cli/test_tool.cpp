// numens_test_tool: what the command-line tests need and the numens executable should not offer.
//   checkpoint --cohort C --view V --out F [--steps N] [--seed S] [--thickness T]
//              [--claim-view V2] [--drop-classes K] [--unknown-class VALUE]
//       a tiny FastSurferNet (8 filters, 3x3, 2 levels) on the cohort's classes, trained N steps
//       on thick slices of its labelled subjects, written as a checkpoint of view V (or V2:
//       a checkpoint that lies about its view); --drop-classes leaves out the last K classes,
//       --unknown-class adds a class value the cohort's LUT lacks (both for error tests).
//   same A.h5 B.h5 | differ A.h5 B.h5
//       exit 0 when the two segmentation files hold the same (resp. different) label volumes
//       and probabilities for the same subjects; prints the first difference.
//   ensemble --cohort C --out DIR [--arms ieee:ieee:1,seed:seed:3] [--k K] [--config 1]
//            [--fault F]
//       a fake ensemble run directory (standing in for `numens ensemble`): member i of arm k has
//       id 1000 k + i and segments every subject as its ground truth, except that members of
//       non-ieee arms relabel the first (i + 1) K voxels (x-fastest order) of the perturbed
//       region (the lowest non-zero label present in every subject) as background, so Dice,
//       volumes and majority votes have closed forms (verify-summary). --config writes
//       ensemble.toml. --fault breaks member 1001 for the error tests: no-done, no-seg, corrupt,
//       lut, subjects, grid, cohort-time, member-attr, dup-id; foreign-subject renames the first
//       subject and all-grid shifts its grid in every member.
//   verify-summary --summary S --cohort C --k K [--sig-floor 40] [--maps 1]
//       checks a summary of such an ensemble against the closed forms; prints the first mismatch.
//   same-summary A.h5 B.h5
//       exit 0 when two summary files hold bitwise-equal tables and maps.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "drivers/model_io.hpp"
#include "io/checkpoint.hpp"
#include "io/cohort.hpp"
#include "io/ensemble.hpp"
#include "io/segmentation.hpp"
#include "io/slices.hpp"
#include "io/summary.hpp"
#include "io/volume_file.hpp"
#include "nn/trainer.hpp"

using namespace numens;

namespace {

std::string arg(int argc, char** argv, const char* name, const char* def = nullptr) {
  for (int i = 2; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  if (!def) throw ConfigError(std::string("missing ") + name);
  return def;
}

int make_checkpoint(int argc, char** argv) {
  const std::string cohort_path = arg(argc, argv, "--cohort");
  const io::View view = io::parse_view(arg(argc, argv, "--view"), "--view");
  const std::string out = arg(argc, argv, "--out");
  const int steps = std::stoi(arg(argc, argv, "--steps", "0"));
  const auto seed = uint32_t(std::stoul(arg(argc, argv, "--seed", "1")));
  const int T = std::stoi(arg(argc, argv, "--thickness", "3"));
  const std::string claim = arg(argc, argv, "--claim-view", io::view_name(view));
  const int drop = std::stoi(arg(argc, argv, "--drop-classes", "0"));
  const int unknown = std::stoi(arg(argc, argv, "--unknown-class", "0"));

  const io::CohortReader cohort(cohort_path);
  const io::ClassMap cm = io::class_map(cohort.lut());
  std::vector<int16_t> values(cm.values.begin(), cm.values.end() - drop);
  std::vector<std::string> names(cm.names.begin(), cm.names.end() - drop);
  if (unknown != 0) values.push_back(int16_t(unknown)), names.push_back("unknown");
  const int C = int(values.size());

  nn::TrainConfig cfg;
  cfg.net = nn::NetConfig{T, 8, 3, 3, 2, C, 0};
  cfg.optim = nn::vinn_optim();
  cfg.optim.schedule = nn::ScheduleKind::constant;
  cfg.init_seed = seed;
  cfg.iterations_per_epoch = std::max(steps, 1);
  nn::Trainer trainer(cfg);

  // Training data: the view's planes of the labelled subjects, visited in a fixed stride so
  // every step sees other planes; images /255 and padded to a multiple of 4 like the segmenter.
  std::vector<io::Subject> subjects;
  for (std::size_t s = 0; s < cohort.subjects().size(); ++s)
    if (cohort.subjects()[s].has_labels) subjects.push_back(cohort.read(s));
  const int64_t B = 4;
  for (int step = 0; step < steps && !subjects.empty(); ++step) {
    const io::Subject& subj = subjects[std::size_t(step) % subjects.size()];
    const auto dims = subj.info.geometry.dims;
    const io::PlaneLayout L = io::plane_layout(view, dims);
    const int64_t H = (L.rows + 3) / 4 * 4, W = (L.cols + 3) / 4 * 4;
    nn::Batch b;
    b.images = Tensor<float>::zeros({B, T, H, W});
    b.labels = Tensor<int32_t>::zeros({B, 1, H, W});
    b.weights = Tensor<float>::zeros({B, 1, H, W});
    std::vector<uint8_t> thick(std::size_t(T * H * W));
    for (int64_t n = 0; n < B; ++n) {
      // planes around the middle third, where the phantom has its structures
      const int64_t p =
          L.planes / 3 + (int64_t(step) * 7 + n * 5) % std::max<int64_t>(1, L.planes / 3);
      io::thick_slice(subj.t1, dims, view, p, T, thick, H, W);
      for (std::size_t e = 0; e < thick.size(); ++e)
        b.images.data()[n * T * H * W + int64_t(e)] = float(thick[e]) / 255.0f;
      for (int64_t r = 0; r < L.rows; ++r)
        for (int64_t c = 0; c < L.cols; ++c) {
          const int16_t v =
              subj.labels[std::size_t(p * L.plane_stride + r * L.row_stride + c * L.col_stride)];
          const int16_t k = cm.class_of[uint16_t(v)];
          b.labels.at(n, 0, r, c) = k < C ? k : 0;
          b.weights.at(n, 0, r, c) = 1.0f;
        }
    }
    const nn::StepReport rep = trainer.step(std::span<const nn::Batch>(&b, 1));
    if (step == 0 || step + 1 == steps) std::printf("step %d loss %.4f\n", step, rep.loss);
  }

  io::Checkpoint ck;
  ck.config = "[test]\ncheckpoint = true\n";
  ck.seeds = "{init = " + std::to_string(seed) + "}";
  ck.view = claim;
  ck.net = cfg.net.describe();
  ck.arch = drivers::arch_name(cfg.net);
  ck.arith = cfg.arith.describe();
  ck.resume_key = "test";
  ck.epoch = 1;
  ck.class_values = values;
  ck.class_names = names;
  drivers::put_state(trainer.net(), trainer.state(), ck);
  io::write_checkpoint(out, ck, "test", "test");
  return 0;
}

int compare(const char* a_path, const char* b_path, bool want_same) {
  const io::SegmentationReader a(a_path), b(b_path);
  std::string diff;
  if (a.subject_ids() != b.subject_ids()) diff = "subject lists differ";
  for (std::size_t i = 0; diff.empty() && i < a.subject_ids().size(); ++i) {
    const std::string& id = a.subject_ids()[i];
    if (a.labels(id) != b.labels(id))
      diff = "labels of " + id + " differ";
    else if (a.has_probs(id) != b.has_probs(id))
      diff = "only one has probs for " + id;
    else if (a.has_probs(id) && a.probs(id) != b.probs(id))
      diff = "probs of " + id + " differ";
  }
  std::printf("%s\n", diff.empty() ? "same" : diff.c_str());
  return diff.empty() == want_same ? 0 : 1;
}

// ---- fake ensembles (numens variability tests) --------------------------------------------------

struct ArmSpec {
  std::string name, kind;
  int members = 0;
};

std::vector<ArmSpec> parse_arms(const std::string& spec) {
  std::vector<ArmSpec> out;
  std::istringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto a = item.find(':'), b = item.rfind(':');
    if (a == std::string::npos || a == b) throw ConfigError("--arms: '" + item + "'");
    out.push_back(
        {item.substr(0, a), item.substr(a + 1, b - a - 1), std::stoi(item.substr(b + 1))});
  }
  return out;
}

// The perturbed region: the lowest non-zero label present in every labelled subject.
int16_t perturbed_region(const std::vector<io::Subject>& subjects) {
  for (int v = 1; v < 32768; ++v) {
    bool all = !subjects.empty();
    for (const auto& s : subjects)
      all = all && std::find(s.labels.begin(), s.labels.end(), int16_t(v)) != s.labels.end();
    if (all) return int16_t(v);
  }
  throw ConfigError("no label present in every subject");
}

// Ground truth with the first n voxels of `region` set to 0.
std::vector<int16_t> perturb(std::vector<int16_t> labels, int16_t region, int64_t n) {
  for (std::size_t i = 0; i < labels.size() && n > 0; ++i)
    if (labels[i] == region) labels[i] = 0, --n;
  return labels;
}

std::vector<io::Subject> labelled_subjects(const io::CohortReader& cohort) {
  std::vector<io::Subject> out;
  for (std::size_t s = 0; s < cohort.subjects().size(); ++s)
    if (cohort.subjects()[s].has_labels) out.push_back(cohort.read(s));
  return out;
}

int make_ensemble(int argc, char** argv) {
  namespace fs = std::filesystem;
  const std::string cohort_path = arg(argc, argv, "--cohort");
  const fs::path dir = arg(argc, argv, "--out");
  const auto arms = parse_arms(arg(argc, argv, "--arms", "ieee:ieee:1,seed:seed:3"));
  const int64_t K = std::stoll(arg(argc, argv, "--k", "3"));
  const bool config = arg(argc, argv, "--config", "0") == std::string("1");
  const std::string fault = arg(argc, argv, "--fault", "none");

  const io::CohortReader cohort(cohort_path);
  const auto subjects = labelled_subjects(cohort);
  const int16_t region = perturbed_region(subjects);
  const io::ClassMap cm = io::class_map(cohort.lut());
  fs::remove_all(dir);
  fs::create_directories(dir / "members");
  std::ofstream toml_out;
  if (config) toml_out.open(dir / "ensemble.toml"), toml_out << "[ensemble]\ndir = \".\"\n";
  for (std::size_t k = 0; k < arms.size(); ++k) {
    if (config)
      toml_out << "\n[[ensemble.arms]]\nname = \"" << arms[k].name << "\"\nkind = \""
               << arms[k].kind << "\"\nmembers = " << arms[k].members << "\n";
    for (int i = 0; i < arms[k].members; ++i) {
      const int64_t id = int64_t(1000 * k) + i;
      const bool target = id == 1001;
      const fs::path md = dir / "members" / io::member_dir_name(id);
      fs::create_directories(md);
      std::ofstream(md / "member.toml")
          << "id = " << (target && fault == "dup-id" ? 1000 : id) << "\narm = \"" << arms[k].name
          << "\"\nkind = \"" << arms[k].kind << "\"\nindex = " << i
          << "\n[seeds]\ninit = 1\ndata = 2\naugment = 3\nmca = 4\n[arith]\nmode = \""
          << (arms[k].kind == "ieee" || arms[k].kind == "seed" ? "ieee" : "sr")
          << "\"\nt32 = 24\nt64 = 53\n";
      io::SegmentationInfo info;
      info.config = "[test]\nensemble = true\n";
      info.member = target && fault == "member-attr" ? 1000 : id;
      info.views = "axial,coronal,sagittal";
      info.arith = "ieee";
      info.accumulator = "float16";
      info.cohort = cohort_path;
      info.cohort_creation_time = target && fault == "cohort-time"
                                      ? std::string("1999-01-01T00:00:00Z")
                                      : cohort.provenance("creation_time");
      info.lut = cohort.lut();
      if (target && fault == "lut") info.lut.back().name = "Renamed";
      info.class_values = cm.values;
      info.class_names = cm.names;
      {
        io::SegmentationWriter w(md / "seg.h5", info, "test", "test");
        for (std::size_t s = 0; s < subjects.size(); ++s) {
          if (target && fault == "subjects" && s > 0) break;
          io::Geometry g = subjects[s].info.geometry;
          if (((target && fault == "grid") || fault == "all-grid") && s == 0) g.affine[0][3] += 1;
          const std::string sid =
              fault == "foreign-subject" && s == 0 ? std::string("sub-9999") : subjects[s].info.id;
          w.begin_subject(sid, g, false);
          const int64_t n = arms[k].kind == "ieee" ? 0 : (i + 1) * K;
          w.end_subject(perturb(subjects[s].labels, region, n));
        }
        w.commit();
      }
      if (target && fault == "no-seg") fs::remove(md / "seg.h5");
      if (target && fault == "corrupt")
        fs::resize_file(md / "seg.h5", fs::file_size(md / "seg.h5") / 2);
      if (!(target && fault == "no-done")) std::ofstream(md / "DONE") << "";
    }
  }
  std::printf("ensemble %s: perturbed region %d, K %lld\n", dir.c_str(), int(region),
              static_cast<long long>(K));
  return 0;
}

// Closed forms of the fake ensemble (make_ensemble) against a summary of it.
int verify_summary(int argc, char** argv) {
  const io::SummaryReader reader(arg(argc, argv, "--summary"));
  const io::CohortReader cohort(arg(argc, argv, "--cohort"));
  const int64_t K = std::stoll(arg(argc, argv, "--k", "3"));
  // lower bound of the significant digits of an unperturbed volume (52 bits less delta for CNH)
  const double sig_floor = std::stod(arg(argc, argv, "--sig-floor", "40"));
  const bool want_maps = arg(argc, argv, "--maps", "1") == std::string("1");
  const io::SummaryTables& t = reader.tables();
  const auto subjects = labelled_subjects(cohort);
  const int16_t region = perturbed_region(subjects);
  std::string bad;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok && bad.empty()) bad = what;
  };
  auto close = [](double a, double b) {
    return std::abs(a - b) <= 1e-6 * std::max(1.0, std::abs(b));
  };
  expect(t.subjects() == subjects.size(), "subject count");
  for (std::size_t s = 0; s < t.subjects() && bad.empty(); ++s) {
    const io::Subject& subj = subjects[s];
    expect(t.subject_ids[s] == subj.info.id, "subject order");
    expect(t.ages[s] == subj.info.age, "age of " + subj.info.id);
    const auto& vs = subj.info.geometry.voxel_size;
    const double voxel = vs[0] * vs[1] * vs[2];
    for (std::size_t r = 0; r < t.regions(); ++r) {
      const int16_t v = t.region_values[r];
      const int64_t N = std::count(subj.labels.begin(), subj.labels.end(), v);
      const std::string where = subj.info.id + " region " + std::to_string(v);
      for (std::size_t a = 0; a < t.arms(); ++a) {
        std::vector<std::size_t> ms;
        for (std::size_t m = 0; m < t.members(); ++m)
          if (std::size_t(t.member_arms[m]) == a) ms.push_back(m);
        const int64_t M = int64_t(ms.size());
        const bool perturbed = t.arm_kinds[a] != "ieee" && v == region;
        for (int64_t i = 0; i < M; ++i) {
          const std::size_t m = ms[std::size_t(i)];
          const int64_t n = perturbed ? (i + 1) * K : 0;
          expect(t.volume_mm3[t.smr(s, m, r)] == double(N - n) * voxel, "volume " + where);
          const double dice = N == 0 ? NAN : 2.0 * double(N - n) / double(2 * N - n);
          expect(N == 0 ? std::isnan(t.dice[t.smr(s, m, r)]) : close(t.dice[t.smr(s, m, r)], dice),
                 "member dice " + where);
        }
        const std::size_t k = t.asr(a, s, r);
        if (M < 2 || N == 0) {
          expect(std::isnan(t.dice_pairwise_min[k]), "pairwise NaN " + where);
          expect(std::isnan(t.volume_sigdigits[k]), "sigdigits NaN " + where);
        } else if (!perturbed) {
          expect(t.dice_pairwise_min[k] == 1.0f && t.dice_pairwise_mean[k] == 1.0f,
                 "pairwise 1 " + where);
          expect(t.volume_cv[k] == 0.0, "cv 0 " + where);
          expect(t.volume_sigdigits[k] > sig_floor, "sigdigits max " + where);
        } else {
          double sum = 0;
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = i + 1; j < M; ++j)
              sum += 2.0 * double(N - (j + 1) * K) / double(2 * N - (i + 1) * K - (j + 1) * K);
          expect(close(t.dice_pairwise_min[k], 2.0 * double(N - M * K) / double(2 * N - K - M * K)),
                 "pairwise min " + where);
          expect(close(t.dice_pairwise_mean[k], sum / double(M * (M - 1) / 2)),
                 "pairwise mean " + where);
          expect(t.volume_cv[k] > 0 && std::isfinite(t.volume_sigdigits[k]) &&
                     t.volume_sigdigits[k] < 30,
                 "spread " + where);
        }
        // majority: voxel of rank q in [jK, (j+1)K) is relabelled by M - j members; background
        // wins when M - j >= j (ties go to the lower label, 0)
        const int64_t nmaj = perturbed ? (M / 2 + 1) * K : 0;
        if (N > 0)
          expect(close(t.majority_dice[k], 2.0 * double(N - nmaj) / double(2 * N - nmaj)),
                 "majority dice " + where);
        expect(reader.has_maps(subj.info.id, t.arm_names[a]) == want_maps, "maps of " + where);
        if (want_maps && r == 0) {
          const io::ArmMaps maps = reader.maps(subj.info.id, t.arm_names[a]);
          int64_t dis = 0, want = 0;
          for (auto d : maps.disagreement) dis += d;
          if (t.arm_kinds[a] != "ieee")
            for (int64_t j = 0; j < M; ++j) want += K * (M - j >= j ? j : M - j);
          expect(dis == want, "disagreement sum of " + subj.info.id + " arm " + t.arm_names[a]);
        }
      }
    }
  }
  std::printf("%s\n", bad.empty() ? "summary ok" : ("mismatch: " + bad).c_str());
  return bad.empty() ? 0 : 1;
}

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

int same_summary(const char* a_path, const char* b_path) {
  const io::SummaryReader a(a_path), b(b_path);
  const io::SummaryTables &x = a.tables(), &y = b.tables();
  std::string diff;
  if (!bitwise_equal(x.dice, y.dice) || !bitwise_equal(x.volume_mm3, y.volume_mm3) ||
      !bitwise_equal(x.dice_pairwise_min, y.dice_pairwise_min) ||
      !bitwise_equal(x.dice_pairwise_mean, y.dice_pairwise_mean) ||
      !bitwise_equal(x.volume_cv, y.volume_cv) ||
      !bitwise_equal(x.volume_sigdigits, y.volume_sigdigits) ||
      !bitwise_equal(x.majority_dice, y.majority_dice))
    diff = "tables differ";
  for (std::size_t s = 0; diff.empty() && s < x.subjects(); ++s)
    for (const auto& arm : x.arm_names) {
      const bool ha = a.has_maps(x.subject_ids[s], arm), hb = b.has_maps(x.subject_ids[s], arm);
      if (ha != hb) diff = "maps present in one only";
      if (!ha || !hb) continue;
      const io::ArmMaps ma = a.maps(x.subject_ids[s], arm), mb = b.maps(x.subject_ids[s], arm);
      if (ma.entropy != mb.entropy || ma.disagreement != mb.disagreement ||
          ma.majority != mb.majority)
        diff = "maps of " + x.subject_ids[s] + " " + arm + " differ";
    }
  std::printf("%s\n", diff.empty() ? "same" : diff.c_str());
  return diff.empty() ? 0 : 1;
}

// volume-header FILE: dims, the affine's top three rows (%.9g) and the count of non-zero
// voxels, one line each; what the shell tests compare across files.
int volume_header(const char* path) {
  const io::Volume v = io::read_volume(path);
  std::printf("dims %lld %lld %lld\naffine", static_cast<long long>(v.dims[0]),
              static_cast<long long>(v.dims[1]), static_cast<long long>(v.dims[2]));
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) std::printf(" %.9g", v.affine[std::size_t(r)][std::size_t(c)]);
  std::printf("\nnonzero %zu\n",
              static_cast<std::size_t>(
                  std::count_if(v.data.begin(), v.data.end(), [](float x) { return x != 0; })));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && std::strcmp(argv[1], "checkpoint") == 0) return make_checkpoint(argc, argv);
    if (argc == 4 && std::strcmp(argv[1], "same") == 0) return compare(argv[2], argv[3], true);
    if (argc == 4 && std::strcmp(argv[1], "differ") == 0) return compare(argv[2], argv[3], false);
    if (argc >= 2 && std::strcmp(argv[1], "ensemble") == 0) return make_ensemble(argc, argv);
    if (argc >= 2 && std::strcmp(argv[1], "verify-summary") == 0) return verify_summary(argc, argv);
    if (argc == 3 && std::strcmp(argv[1], "volume-header") == 0) return volume_header(argv[2]);
    if (argc == 4 && std::strcmp(argv[1], "same-summary") == 0)
      return same_summary(argv[2], argv[3]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "numens_test_tool: %s\n", e.what());
    return 2;
  }
  std::fprintf(stderr,
               "usage: numens_test_tool checkpoint ... | same A B | differ A B | ensemble ... | "
               "verify-summary ... | same-summary A B | volume-header FILE\n");
  return 2;
}
