// Between the trainer's flat buffers (nn/) and checkpoint files (io/): the only place that knows
// both. Parameter names are ParamStore names ("enc1.conv0.weight"); a checkpoint whose names or
// shapes differ from the model's is refused with the first mismatch named.
#pragma once

#include <filesystem>
#include <string>

#include "io/checkpoint.hpp"
#include "nn/fastsurfer.hpp"
#include "nn/trainer.hpp"

namespace numens::drivers {

// NetConfig <-> the checkpoint's `net` attribute ("in_channels=7 filters=64 kernel=5 ...", as
// NetConfig::describe() writes it). Parsing checks every field is present and valid.
nn::NetConfig parse_net(const std::string& text, const std::filesystem::path& context);

// "fastsurfer-cnn-1", "fastsurfer-vinn" or "custom".
std::string arch_name(const nn::NetConfig& net);

// Arrays of a trainer state in checkpoint form (params, Adam moments, BN statistics).
void put_state(const nn::FastSurferNet<float>& net, const nn::TrainerState& state,
               io::Checkpoint& ckpt);

// The trainer state stored in `ckpt` for a model of `net`'s layout (step from ckpt.step).
// Throws io::IoError naming `path` on any name or shape mismatch.
nn::TrainerState get_state(const nn::FastSurferNet<float>& net, const io::Checkpoint& ckpt,
                           const std::filesystem::path& path);

// Parameters and BN statistics of `ckpt` into `net` (inference: Adam moments are ignored).
void load_weights(nn::FastSurferNet<float>& net, const io::Checkpoint& ckpt,
                  const std::filesystem::path& path);

}  // namespace numens::drivers
