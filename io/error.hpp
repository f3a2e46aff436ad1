// Typed errors of the data layer. Every message names the file (and, for HDF5, the object path)
// and the problem in one line, so a driver can print it as is.
#pragma once

#include "mca/error.hpp"

namespace numens::io {

// Any failure to read or write a file that is not specific to one format (rename, temp files).
struct IoError : numens::Error {
  using Error::Error;
};

// HDF5: a call failed, an object is missing, or a stored type/shape is not what the caller asked.
struct H5Error : IoError {
  using IoError::IoError;
};

// NIfTI: missing, not NIfTI, corrupt/truncated, or a valid file numens does not support.
struct NiftiError : IoError {
  using IoError::IoError;
};

}  // namespace numens::io
