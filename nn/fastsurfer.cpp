#include "nn/fastsurfer.hpp"

#include <string>

#include "mca/error.hpp"
#include "nn/sites.hpp"

namespace numens::nn {

void NetConfig::validate() const {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw ConfigError("model configuration: " + what);
  };
  need(in_channels >= 1, "in_channels must be >= 1, got " + std::to_string(in_channels));
  need(filters >= 1, "filters must be >= 1, got " + std::to_string(filters));
  need(kernel >= 1 && kernel % 2 == 1,
       "kernel must be odd and >= 1, got " + std::to_string(kernel));
  need(convs_per_block == 3 || convs_per_block == 4,
       "convs_per_block must be 3 (FastSurferCNN 1.x) or 4 (VINN), got " +
           std::to_string(convs_per_block));
  need(levels >= 1 && levels <= int(kMaxLevels),
       "levels must be in [1, " + std::to_string(kMaxLevels) + "], got " + std::to_string(levels));
  need(classes >= 1, "classes must be >= 1, got " + std::to_string(classes));
  need(input_filters >= 0, "input_filters must be >= 0, got " + std::to_string(input_filters));
}

std::string NetConfig::describe() const {
  return "in_channels=" + std::to_string(in_channels) + " filters=" + std::to_string(filters) +
         " kernel=" + std::to_string(kernel) +
         " convs_per_block=" + std::to_string(convs_per_block) +
         " levels=" + std::to_string(levels) + " classes=" + std::to_string(classes) +
         " input_filters=" + std::to_string(input_filters);
}

NetConfig fastsurfer_cnn(int classes) {
  NetConfig c;
  c.in_channels = 7;
  c.filters = 64;
  c.kernel = 5;
  c.convs_per_block = 3;
  c.levels = 4;
  c.classes = classes;
  c.input_filters = 0;
  return c;
}

NetConfig vinn_like(int classes) {
  NetConfig c;
  c.in_channels = 7;
  c.filters = 71;
  c.kernel = 3;
  c.convs_per_block = 4;
  c.levels = 4;
  c.classes = classes;
  c.input_filters = 32;
  return c;
}

int64_t parameter_count(const NetConfig& cfg) {
  cfg.validate();
  const int64_t F = cfg.filters, n = cfg.convs_per_block;
  // one block: its convs (weights + biases), a BN (weight + bias) per conv, one PReLU slope,
  // plus BN0 on the input for input-kind blocks
  auto block = [&](int64_t in, int64_t f, bool input_kind) {
    int64_t p = 1 + (input_kind ? 2 * in : 0);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = n == 3 && i == 2 ? 1 : cfg.kernel;
      p += f * (i == 0 ? in : f) * k * k + f + 2 * f;
    }
    return p;
  };
  const int64_t I = cfg.input_filters;
  int64_t total = 0;
  if (I > 0) total += block(cfg.in_channels, I, true) + block(F + I, F, false);
  total += block(I > 0 ? I : cfg.in_channels, F, true);
  total += (2 * int64_t(cfg.levels)) * block(F, F, false);  // L-1 encoders, bottleneck, L decoders
  total += cfg.classes * F + cfg.classes;
  return total;
}

}  // namespace numens::nn
