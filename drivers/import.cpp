// numens import: the user's NIfTI images (and optional label maps) listed in a CSV become a
// conformed cohort file. All the work is io::import_cohort; this file only maps flags to options.
#include <cstdio>
#include <memory>
#include <string>

#include "drivers/commands.hpp"
#include "drivers/conform_flags.hpp"
#include "io/import.hpp"
#include "numens/version.hpp"

namespace numens::drivers {

namespace {
struct ImportFlags {
  std::string csv;
  std::string out;
  std::string lut;
  ConformFlags conform;
};
}  // namespace

Runner add_import(CLI::App& app) {
  auto f = std::make_shared<ImportFlags>();
  CLI::App* sub = app.add_subcommand(
      "import", "Conform NIfTI images (and labels) listed in a CSV into a cohort HDF5 file");
  sub->add_option("--csv", f->csv, "CSV with columns id, age, image [, labels, sex]")->required();
  sub->add_option("--out", f->out, "cohort file to write (HDF5)")->required();
  sub->add_option("--lut", f->lut,
                  "label table 'value name r g b [a]' (default: the label values present)");
  f->conform.add_to(sub);
  return [f] {
    io::ImportOptions opt;
    opt.conform = f->conform.parse();
    opt.warn = [](const std::string& w) { std::fprintf(stderr, "warning: %s\n", w.c_str()); };
    if (!f->lut.empty()) opt.lut = f->lut;
    const std::size_t n = io::import_cohort(f->csv, f->out, opt, kVersion, kGitCommit);
    std::printf("numens import: %zu subjects -> %s\n", n, f->out.c_str());
    return 0;
  };
}

}  // namespace numens::drivers
