#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "io/error.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {

// The registry the signal handler reads. A slot is free (0), being filled (1), a live file (2) or
// a live directory (3); the handler only reads slots in states 2 and 3, whose path is complete.
struct Slot {
  std::atomic<int> state{0};
  char path[4096];
};
Slot g_slots[TempPath::kMaxTempPaths];
struct sigaction g_previous[3];
constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void remove_temps_and_die(int sig) {
  for (Slot& s : g_slots)
    if (s.state.load(std::memory_order_acquire) == 2) ::unlink(s.path);
  // rmdir only removes empty directories: a parent that still held a subdirectory (a subject
  // directory's mri/) goes on a later pass. Three passes cover the nesting numens writes.
  for (int pass = 0; pass < 3; ++pass)
    for (int i = TempPath::kMaxTempPaths - 1; i >= 0; --i)
      if (g_slots[i].state.load(std::memory_order_acquire) == 3) ::rmdir(g_slots[i].path);
  // Die of the signal as the process would have (or hand it to whoever handled it before).
  for (int i = 0; i < 3; ++i)
    if (kSignals[i] == sig) {
      if (g_previous[i].sa_handler != SIG_DFL && g_previous[i].sa_handler != SIG_IGN &&
          !(g_previous[i].sa_flags & SA_SIGINFO)) {
        g_previous[i].sa_handler(sig);
        return;
      }
    }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);
}

void install_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int i = 0; i < 3; ++i) {
      struct sigaction sa {};
      sa.sa_handler = remove_temps_and_die;
      sigemptyset(&sa.sa_mask);
      for (int s : kSignals) sigaddset(&sa.sa_mask, s);  // one cleanup at a time
      ::sigaction(kSignals[i], nullptr, &g_previous[i]);
      if (g_previous[i].sa_handler == SIG_IGN) continue;  // nohup: leave ignored signals ignored
      ::sigaction(kSignals[i], &sa, nullptr);
    }
  });
}

}  // namespace

void TempPath::hold(const fs::path& p, bool directory) {
  release();
  install_handlers();
  const std::string s = p.string();
  if (s.size() >= sizeof(g_slots[0].path)) return;
  for (int i = 0; i < kMaxTempPaths; ++i) {
    int expected = 0;
    if (!g_slots[i].state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(g_slots[i].path, s.c_str(), s.size() + 1);
    g_slots[i].state.store(directory ? 3 : 2, std::memory_order_release);
    slot_ = i;
    return;
  }
}

void TempPath::release() {
  if (slot_ < 0) return;
  g_slots[slot_].state.store(0, std::memory_order_release);
  slot_ = -1;
}

void remove_stale_temps(const fs::path& target) {
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return;
  for (const auto& e : it) {
    const std::string name = e.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    const pid_t pid = pid_t(std::stol(digits));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH)
      continue;  // alive, or not ours to judge
    std::error_code rm;
    const fs::path shown = target.has_parent_path() ? e.path() : e.path().filename();
    if (fs::remove(e.path(), rm))
      std::fprintf(
          stderr, "numens: note: removed %s (a temp file of process %ld, which no longer exists)\n",
          e.path().c_str(), long(pid));
  }
}

AtomicFile::AtomicFile(fs::path target) : target_(std::move(target)) {
  temp_ = target_;
  temp_ += ".tmp." + std::to_string(::getpid());
  const fs::path dir = target_.has_parent_path() ? target_.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw IoError(target_.string() + ": cannot write: directory " + dir.string() +
                  " does not exist");
  }
  remove_stale_temps(target_);
  guard_.hold(temp_);
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

void pause_before_commit() {
  static const long ms = [] {
    const char* v = std::getenv("NUMENS_TEST_PAUSE_BEFORE_COMMIT");
    if (!v) return 0L;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    return end != v && *end == '\0' && n >= 1 && n <= 60000 ? n : 0L;
  }();
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

void AtomicFile::commit() {
  if (committed_) return;
  pause_before_commit();
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
  guard_.release();
}

void write_bytes(const fs::path& file, std::string_view bytes, const fs::path& shown) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw IoError(shown.string() + ": cannot create: " + std::strerror(errno));
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = n < 0 ? errno : ENOSPC;  // write(2) returning 0 for a regular file: no room
      ::close(fd);
      throw IoError(shown.string() + ": cannot write: " + std::strerror(e));
    }
    p += n;
    left -= size_t(n);
  }
  // close(2) can report a deferred error (NFS, quota): it counts as a failed write
  if (::close(fd) != 0)
    throw IoError(shown.string() + ": cannot write: " + std::strerror(errno));
}

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  AtomicFile a(path);
  write_bytes(a.temp_path(), bytes, path);
  a.commit();
}

void write_text_atomic(const std::filesystem::path& path, const std::string& text) {
  write_file_atomic(path, text);
}

}  // namespace numens::io
