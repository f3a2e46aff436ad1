// numens preview: one slice of a cohort subject's T1 as a PNG, optionally with its labels; with
// several subjects (one row each) and --pair (T1 | T1 + labels side by side), a contact sheet.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "drivers/commands.hpp"
#include "io/cohort.hpp"
#include "io/png.hpp"
#include "io/preview.hpp"
#include "mca/error.hpp"

namespace numens::drivers {

namespace {

struct Options {
  std::string in, subject, view = "axial", out;
  int slice = -1;
  bool labels = false, pair = false;
};

// Copies `tile` into `sheet` with its top-left corner at (x, y); the sheet is large enough.
void paste(io::Image& sheet, const io::Image& tile, int x, int y) {
  for (int r = 0; r < tile.height; ++r)
    std::copy_n(tile.rgb.begin() + std::ptrdiff_t(r) * tile.width * 3, tile.width * 3,
                sheet.rgb.begin() + (std::ptrdiff_t(y + r) * sheet.width + x) * 3);
}

std::vector<std::string> split_ids(const std::string& list) {
  std::vector<std::string> ids;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = list.find(',', start);
    ids.push_back(list.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ids;
}

int run(const Options& opt) {
  const io::View view = io::parse_view(opt.view);
  const io::CohortReader reader(opt.in);
  const auto& subjects = reader.subjects();
  // Every subject is read and rendered before anything is written: a bad id writes no file.
  std::vector<io::Subject> rows;
  for (const std::string& id : split_ids(opt.subject)) {
    std::size_t index = subjects.size();
    for (std::size_t i = 0; i < subjects.size(); ++i)
      if (subjects[i].id == id) index = i;
    if (index == subjects.size())
      throw ConfigError(opt.in + ": no subject '" + id + "' (" + std::to_string(subjects.size()) +
                        " subjects, first '" + (subjects.empty() ? std::string() : subjects[0].id) +
                        "')");
    rows.push_back(reader.read(index));
  }
  std::vector<std::vector<io::Image>> tiles;
  int width = 0, height = 0;
  for (const io::Subject& s : rows) {
    tiles.emplace_back();
    if (opt.pair) tiles.back().push_back(io::render_slice(s, reader.lut(), view, opt.slice, false));
    tiles.back().push_back(
        io::render_slice(s, reader.lut(), view, opt.slice, opt.labels || opt.pair));
    int w = 0, h = 0;
    for (const io::Image& t : tiles.back()) w += t.width, h = std::max(h, t.height);
    width = std::max(width, w);
    height += h;
  }
  io::Image sheet;
  sheet.width = width;
  sheet.height = height;
  sheet.rgb.assign(std::size_t(width) * std::size_t(height) * 3, 0);
  int y = 0;
  for (const auto& row : tiles) {
    int x = 0, h = 0;
    for (const io::Image& t : row) {
      paste(sheet, t, x, y);
      x += t.width;
      h = std::max(h, t.height);
    }
    y += h;
  }
  io::write_png_rgb(opt.out, sheet.width, sheet.height, sheet.rgb);
  std::printf("wrote %s (%s, %s)\n", opt.out.c_str(), opt.view.c_str(),
              opt.pair     ? "T1 | with labels"
              : opt.labels ? "with labels"
                           : "T1");
  for (const io::Subject& s : rows)
    std::printf("  %s: age %.1f, %s\n", s.info.id.c_str(), s.info.age, s.info.sex.c_str());
  return 0;
}

}  // namespace

Runner add_preview(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("preview", "Write a PNG of one slice of a cohort subject");
  sub->add_option("--in", opt->in, "cohort file")->required();
  sub->add_option("--subject", opt->subject,
                  "subject id, or several separated by commas (one row each)")
      ->required();
  sub->add_option("--view", opt->view, "axial | coronal | sagittal")->capture_default_str();
  sub->add_option("--slice", opt->slice, "slice index along the view's axis (-1: middle)")
      ->capture_default_str();
  sub->add_flag("--labels", opt->labels, "blend the label colours over the T1");
  sub->add_flag("--pair", opt->pair, "T1 and T1 with labels side by side");
  sub->add_option("--out", opt->out, "PNG file to write")->required();
  return [opt] { return run(*opt); };
}

}  // namespace numens::drivers
