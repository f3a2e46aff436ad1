// numens synth: builds a synthetic ageing cohort (io/synth) and writes it as a cohort file, and/or
// its table of ground-truth regional volumes. Wiring only: the model lives in io/synth/.
#include <omp.h>

#include <cstdio>
#include <memory>
#include <string>

#include "drivers/commands.hpp"
#include "io/cohort.hpp"
#include "io/synth/labels.hpp"
#include "io/synth/synth.hpp"
#include "mca/error.hpp"
#include "numens/version.hpp"

namespace numens::drivers {

namespace {

struct Options {
  io::synth::SynthOptions synth;
  std::string out, stats;
  int threads = 0;
};

int run(Options& opt) {
  opt.synth.validate();
  if (opt.out.empty() && opt.stats.empty())
    throw ConfigError("numens synth needs --out cohort.h5 and/or --stats volumes.csv");
  if (opt.threads < 0) throw ConfigError("--threads must be >= 0");
  if (opt.threads > 0) omp_set_num_threads(opt.threads);
  io::synth::Template t = io::synth::load_template(opt.synth);
  const io::synth::Synthesizer synth(std::move(t), opt.synth);
  const auto& g = synth.geometry();
  std::printf("numens synth: %s, %zu subjects, seed %u, %.2f mm grid %ldx%ldx%ld\n",
              opt.synth.template_name.c_str(), opt.synth.subjects, opt.synth.seed,
              opt.synth.voxel_size, long(g.dims[0]), long(g.dims[1]), long(g.dims[2]));
  std::unique_ptr<io::CohortWriter> writer;
  if (!opt.out.empty())
    writer = std::make_unique<io::CohortWriter>(
        opt.out, io::synth::synth_label_table(), kVersion, kGitCommit,
        "numens " + opt.synth.describe() + "; " + synth.templ().description);
  if (writer) writer->set_seeds("{synth = " + std::to_string(opt.synth.seed) + "}");
  std::vector<io::synth::VolumeRow> rows;
  for (std::size_t i = 0; i < opt.synth.subjects; ++i) {
    const io::Subject s = synth.make(i);
    if (!opt.stats.empty()) rows.push_back({s.info, io::synth::label_volumes(s)});
    if (writer) writer->add(s);
  }
  if (writer) {
    writer->commit();
    std::printf("wrote %s\n", opt.out.c_str());
  }
  if (!opt.stats.empty()) {
    io::synth::write_volume_csv(opt.stats, rows);
    std::printf("wrote %s\n", opt.stats.c_str());
  }
  return 0;
}

}  // namespace

Runner add_synth(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "synth", "Synthesise an ageing cohort (T1, labels, ages) from a brain template");
  sub->add_option("--template", opt->synth.template_name,
                  "colin27 (Colin27 + AAL, Debian package mricron-data) | phantom (built in)")
      ->capture_default_str();
  sub->add_option("--template-dir", opt->synth.template_dir, "where the colin27 files are")
      ->capture_default_str();
  sub->add_option("--subjects", opt->synth.subjects, "number of subjects")->capture_default_str();
  sub->add_option("--seed", opt->synth.seed, "seed: subjects are a function of (seed, index)")
      ->capture_default_str();
  sub->add_option("--voxel-size", opt->synth.voxel_size, "output grid spacing in mm (isotropic)")
      ->capture_default_str();
  sub->add_option("--phantom-voxel", opt->synth.phantom_voxel, "grid of the phantom template, mm")
      ->capture_default_str();
  sub->add_option("--variation", opt->synth.variation,
                  "scale of the non-age individual variation (1 = documented default)")
      ->capture_default_str();
  sub->add_option("--out", opt->out, "cohort file to write (HDF5)");
  sub->add_option("--stats", opt->stats, "CSV of ground-truth regional volumes per subject");
  sub->add_option("--threads", opt->threads, "OpenMP threads (0: OMP_NUM_THREADS or all cores)")
      ->capture_default_str();
  return [opt] { return run(*opt); };
}

}  // namespace numens::drivers
