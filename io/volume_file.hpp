// One entry point for volume files whatever their format, chosen by the file name: NIfTI (.nii,
// .nii.gz) or FreeSurfer MGH (.mgz, .mgh). The name decides rather than the content so that a
// write and a later read of the same name agree, and a misnamed file fails with the format's own
// error instead of being guessed at.
#pragma once

#include <filesystem>

#include "io/nifti.hpp"

namespace numens::io {

// read_nifti for .nii / .nii.gz, read_mgh for .mgz / .mgh (suffixes are case-sensitive). Any
// other name: IoError "<path>: unknown volume format (expected .nii, .nii.gz, .mgz or .mgh)".
Volume read_volume(const std::filesystem::path& path);

// write_nifti or write_mgh by the same rule; `type` is passed on (each writer says which types it
// takes). Other names: the same IoError, and nothing is written.
void write_volume(const std::filesystem::path& path, const Volume& v, NiftiType type);

}  // namespace numens::io
