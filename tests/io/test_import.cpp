// io/import: the subjects CSV and LUT file parsers (column order, relative paths, quotes,
// comments, each fault), and import_cohort's all-or-nothing contract when a later subject fails.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "io/cohort.hpp"
#include "io/import.hpp"
#include "tests/io/expect_error.hpp"
#include "tests/io/tmpdir.hpp"

using namespace numens::io;
using numens::io::testing::check_error;
using numens::io::testing::TempDir;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

}  // namespace

TEST_CASE("import: CSV columns in any order, relative paths, quotes, comments") {
  TempDir dir;
  const fs::path csv = dir / "s.csv";
  write(csv,
        "# cohort of two\n"
        "sex, labels ,image,age,id\n"
        "\n"
        "F,,\"img/a.nii.gz\",71.5,sub-a\n"
        "M,lab/b.nii,/abs/b.nii,8,sub.b_2\n");
  const auto rows = read_subjects_csv(csv);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].id == "sub-a");
  CHECK(rows[0].age == 71.5);
  CHECK(rows[0].sex == "F");
  CHECK(rows[0].image == dir.path() / "img/a.nii.gz");
  CHECK(!rows[0].labels);
  CHECK(rows[0].line == 4);
  CHECK(rows[1].image == fs::path("/abs/b.nii"));
  REQUIRE(rows[1].labels);
  CHECK(*rows[1].labels == dir.path() / "lab/b.nii");
}

TEST_CASE("import: each CSV fault names the file, the line and the problem") {
  TempDir dir;
  const fs::path csv = dir / "bad.csv";
  auto bad = [&](const std::string& text, const std::string& what) {
    INFO(what);
    write(csv, text);
    check_error<IoError>([&] { (void)read_subjects_csv(csv); }, csv.string(), what);
  };
  bad("id,image\ns,a.nii\n", ":1: header has no 'age' column");
  bad("id,age,image,id\n", "column 'id' appears twice");
  bad("id,age,image,site\n", "unknown column 'site'");
  bad("id,age,image\ns,,a.nii\n", ":2: subject 's': age is missing");
  bad("id,age,image\ns,-1,a.nii\n", "age -1 is outside");
  bad("id,age,image\ns,130,a.nii\n", "age 130 is outside");
  bad("id,age,image\ns,nan,a.nii\n", "age nan is outside");
  bad("id,age,image\ns,12y,a.nii\n", "age '12y' is not a number");
  bad("id,age,image\ns,1,a.nii\nt,2,b.nii\ns,3,c.nii\n", ":4: duplicate subject id 's'");
  bad("id,age,image\n../x,1,a.nii\n", "'../x' is not well-formed");
  bad("id,age,image\ns,1,\n", "image path is empty");
  bad("id,age,image\ns,1\n", "2 fields, the header has 3");
  bad("id,age,image,sex\ns,1,a.nii,female\n", "sex 'female'");
  bad("id,age,image\n", "no subject rows");
  bad("# only a comment\n", "empty CSV");
  check_error<IoError>([&] { (void)read_subjects_csv(dir / "none.csv"); }, "none.csv", "not found");
}

TEST_CASE("import: FreeSurfer-style LUT files") {
  TempDir dir;
  const fs::path p = dir / "lut.txt";
  write(p,
        "#No. Label Name:                R   G   B   A\n"
        "0   Unknown                     0   0   0   0\n"
        "2   Left-Cerebral-White-Matter  245 245 245 0\n"
        "\n"
        "-7  negative                    1   2   3\n");
  const LabelTable lut = read_lut_file(p);
  REQUIRE(lut.size() == 3);
  CHECK(lut[1].value == 2);
  CHECK(lut[1].name == "Left-Cerebral-White-Matter");
  CHECK(lut[1].rgb == std::array<std::uint8_t, 3>{245, 245, 245});
  CHECK(lut[2].value == -7);
  auto bad = [&](const std::string& text, const std::string& what) {
    INFO(what);
    write(p, text);
    check_error<IoError>([&] { (void)read_lut_file(p); }, p.string(), what);
  };
  bad("0 Unknown 0 0 0 0\n40000 big 0 0 0 0\n", ":2: value '40000' is not an int16");
  bad("0 Unknown 0 0 300 0\n", "colour component '300'");
  bad("0 Unknown 0 0\n", "found 4 fields");
  bad("1 one 0 0 0 0\n", "no value 0");
  bad("0 a 0 0 0\n0 b 0 0 0\n", "value 0 twice");
}

TEST_CASE("import: a failure at the last subject leaves no cohort behind") {
  TempDir dir;
  const fs::path fixtures = NUMENS_TEST_FIXTURES;
  write(dir / "s.csv", "id,age,image\ngood,30," + (fixtures / "big_endian_oblique.nii").string() +
                           "\nbad,31," + (dir / "bad.nii").string() + "\n");
  write(dir / "bad.nii", std::string(400, 'x'));
  const fs::path out = dir / "c.h5";
  ImportOptions opt;
  opt.conform.size = 16;
  check_error<IoError>([&] { import_cohort(dir / "s.csv", out, opt, "t", "c"); }, "bad.nii",
                       "not a NIfTI file");
  CHECK(!fs::exists(out));
  CHECK(dir.entries() == 2);  // the CSV and bad.nii only
}
