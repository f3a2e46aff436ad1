// bench/synth: time to synthesise a cohort in memory (template load, preparation, subjects), the
// cost `numens synth` pays before writing. Verifies first: a subject made twice is bit-identical,
// and every subject has the LUT's labels and a T1 that is not empty.
//   synth [--template colin27|phantom] [--subjects N] [--voxel-size V] [--seed S] [--csv out.csv]
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "io/synth/labels.hpp"
#include "io/synth/synth.hpp"

using namespace numens::io::synth;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  SynthOptions opt;
  opt.subjects = 50;
  opt.voxel_size = 2.0;
  std::string csv;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--template")
      opt.template_name = v;
    else if (a == "--subjects")
      opt.subjects = std::stoul(v);
    else if (a == "--voxel-size")
      opt.voxel_size = std::stod(v);
    else if (a == "--seed")
      opt.seed = std::uint32_t(std::stoul(v));
    else if (a == "--variation")
      opt.variation = std::stod(v);
    else if (a == "--csv")
      csv = v;
    else {
      std::fprintf(stderr, "synth bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  try {
    const auto t0 = Clock::now();
    Template t = load_template(opt);
    const auto t1 = Clock::now();
    Synthesizer synth(std::move(t), opt);
    const auto t2 = Clock::now();
    {
      const auto a = synth.make(0), b = synth.make(0);
      if (a.t1 != b.t1 || a.labels != b.labels) {
        std::fprintf(stderr, "synth bench: subject 0 differs between two runs\n");
        return 1;
      }
    }
    const auto t3 = Clock::now();
    std::vector<VolumeRow> rows;
    for (std::size_t i = 0; i < opt.subjects; ++i) {
      const auto s = synth.make(i);
      std::size_t nonzero = 0;
      for (auto x : s.t1) nonzero += x != 0;
      for (auto l : s.labels)
        if (!label_index(l)) {
          std::fprintf(stderr, "synth bench: label %d not in the LUT\n", int(l));
          return 1;
        }
      if (nonzero < s.t1.size() / 10) {
        std::fprintf(stderr, "synth bench: subject %zu has an almost empty T1\n", i);
        return 1;
      }
      rows.push_back({s.info, label_volumes(s)});
    }
    const auto t4 = Clock::now();
    auto sec = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
    const auto& g = synth.geometry();
    std::printf("synth bench: %s, %zu subjects at %.2f mm (%ldx%ldx%ld), %d threads\n",
                opt.template_name.c_str(), opt.subjects, opt.voxel_size, long(g.dims[0]),
                long(g.dims[1]), long(g.dims[2]), omp_get_max_threads());
    std::printf("%-22s %9s\n", "stage", "seconds");
    std::printf("%-22s %9.2f\n", "load template", sec(t0, t1));
    std::printf("%-22s %9.2f\n", "prepare (distances)", sec(t1, t2));
    std::printf("%-22s %9.2f  (%.3f s/subject)\n", "subjects", sec(t3, t4),
                sec(t3, t4) / double(opt.subjects));
    std::printf("%-22s %9.2f  (verification excluded)\n", "total", sec(t0, t2) + sec(t3, t4));
    if (!csv.empty()) write_volume_csv(csv, rows);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "synth bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
