#include "io/import.hpp"
#include "io/label_palette.hpp"
#include "io/volume_file.hpp"

#include <algorithm>
#include <bitset>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "io/h5.hpp"
#include "io/nifti.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    const auto comma = line.find(',', pos);
    std::string f = trim(std::string_view(line).substr(pos, comma - pos));
    if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
    out.push_back(std::move(f));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// Whole-string number parse: "12abc", "", "nan" and "1e999" are all rejected by the callers.
bool parse_double(const std::string& s, double* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE) return false;
  *out = v;
  return true;
}

bool parse_long(const std::string& s, long* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size() || errno == ERANGE) return false;
  *out = v;
  return true;
}

fs::path resolve(const fs::path& csv, const std::string& p) {
  const fs::path q(p);
  return q.is_absolute() ? q : csv.parent_path() / q;
}

[[noreturn]] void csv_fail(const fs::path& csv, int line, const std::string& what) {
  throw IoError("import: " + csv.string() + ":" + std::to_string(line) + ": " + what);
}

bool close_affine(const Affine& a, const Affine& b) {
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      if (std::abs(a[r][c] - b[r][c]) > 1e-3 * (1 + std::abs(a[r][c]))) return false;
  return true;
}

std::string voxel_at(std::size_t n, const std::array<std::int64_t, 3>& d) {
  const auto nx = std::size_t(d[0]), ny = std::size_t(d[1]);
  return "(" + std::to_string(n % nx) + "," + std::to_string(n / nx % ny) + "," +
         std::to_string(n / (nx * ny)) + ")";
}

// Reads a label volume and checks it is integral, in int16's range and on the image's grid.
Volume read_label_volume(const fs::path& p, const Volume& image, const fs::path& image_path) {
  Volume l = read_volume(p);
  check_finite(l, p);
  if (l.dims != image.dims)
    throw IoError("import: " + p.string() + ": label dimensions (" + std::to_string(l.dims[0]) +
                  "," + std::to_string(l.dims[1]) + "," + std::to_string(l.dims[2]) +
                  ") differ from the image's " + image_path.string() + " (" +
                  std::to_string(image.dims[0]) + "," + std::to_string(image.dims[1]) + "," +
                  std::to_string(image.dims[2]) + ")");
  if (!close_affine(l.affine, image.affine))
    throw IoError("import: " + p.string() + ": label affine differs from the image's " +
                  image_path.string());
  for (std::size_t n = 0; n < l.data.size(); ++n) {
    const float x = l.data[n];
    if (!(x == std::floor(x) && x >= -32768.f && x <= 32767.f))
      throw IoError("import: " + p.string() + ": label value " + std::to_string(x) + " at voxel " +
                    voxel_at(n, l.dims) + " is not an int16 integer");
  }
  return l;
}

}  // namespace

std::vector<CsvRow> read_subjects_csv(const fs::path& csv, bool age_required) {
  std::error_code ec;
  if (const std::string why = file_problem(csv); !why.empty())
    throw IoError("import: " + csv.string() + ": CSV " + why);
  std::ifstream in(csv);
  if (!in) throw IoError("import: " + csv.string() + ": cannot open CSV file");
  std::string line;
  int lineno = 0;
  std::map<std::string, std::size_t> col;
  std::size_t ncols = 0;
  std::vector<CsvRow> rows;
  std::set<std::string> ids;
  const std::set<std::string> known{"id", "age", "image", "labels", "sex"};
  while (std::getline(in, line)) {
    ++lineno;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    const auto f = split_fields(t);
    if (col.empty()) {
      for (std::size_t i = 0; i < f.size(); ++i) {
        if (!known.count(f[i]))
          csv_fail(csv, lineno,
                   "unknown column '" + f[i] + "' (columns: id, age, image, labels, sex)");
        if (col.count(f[i])) csv_fail(csv, lineno, "column '" + f[i] + "' appears twice");
        col[f[i]] = i;
      }
      for (const char* need : {"id", "age", "image"})
        if (!col.count(need) && (age_required || std::string(need) != "age"))
          csv_fail(csv, lineno, std::string("header has no '") + need + "' column");
      ncols = f.size();
      continue;
    }
    if (f.size() != ncols)
      csv_fail(csv, lineno,
               std::to_string(f.size()) + " fields, the header has " + std::to_string(ncols));
    CsvRow r;
    r.line = lineno;
    r.id = f[col["id"]];
    try {
      validate_subject_id(r.id, csv);
    } catch (const IoError&) {
      csv_fail(
          csv, lineno,
          "subject id '" + r.id + "' is not well-formed (1-128 of [A-Za-z0-9._-], not all dots)");
    }
    if (!ids.insert(r.id).second) csv_fail(csv, lineno, "duplicate subject id '" + r.id + "'");
    const std::string age = col.count("age") ? f[col["age"]] : std::string();
    if (age.empty() && !age_required) {
      r.age = 0;  // not asked for (segment --csv); present ages are still checked below
    } else {
      if (age.empty()) csv_fail(csv, lineno, "subject '" + r.id + "': age is missing");
      if (!parse_double(age, &r.age))
        csv_fail(csv, lineno, "subject '" + r.id + "': age '" + age + "' is not a number");
      if (!(std::isfinite(r.age) && r.age > 0 && r.age < 130))
        csv_fail(csv, lineno, "subject '" + r.id + "': age " + age + " is outside (0, 130) years");
    }
    if (col.count("sex")) {
      r.sex = f[col["sex"]];
      if (r.sex != "F" && r.sex != "M" && !r.sex.empty())
        csv_fail(csv, lineno, "subject '" + r.id + "': sex '" + r.sex + "' is not F, M or empty");
    }
    const std::string& image = f[col["image"]];
    if (image.empty()) csv_fail(csv, lineno, "subject '" + r.id + "': image path is empty");
    r.image = resolve(csv, image);
    if (col.count("labels") && !f[col["labels"]].empty()) r.labels = resolve(csv, f[col["labels"]]);
    rows.push_back(std::move(r));
  }
  if (in.bad()) throw IoError("import: " + csv.string() + ": read error");
  if (col.empty()) throw IoError("import: " + csv.string() + ": empty CSV (no header row)");
  if (rows.empty()) throw IoError("import: " + csv.string() + ": no subject rows");
  return rows;
}

LabelTable read_lut_file(const fs::path& path) {
  std::error_code ec;
  if (const std::string why = file_problem(path); !why.empty())
    throw IoError("lut: " + path.string() + ": " + why);
  std::ifstream in(path);
  if (!in) throw IoError("lut: " + path.string() + ": cannot open");
  LabelTable lut;
  std::string line;
  int lineno = 0;
  auto bad = [&](const std::string& what) {
    throw IoError("lut: " + path.string() + ":" + std::to_string(lineno) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++lineno;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    std::istringstream ss(t);
    std::vector<std::string> tok;
    for (std::string w; ss >> w;) tok.push_back(w);
    if (tok.size() != 5 && tok.size() != 6)
      bad("expected 'value name r g b [a]', found " + std::to_string(tok.size()) + " fields");
    long v = 0;
    if (!parse_long(tok[0], &v) || v < -32768 || v > 32767)
      bad("value '" + tok[0] + "' is not an int16 integer");
    LabelInfo l;
    l.value = std::int16_t(v);
    l.name = tok[1];
    for (int c = 0; c < 3; ++c) {
      long x = 0;
      if (!parse_long(tok[std::size_t(2 + c)], &x) || x < 0 || x > 255)
        bad("colour component '" + tok[std::size_t(2 + c)] + "' is not in 0..255");
      l.rgb[std::size_t(c)] = std::uint8_t(x);
    }
    lut.push_back(std::move(l));
  }
  validate_lut(lut, path);
  return lut;
}

std::size_t import_cohort(const fs::path& csv, const fs::path& out, const ImportOptions& opt,
                          std::string_view numens_version, std::string_view git_commit) {
  const std::vector<CsvRow> rows = read_subjects_csv(csv);
  // Fail on a missing input before any volume is read (minutes for a large cohort).
  for (const auto& r : rows) {
    std::error_code ec;
    if (!fs::exists(r.image, ec))
      csv_fail(csv, r.line, "subject '" + r.id + "': image " + r.image.string() + " not found");
    if (r.labels && !fs::exists(*r.labels, ec))
      csv_fail(csv, r.line, "subject '" + r.id + "': labels " + r.labels->string() + " not found");
  }

  LabelTable lut;
  if (opt.lut) {
    lut = read_lut_file(*opt.lut);
  } else {
    // Default table: every value present in any label file (a first pass over the label files,
    // because the writer needs the table before the first subject).
    std::bitset<65536> present;
    present.set(0);
    for (const auto& r : rows) {
      if (!r.labels) continue;
      const Volume l = read_volume(*r.labels);
      for (float x : l.data)
        if (x == std::floor(x) && x >= -32768.f && x <= 32767.f)
          present.set(std::size_t(std::uint16_t(std::int16_t(x))));
    }
    for (int v = -32768; v <= 32767; ++v)
      if (present.test(std::size_t(std::uint16_t(std::int16_t(v)))))
        // Names stay neutral (the values need not be FreeSurfer's); colours come from FreeSurfer's
        // table where it has the value, so a preview is never black.
        lut.push_back({std::int16_t(v), v == 0 ? "Unknown" : "label_" + std::to_string(v),
                       default_label_colour(std::int16_t(v))});
  }
  std::bitset<65536> known;
  for (const auto& l : lut) known.set(std::size_t(std::uint16_t(l.value)));

  std::ostringstream config;
  config << "[import]\ncsv = \"" << csv.string() << "\"\nvoxel_size = ";
  if (opt.conform.voxel_size == 0) {
    config << "\"min\"";
  } else {
    config << opt.conform.voxel_size;
  }
  config << "\nsize = ";
  if (opt.conform.size == 0) {
    config << "\"auto\"";
  } else {
    config << opt.conform.size;
  }
  config << "\nlut = \"" << (opt.lut ? opt.lut->string() : std::string("(values present)"))
         << "\"\n";
  CohortWriter w(out, lut, numens_version, git_commit, config.str());
  for (const auto& r : rows) {
    const Volume img = read_volume(r.image);
    check_finite(img, r.image);
    check_not_constant(img, r.image);
    Subject s;
    s.info.id = r.id;
    s.info.age = r.age;
    s.info.sex = r.sex;
    s.info.source = r.image.string();
    s.info.original = geometry_of(img);
    std::vector<std::string> warnings = img.warnings;
    s.info.original_orientation_known = img.orientation_known;
    s.info.geometry = conformed_geometry(s.info.original, opt.conform, r.image, &warnings);
    if (opt.warn)
      for (const auto& line : warnings) opt.warn(line);
    s.t1 = conform_image(img, s.info.geometry);
    if (r.labels) {
      const Volume l = read_label_volume(*r.labels, img, r.image);
      for (std::size_t n = 0; n < l.data.size(); ++n) {
        const auto v = std::int16_t(l.data[n]);
        if (!known.test(std::size_t(std::uint16_t(v))))
          throw IoError("import: " + r.labels->string() + ": label value " + std::to_string(v) +
                        " at voxel " + voxel_at(n, l.dims) + " is not in the label table" +
                        (opt.lut ? " " + opt.lut->string() : std::string()));
      }
      s.info.has_labels = true;
      s.labels = conform_labels(l, s.info.geometry, *r.labels);
    }
    w.add(s);
  }
  w.commit();
  return rows.size();
}

}  // namespace numens::io
