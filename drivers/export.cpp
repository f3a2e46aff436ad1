// numens export: one volume of one subject of a cohort, back in the subject's original space, as
// NIfTI. All the work is io::export_volume; this file only maps flags to arguments.
#include <cstdio>
#include <memory>
#include <string>

#include "drivers/commands.hpp"
#include "io/import.hpp"

namespace numens::drivers {

namespace {
struct ExportFlags {
  std::string in;
  std::string subject;
  std::string dataset = "t1";
  std::string out;
};
}  // namespace

Runner add_export(CLI::App& app) {
  auto f = std::make_shared<ExportFlags>();
  CLI::App* sub = app.add_subcommand(
      "export", "Write a subject's volume back to NIfTI in its original geometry");
  sub->add_option("--in", f->in, "cohort file (HDF5)")->required();
  sub->add_option("--subject", f->subject, "subject id")->required();
  sub->add_option("--dataset", f->dataset, "t1 | labels | a dataset path under the subject")
      ->capture_default_str();
  sub->add_option("--out", f->out, "NIfTI file to write (.nii or .nii.gz)")->required();
  return [f] {
    io::export_volume(f->in, f->subject, f->dataset, f->out);
    std::printf("numens export: %s/%s -> %s\n", f->subject.c_str(), f->dataset.c_str(),
                f->out.c_str());
    return 0;
  };
}

}  // namespace numens::drivers
