#include "io/volume_file.hpp"

#include <string>

#include "io/error.hpp"
#include "io/mgh.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {

enum class Format { nifti, mgh };

Format format_of(const fs::path& path) {
  const std::string name = path.filename().string();
  for (const char* s : {".nii", ".nii.gz"})
    if (name.ends_with(s)) return Format::nifti;
  for (const char* s : {".mgz", ".mgh"})
    if (name.ends_with(s)) return Format::mgh;
  throw IoError(path.string() + ": unknown volume format (expected .nii, .nii.gz, .mgz or .mgh)");
}

}  // namespace

Volume read_volume(const fs::path& path) {
  return format_of(path) == Format::nifti ? read_nifti(path) : read_mgh(path);
}

void write_volume(const fs::path& path, const Volume& v, NiftiType type) {
  if (format_of(path) == Format::nifti) {
    write_nifti(path, v, type);
  } else {
    write_mgh(path, v, type);
  }
}

}  // namespace numens::io
