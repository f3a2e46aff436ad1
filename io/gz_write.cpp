#include "io/gz_write.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/atomic_file.hpp"
#include "io/error.hpp"

namespace numens::io {

void write_parts(const std::filesystem::path& path, bool gzip,
                 std::initializer_list<std::span<const unsigned char>> parts, WriteFail fail) {
  AtomicFile out(path);
  const std::string tmp = out.temp_path().string();
  // "wb4": deflate level 4 (most of the ratio of 9, much faster); "wbT": plain, no gzip wrapper.
  gzFile gz = gzopen(tmp.c_str(), gzip ? "wb4" : "wbT");
  if (!gz) fail(path, "cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = true;
  for (const auto& part : parts) {
    // gzwrite takes an unsigned length: write in pieces well under 4 GiB.
    for (std::size_t off = 0; ok && off < part.size();) {
      const std::size_t len = std::min<std::size_t>(part.size() - off, std::size_t(1) << 30);
      ok = gzwrite(gz, part.data() + off, unsigned(len)) == int(len);
      off += len;
    }
  }
  // zlib reports a failed write(2) as Z_ERRNO with errno set: the system's reason, as for every
  // other writer ("cannot write: No space left on device"); its own errors by message.
  int zerr = Z_OK;
  std::string why = ok ? "" : gzerror(gz, &zerr);
  if (!ok && zerr == Z_ERRNO) why = std::strerror(errno);
  errno = 0;
  const int rc = gzclose(gz);
  if (ok && rc != Z_OK)
    why = rc == Z_ERRNO && errno != 0 ? std::strerror(errno) : "zlib error " + std::to_string(rc);
  if (!ok || rc != Z_OK) fail(path, "cannot write: " + why);
  out.commit();
}

}  // namespace numens::io
