// Subcommand registry of the numens executable: one file per subcommand, each adding itself to
// the CLI11 app and returning the function that runs it after parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace numens::drivers {

using Runner = std::function<int()>;

// Each registers its options on a new subcommand of `app` and returns what runs it.
Runner add_mca_check(CLI::App& app);
Runner add_synth(CLI::App& app);
Runner add_preview(CLI::App& app);
Runner add_import(CLI::App& app);
Runner add_export(CLI::App& app);
Runner add_slices(CLI::App& app);
Runner add_train(CLI::App& app);
Runner add_segment(CLI::App& app);
Runner add_ensemble(CLI::App& app);
Runner add_variability(CLI::App& app);
Runner add_brainage(CLI::App& app);
Runner add_report(CLI::App& app);
Runner add_study(CLI::App& app);

// Every subcommand, registered on `app` in the order --help lists them.
struct Command {
  CLI::App* app;
  Runner run;
};
std::vector<Command> register_commands(CLI::App& app);

// Runs one subcommand in this process as if `numens args...` had been typed (args[0] is the
// subcommand): how `numens study` runs its stages, so each stage is exactly the command it
// prints. Library errors propagate; a command-line error becomes a ConfigError.
int run_command(const std::vector<std::string>& args);

}  // namespace numens::drivers
