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
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "drivers/model_io.hpp"
#include "io/checkpoint.hpp"
#include "io/cohort.hpp"
#include "io/segmentation.hpp"
#include "io/slices.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && std::strcmp(argv[1], "checkpoint") == 0) return make_checkpoint(argc, argv);
    if (argc == 4 && std::strcmp(argv[1], "same") == 0) return compare(argv[2], argv[3], true);
    if (argc == 4 && std::strcmp(argv[1], "differ") == 0) return compare(argv[2], argv[3], false);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "numens_test_tool: %s\n", e.what());
    return 2;
  }
  std::fprintf(stderr, "usage: numens_test_tool checkpoint ... | same A B | differ A B\n");
  return 2;
}
