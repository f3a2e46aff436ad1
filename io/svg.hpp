// Plain SVG charts for the report (docs/report.md): box plots, grouped bars and line charts with
// a shaded band, each with axes, round-numbered ticks, labels and a legend. Self-contained
// <svg> elements (no scripts, fonts or external references) that can be inlined in HTML or saved
// as .svg files. Pure text generation: the data come in as plain numbers; every string is escaped.
#pragma once

#include <string>
#include <vector>

namespace numens::io {

// About `target` ticks covering [lo, hi] at a round step (1, 2 or 5 x 10^k), the first at or
// below lo and the last at or above hi, so the axis spans whole steps. lo == hi gets a
// unit-wide range around it; non-finite bounds give {0, 1}.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// A tick's text with the decimals its step needs (0.05 -> "0.85", 10 -> "20").
std::string tick_label(double value, double step);

struct Box {  // one box: quartiles, whiskers and outliers of a sample (NaN q1: nothing to draw)
  double q1 = 0, median = 0, q3 = 0, whisker_lo = 0, whisker_hi = 0;
  std::vector<double> outliers;
};
struct BoxPlot {
  std::string title, y_label;
  std::vector<std::string> groups;      // along x (e.g. arms)
  std::vector<std::string> series;      // boxes per group, one legend entry each
  std::vector<std::string> colours;     // per series, CSS colours
  std::vector<std::vector<Box>> boxes;  // [group][series]
};
std::string box_plot_svg(const BoxPlot& p);

struct BarChart {
  std::string title, y_label;
  std::vector<std::string> groups, series, colours;
  std::vector<std::vector<double>> values;  // [group][series]; NaN: no bar, "n/a" written
};
std::string bar_chart_svg(const BarChart& c);

struct LineSeries {
  std::string name, colour;
  std::vector<double> x, y;    // NaN y: a gap
  std::vector<double> lo, hi;  // empty, or a band per point (min-max) drawn under the line
};
struct LineChart {
  std::string title, x_label, y_label;
  std::vector<LineSeries> series;
};
std::string line_chart_svg(const LineChart& c);

// An inline chart as a stand-alone .svg file: XML declaration and the SVG namespace added.
std::string svg_document(const std::string& svg);

}  // namespace numens::io
