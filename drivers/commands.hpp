// Subcommand registry of the numens executable: one file per subcommand, each adding itself to
// the CLI11 app and returning the function that runs it after parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

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

}  // namespace numens::drivers
