// The list of subcommands, shared by main() and by `numens study`, which runs its stages as the
// same commands in-process.
#include <algorithm>

#include "drivers/commands.hpp"
#include "mca/error.hpp"

namespace numens::drivers {

std::vector<Command> register_commands(CLI::App& app) {
  std::vector<Command> commands;
  for (Runner (*reg)(CLI::App&) :
       {&add_mca_check, &add_synth, &add_preview, &add_import, &add_export, &add_slices, &add_train,
        &add_segment, &add_ensemble, &add_variability, &add_brainage, &add_report, &add_study}) {
    const size_t before = app.get_subcommands({}).size();
    Runner r = reg(app);
    commands.push_back({app.get_subcommands({})[before], std::move(r)});
  }
  return commands;
}

int run_command(const std::vector<std::string>& args) {
  CLI::App app{"numens"};
  app.require_subcommand(1);
  const std::vector<Command> commands = register_commands(app);
  // CLI11 consumes a vector from its back.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    throw ConfigError("numens " + (args.empty() ? std::string() : args[0]) + ": " + e.what());
  }
  for (const auto& c : commands)
    if (c.app->parsed()) return c.run();
  throw ConfigError("no subcommand to run");
}

}  // namespace numens::drivers
