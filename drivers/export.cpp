// numens export: one volume numens wrote (a cohort's T1 or labels, a segmentation's labels or one
// class's probabilities, a summary's voxel maps), as NIfTI or MGZ, on the subject's own scan grid
// or the conformed one. All the work is io::export_volume; this file only maps flags.
#include <cstdio>
#include <memory>
#include <string>

#include "drivers/commands.hpp"
#include "io/export.hpp"
#include "mca/error.hpp"

namespace numens::drivers {

namespace {
struct ExportFlags {
  io::ExportRequest q;
  std::string in, space = "native", out;
};
}  // namespace

Runner add_export(CLI::App& app) {
  auto f = std::make_shared<ExportFlags>();
  CLI::App* sub = app.add_subcommand(
      "export", "Write a volume numens made (cohort, segmentation, summary) as NIfTI or MGZ");
  sub->add_option("--in", f->in, "cohort, segmentation or summary file (HDF5)")->required();
  sub->add_option("--subject", f->q.subject, "subject id")->required();
  sub->add_option("--dataset", f->q.dataset,
                  "cohort: t1 (default) | labels | a path under the subject; segmentation: labels "
                  "(default) | probs; summary: entropy (default) | disagreement | majority");
  sub->add_option("--label", f->q.label, "with --dataset probs: the class, by value or name");
  sub->add_option("--arm", f->q.arm, "summary maps: the arm (default: the first with maps)");
  sub->add_option("--space", f->space,
                  "native: the scan's own grid and affine | conformed: the grid numens works on")
      ->capture_default_str();
  sub->add_option("--out", f->out, "file to write: .nii, .nii.gz, .mgz or .mgh")->required();
  return [f] {
    if (f->space != "native" && f->space != "conformed")
      throw ConfigError("export: --space '" + f->space + "' is not native or conformed");
    f->q.in = f->in;
    f->q.native = f->space == "native";
    io::export_volume(f->q, f->out);
    std::printf("numens export: %s %s%s -> %s (%s grid)\n", f->q.subject.c_str(),
                f->q.dataset.empty() ? "(default dataset)" : f->q.dataset.c_str(),
                f->q.label.empty() ? "" : (" " + f->q.label).c_str(), f->out.c_str(),
                f->space.c_str());
    return 0;
  };
}

}  // namespace numens::drivers
