#include "io/png.hpp"

#include <png.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "io/atomic_file.hpp"
#include "io/error.hpp"

namespace numens::io {

namespace {
// libpng reports errors through a callback that must not return; throwing from it unwinds
// through C frames, which is unsafe, so the callback records the message and longjmps instead.
struct PngErr {
  char msg[256] = "";
};
[[noreturn]] void on_error(png_structp png, png_const_charp msg) {
  auto* e = static_cast<PngErr*>(png_get_error_ptr(png));
  std::snprintf(e->msg, sizeof e->msg, "%s", msg);
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}
}  // namespace

namespace {
// libpng's write callback: appends to the vector the caller gave as io pointer.
void append_bytes(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void no_flush(png_structp) {}

std::string size_problem(int width, int height, std::size_t bytes) {
  return "PNG image of " + std::to_string(width) + "x" + std::to_string(height) + " with " +
         std::to_string(bytes) + " bytes";
}
}  // namespace

std::vector<std::uint8_t> encode_png_rgb(int width, int height,
                                         const std::vector<std::uint8_t>& rgb) {
  if (width <= 0 || height <= 0 || rgb.size() != std::size_t(width) * std::size_t(height) * 3)
    throw IoError(size_problem(width, height, rgb.size()));
  std::vector<std::uint8_t> out;
  PngErr err;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_write_struct(&png, nullptr);
    throw IoError("libpng could not start");
  }
  std::vector<png_bytep> rows(static_cast<std::size_t>(height));
  for (int y = 0; y < height; ++y)
    rows[std::size_t(y)] =
        const_cast<png_bytep>(rgb.data() + std::size_t(y) * std::size_t(width) * 3);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw IoError(std::string("PNG encoding failed: ") + err.msg);
  }
  png_set_write_fn(png, &out, append_bytes, no_flush);
  png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

void write_png_rgb(const std::filesystem::path& path, int width, int height,
                   const std::vector<std::uint8_t>& rgb) {
  if (width <= 0 || height <= 0 || rgb.size() != std::size_t(width) * std::size_t(height) * 3)
    throw IoError(path.string() + ": " + size_problem(width, height, rgb.size()));
  std::vector<std::uint8_t> bytes;
  try {
    bytes = encode_png_rgb(width, height, rgb);
  } catch (const IoError& e) {
    throw IoError(path.string() + ": " + e.what());
  }
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace numens::io
