// The report's text and image encodings: base64 against RFC 4648's test vectors, escaping, round
// axis ticks, SVG charts that are well-formed (every tag closed, in order) with escaped labels,
// the in-memory PNG encoder against the file writer, and the slice orientation the entropy maps
// share with numens preview.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "io/error.hpp"
#include "io/html.hpp"
#include "io/png.hpp"
#include "io/preview.hpp"
#include "io/svg.hpp"
#include "tests/io/tmpdir.hpp"

using namespace numens::io;

namespace {

std::string b64(const std::string& s) {
  return base64_encode(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

// Tag balance of an XML fragment: every <x> closed by </x> in nesting order, self-closing tags
// and the XML declaration allowed. Returns the first problem, empty when well-formed.
std::string check_balanced(const std::string& xml) {
  std::vector<std::string> stack;
  const std::regex tag(R"(<(/?)([A-Za-z][A-Za-z0-9:_-]*)([^<>]*?)(/?)>)");
  std::string rest = xml;
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), tag); it != std::sregex_iterator();
       ++it) {
    const auto& m = *it;
    const std::string name = m[2];
    if (m[4] == "/") continue;  // <x .../>
    if (m[1] == "/") {
      if (stack.empty() || stack.back() != name) return "unexpected </" + name + ">";
      stack.pop_back();
    } else {
      stack.push_back(name);
    }
  }
  if (!stack.empty()) return "<" + stack.back() + "> not closed";
  // No stray '<' outside tags (an unescaped label would leave one).
  const std::string stripped = std::regex_replace(xml, tag, "");
  const std::string no_decl = std::regex_replace(stripped, std::regex(R"(<\?xml[^>]*\?>)"), "");
  if (no_decl.find('<') != std::string::npos) return "stray '<'";
  return {};
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("base64: RFC 4648 section 10 test vectors") {
  CHECK(b64("") == "");
  CHECK(b64("f") == "Zg==");
  CHECK(b64("fo") == "Zm8=");
  CHECK(b64("foo") == "Zm9v");
  CHECK(b64("foob") == "Zm9vYg==");
  CHECK(b64("fooba") == "Zm9vYmE=");
  CHECK(b64("foobar") == "Zm9vYmFy");
  // All 6-bit symbols, including '+' and '/': bytes 0xfb 0xff 0xbf -> "+/+/".
  const std::vector<std::uint8_t> hi{0xfb, 0xff, 0xbf};
  CHECK(base64_encode(hi) == "+/+/");
  CHECK(data_uri("image/png", hi) == "data:image/png;base64,+/+/");
}

TEST_CASE("xml_escape: the five markup characters, everything else untouched") {
  CHECK(xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(xml_escape("Left-Cerebral-Cortex 3") == "Left-Cerebral-Cortex 3");
  CHECK(xml_escape("&amp;") == "&amp;amp;");  // escaped once more: no double-decoding surprises
  CHECK(xml_escape("") == "");
}

TEST_CASE("nice_ticks: round steps covering the range") {
  const std::vector<double> t = nice_ticks(0.83, 0.97);
  REQUIRE(t.size() == 5);  // step 0.05 from 0.80 to 1.00
  CHECK(t.front() == doctest::Approx(0.80));
  CHECK(t.back() == doctest::Approx(1.00));
  CHECK(tick_label(t[1], t[1] - t[0]) == "0.85");
  const std::vector<double> u = nice_ticks(0, 100);
  REQUIRE(u.size() == 6);  // step 20
  CHECK(u[1] == 20);
  CHECK(tick_label(u[5], 20) == "100");
  const std::vector<double> c = nice_ticks(3, 3);  // constant data still gets an axis
  CHECK(c.size() >= 2);
  CHECK(c.front() <= 3);
  CHECK(c.back() >= 3);
  CHECK(tick_label(-1e-17, 0.1) == "0.0");
}

TEST_CASE("SVG charts are well-formed, escape their labels and draw what they are given") {
  BoxPlot bp{"Dice <per> region",    "min Dice",
             {"seed & co", "sr24"},  {"cortical", "non-cortical"},
             {"#d62728", "#1f77b4"}, {}};
  bp.boxes.push_back({{0.8, 0.85, 0.9, 0.75, 0.95, {0.5}}, {0.9, 0.92, 0.95, 0.88, 0.97, {}}});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  bp.boxes.push_back({{nan, nan, nan, nan, nan, {}}, {0.9, 0.93, 0.96, 0.9, 0.99, {0.6, 0.7}}});
  const std::string svg = box_plot_svg(bp);
  CHECK(check_balanced(svg) == "");
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("seed &amp; co") != std::string::npos);
  CHECK(svg.find("Dice &lt;per&gt; region") != std::string::npos);
  CHECK(svg.find("seed & co") == std::string::npos);
  CHECK(count(svg, "<circle") == 3);               // one outlier, then two
  CHECK(count(svg, "fill-opacity=\"0.7\"") == 3);  // three boxes; the NaN one is "n/a"
  CHECK(svg.find(">n/a<") != std::string::npos);
  CHECK(svg.find("http") == std::string::npos);  // inline form: no namespace URL
  const std::string doc = svg_document(svg);
  CHECK(doc.find("xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
  CHECK(check_balanced(doc) == "");

  BarChart bc{"bars", "Dice", {"a", "b"}, {"x", "y"}, {"red", "blue"}, {{0.5, nan}, {0.7, 0.8}}};
  const std::string bars = bar_chart_svg(bc);
  CHECK(check_balanced(bars) == "");
  CHECK(count(bars, "<rect") == 1 + 2 + 3);  // background, 2 legend keys, 3 finite bars

  LineChart lc{
      "curve", "N", "MAE", {{"mae", "green", {0, 1, 2}, {5, nan, 4}, {4, nan, 3}, {6, nan, 5}}}};
  const std::string line = line_chart_svg(lc);
  CHECK(check_balanced(line) == "");
  CHECK(count(line, "<polyline") == 2);  // the NaN point splits the line
  CHECK(count(line, "<polygon") == 1);
}

TEST_CASE("PNG in memory: the bytes write_png_rgb puts in the file") {
  const std::vector<std::uint8_t> rgb{255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9};
  const std::vector<std::uint8_t> png = encode_png_rgb(2, 2, rgb);
  REQUIRE(png.size() > 8);
  CHECK(png[0] == 0x89);
  CHECK(std::string(png.begin() + 1, png.begin() + 4) == "PNG");
  numens::io::testing::TempDir dir;
  write_png_rgb(dir / "x.png", 2, 2, rgb);
  std::ifstream in(dir / "x.png", std::ios::binary);
  const std::vector<std::uint8_t> file((std::istreambuf_iterator<char>(in)),
                                       std::istreambuf_iterator<char>());
  CHECK(file == png);
  CHECK_THROWS_AS(encode_png_rgb(2, 2, std::vector<std::uint8_t>(5)), IoError);
}

TEST_CASE("slice_grid: the orientation render_slice uses, for overlays") {
  Geometry g;
  g.dims = {2, 3, 4};
  for (int i = 0; i < 4; ++i) g.affine[i][i] = 1;
  const SliceGrid ax = slice_grid(g, View::axial, -1);  // z = 2, A up, R right
  CHECK(ax.width == 2);
  CHECK(ax.height == 3);
  CHECK(ax.voxel[0] == std::size_t(0 + 2 * (2 + 3 * 2)));  // top left: x 0, y 2 (anterior)
  CHECK(ax.voxel[5] == std::size_t(1 + 2 * (0 + 3 * 2)));  // bottom right: x 1, y 0
  g.affine[0][0] = -1;                                     // x runs right to left
  const SliceGrid fl = slice_grid(g, View::axial, -1);
  CHECK(fl.voxel[0] == std::size_t(1 + 2 * (2 + 3 * 2)));
  // The slice index is the stored one, whichever way the axis points: slice 0 of a grid whose z
  // runs downwards is stored plane z = 0 (not the lowest plane in the world).
  g.affine[0][0] = 1;
  g.affine[2][2] = -1;
  CHECK(slice_grid(g, View::axial, 0).voxel[0] == std::size_t(0 + 2 * (2 + 3 * 0)));
  CHECK(slice_grid(g, View::axial, 3).voxel[0] == std::size_t(0 + 2 * (2 + 3 * 3)));
  const Image z = zoom_image(ax, std::vector<std::uint8_t>(ax.voxel.size() * 3, 7));
  CHECK(z.width == 2 * ax.zoom);
  CHECK(std::max(z.width, z.height) >= 256);  // the longer side
}

TEST_CASE("render_slice: orientation marks, and labels coloured without a colour table") {
  Subject s;
  s.info.geometry.dims = {64, 64, 64};
  for (int i = 0; i < 4; ++i) s.info.geometry.affine[i][i] = 1;
  s.t1.assign(64 * 64 * 64, 100);
  s.info.has_labels = true;
  s.labels.assign(s.t1.size(), 17);
  const LabelTable black{{0, "Unknown", {0, 0, 0}}, {17, "label_17", {0, 0, 0}}};
  const Image plain = render_slice(s, black, View::coronal, -1, true, 0.45, false);
  // A LUT without colours: FreeSurfer's Left-Hippocampus yellow (220, 216, 20), blended 0.45.
  CHECK(int(plain.rgb[0]) == int(std::lround(0.55 * 100 + 0.45 * 220)));
  CHECK(int(plain.rgb[2]) == int(std::lround(0.55 * 100 + 0.45 * 20)));
  const Image marked = render_slice(s, black, View::coronal, -1, true);
  // The marks are the only difference: yellow letters (255, 230, 0) at the four edges.
  std::size_t yellow = 0, changed = 0;
  for (std::size_t p = 0; p < marked.rgb.size(); p += 3) {
    changed += marked.rgb[p] != plain.rgb[p] || marked.rgb[p + 2] != plain.rgb[p + 2];
    yellow += marked.rgb[p] == 255 && marked.rgb[p + 1] == 230 && marked.rgb[p + 2] == 0;
  }
  CHECK(yellow > 0);
  CHECK(changed < marked.rgb.size() / 3 / 20);  // letters, not a repaint
  // Left edge, middle row band: the 'L' is there (a yellow pixel within the first 16 columns).
  bool left_mark = false;
  for (int y = marked.height / 2 - 12; y < marked.height / 2 + 12; ++y)
    for (int x = 0; x < 16; ++x) {
      const std::size_t o = (std::size_t(y) * std::size_t(marked.width) + std::size_t(x)) * 3;
      left_mark = left_mark || (marked.rgb[o] == 255 && marked.rgb[o + 1] == 230);
    }
  CHECK(left_mark);
}
