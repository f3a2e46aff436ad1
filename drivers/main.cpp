// numens: one executable, one subcommand per stage. Library code throws typed errors; this is
// where they are caught and turned into one line on stderr and a non-zero exit status.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

#include "drivers/commands.hpp"
#include "io/h5.hpp"
#include "mca/error.hpp"
#include "numens/version.hpp"

namespace {

// One rule for every subcommand: its --out never names the same file or directory as one of its
// inputs (any other option whose value is an existing path), since writing the output would
// replace the input. Checked before the command runs, so nothing is read or written.
void check_out_is_not_an_input(const CLI::App& sub) {
  namespace fs = std::filesystem;
  const CLI::Option* out = sub.get_option_no_throw("--out");
  if (out == nullptr || out->count() == 0) return;
  const std::string out_path = out->as<std::string>();
  std::error_code ec;
  if (!fs::exists(out_path, ec)) return;
  for (const CLI::Option* o : sub.get_options()) {
    if (o == out || o->count() == 0) continue;
    for (const std::string& v : o->results()) {
      if (v.empty() || !fs::exists(v, ec) || !fs::equivalent(v, out_path, ec)) continue;
      throw numens::Error(sub.get_name() + ": --out " + out_path + " is the input given as " +
                          o->get_name() +
                          "; writing it would replace the input: choose another --out");
    }
  }
}

}  // namespace

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
  // Unsigned options (counts, seeds): a negative value is an error, not a wrapped huge number.
  for (const auto& c : commands)
    for (CLI::Option* o : c.app->get_options())
      if (o->get_type_name().rfind("UINT", 0) == 0)
        o->check(CLI::Validator(
            [](std::string& v) {
              return v.find('-') == std::string::npos ? std::string()
                                                      : "must not be negative, got " + v;
            },
            "", "non-negative"));
  // An unknown command word: say so (CLI11 would only say that a subcommand is required).
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const auto& c : commands) known = known || c.app->check_name(argv[1]);
    if (!known) {
      std::fprintf(stderr, "numens: error: unknown command '%s' (numens --help lists them)\n",
                   argv[1]);
      return 1;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // A bad argument is an error like any other: one line, exit status 1.
    std::fprintf(stderr, "numens: error: %s (see numens --help)\n", e.what());
    return 1;
  }
  try {
    for (const auto& c : commands)
      if (c.app->parsed()) {
        check_out_is_not_an_input(*c.app);
        return c.run();
      }
  } catch (const numens::Error& e) {
    std::fprintf(stderr, "numens: error: %s\n", e.what());
    // After a write failed on the storage, HDF5's own clean-up at exit would crash (SIGSEGV in
    // H5F__close_cb); the outputs are already removed by the unwinding, so skip it.
    if (numens::io::h5_storage_failed()) {
      std::fflush(stdout);
      std::fflush(stderr);
      _exit(1);
    }
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "numens: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
