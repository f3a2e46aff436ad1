// libFuzzer target: io::read_nifti (NIfTI-1/-2, plain or gzip) on arbitrary bytes, then the checks
// and grid computations every caller runs next. Any input must end in a value or a numens::Error;
// a crash, sanitizer report, leak or a run past the limits is a finding.
#include <cstdint>

#include "fuzz/fuzz_input.hpp"
#include "io/conform.hpp"
#include "io/nifti.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto p = numens::fuzz::input_file(data, size, ".nii");
  try {
    const numens::io::Volume v = numens::io::read_nifti(p);
    numens::io::check_finite(v, p);
    const numens::io::Geometry g = numens::io::geometry_of(v);
    (void)numens::io::conformed_geometry(g, {1.0, 16}, p);
  } catch (const numens::Error&) {
  }
  return 0;
}
