#include "io/checkpoint.hpp"

#include <cctype>
#include <cmath>
#include <optional>
#include <utility>

#include "io/atomic_file.hpp"
#include "io/error.hpp"
#include "io/h5.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw IoError("checkpoint: " + path.string() + ": " + what);
}

// "enc1.conv0.weight" -> {"enc1", "conv0", "weight"}; every part non-empty, [A-Za-z0-9_-].
std::vector<std::string> split_name(const fs::path& path, const std::string& name) {
  std::vector<std::string> parts;
  std::string cur;
  auto push = [&] {
    if (cur.empty()) fail(path, "array name '" + name + "' has an empty part");
    parts.push_back(cur);
    cur.clear();
  };
  for (char c : name) {
    if (c == '.') {
      push();
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') {
      cur += c;
    } else {
      fail(path, "array name '" + name + "' has a character other than [A-Za-z0-9_-.]");
    }
  }
  push();
  return parts;
}

std::string slash_path(const std::vector<std::string>& parts) {
  std::string p;
  for (const auto& s : parts) p += (p.empty() ? "" : "/") + s;
  return p;
}

void write_arrays(const fs::path& path, Group base, const std::vector<NamedArray>& arrays) {
  for (const NamedArray& a : arrays) {
    const auto parts = split_name(path, a.name);
    std::optional<Group> cur;  // Group is move-only; nullopt means `base`
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      Group& g = cur ? *cur : base;
      Group next = g.exists(parts[i]) ? g.group(parts[i]) : g.create_group(parts[i]);
      cur.emplace(std::move(next));
    }
    Group& g = cur ? *cur : base;
    if (element_count(a.shape) != a.values.size())
      fail(path, "array '" + a.name + "' has " + std::to_string(a.values.size()) +
                     " values for its shape");
    g.write<float>(parts.back(), a.values, a.shape);
  }
}

std::vector<std::string> names_of(const std::vector<NamedArray>& arrays) {
  std::vector<std::string> n;
  for (const auto& a : arrays) n.push_back(a.name);
  return n;
}

std::vector<NamedArray> read_arrays(const fs::path& path, const Group& base,
                                    const std::vector<std::string>& names) {
  std::vector<NamedArray> out;
  for (const auto& name : names) {
    const Dataset d = base.dataset(slash_path(split_name(path, name)));
    NamedArray a{name, d.shape(), d.read<float>()};
    for (float v : a.values)
      if (!std::isfinite(v)) fail(path, "array '" + name + "' holds a NaN or infinite value");
    out.push_back(std::move(a));
  }
  return out;
}

void same_layout(const fs::path& path, const std::vector<NamedArray>& ref,
                 const std::vector<NamedArray>& other, const char* what) {
  if (other.size() != ref.size())
    fail(path, std::string(what) + " holds " + std::to_string(other.size()) +
                   " arrays, params holds " + std::to_string(ref.size()));
  for (std::size_t i = 0; i < ref.size(); ++i)
    if (other[i].name != ref[i].name || other[i].shape != ref[i].shape)
      fail(path, std::string(what) + " array '" + other[i].name + "' does not match parameter '" +
                     ref[i].name + "'");
}

Checkpoint read_header(const fs::path& path, const File& f) {
  const Group root = f.root();
  check_format(root, path, "checkpoint", kCheckpointFormat, kCheckpointFormatVersion);
  Checkpoint c;
  c.config = root.attr_string("config");
  c.seeds = root.attr_string("seeds");
  c.view = root.attr_string("view");
  c.arch = root.attr_string("arch");
  c.net = root.attr_string("net");
  c.arith = root.attr_string("arith");
  c.resume_key = root.attr_string("resume_key");
  c.epoch = root.attr_int("epoch");
  c.step = root.attr_int("step");
  c.best_metric = root.attr_double("best_metric");
  c.best_epoch = root.attr_int("best_epoch");
  c.lr = root.attr_double("lr");
  c.history = root.attr_string("history");
  const std::int64_t classes = root.attr_int("classes");
  c.class_values = root.read<std::int16_t>("classes/values").data;
  c.class_names = root.dataset("classes/names").read_strings();
  if (classes < 1 || std::size_t(classes) != c.class_values.size() ||
      c.class_names.size() != c.class_values.size())
    fail(path, "classes attribute (" + std::to_string(classes) +
                   ") disagrees with classes/values and classes/names");
  if (c.epoch < 0 || c.step < 0) fail(path, "negative epoch or step");
  return c;
}

}  // namespace

void write_checkpoint(const fs::path& path, const Checkpoint& c, std::string_view numens_version,
                      std::string_view git_commit) {
  same_layout(path, c.params, c.adam_m, "optim/m");
  same_layout(path, c.params, c.adam_v, "optim/v");
  if (c.class_values.empty() || c.class_names.size() != c.class_values.size())
    fail(path, "the class table is empty or its values and names disagree");
  AtomicFile atomic(path);
  {
    File f = File::create(atomic.temp_path());
    Group root = f.root();
    write_provenance(root, numens_version, git_commit, c.config);
    root.set_attr("format", kCheckpointFormat);
    root.set_attr("format_version", kCheckpointFormatVersion);
    root.set_attr("seeds", c.seeds);
    root.set_attr("view", c.view);
    root.set_attr("arch", c.arch);
    root.set_attr("net", c.net);
    root.set_attr("arith", c.arith);
    root.set_attr("resume_key", c.resume_key);
    root.set_attr("epoch", c.epoch);
    root.set_attr("step", c.step);
    root.set_attr("best_metric", c.best_metric);
    root.set_attr("best_epoch", c.best_epoch);
    root.set_attr("lr", c.lr);
    root.set_attr("history", c.history);
    root.set_attr("classes", std::int64_t(c.class_values.size()));
    Group cls = root.create_group("classes");
    cls.write<std::int16_t>("values", c.class_values, {c.class_values.size()});
    cls.write_strings("names", c.class_names);
    Group names = root.create_group("names");
    names.write_strings("params", names_of(c.params));
    names.write_strings("bn", names_of(c.bn));
    write_arrays(path, root.create_group("params"), c.params);
    Group optim = root.create_group("optim");
    write_arrays(path, optim.create_group("m"), c.adam_m);
    write_arrays(path, optim.create_group("v"), c.adam_v);
    write_arrays(path, root.create_group("bn"), c.bn);
    f.close();
  }
  atomic.commit();
}

Checkpoint read_checkpoint_header(const fs::path& path) {
  if (const std::string why = file_problem(path); !why.empty()) fail(path, why);
  const File f = File::open(path);
  return read_header(path, f);
}

Checkpoint read_checkpoint(const fs::path& path) {
  if (const std::string why = file_problem(path); !why.empty()) fail(path, why);
  const File f = File::open(path);
  Checkpoint c = read_header(path, f);
  const Group root = f.root();
  const auto pnames = root.dataset("names/params").read_strings();
  const auto bnames = root.dataset("names/bn").read_strings();
  if (pnames.empty()) fail(path, "no parameters");
  c.params = read_arrays(path, root.group("params"), pnames);
  c.adam_m = read_arrays(path, root.group("optim/m"), pnames);
  c.adam_v = read_arrays(path, root.group("optim/v"), pnames);
  c.bn = read_arrays(path, root.group("bn"), bnames);
  same_layout(path, c.params, c.adam_m, "optim/m");
  same_layout(path, c.params, c.adam_v, "optim/v");
  return c;
}

}  // namespace numens::io
