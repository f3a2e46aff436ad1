// numens preview: one slice of a cohort subject's T1 as a PNG, optionally with its labels.
#include <cstdio>
#include <memory>
#include <string>

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
  bool labels = false;
};

int run(const Options& opt) {
  const io::View view = io::parse_view(opt.view);
  const io::CohortReader reader(opt.in);
  const auto& subjects = reader.subjects();
  std::size_t index = subjects.size();
  for (std::size_t i = 0; i < subjects.size(); ++i)
    if (subjects[i].id == opt.subject) index = i;
  if (index == subjects.size())
    throw ConfigError(opt.in + ": no subject '" + opt.subject + "' (" +
                      std::to_string(subjects.size()) + " subjects, first '" +
                      (subjects.empty() ? std::string() : subjects[0].id) + "')");
  const io::Subject s = reader.read(index);
  const io::Image img = io::render_slice(s, reader.lut(), view, opt.slice, opt.labels);
  io::write_png_rgb(opt.out, img.width, img.height, img.rgb);
  std::printf("wrote %s (%s, age %.1f, %s %s)\n", opt.out.c_str(), s.info.id.c_str(), s.info.age,
              opt.view.c_str(), opt.labels ? "with labels" : "T1");
  return 0;
}

}  // namespace

Runner add_preview(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("preview", "Write a PNG of one slice of a cohort subject");
  sub->add_option("--in", opt->in, "cohort file")->required();
  sub->add_option("--subject", opt->subject, "subject id")->required();
  sub->add_option("--view", opt->view, "axial | coronal | sagittal")->capture_default_str();
  sub->add_option("--slice", opt->slice, "slice index along the view's axis (-1: middle)")
      ->capture_default_str();
  sub->add_flag("--labels", opt->labels, "blend the label colours over the T1");
  sub->add_option("--out", opt->out, "PNG file to write")->required();
  return [opt] { return run(*opt); };
}

}  // namespace numens::drivers
