#include "io/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "io/html.hpp"

namespace numens::io {

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0.0, 1.0};
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) lo -= 0.5, hi += 0.5;
  target = std::max(target, 2);
  // The step: range / target rounded up to 1, 2 or 5 times a power of ten.
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 5.0})
    if (m * mag >= raw * (1 - 1e-9)) {
      step = m * mag;
      break;
    }
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> t;
  // Multiples of the step computed from integers, so 0.1 * 3 prints as 0.3, not 0.30000000004.
  for (double k = first; k <= last + 0.5; k += 1) t.push_back(k * step);
  if (t.size() < 2) t.push_back(t.back() + step);
  return t;
}

std::string tick_label(double value, double step) {
  const int decimals = std::max(0, int(-std::floor(std::log10(std::abs(step)) + 1e-9)));
  if (std::abs(value) < step * 1e-6) value = 0;  // no "-0.00"
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

namespace {

// Coordinates with two decimals: sub-pixel enough, and the files stay small and stable.
std::string f(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// The plotting area of a chart and its mapping from data to pixels.
struct Frame {
  double width = 640, height = 360;
  double left = 64, right = 16, top = 58, bottom = 48;
  double xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  double x0() const { return left; }
  double x1() const { return width - right; }
  double y0() const { return top; }
  double y1() const { return height - bottom; }
  double px(double x) const { return x0() + (x - xmin) / (xmax - xmin) * (x1() - x0()); }
  double py(double y) const { return y1() - (y - ymin) / (ymax - ymin) * (y1() - y0()); }
};

void open(std::ostringstream& o, const Frame& fr, const std::string& title) {
  o << "<svg width=\"" << f(fr.width) << "\" height=\"" << f(fr.height) << "\" viewBox=\"0 0 "
    << f(fr.width) << ' ' << f(fr.height)
    << "\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n"
    << "<title>" << xml_escape(title) << "</title>\n"
    << "<rect x=\"0\" y=\"0\" width=\"" << f(fr.width) << "\" height=\"" << f(fr.height)
    << "\" fill=\"white\"/>\n"
    << "<text x=\"" << f(fr.width / 2)
    << "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" "
       "font-weight=\"bold\">"
    << xml_escape(title) << "</text>\n";
}

// Legend entries in one row under the title.
void legend(std::ostringstream& o, const std::vector<std::string>& names,
            const std::vector<std::string>& colours) {
  double x = 64;
  for (std::size_t i = 0; i < names.size(); ++i) {
    o << "<rect x=\"" << f(x) << "\" y=\"30\" width=\"10\" height=\"10\" fill=\""
      << xml_escape(colours[i % colours.size()]) << "\"/>\n"
      << "<text x=\"" << f(x + 14) << "\" y=\"39\">" << xml_escape(names[i]) << "</text>\n";
    x += 30 + 6.5 * double(names[i].size());
  }
}

// Y axis with gridlines and tick labels, the axis label rotated along it; the frame's y range
// becomes the ticks' range.
void y_axis(std::ostringstream& o, Frame& fr, double lo, double hi, const std::string& label) {
  const std::vector<double> t = nice_ticks(lo, hi);
  fr.ymin = t.front(), fr.ymax = t.back();
  const double step = t[1] - t[0];
  for (double v : t) {
    o << "<line x1=\"" << f(fr.x0()) << "\" x2=\"" << f(fr.x1()) << "\" y1=\"" << f(fr.py(v))
      << "\" y2=\"" << f(fr.py(v)) << "\" stroke=\"#dddddd\"/>\n"
      << "<text x=\"" << f(fr.x0() - 4) << "\" y=\"" << f(fr.py(v) + 4) << "\" text-anchor=\"end\">"
      << tick_label(v, step) << "</text>\n";
  }
  o << "<line x1=\"" << f(fr.x0()) << "\" x2=\"" << f(fr.x0()) << "\" y1=\"" << f(fr.y0())
    << "\" y2=\"" << f(fr.y1()) << "\" stroke=\"black\"/>\n"
    << "<line x1=\"" << f(fr.x0()) << "\" x2=\"" << f(fr.x1()) << "\" y1=\"" << f(fr.y1())
    << "\" y2=\"" << f(fr.y1()) << "\" stroke=\"black\"/>\n"
    << "<text transform=\"translate(14," << f((fr.y0() + fr.y1()) / 2)
    << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(label) << "</text>\n";
}

// Category labels centred under each of `n` equal slots.
void x_categories(std::ostringstream& o, const Frame& fr, const std::vector<std::string>& names) {
  const double slot = (fr.x1() - fr.x0()) / double(std::max<std::size_t>(names.size(), 1));
  for (std::size_t g = 0; g < names.size(); ++g)
    o << "<text x=\"" << f(fr.x0() + slot * (double(g) + 0.5)) << "\" y=\"" << f(fr.y1() + 16)
      << "\" text-anchor=\"middle\">" << xml_escape(names[g]) << "</text>\n";
}

void extend(double& lo, double& hi, double v) {
  if (!std::isfinite(v)) return;
  lo = std::min(lo, v), hi = std::max(hi, v);
}

}  // namespace

std::string box_plot_svg(const BoxPlot& p) {
  Frame fr;
  std::ostringstream o;
  open(o, fr, p.title);
  legend(o, p.series, p.colours);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& g : p.boxes)
    for (const Box& b : g) {
      extend(lo, hi, b.whisker_lo), extend(lo, hi, b.whisker_hi);
      for (double v : b.outliers) extend(lo, hi, v);
    }
  if (lo > hi) lo = 0, hi = 1;  // nothing finite: an empty frame
  y_axis(o, fr, lo, hi, p.y_label);
  x_categories(o, fr, p.groups);
  const double slot = (fr.x1() - fr.x0()) / double(std::max<std::size_t>(p.groups.size(), 1));
  const double bw = slot * 0.7 / double(std::max<std::size_t>(p.series.size(), 1));
  for (std::size_t g = 0; g < p.boxes.size(); ++g)
    for (std::size_t s = 0; s < p.boxes[g].size(); ++s) {
      const Box& b = p.boxes[g][s];
      const double xl = fr.x0() + slot * (double(g) + 0.15) + bw * double(s), xc = xl + bw / 2;
      const std::string& col = p.colours[s % p.colours.size()];
      if (!std::isfinite(b.q1)) {
        o << "<text x=\"" << f(xc) << "\" y=\"" << f(fr.y1() - 4)
          << "\" text-anchor=\"middle\" fill=\"#888888\">n/a</text>\n";
        continue;
      }
      o << "<g stroke=\"black\">\n"
        << "<line x1=\"" << f(xc) << "\" x2=\"" << f(xc) << "\" y1=\"" << f(fr.py(b.whisker_lo))
        << "\" y2=\"" << f(fr.py(b.q1)) << "\"/>\n"
        << "<line x1=\"" << f(xc) << "\" x2=\"" << f(xc) << "\" y1=\"" << f(fr.py(b.q3))
        << "\" y2=\"" << f(fr.py(b.whisker_hi)) << "\"/>\n";
      for (double w : {b.whisker_lo, b.whisker_hi})
        o << "<line x1=\"" << f(xc - bw / 4) << "\" x2=\"" << f(xc + bw / 4) << "\" y1=\""
          << f(fr.py(w)) << "\" y2=\"" << f(fr.py(w)) << "\"/>\n";
      // A box of zero height (all values equal) still gets a visible pixel.
      o << "<rect x=\"" << f(xl) << "\" y=\"" << f(fr.py(b.q3)) << "\" width=\"" << f(bw)
        << "\" height=\"" << f(std::max(1.0, fr.py(b.q1) - fr.py(b.q3))) << "\" fill=\""
        << xml_escape(col) << "\" fill-opacity=\"0.7\"/>\n"
        << "<line x1=\"" << f(xl) << "\" x2=\"" << f(xl + bw) << "\" y1=\"" << f(fr.py(b.median))
        << "\" y2=\"" << f(fr.py(b.median)) << "\" stroke-width=\"2\"/>\n";
      for (double v : b.outliers)
        o << "<circle cx=\"" << f(xc) << "\" cy=\"" << f(fr.py(v))
          << "\" r=\"2.5\" fill=\"none\"/>\n";
      o << "</g>\n";
    }
  o << "</svg>\n";
  return o.str();
}

std::string bar_chart_svg(const BarChart& c) {
  Frame fr;
  std::ostringstream o;
  open(o, fr, c.title);
  legend(o, c.series, c.colours);
  double lo = 0, hi = 0;  // bars start at zero
  for (const auto& g : c.values)
    for (double v : g) extend(lo, hi, v);
  if (hi == lo) hi = lo + 1;
  y_axis(o, fr, lo, hi, c.y_label);
  x_categories(o, fr, c.groups);
  const double slot = (fr.x1() - fr.x0()) / double(std::max<std::size_t>(c.groups.size(), 1));
  const double bw = slot * 0.7 / double(std::max<std::size_t>(c.series.size(), 1));
  for (std::size_t g = 0; g < c.values.size(); ++g)
    for (std::size_t s = 0; s < c.values[g].size(); ++s) {
      const double v = c.values[g][s];
      const double xl = fr.x0() + slot * (double(g) + 0.15) + bw * double(s);
      if (!std::isfinite(v)) {
        o << "<text x=\"" << f(xl + bw / 2) << "\" y=\"" << f(fr.py(0) - 4)
          << "\" text-anchor=\"middle\" fill=\"#888888\">n/a</text>\n";
        continue;
      }
      const double ya = fr.py(std::max(v, 0.0)), yb = fr.py(std::min(v, 0.0));
      o << "<rect x=\"" << f(xl) << "\" y=\"" << f(ya) << "\" width=\"" << f(bw * 0.92)
        << "\" height=\"" << f(yb - ya) << "\" fill=\""
        << xml_escape(c.colours[s % c.colours.size()]) << "\"><title>"
        << xml_escape(c.groups[g] + ", " + c.series[s] + ": " + tick_label(v, 0.0001))
        << "</title></rect>\n";
    }
  o << "</svg>\n";
  return o.str();
}

std::string line_chart_svg(const LineChart& c) {
  Frame fr;
  std::ostringstream o;
  open(o, fr, c.title);
  std::vector<std::string> names, colours;
  for (const auto& s : c.series) names.push_back(s.name), colours.push_back(s.colour);
  legend(o, names, colours);
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const auto& s : c.series)
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      extend(xlo, xhi, s.x[i]), extend(ylo, yhi, s.y[i]);
      if (!s.lo.empty()) extend(ylo, yhi, s.lo[i]), extend(ylo, yhi, s.hi[i]);
    }
  if (xlo > xhi) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
  y_axis(o, fr, ylo, yhi, c.y_label);
  const std::vector<double> xt = nice_ticks(xlo, xhi);
  fr.xmin = xt.front(), fr.xmax = xt.back();
  for (double v : xt)
    o << "<text x=\"" << f(fr.px(v)) << "\" y=\"" << f(fr.y1() + 16) << "\" text-anchor=\"middle\">"
      << tick_label(v, xt[1] - xt[0]) << "</text>\n";
  o << "<text x=\"" << f((fr.x0() + fr.x1()) / 2) << "\" y=\"" << f(fr.height - 8)
    << "\" text-anchor=\"middle\">" << xml_escape(c.x_label) << "</text>\n";
  for (const auto& s : c.series) {
    const std::string col = xml_escape(s.colour);
    if (!s.lo.empty()) {  // the band: upper edge left to right, lower edge back
      std::string pts;
      for (std::size_t i = 0; i < s.x.size(); ++i)
        if (std::isfinite(s.hi[i])) pts += f(fr.px(s.x[i])) + "," + f(fr.py(s.hi[i])) + " ";
      for (std::size_t i = s.x.size(); i-- > 0;)
        if (std::isfinite(s.lo[i])) pts += f(fr.px(s.x[i])) + "," + f(fr.py(s.lo[i])) + " ";
      if (!pts.empty())
        o << "<polygon points=\"" << pts << "\" fill=\"" << col
          << "\" fill-opacity=\"0.2\" stroke=\"none\"/>\n";
    }
    std::string pts;  // NaN points break the line into pieces
    auto flush = [&] {
      if (!pts.empty())
        o << "<polyline points=\"" << pts << "\" fill=\"none\" stroke=\"" << col
          << "\" stroke-width=\"2\"/>\n";
      pts.clear();
    };
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) {
        flush();
        continue;
      }
      pts += f(fr.px(s.x[i])) + "," + f(fr.py(s.y[i])) + " ";
    }
    flush();
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i]))
        o << "<circle cx=\"" << f(fr.px(s.x[i])) << "\" cy=\"" << f(fr.py(s.y[i]))
          << "\" r=\"3\" fill=\"" << col << "\"/>\n";
  }
  o << "</svg>\n";
  return o.str();
}

std::string svg_document(const std::string& svg) {
  // Inline SVG in HTML5 needs no namespace; a stand-alone file does, and only the file gets it
  // (the page holds no URL at all).
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  const std::size_t at = svg.find("<svg");
  if (at == std::string::npos) return out + svg;
  return out + svg.substr(0, at + 4) + " xmlns=\"http://www.w3.org/2000/svg\"" + svg.substr(at + 4);
}

}  // namespace numens::io
