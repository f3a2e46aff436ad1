// Training one view's network, callable from any driver (`numens train`, `numens ensemble`).
#pragma once

#include <cstdio>
#include <filesystem>

#include "drivers/train_config.hpp"

namespace numens::drivers {

struct TrainRun {
  std::filesystem::path resume;  // continue from this checkpoint ("" : start fresh)
  bool force = false;            // start fresh even when the output checkpoint exists
  bool check = false;            // validate and print the resolved config only
  std::FILE* log = nullptr;      // log lines and progress (nullptr: stdout, progress to stderr)
};

// Trains s.view for s.epochs into s.out_dir (checkpoints, best checkpoint, CSV history, resolved
// TOML; docs/train.md). Everything is validated before the first step. Throws numens::Error.
void train_view(TrainSettings s, const TrainRun& run);

}  // namespace numens::drivers
