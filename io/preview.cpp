#include "io/preview.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "io/label_palette.hpp"
#include "mca/error.hpp"

namespace numens::io {

View parse_view(const std::string& name) {
  if (name == "axial") return View::axial;
  if (name == "coronal") return View::coronal;
  if (name == "sagittal") return View::sagittal;
  throw ConfigError("--view must be axial, coronal or sagittal, got '" + name + "'");
}

SliceGrid slice_grid(const Geometry& g, View view, int slice) {
  // Which index axis runs along each world axis (R, A, S), and in which direction: the affine's
  // largest entry per column, so that any axis-permuted or flipped grid displays upright.
  std::array<int, 3> axis_of_world{0, 1, 2};
  std::array<bool, 3> flipped{false, false, false};
  for (int c = 0; c < 3; ++c) {
    int best = 0;
    for (int r = 1; r < 3; ++r)
      if (std::abs(g.affine[r][c]) > std::abs(g.affine[best][c])) best = r;
    axis_of_world[std::size_t(best)] = c;
    flipped[std::size_t(best)] = g.affine[best][c] < 0;
  }
  // World axes of the image: (columns, rows, slice); rows run top to bottom.
  int wc, wr, ws;
  bool col_reverse = false;
  switch (view) {
    case View::axial:
      wc = 0, wr = 1, ws = 2;
      break;  // R to the right, A up
    case View::coronal:
      wc = 0, wr = 2, ws = 1;
      break;  // R to the right, S up
    default:
      wc = 1, wr = 2, ws = 0, col_reverse = true;  // A to the left, S up
  }
  const int ac = axis_of_world[std::size_t(wc)], ar = axis_of_world[std::size_t(wr)],
            as = axis_of_world[std::size_t(ws)];
  const auto nc = int(g.dims[std::size_t(ac)]), nr = int(g.dims[std::size_t(ar)]),
             ns = int(g.dims[std::size_t(as)]);
  if (slice < 0) slice = ns / 2;
  if (slice >= ns)
    throw ConfigError("--slice " + std::to_string(slice) + " is outside 0.." +
                      std::to_string(ns - 1));
  SliceGrid out;
  out.width = nc;
  out.height = nr;
  out.zoom = std::max(1, (256 + std::max(nc, nr) - 1) / std::max(nc, nr));
  out.voxel.resize(std::size_t(nc) * std::size_t(nr));
  for (int r = 0; r < nr; ++r)
    for (int c = 0; c < nc; ++c) {
      // World direction up = larger coordinate: row 0 is the largest world coordinate.
      std::array<std::int64_t, 3> idx{};
      int wcol = col_reverse ? nc - 1 - c : c;
      int wrow = nr - 1 - r;
      if (flipped[std::size_t(wc)]) wcol = nc - 1 - wcol;
      if (flipped[std::size_t(wr)]) wrow = nr - 1 - wrow;
      idx[std::size_t(ac)] = wcol;
      idx[std::size_t(ar)] = wrow;
      idx[std::size_t(as)] = slice;  // as stored: what a viewer's voxel coordinates show
      out.voxel[std::size_t(r) * std::size_t(nc) + std::size_t(c)] =
          std::size_t(idx[0] + g.dims[0] * (idx[1] + g.dims[1] * idx[2]));
    }
  return out;
}

Image zoom_image(const SliceGrid& grid, const std::vector<std::uint8_t>& rgb) {
  const int zoom = grid.zoom;
  Image img;
  img.width = grid.width * zoom;
  img.height = grid.height * zoom;
  img.rgb.resize(std::size_t(img.width) * std::size_t(img.height) * 3);
  for (int r = 0; r < grid.height; ++r)
    for (int c = 0; c < grid.width; ++c) {
      const std::size_t src = (std::size_t(r) * std::size_t(grid.width) + std::size_t(c)) * 3;
      for (int dy = 0; dy < zoom; ++dy)
        for (int dx = 0; dx < zoom; ++dx) {
          const std::size_t o =
              (std::size_t(r * zoom + dy) * std::size_t(img.width) + std::size_t(c * zoom + dx)) *
              3;
          for (int ch = 0; ch < 3; ++ch) img.rgb[o + std::size_t(ch)] = rgb[src + std::size_t(ch)];
        }
    }
  return img;
}

namespace {

// 5x7 capitals for the orientation marks, one row per byte, bit 4 leftmost.
struct Glyph {
  char c;
  std::uint8_t rows[7];
};
constexpr Glyph kGlyphs[] = {
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
};

// Draws `c` with its top-left corner at (x, y), each font pixel `scale` pixels wide, in yellow
// over a dark outline so that it reads on white matter and on background alike.
void draw_glyph(Image& img, int x, int y, char c, int scale) {
  const Glyph* g = nullptr;
  for (const Glyph& k : kGlyphs)
    if (k.c == c) g = &k;
  if (!g) return;
  auto put = [&](int px, int py, std::uint8_t r, std::uint8_t gr, std::uint8_t b) {
    if (px < 0 || py < 0 || px >= img.width || py >= img.height) return;
    const std::size_t o = (std::size_t(py) * std::size_t(img.width) + std::size_t(px)) * 3;
    img.rgb[o] = r, img.rgb[o + 1] = gr, img.rgb[o + 2] = b;
  };
  for (int pass = 0; pass < 2; ++pass)
    for (int row = 0; row < 7; ++row)
      for (int col = 0; col < 5; ++col) {
        if (!(g->rows[row] >> (4 - col) & 1)) continue;
        for (int dy = 0; dy < scale; ++dy)
          for (int dx = 0; dx < scale; ++dx) {
            const int px = x + col * scale + dx, py = y + row * scale + dy;
            if (pass == 0) {
              for (int oy = -1; oy <= 1; ++oy)
                for (int ox = -1; ox <= 1; ++ox) put(px + ox, py + oy, 0, 0, 0);
            } else {
              put(px, py, 255, 230, 0);
            }
          }
      }
}

// The subject's directions at the four edges, by the display convention of slice_grid.
void draw_marks(Image& img, View view) {
  const int scale = std::max(1, img.width / 160);
  const int w = 5 * scale, h = 7 * scale, m = 2 * scale;
  const char* lr = view == View::sagittal ? "AP" : "LR";
  const char* tb = view == View::axial ? "AP" : "SI";
  draw_glyph(img, m, (img.height - h) / 2, lr[0], scale);
  draw_glyph(img, img.width - w - m, (img.height - h) / 2, lr[1], scale);
  draw_glyph(img, (img.width - w) / 2, m, tb[0], scale);
  draw_glyph(img, (img.width - w) / 2, img.height - h - m, tb[1], scale);
}

// T1 window: its 1st and 99th percentiles (type-7 quantiles, read off the histogram of the
// uint8 intensities, so a whole brain needs no sort).
std::pair<double, double> t1_window(const std::vector<std::uint8_t>& t1) {
  std::vector<std::size_t> hist(256, 0);
  for (std::uint8_t v : t1) ++hist[v];
  auto at_rank = [&](std::size_t k) {  // the k-th smallest value, from 0
    std::size_t seen = 0;
    for (std::size_t v = 0; v < 256; ++v) {
      seen += hist[v];
      if (seen > k) return double(v);
    }
    return 255.0;
  };
  auto q = [&](double p) {
    const double h = double(t1.size() - 1) * p;
    const auto lo = std::size_t(std::floor(h));
    const double a = at_rank(lo), b = at_rank(std::min(lo + 1, t1.size() - 1));
    return a + (h - double(lo)) * (b - a);
  };
  if (t1.empty()) return {0, 255};
  return {q(0.01), q(0.99)};
}

// "Hot" colour map from dark red (lowest non-zero entropy) to white (every member differs), so
// the smallest disagreement still stands out from the grey anatomy.
std::array<double, 3> heat(double x) {
  const double t = 0.3 + 0.7 * std::clamp(x, 0.0, 1.0);
  return {std::clamp(3 * t, 0.0, 1.0) * 255, std::clamp(3 * t - 1, 0.0, 1.0) * 255,
          std::clamp(3 * t - 2, 0.0, 1.0) * 255};
}

}  // namespace

Image render_slice(const Subject& s, const LabelTable& lut, View view, int slice, bool labels,
                   double alpha, bool marks) {
  const SliceGrid grid = slice_grid(s.info.geometry, view, slice);
  // A LUT without colours (all black, as cohorts imported before numens had a default palette)
  // or without the value: the default palette, so labels never vanish into black.
  bool any_colour = false;
  for (const LabelInfo& l : lut) any_colour = any_colour || l.rgb != std::array<std::uint8_t, 3>{};
  std::vector<std::array<std::uint8_t, 3>> colour(65536);
  std::vector<bool> known(65536, false);
  for (const LabelInfo& l : lut) {
    colour[std::size_t(std::uint16_t(l.value))] =
        any_colour ? l.rgb : default_label_colour(l.value);
    known[std::size_t(std::uint16_t(l.value))] = true;
  }
  const bool show = labels && s.info.has_labels && !s.labels.empty();
  std::vector<std::uint8_t> rgb(grid.voxel.size() * 3);
  for (std::size_t p = 0; p < grid.voxel.size(); ++p) {
    const std::size_t v = grid.voxel[p];
    double px[3] = {double(s.t1[v]), double(s.t1[v]), double(s.t1[v])};
    if (show && s.labels[v] != 0) {
      const auto k = std::size_t(std::uint16_t(s.labels[v]));
      const std::array<std::uint8_t, 3> c =
          known[k] ? colour[k] : default_label_colour(s.labels[v]);
      for (int ch = 0; ch < 3; ++ch) px[ch] = (1 - alpha) * px[ch] + alpha * c[std::size_t(ch)];
    }
    for (int ch = 0; ch < 3; ++ch) rgb[p * 3 + std::size_t(ch)] = std::uint8_t(std::lround(px[ch]));
  }
  Image img = zoom_image(grid, rgb);
  if (marks) draw_marks(img, view);
  return img;
}

// Three orthogonal mid slices side by side: T1 in grey, entropy blended on top where non-zero.
Image entropy_panel(const Subject& subj, const std::vector<std::uint8_t>& entropy) {
  const auto [lo, hi] = t1_window(subj.t1);
  const double span = hi > lo ? hi - lo : 1.0;
  std::vector<Image> views;
  for (View v : {View::axial, View::coronal, View::sagittal}) {
    const SliceGrid g = slice_grid(subj.info.geometry, v, -1);
    std::vector<std::uint8_t> rgb(g.voxel.size() * 3);
    for (std::size_t p = 0; p < g.voxel.size(); ++p) {
      const double grey = std::clamp((double(subj.t1[g.voxel[p]]) - lo) / span, 0.0, 1.0) * 255;
      std::array<double, 3> px{grey, grey, grey};
      const std::uint8_t e = entropy[g.voxel[p]];
      if (e > 0) {
        const auto c = heat(e / 255.0);
        for (int ch = 0; ch < 3; ++ch)
          px[std::size_t(ch)] = 0.25 * grey + 0.75 * c[std::size_t(ch)];
      }
      for (int ch = 0; ch < 3; ++ch)
        rgb[p * 3 + std::size_t(ch)] = std::uint8_t(std::lround(px[std::size_t(ch)]));
    }
    views.push_back(zoom_image(g, rgb));
  }
  return side_by_side(views, 4);
}

Image side_by_side(const std::vector<Image>& tiles, int gap) {
  Image out;
  for (const auto& t : tiles)
    out.width += t.width + gap, out.height = std::max(out.height, t.height);
  out.width = std::max(0, out.width - gap);
  out.rgb.assign(std::size_t(out.width) * std::size_t(out.height) * 3, 0);
  int x0 = 0;
  for (const auto& t : tiles) {
    for (int y = 0; y < t.height; ++y)
      std::copy_n(
          t.rgb.begin() + std::ptrdiff_t(std::size_t(y) * std::size_t(t.width) * 3),
          std::size_t(t.width) * 3,
          out.rgb.begin() +
              std::ptrdiff_t((std::size_t(y) * std::size_t(out.width) + std::size_t(x0)) * 3));
    x0 += t.width + gap;
  }
  return out;
}

}  // namespace numens::io
