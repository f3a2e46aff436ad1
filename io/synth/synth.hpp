// Synthetic ageing cohorts: subjects drawn from a template (template.hpp) with an age, sex, head
// size, a smooth random deformation, age-dependent regional atrophy, non-age individual variation,
// and a T1 synthesised from the real template intensities (docs/synthetic-cohort.md has the model,
// its rates and their sources). Every subject is a pure function of (template, options, seed,
// subject index): independent of thread count, of the cohort size and of the other subjects.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/cohort.hpp"
#include "io/synth/template.hpp"

namespace numens::io::synth {

struct SynthOptions {
  std::string template_name = "colin27";  // colin27 | phantom
  std::filesystem::path template_dir = kMricronTemplates;
  std::size_t subjects = 200;
  std::uint32_t seed = 0;
  double voxel_size = 1.0;     // mm, isotropic output grid
  double phantom_voxel = 2.0;  // mm, grid of the procedural template
  // Multiplies the spread of every non-age individual difference (region sizes, ageing speed,
  // ventricle size, deformation): 0 gives subjects that differ only by age, sex and head size.
  double variation = 1.0;

  void validate() const;         // throws ConfigError naming the option
  std::string describe() const;  // every option, for the cohort's provenance
};

// Loads the template the options name (colin27 from template_dir, or builds the phantom).
Template load_template(const SynthOptions& opt);

// What is drawn for one subject; kept so that tests and statistics can see the truth.
struct SubjectParams {
  double age = 0;
  bool male = false;
  std::array<double, 3> head_scale{1, 1, 1};  // linear, per axis
  double ageing_speed = 1;                    // multiplies every atrophy rate
  double ventricle_factor = 1;                // individual ventricle size (lognormal, median 1)
  double contrast_loss = 0;                   // fraction of GM/WM contrast lost
  double noise_sd = 0;                        // Rician noise sigma, intensity units
  std::vector<double> region_speed;           // per LUT entry, multiplies its atrophy rate
  std::vector<double> region_size;            // per LUT entry, volume factor of its local scaling
  std::array<double, 9> bias{};               // log bias field coefficients (quadratic basis)
};

// Cumulative volume factor of a label at `age` (1 at age 20) for ageing speed 1: the atrophy
// model's rates integrated (shrinking structures < 1, ventricles > 1). 1 for labels with no rate.
double age_volume_factor(std::int16_t label, double age);

class Synthesizer {
 public:
  // Prepares the template (distance maps and the voxel orderings of the atrophy model); the cost
  // is paid once per cohort.
  Synthesizer(Template t, const SynthOptions& opt);
  ~Synthesizer();
  Synthesizer(const Synthesizer&) = delete;
  Synthesizer& operator=(const Synthesizer&) = delete;

  const Geometry& geometry() const;
  const Template& templ() const;
  SubjectParams draw(std::size_t index) const;
  Subject make(std::size_t index) const;
  Subject make(std::size_t index, const SubjectParams& p) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Volume in mL of each entry of synth_label_table() (same order) in a subject's labels.
std::vector<double> label_volumes(const Subject& s);

// Writes one row per subject: id, age, sex, tiv_ml (all labelled voxels), then the volume in mL of
// every LUT label but background (column = label name). Through AtomicFile; throws IoError.
struct VolumeRow {
  SubjectInfo info;
  std::vector<double> volumes;  // label_volumes() of the subject
};
void write_volume_csv(const std::filesystem::path& path, const std::vector<VolumeRow>& rows);

}  // namespace numens::io::synth
