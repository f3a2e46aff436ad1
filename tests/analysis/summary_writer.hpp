// Test helper: writes a small variability summary (format numens-summary, docs/hdf5-schema.md,
// "Variability summary") with io/h5, every dataset of the schema present, for the brain-age
// reader and command-line tests until `numens variability` writes real ones. Volumes fall or grow
// linearly with age, members add multiplicative noise of relative size `noise`.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "io/atomic_file.hpp"
#include "io/h5.hpp"

namespace numens::testing {

struct SummarySpec {
  std::size_t subjects = 12, seed_members = 3, regions = 6;
  double noise = 0.02;
  bool with_ieee = true;    // arm 0 of kind "ieee" with one member (id 0)
  bool nan_volume = false;  // volume of subject 1, last member, region 1 set to NaN
  std::uint64_t seed = 5;
  std::string format = "numens-summary";  // another kind's name, for the reader's check
};

inline void write_summary(const std::filesystem::path& path, const SummarySpec& s) {
  io::AtomicFile out(path);
  {
    io::File f = io::File::create(out.temp_path());
    io::Group root = f.root();
    io::write_provenance(root, "test", "test", "[variability]\n");
    root.set_attr("format", s.format);
    root.set_attr("format_version", std::int64_t(1));
    root.set_attr("seeds", "{}");
    const std::size_t M = s.seed_members + 1, S = s.subjects, R = s.regions, A = 2;
    root.set_attr("members", std::int64_t(M));
    root.set_attr("cohort", "test-cohort.h5");
    io::Group arms = root.create_group("arms");
    arms.write_strings("names", {"ieee", "seed"});
    arms.write_strings("kinds", {s.with_ieee ? "ieee" : "seed", "seed"});
    std::vector<std::int64_t> ids{0}, arm{0};
    for (std::size_t m = 0; m < s.seed_members; ++m)
      ids.push_back(std::int64_t(1000 + m)), arm.push_back(1);
    root.write<std::int64_t>("member_ids", ids, {M});
    root.write<std::int64_t>("member_arms", arm, {M});
    std::vector<std::string> sids;
    for (std::size_t i = 0; i < S; ++i)
      sids.push_back("s" + std::string(i < 9 ? "0" : "") + std::to_string(i + 1));
    root.write_strings("subject_ids", sids);
    std::mt19937_64 g(s.seed);
    auto u = [&] { return (double(g() >> 11) + 0.5) * 0x1p-53; };
    std::vector<double> ages;
    for (std::size_t i = 0; i < S; ++i) ages.push_back(20 + 60 * u());
    root.write<double>("ages", ages, {S});
    io::Group reg = root.create_group("regions");
    const char* names[] = {"Left-Lateral-Ventricle", "Left-Hippocampus", "Right-Hippocampus",
                           "Left-Thalamus",          "Right-Thalamus",   "ctx-lh-frontal"};
    const std::int16_t values[] = {4, 17, 53, 10, 49, 1001};
    std::vector<std::int16_t> rv;
    std::vector<std::string> rn;
    std::vector<std::uint8_t> cortical;
    for (std::size_t r = 0; r < R; ++r) {
      rv.push_back(std::int16_t(values[r % 6] + 100 * std::int16_t(r / 6)));
      rn.push_back(std::string(names[r % 6]) + (r >= 6 ? "-" + std::to_string(r / 6) : ""));
      cortical.push_back(values[r % 6] >= 1000 ? 1 : 0);
    }
    reg.write<std::int16_t>("values", rv, {R});
    reg.write_strings("names", rn);
    reg.write<std::uint8_t>("cortical", cortical, {R});
    std::vector<double> vol;
    std::vector<float> dice;
    for (std::size_t i = 0; i < S; ++i)
      for (std::size_t m = 0; m < M; ++m)
        for (std::size_t r = 0; r < R; ++r) {
          const double slope = (r == 0 ? 0.02 : -0.004) * (1 + 0.1 * double(r));
          const double v = 1000.0 * (1 + double(r)) * (1 + slope * (ages[i] - 50));
          const double z = std::sqrt(-2 * std::log(u())) * std::cos(6.283185307179586 * u());
          vol.push_back(v * (1 + s.noise * z));
          dice.push_back(0.9f);
        }
    if (s.nan_volume) vol[((1 * M) + (M - 1)) * R + 1] = std::numeric_limits<double>::quiet_NaN();
    root.write<double>("volume_mm3", vol, {S, M, R});
    root.write<float>("dice", dice, {S, M, R});
    const std::vector<float> fa(A * S * R, 0.85f);
    const std::vector<double> da(A * S * R, 1.0);
    root.write<float>("dice_pairwise_min", fa, {A, S, R});
    root.write<float>("dice_pairwise_mean", fa, {A, S, R});
    root.write<double>("volume_mean", da, {A, S, R});
    root.write<double>("volume_std", da, {A, S, R});
    root.write<double>("volume_cv", da, {A, S, R});
    io::Dataset sd = root.write<double>("volume_sigdigits", da, {A, S, R});
    sd.set_attr("method", "cnh");
    sd.set_attr("base", std::int64_t(10));
    sd.set_attr("probability", 0.95);
    sd.set_attr("confidence", 0.95);
    root.write<float>("majority_dice", fa, {A, S, R});
    io::Group subj = root.create_group("subjects");
    for (const auto& id : sids) {
      io::Group sg = subj.create_group(id);
      for (const char* a : {"ieee", "seed"}) {
        io::Group ag = sg.create_group(a);
        ag.write<std::uint8_t>("entropy", std::vector<std::uint8_t>(8, 0), {2, 2, 2});
        ag.write<std::uint8_t>("disagreement", std::vector<std::uint8_t>(8, 0), {2, 2, 2});
        ag.write<std::int16_t>("majority", std::vector<std::int16_t>(8, 0), {2, 2, 2});
      }
    }
    f.close();
  }
  out.commit();
}

}  // namespace numens::testing
