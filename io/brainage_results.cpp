#include "io/brainage_results.hpp"

#include "io/error.hpp"
#include "io/h5.hpp"

namespace numens::io {

BrainageResults read_brainage_results(const std::filesystem::path& path) {
  if (const std::string why = file_problem(path); !why.empty())
    throw IoError("brainage: " + path.string() + ": " + why);
  const File file = File::open(path);
  const Group root = file.root();
  check_format(root, path, "brainage", "numens-brainage", 1);
  auto bad = [&](const std::string& what) {
    return IoError("brainage: " + path.string() + ": " + what);
  };
  BrainageResults r;
  r.model = root.attr_string("model");
  r.cv = root.has_attr("cv") ? root.attr_string("cv") : "";
  r.subjects = root.dataset("subject_ids").read_strings().size();
  const Shape members = root.dataset("member_ids").shape();
  if (members.size() != 1) throw bad("/member_ids is not a one-dimensional table");
  r.members = members[0];
  if (root.exists("curve")) {
    const Group c = root.group("curve");
    r.curve_n = c.dataset("n").read<std::int64_t>();
    const Dataset mae = c.dataset("mae_reference");
    const Shape s = mae.shape();
    if (s.size() != 2 || s[0] != r.curve_n.size())
      throw bad("/curve/mae_reference is not (P, C) with P = " + std::to_string(r.curve_n.size()));
    r.curve_subsets = s[1];
    r.curve_mae_reference = mae.read<double>();
  }
  const Group g = root.group("schemes");
  r.scheme_names = g.dataset("names").read_strings();
  const std::size_t Q = r.scheme_names.size();
  const Dataset m = g.dataset("metrics");
  if (m.shape() != Shape{Q, 2, 3, 4})
    throw bad("/schemes/metrics is not (" + std::to_string(Q) + ", 2, 3, 4)");
  r.metrics = m.read<double>();
  if (m.has_attr("level")) r.level = m.attr_double("level");
  const Dataset p = g.dataset("paired_vs_first");
  if (p.shape() != Shape{Q, 4})
    throw bad("/schemes/paired_vs_first is not (" + std::to_string(Q) + ", 4)");
  r.paired_vs_first = p.read<double>();
  return r;
}

}  // namespace numens::io
