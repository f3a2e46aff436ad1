// libFuzzer target: io::read_mgh (FreeSurfer .mgh/.mgz) on arbitrary bytes, then the grid
// computations a caller runs next. Findings as in fuzz/nifti.cpp.
#include <cstdint>

#include "fuzz/fuzz_input.hpp"
#include "io/conform.hpp"
#include "io/mgh.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto p = numens::fuzz::input_file(data, size, ".mgz");
  try {
    const numens::io::Volume v = numens::io::read_mgh(p);
    const numens::io::Geometry g = numens::io::geometry_of(v);
    (void)numens::io::conformed_geometry(g, {1.0, 16}, p);
  } catch (const numens::Error&) {
  }
  return 0;
}
