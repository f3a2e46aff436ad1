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
  int zerr = Z_OK;
  const std::string zmsg = ok ? "" : gzerror(gz, &zerr);
  const int rc = gzclose(gz);
  if (!ok || rc != Z_OK)
    fail(path, "write failed (disk full?): " + (ok ? std::to_string(rc) : zmsg));
  out.commit();
}

}  // namespace numens::io
