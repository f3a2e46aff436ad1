// Write-to-temp-then-rename. A reader of `target` sees either the previous file or the complete
// new one, never a partial write: the writer fills `<target>.tmp.<pid>` and commit() renames it
// (rename(2) is atomic within one file system, and the temp file sits next to the target so it is
// on the same one). If commit() is never reached, because the writer threw, the destructor
// removes the temp file.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace numens::io {

// A path that must not outlive an interrupted write: a temp file or temp directory. While a
// TempPath holds it, SIGINT, SIGTERM and SIGHUP remove it (files first, then directories, with
// unlink/rmdir only, which are async-signal-safe) before the process dies of the signal as it
// would have; release() (or the destructor) drops it from the list without touching it. At most
// kMaxTempPaths at once (more are simply not covered); paths longer than 4095 bytes are not
// covered.
class TempPath {
 public:
  static constexpr int kMaxTempPaths = 256;
  TempPath() = default;
  explicit TempPath(const std::filesystem::path& p, bool directory = false) { hold(p, directory); }
  ~TempPath() { release(); }
  void hold(const std::filesystem::path& p, bool directory = false);
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  void release();

 private:
  int slot_ = -1;
};

class AtomicFile {
 public:
  // Reserves the temp name; the caller's writer creates the file. Throws IoError when the target's
  // directory does not exist (fail before any work is done, not at commit()).
  explicit AtomicFile(std::filesystem::path target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temp_path() const { return temp_; }
  bool committed() const { return committed_; }

  // The writer must have closed (flushed) the temp file. Throws IoError naming both paths if the
  // temp file is missing or the rename fails; the temp file is then still removed by the
  // destructor.
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  bool committed_ = false;
  TempPath guard_;
};

// Temp files `<target>.tmp.<pid>` next to `target` whose process no longer exists (killed by
// SIGKILL, a power cut): removed, one note line on stderr each. AtomicFile calls it for its
// target, so the next write of the same output cleans up after a dead one.
void remove_stale_temps(const std::filesystem::path& target);

// Creates the output directory `dir` (and its parents) if needed. Throws IoError naming `dir` when
// it exists and is not a directory, or cannot be made (the system's reason: no space, read-only
// file system, permission), instead of the filesystem library's exception.
void make_output_dir(const std::filesystem::path& dir);

// The test seam of the fault campaign (tests/cli/fault_campaign.sh): where the environment
// variable NUMENS_TEST_PAUSE_BEFORE_COMMIT holds a number of milliseconds (1..60000), every commit
// of an output (a temp file or temp directory complete, not yet renamed into place) first sleeps
// that long, so a test can deliver a signal at the moment an interrupted write leaves the most
// behind. Unset (always, outside tests): nothing.
void pause_before_commit();

// Creates `file` and writes `bytes` with the system calls, so a failure carries the system's
// reason: IoError "<shown>: cannot write: No space left on device" (or quota, read-only file
// system, I/O error). `shown` is the name the user knows (the final output, not the temp file).
// The one write path of every output that is not HDF5 or zlib (PNG, text, tables, reports).
void write_bytes(const std::filesystem::path& file, std::string_view bytes,
                 const std::filesystem::path& shown);

// Writes `bytes` to a temporary name next to `path` and renames it into place. Throws IoError.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Writes `text` to a temporary name next to `path` and renames it into place. Throws IoError.
void write_text_atomic(const std::filesystem::path& path, const std::string& text);

}  // namespace numens::io
