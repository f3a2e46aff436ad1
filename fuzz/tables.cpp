// libFuzzer target: the text tables users write: the subjects CSV of `numens import` /
// `segment --csv` (io::read_subjects_csv, with and without required ages) and FreeSurfer-style
// colour tables (io::read_lut_file). Findings as in fuzz/nifti.cpp.
#include <cstdint>

#include "fuzz/fuzz_input.hpp"
#include "io/import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto p = numens::fuzz::input_file(data, size, ".csv");
  for (bool age : {true, false}) {
    try {
      (void)numens::io::read_subjects_csv(p, age);
    } catch (const numens::Error&) {
    }
  }
  try {
    (void)numens::io::read_lut_file(p);
  } catch (const numens::Error&) {
  }
  return 0;
}
