// PNG output (libpng) for previews and the report: 8-bit RGB, encoded in memory (for images
// inlined as data: URIs) or written through AtomicFile.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace numens::io {

// `rgb` holds height rows of width pixels, 3 bytes each, top row first. Throws IoError naming the
// file on any failure; a failed write leaves nothing at `path`.
// The PNG file's bytes. Throws IoError on a size mismatch or a libpng failure.
std::vector<std::uint8_t> encode_png_rgb(int width, int height,
                                         const std::vector<std::uint8_t>& rgb);

void write_png_rgb(const std::filesystem::path& path, int width, int height,
                   const std::vector<std::uint8_t>& rgb);

}  // namespace numens::io
