// PNG output (libpng) for previews: 8-bit RGB, written through AtomicFile.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace numens::io {

// `rgb` holds height rows of width pixels, 3 bytes each, top row first. Throws IoError naming the
// file on any failure; a failed write leaves nothing at `path`.
void write_png_rgb(const std::filesystem::path& path, int width, int height,
                   const std::vector<std::uint8_t>& rgb);

}  // namespace numens::io
