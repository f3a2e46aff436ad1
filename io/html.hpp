// Text encodings of the self-contained HTML report (docs/report.md): escaping for HTML and SVG
// (both XML-like) and base64 for images inlined as data: URIs, so the page needs no other file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace numens::io {

// &, <, >, " and ' as entities: safe in element text and in quoted attributes of HTML and XML.
// LUT names, arm names and paths come from user files and may hold any of them.
std::string xml_escape(std::string_view text);

// RFC 4648 base64 (standard alphabet, '=' padding, no line breaks).
std::string base64_encode(std::span<const std::uint8_t> bytes);

// "data:<mime>;base64,<bytes>" for an <img src>.
std::string data_uri(std::string_view mime, std::span<const std::uint8_t> bytes);

}  // namespace numens::io
