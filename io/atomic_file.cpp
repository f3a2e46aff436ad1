#include "io/atomic_file.hpp"

#include <fstream>

#include <unistd.h>

#include <string>
#include <system_error>
#include <utility>

#include "io/error.hpp"

namespace numens::io {

namespace fs = std::filesystem;

AtomicFile::AtomicFile(fs::path target) : target_(std::move(target)) {
  temp_ = target_;
  temp_ += ".tmp." + std::to_string(::getpid());
  const fs::path dir = target_.has_parent_path() ? target_.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw IoError(target_.string() + ": cannot write: directory " + dir.string() +
                  " does not exist");
  }
}

void make_output_dir(const fs::path& dir) {
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st))
      throw IoError(dir.string() +
                    ": exists and is not a directory (an output directory was expected)");
    return;
  }
  fs::create_directories(dir, ec);
  if (ec) throw IoError(dir.string() + ": cannot create the output directory: " + ec.message());
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  // Best effort: a destructor must not throw, and a missing temp file (writer failed before
  // creating it) is the normal case, not an error.
  std::error_code ec;
  fs::remove(temp_, ec);
}

void AtomicFile::commit() {
  if (committed_) return;
  std::error_code ec;
  if (!fs::exists(temp_, ec)) {
    throw IoError(target_.string() + ": cannot commit: temp file " + temp_.string() +
                  " was not written");
  }
  fs::rename(temp_, target_, ec);
  if (ec) {
    throw IoError(target_.string() + ": cannot rename " + temp_.string() +
                  " into place: " + ec.message());
  }
  committed_ = true;
}

void write_text_atomic(const std::filesystem::path& path, const std::string& text) {
  AtomicFile a(path);
  {
    std::ofstream f(a.temp_path());
    f << text;
    f.close();
    if (!f) throw IoError(path.string() + ": cannot write");
  }
  a.commit();
}

}  // namespace numens::io
