// libFuzzer target: the TOML configurations users write (numens train and numens ensemble; the
// study's reader shares their parser and typed getters, drivers/config_section.hpp). An input is
// a configuration file, then, after a 0 byte, "section.key=value" overrides one per line, as
// --set gives them. Findings: a crash, a sanitizer report, or an exception that is not
// numens::Error (toml++'s parse errors must arrive as ConfigError naming the file and line).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/ensemble_config.hpp"
#include "drivers/train_config.hpp"
#include "fuzz/fuzz_input.hpp"
#include "mca/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const std::size_t cut = all.find('\0');
  const std::string_view file = all.substr(0, cut);
  std::vector<std::string> overrides;
  if (cut != std::string_view::npos) {
    std::string_view rest = all.substr(cut + 1);
    while (!rest.empty() && overrides.size() < 8) {
      const std::size_t nl = rest.find('\n');
      overrides.emplace_back(rest.substr(0, nl));
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    }
  }
  const auto p = numens::fuzz::input_file(reinterpret_cast<const std::uint8_t*>(file.data()),
                                          file.size(), ".toml");
  try {
    (void)numens::drivers::load_train_settings(p, overrides);
  } catch (const numens::Error&) {
  }
  try {
    (void)numens::drivers::load_ensemble_settings(p, overrides);
  } catch (const numens::Error&) {
  }
  return 0;
}
