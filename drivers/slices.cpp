// numens slices: the 2.5D training file of one view from a cohort. All the work is
// io::write_slices; this file only maps flags to options.
#include <cstdio>
#include <memory>
#include <string>

#include "drivers/commands.hpp"
#include "io/slices.hpp"
#include "numens/version.hpp"

namespace numens::drivers {

namespace {
struct SliceFlags {
  std::string cohort;
  std::string view;
  std::string out;
  int thickness = 7;
  int min_labelled = 50;
  double edge_weight = 5.0;
  double class_weight_floor = 0.0;
};
}  // namespace

Runner add_slices(CLI::App& app) {
  auto f = std::make_shared<SliceFlags>();
  CLI::App* sub =
      app.add_subcommand("slices", "Build the 2.5D thick-slice training file of one view");
  sub->add_option("--cohort", f->cohort, "cohort file (HDF5)")->required();
  sub->add_option("--view", f->view, "axial | coronal | sagittal")->required();
  sub->add_option("--out", f->out, "slice file to write (HDF5)")->required();
  sub->add_option("--thickness", f->thickness, "planes per thick slice (odd)")
      ->capture_default_str();
  sub->add_option("--min-labelled", f->min_labelled, "drop planes with fewer non-background pixels")
      ->capture_default_str();
  sub->add_option("--edge-weight", f->edge_weight, "loss weight added on label edges")
      ->capture_default_str();
  sub->add_option("--class-weight-floor", f->class_weight_floor,
                  "least median-frequency class weight (0: FastSurfer; 0.1 keeps air in the loss)")
      ->capture_default_str();
  return [f] {
    io::SliceOptions opt;
    opt.view = io::parse_view(f->view, f->out);
    opt.thickness = f->thickness;
    opt.min_labelled = f->min_labelled;
    opt.edge_weight = f->edge_weight;
    opt.class_weight_floor = f->class_weight_floor;
    const std::size_t n = io::write_slices(f->cohort, f->out, opt, kVersion, kGitCommit);
    std::printf("numens slices: %zu %s slices -> %s\n", n, io::view_name(opt.view), f->out.c_str());
    return 0;
  };
}

}  // namespace numens::drivers
