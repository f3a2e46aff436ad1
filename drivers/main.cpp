// numens: one executable, one subcommand per stage. Library code throws typed errors; this is
// where they are caught and turned into one line on stderr and a non-zero exit status.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "drivers/commands.hpp"
#include "mca/error.hpp"
#include "numens/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "numens: numerical ensembles of brain-segmentation CNNs under Monte Carlo Arithmetic and "
      "stochastic rounding"};
  app.set_version_flag("--version", std::string("numens ") + numens::kVersion + " (commit " +
                                        numens::kGitCommit + ", CUDA backend " +
                                        (numens::kBuiltWithCuda ? "built" : "not built") + ")");
  app.require_subcommand(1);
  app.fallthrough(false);

  std::vector<std::pair<CLI::App*, numens::drivers::Runner>> commands;
  auto add = [&](numens::drivers::Runner (*reg)(CLI::App&)) {
    const size_t before = app.get_subcommands({}).size();
    numens::drivers::Runner r = reg(app);
    commands.emplace_back(app.get_subcommands({})[before], std::move(r));
  };
  add(&numens::drivers::add_mca_check);
  add(&numens::drivers::add_synth);
  add(&numens::drivers::add_preview);
  add(&numens::drivers::add_import);
  add(&numens::drivers::add_export);
  add(&numens::drivers::add_slices);
  add(&numens::drivers::add_train);
  add(&numens::drivers::add_segment);
  add(&numens::drivers::add_ensemble);
  add(&numens::drivers::add_variability);
  add(&numens::drivers::add_brainage);
  add(&numens::drivers::add_report);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : commands)
      if (sub->parsed()) return run();
  } catch (const numens::Error& e) {
    std::fprintf(stderr, "numens: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "numens: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
