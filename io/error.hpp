// Typed errors of the data layer. Every message names the file (and, for HDF5, the object path)
// and the problem in one line, so a driver can print it as is.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include "mca/error.hpp"

namespace numens::io {

// Why `path` cannot be read as a file, or "" when it is a regular file (or a link to one): one
// wording for every reader ("file not found", "is a directory, a file was expected", ...).
inline std::string file_problem(const std::filesystem::path& path) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (std::filesystem::is_regular_file(st)) return "";
  if (!std::filesystem::exists(st)) return "file not found";
  if (std::filesystem::is_directory(st)) return "is a directory, a file was expected";
  return "not a regular file";
}

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

// FreeSurfer MGH/MGZ: missing, not MGH, corrupt/truncated, or a valid file numens does not support.
struct MghError : IoError {
  using IoError::IoError;
};

}  // namespace numens::io
