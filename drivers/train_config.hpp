// The training configuration of `numens train`: a TOML file (every key documented in
// docs/train.md, unknown keys and sections rejected), command-line overrides, and its resolved
// form, which is written into every checkpoint. Validation happens here, before any work: types,
// ranges, files, and the agreement of the model with the slice file (classes, channels).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/slice_file.hpp"
#include "nn/trainer.hpp"

namespace numens::drivers {

struct TrainSettings {
  std::filesystem::path config_file;  // as given ("" when none)

  // [data]
  std::string slices;  // slice file; "{view}" is replaced by the view name
  io::View view = io::View::axial;
  double validation_fraction = 0.2;              // of the subjects, spread evenly in cohort order
  std::vector<std::string> validation_subjects;  // explicit list instead (non-empty wins)

  // [model]
  std::string arch = "fastsurfer-cnn-1";  // preset the keys below modify: fastsurfer-cnn-1,
                                          // fastsurfer-vinn
  // [train]
  int64_t epochs = 30;
  int64_t batch_size = 16;      // slices per micro-batch
  int64_t steps_per_epoch = 0;  // 0: one pass over the training slices (drop the last partial)
  int64_t checkpoint_every = 2;
  int64_t log_every = 20;  // plain log line every N steps when stderr is not a terminal

  // [augment]
  int64_t translate = 0;  // random shift of each slice by up to this many pixels (0: off)

  // [seeds]
  uint32_t data_seed = 0, augment_seed = 0;  // init and mca live in `train`

  // [output]
  std::string out_dir = "train";

  // The nn side: model, optimizer, arithmetic (mode, t, mca seed, member), init seed,
  // accumulation, dice smoothing. net.classes and net.in_channels are filled from the slice file.
  nn::TrainConfig train;

  std::filesystem::path slices_path() const;  // with {view} substituted, relative to the config
};

// Reads `file` (may be empty: all defaults), applies `overrides` ("section.key=value", value in
// TOML syntax, strings may be bare), and validates types and ranges. Throws ConfigError naming the
// file, the key and the problem. `other_sections` are sections another reader owns (an ensemble
// config is a training config plus [ensemble]); they are skipped here, any other unknown section
// is an error.
TrainSettings load_train_settings(const std::filesystem::path& file,
                                  const std::vector<std::string>& overrides,
                                  const std::vector<std::string>& other_sections = {});

// Checks against the slice file (classes and thickness), sets net.classes/in_channels. Throws
// ConfigError naming both files on disagreement.
void bind_to_slices(TrainSettings& s, const io::SliceFileInfo& info,
                    const std::filesystem::path& slices);

// The resolved configuration as TOML (every key, defaults included): re-reading it gives the
// same settings.
std::string to_toml(const TrainSettings& s);

// What a resumed run must agree on with its checkpoint: everything that changes the numbers
// (model, optimizer, arithmetic, seeds, data split, batch), not epochs, paths or logging.
std::string resume_key(const TrainSettings& s);

// "{init = 1, data = 2, augment = 3, mca = 4}"
std::string seeds_toml(const TrainSettings& s);

// The first line where two configuration texts differ, "'<line of a>' where now '<line of b>'"
// ("" when equal): what an error about a changed configuration shows.
std::string first_difference(const std::string& a, const std::string& b);

}  // namespace numens::drivers
