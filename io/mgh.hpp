// FreeSurfer MGH volumes (.mgh plain, .mgz gzip-compressed) in and out, into the same Volume that
// read_nifti fills, so the rest of numens does not care which format a scan came in.
//
// The format (FreeSurfer's mghRead/mghWrite; nibabel's freesurfer/mghformat.py reads it the same
// way): a 284-byte big-endian header, of which the first 90 bytes are used,
//   int32 version (1), width, height, depth, nframes, type, dof; int16 goodRASflag;
//   and, when goodRASflag > 0: float32 spacing[3], Mdc[9] (x_r x_a x_s, y_r y_a y_s, z_r z_a z_s:
//   the unit direction of each voxel axis in RAS), c_ras[3] (the world position of the centre);
// then the voxels, big-endian, x fastest, then y, z, frame; then an optional tail (TR, flip angle,
// TE, TI, FoV as float32, then tags) that numens ignores on read.
//
// vox2ras, as FreeSurfer and nibabel compute it: M = Mdc * diag(spacing) (column j = axis j's
// direction times its spacing) and P0 = c_ras - M * (width/2, height/2, depth/2) with real (not
// integer) halves, so for even sizes c_ras is the world position of voxel (n/2, n/2, n/2) and for
// odd sizes it falls between voxels. The reader reproduces nibabel's arithmetic to the bit: M is
// rounded to float32 (nibabel multiplies the float32 fields in float32), the centre term is summed
// in double, and the translation is rounded to float32 (nibabel stores it in an array of M's
// dtype). Volume::affine therefore holds float32 values, and an affine from a NIfTI file (float64)
// survives a trip through MGH only to float32 precision: MGH stores geometry as float32.
#pragma once

#include <filesystem>

#include "io/error.hpp"
#include "io/nifti.hpp"

namespace numens::io {

// Reads a single-frame MGH volume (.mgh or .mgz; zlib reads both, so the name does not choose
// the decoder). Fills dims, voxel_size (the spacing), datatype (the NiftiType of the stored type),
// data (as float; int32 values beyond 2^24 lose their low bits, as in read_nifti), affine
// (vox2ras as above), and qform_code = sform_code = 1 ("scanner"): MGH has one vox2ras and no
// codes, and FreeSurfer's is the scanner RAS of the acquisition, which is what code 1 means;
// a later write_nifti then keeps the same affine in both forms.
//
// goodRASflag <= 0 (no geometry stored): the fields after it are ignored and nibabel's default
// is used: spacing 1, c_ras 0, and axis directions x = (-1, 0, 0), y = (0, 0, 1), z = (0, -1, 0)
// (nibabel's MGHHeader._set_affine_default). Note that FreeSurfer's own default is coronal LIA,
// y = (0, 0, -1), z = (0, 1, 0): nibabel stores FreeSurfer's matrix transposed. numens follows
// nibabel so that both agree on the same file; such files are rare (FreeSurfer writes the flag
// as 1). nibabel only resets a flag equal to 0; a negative flag is treated as 0 here, as
// FreeSurfer does.
//
// Throws MghError ("mgh: <path>: <problem>") for: a missing file or a directory, a file shorter
// than the header, a corrupt gzip stream, version != 1, an unsupported type (named by its code),
// more than one frame, dimensions <= 0, spacing <= 0 or non-finite, direction columns not of
// unit length (within 1e-3) or singular, a non-finite c_ras, and truncated image data.
Volume read_mgh(const std::filesystem::path& path);

// Writes `v` as MGH: gzip-compressed when the name ends in ".mgz", plain for ".mgh" (any other
// name: MghError). `type` is the on-disk type: u8 (MRI_UCHAR), i16 (MRI_SHORT), i32 (MRI_INT)
// or f32 (MRI_FLOAT); others throw MghError. Integer types: values are rounded to nearest, ties
// to even (std::nearbyint, as write_nifti and numpy's rint), and must fit the type; NaN is
// refused; the error names the first bad voxel as (i,j,k). Geometry comes from v.affine alone
// (v.voxel_size and the form codes are not used): spacing = the column norms of its 3x3 part,
// Mdc = the columns divided by their norms, c_ras = affine * (width/2, height/2, depth/2, 1),
// goodRASflag = 1, dof = 0; after the data the five scan parameters (TR, flip angle, TE, TI, FoV)
// are written as float32 zeros. This is exactly what nibabel writes for a fresh MGHImage of the
// same data and affine (same arithmetic, same rounding), so the uncompressed bytes are identical.
// Written to a temp file and renamed into place: a failure leaves no partial output.
void write_mgh(const std::filesystem::path& path, const Volume& v, NiftiType type);

}  // namespace numens::io
