// Writing a volume file's bytes, gzip-compressed or plain, through AtomicFile: the one write path
// of the NIfTI and MGH writers, so both report a full disk the same way and leave no partial file.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>

namespace numens::io {

// Reports a failure for `path`; must throw (the caller's typed error, NiftiError or MghError).
using WriteFail = void (*)(const std::filesystem::path& path, const std::string& what);

// Writes `parts` one after another to `path` (deflate level 4 when `gzip`, else plain bytes) via a
// temporary file renamed into place. On a failure calls `fail` with the reason ("cannot create",
// "write failed (disk full?): ..."); nothing is left at `path` or beside it.
void write_parts(const std::filesystem::path& path, bool gzip,
                 std::initializer_list<std::span<const unsigned char>> parts, WriteFail fail);

}  // namespace numens::io
