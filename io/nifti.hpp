// NIfTI-1 and NIfTI-2 volumes (.nii, .nii.gz) in and out, through Debian's nifti_clib (nifti2_io).
//
// Reading validates the header itself before the library sees the file: the library reports most
// failures only as a NULL pointer plus stderr chatter, so numens checks existence, magic, datatype
// and dimensions first and turns each problem into a NiftiError that names the file and the fault.
// Writing produces NIfTI-1 single files (.nii or, by name, .nii.gz) through AtomicFile.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/error.hpp"
#include "io/geometry.hpp"  // Affine

namespace numens::io {

// NIfTI datatype codes (nifti1.h DT_*), those numens reads; write supports u8, i16, f32.
enum class NiftiType : int {
  u8 = 2,
  i16 = 4,
  i32 = 8,
  f32 = 16,
  f64 = 64,
  i8 = 256,
  u16 = 512,
  u32 = 768,
};

const char* nifti_type_name(int code);

struct Volume {
  std::array<std::int64_t, 3> dims{0, 0, 0};        // nx, ny, nz (1 for a missing axis)
  std::array<double, 3> voxel_size{1.0, 1.0, 1.0};  // pixdim[1..3], in the file's xyz units
  int datatype = int(NiftiType::f32);               // as stored on disk (NiftiType code)
  // Intensities with x fastest, then y, then z (the file's order). scl_slope/scl_inter are
  // applied when slope != 0 (the NIfTI rule), so data holds the physical values.
  std::vector<float> data;
  // sform if sform_code > 0, else qform if qform_code > 0 (the NIfTI standard's methods 3 and 2,
  // nibabel's and FastSurfer's choice). With both codes 0 the orientation is unknown: numens
  // then reads the file as nibabel (and so FastSurfer) does, not by the standard's method 1:
  // diag(-dx, dy, dz), x mirrored, the volume's centre ((dims - 1) / 2) at the origin; and says
  // so in `warnings`.

  Affine affine{};
  int qform_code = 0;
  int sform_code = 0;
  double scl_slope = 0.0;  // as stored (already applied to data)
  double scl_inter = 0.0;
  // False when the file had neither a qform nor an sform code (see affine). Written back as
  // codes 0 by write_nifti, so that no reader takes a guessed orientation for a known one.
  bool orientation_known = true;
  // What a careful user should hear about the header, one line each, naming the file: missing
  // orientation codes, qform and sform that disagree. read_nifti fills it; callers print it.
  std::vector<std::string> warnings;

  std::size_t voxel_count() const { return std::size_t(dims[0] * dims[1] * dims[2]); }
};

// Reads a 3-D NIfTI-1/-2 file (.nii or .nii.gz; 4-D with t = 1 is accepted). Throws NiftiError
// for: missing file, bad magic, unsupported datatype, dimensions <= 0, a voxel size (pixdim[1..3])
// that is zero, negative or not finite (the nifti library would silently take 1 or its absolute
// value), more than one volume (4-D and up are not supported), truncated or corrupt data
// (including gzip).
Volume read_nifti(const std::filesystem::path& path);

// Throws NiftiError naming the file and the first bad voxel if any intensity is NaN or infinite.
// Separate from read_nifti: a check over every voxel the caller may not want on each read.
void check_finite(const Volume& v, const std::filesystem::path& path);

// Writes `v` as a NIfTI-1 single file; gzip-compressed when the name ends in ".gz". `type` is the
// on-disk type: u8, i16 (values are rounded to nearest and must fit the type) or f32. The affine
// goes in both sform and qform (codes from v, or 2 "aligned" / 1 "scanner" when v's are 0; both
// 0 when !v.orientation_known, with pixdim = the column norms, so readers rebuild it); qform
// can only hold a rigid transform with scaling, so the sform is the exact copy. Written to a temp
// file and renamed into place, so a failure leaves no partial output.
void write_nifti(const std::filesystem::path& path, const Volume& v, NiftiType type);

}  // namespace numens::io
