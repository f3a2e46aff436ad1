// Checkpoint files (docs/hdf5-schema.md, "Checkpoint"): the state a training run needs to continue
// bit for bit, and a segmenter needs to run the model. Plain named arrays: io/ knows nothing of
// models or optimizers; drivers/ converts between these arrays and the trainer's flat buffers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace numens::io {

inline constexpr std::string_view kCheckpointFormat = "numens-checkpoint";
inline constexpr std::int64_t kCheckpointFormatVersion = 1;

// One parameter (or statistic) with its dotted name ("enc1.conv0.weight", stored at
// /params/enc1/conv0/weight) and shape.
struct NamedArray {
  std::string name;
  std::vector<std::uint64_t> shape;
  std::vector<float> values;
};

struct Checkpoint {
  // Root attributes.
  std::string config;      // the resolved TOML of the run (provenance attribute `config`)
  std::string seeds;       // TOML inline table, "{init = 1, data = 2, augment = 3, mca = 4}"
  std::string view;        // axial | coronal | sagittal
  std::string arch;        // fastsurfer-cnn-1 | fastsurfer-vinn | custom
  std::string net;         // NetConfig::describe(), what the segmenter rebuilds the model from
  std::string arith;       // ArithConfig::describe() of the training arithmetic
  std::string resume_key;  // what a resumed run must agree on (drivers/train: model, data,
                           // optimizer, arithmetic, seeds, batch)
  std::int64_t epoch = 0;  // epochs completed
  std::int64_t step = 0;   // optimizer steps taken
  double best_metric = std::numeric_limits<double>::quiet_NaN();  // validation mean Dice
  std::int64_t best_epoch = -1;
  double lr = 0;        // learning rate of the last step taken
  std::string history;  // the run's per-epoch CSV so far (header line first), so a resumed run
                        // keeps its whole curve

  // Class c of the model output is LUT value class_values[c].
  std::vector<std::int16_t> class_values;
  std::vector<std::string> class_names;

  std::vector<NamedArray> params;  // /params/...
  std::vector<NamedArray> adam_m;  // /optim/m/... (same names and shapes as params)
  std::vector<NamedArray> adam_v;  // /optim/v/...
  std::vector<NamedArray> bn;      // /bn/... running_mean, running_var
};

// Writes atomically (temp name, then rename). Throws IoError/H5Error naming the file.
void write_checkpoint(const std::filesystem::path& path, const Checkpoint& ckpt,
                      std::string_view numens_version, std::string_view git_commit);

// Reads and validates (format, version, names and shapes consistent, finite values). Throws
// IoError/H5Error naming the file and the problem.
Checkpoint read_checkpoint(const std::filesystem::path& path);

// Only the root attributes and class table (no arrays): cheap, for listing and config checks.
Checkpoint read_checkpoint_header(const std::filesystem::path& path);

}  // namespace numens::io
