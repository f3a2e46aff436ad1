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

  const std::vector<numens::drivers::Command> commands = numens::drivers::register_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (const auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const numens::Error& e) {
    std::fprintf(stderr, "numens: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "numens: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
