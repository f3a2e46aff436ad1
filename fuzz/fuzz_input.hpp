// One libFuzzer input as a file: numens' readers take paths (they stream, gunzip and check sizes
// against the file), so each input is written to a per-process temporary file under /dev/shm (or
// /tmp) with the suffix the reader dispatches on.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace numens::fuzz {

inline std::filesystem::path input_file(const std::uint8_t* data, std::size_t size,
                                        const char* suffix) {
  static const std::filesystem::path dir =
      std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  const std::filesystem::path p = dir / ("numens-fuzz-" + std::to_string(::getpid()) + suffix);
  std::FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) __builtin_trap();  // the harness itself failed, not the reader
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  return p;
}

}  // namespace numens::fuzz
