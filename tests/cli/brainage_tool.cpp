// numens_brainage_tool: writes small variability summaries for the brain-age command-line tests
// (no `numens variability` exists on this branch).
//   summary OUT.h5 [subjects] [seed-members] [nan|noieee|cohort]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "tests/analysis/summary_writer.hpp"

int main(int argc, char** argv) {
  try {
    if (argc < 3 || std::strcmp(argv[1], "summary") != 0) {
      std::fprintf(stderr,
                   "usage: numens_brainage_tool summary OUT.h5 [S] [M] [nan|noieee|cohort]\n");
      return 2;
    }
    numens::testing::SummarySpec s;
    if (argc > 3) s.subjects = std::size_t(std::atol(argv[3]));
    if (argc > 4) s.seed_members = std::size_t(std::atol(argv[4]));
    if (argc > 5) {
      s.nan_volume = std::strcmp(argv[5], "nan") == 0;
      s.with_ieee = std::strcmp(argv[5], "noieee") != 0;
      if (std::strcmp(argv[5], "cohort") == 0) s.format = "numens-cohort";
    }
    numens::testing::write_summary(argv[2], s);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "numens_brainage_tool: %s\n", e.what());
    return 1;
  }
}
