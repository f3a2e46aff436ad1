#include "io/ensemble.hpp"

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <sstream>

namespace numens::io {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw EnsembleError("ensemble: " + file.string() + ": " + what);
}

bool valid_kind(const std::string& k) {
  return k == "ieee" || k == "seed" || k == "mca" || k == "seed+mca";
}

bool valid_arm_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

toml::table parse(const fs::path& file) {
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    fail(file.string() + ":" + std::to_string(e.source().begin.line), std::string(e.description()));
  }
}

std::string value_text(const toml::node& n) {
  std::ostringstream o;
  if (n.is_string())
    o << toml::value<std::string>(n.as_string()->get());
  else if (n.is_integer())
    o << n.as_integer()->get();
  else if (n.is_floating_point())
    o << n.as_floating_point()->get();
  else if (n.is_boolean())
    o << (n.as_boolean()->get() ? "true" : "false");
  else
    o << "\"(" << n.type() << ")\"";  // tables, arrays, dates: not seeds, named by their type
  return o.str();
}

// The keys of `t` in `first` order, then the others (sorted, as toml++ keeps them).
std::vector<std::string> ordered_keys(const toml::table& t,
                                      std::initializer_list<const char*> first) {
  std::vector<std::string> keys;
  for (const char* k : first)
    if (t.contains(k)) keys.emplace_back(k);
  for (const auto& [k, v] : t)
    if (std::find(keys.begin(), keys.end(), k.str()) == keys.end()) keys.emplace_back(k.str());
  return keys;
}

std::int64_t integer(const toml::table& t, const char* key, const fs::path& file) {
  const toml::node* n = t.get(key);
  if (!n) fail(file, "no '" + std::string(key) + "'");
  if (!n->is_integer()) fail(file, "'" + std::string(key) + "' must be an integer");
  return n->as_integer()->get();
}

std::string string(const toml::table& t, const char* key, const fs::path& file) {
  const toml::node* n = t.get(key);
  if (!n) fail(file, "no '" + std::string(key) + "'");
  if (!n->is_string()) fail(file, "'" + std::string(key) + "' must be a string");
  return n->as_string()->get();
}

struct ConfiguredArm {
  std::string name, kind;
  std::int64_t members = 0, id_base = 0;
};

// [[ensemble.arms]] of ensemble.toml; empty when the file or the list is absent (a directory
// assembled by hand is read from its member.toml files alone).
std::vector<ConfiguredArm> configured_arms(const fs::path& file) {
  std::vector<ConfiguredArm> out;
  if (!fs::exists(file)) return out;
  const toml::table root = parse(file);
  const toml::array* arms = root.at_path("ensemble.arms").as_array();
  if (!arms) return out;
  for (std::size_t k = 0; k < arms->size(); ++k) {
    const toml::table* t = (*arms)[k].as_table();
    if (!t) fail(file, "[[ensemble.arms]] entry " + std::to_string(k) + " is not a table");
    ConfiguredArm a;
    a.name = string(*t, "name", file);
    a.kind = string(*t, "kind", file);
    a.members = integer(*t, "members", file);
    a.id_base =
        t->contains("id_base") ? integer(*t, "id_base", file) : kArmIdStride * std::int64_t(k);
    if (a.members < 0) fail(file, "arm '" + a.name + "' has a negative member count");
    for (const auto& b : out)
      if (b.name == a.name) fail(file, "arm '" + a.name + "' listed twice");
    out.push_back(a);
  }
  return out;
}

}  // namespace

std::string member_dir_name(std::int64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "m%04lld", static_cast<long long>(id));
  return buf;
}

MemberRecord read_member_toml(const fs::path& file) {
  if (!fs::exists(file)) fail(file, "member.toml not found");
  const toml::table root = parse(file);
  // Other keys are ignored: member.toml is written by `numens ensemble`, and a newer writer may
  // record more about a member without making older readers refuse the directory. The keys read
  // here are all required, so a misspelt one still fails.
  MemberRecord m;
  m.id = integer(root, "id", file);
  m.arm = string(root, "arm", file);
  m.kind = string(root, "kind", file);
  m.index = integer(root, "index", file);
  if (m.id < 0) fail(file, "id " + std::to_string(m.id) + " is negative");
  if (m.index < 0) fail(file, "index " + std::to_string(m.index) + " is negative");
  if (!valid_arm_name(m.arm)) fail(file, "arm name '" + m.arm + "' is not [A-Za-z0-9_-]+");
  if (!valid_kind(m.kind)) fail(file, "kind '" + m.kind + "' is not ieee, seed, mca or seed+mca");
  m.seeds = "{}";
  if (const toml::node* n = root.get("seeds")) {
    const toml::table* t = n->as_table();
    if (!t) fail(file, "'seeds' must be a table");
    std::string s;
    for (const auto& k : ordered_keys(*t, {"init", "data", "augment", "mca"}))
      s += (s.empty() ? "" : ", ") + k + " = " + value_text(*t->get(k));
    m.seeds = "{" + s + "}";
  }
  if (const toml::node* n = root.get("arith")) {
    const toml::table* t = n->as_table();
    if (!t) fail(file, "'arith' must be a table");
    for (const auto& k : ordered_keys(*t, {"mode", "t32", "t64"})) {
      const toml::node& v = *t->get(k);
      m.arith += (m.arith.empty() ? "" : " ") + k + "=" +
                 (v.is_string() ? std::string(v.as_string()->get()) : value_text(v));
    }
  }
  m.dir = file.parent_path();
  return m;
}

EnsembleDir read_ensemble_dir(const fs::path& dir) {
  if (!fs::is_directory(dir)) fail(dir, "ensemble directory not found");
  const fs::path members_dir = dir / "members";
  if (!fs::is_directory(members_dir)) fail(dir, "no members/ directory");
  const std::vector<ConfiguredArm> config = configured_arms(dir / "ensemble.toml");

  // Every configured member first, in config order, so the first missing one is named.
  for (const ConfiguredArm& a : config)
    for (std::int64_t i = 0; i < a.members; ++i) {
      const fs::path md = members_dir / member_dir_name(a.id_base + i);
      if (!fs::is_directory(md))
        fail(md, "member " + std::to_string(a.id_base + i) + " (arm '" + a.name + "', index " +
                     std::to_string(i) + ") is missing");
      if (!fs::exists(md / "DONE"))
        fail(md, "member " + std::to_string(a.id_base + i) +
                     " is incomplete (no DONE marker): its training or segmentation has not "
                     "finished");
    }

  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(members_dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.size() > 1 && name[0] == 'm') dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  if (dirs.empty()) fail(members_dir, "no member directories (m0000, m1000, ...)");

  EnsembleDir out;
  out.dir = dir;
  for (const fs::path& md : dirs) {
    if (!fs::exists(md / "DONE"))
      fail(md,
           "member is incomplete (no DONE marker): its training or segmentation has not "
           "finished");
    MemberRecord m = read_member_toml(md / "member.toml");
    if (md.filename() != member_dir_name(m.id))
      fail(md / "member.toml", "id " + std::to_string(m.id) + " belongs in directory " +
                                   member_dir_name(m.id) + ", not " + md.filename().string());
    out.members.push_back(std::move(m));
  }
  std::sort(out.members.begin(), out.members.end(),
            [](const MemberRecord& a, const MemberRecord& b) { return a.id < b.id; });
  for (std::size_t i = 1; i < out.members.size(); ++i)
    if (out.members[i].id == out.members[i - 1].id)
      fail(out.members[i].dir / "member.toml",
           "duplicate member id " + std::to_string(out.members[i].id) + " (also in " +
               (out.members[i - 1].dir / "member.toml").string() + ")");

  // Arms: the configured ones in config order, else in order of their first member.
  std::map<std::pair<std::string, std::int64_t>, std::size_t> seen;
  for (const ConfiguredArm& a : config) out.arms.push_back({a.name, a.kind, {}});
  for (std::size_t i = 0; i < out.members.size(); ++i) {
    const MemberRecord& m = out.members[i];
    const fs::path file = m.dir / "member.toml";
    auto it = std::find_if(out.arms.begin(), out.arms.end(),
                           [&](const EnsembleArm& a) { return a.name == m.arm; });
    if (it == out.arms.end()) {
      if (!config.empty())
        fail(file, "arm '" + m.arm + "' is not an arm of " + (dir / "ensemble.toml").string());
      out.arms.push_back({m.arm, m.kind, {}});
      it = out.arms.end() - 1;
    }
    if (it->kind != m.kind)
      fail(file, "kind '" + m.kind + "' but arm '" + m.arm + "' is of kind '" + it->kind + "'");
    const auto key = std::make_pair(m.arm, m.index);
    if (seen.count(key))
      fail(file, "arm '" + m.arm + "' index " + std::to_string(m.index) + " is also member " +
                     std::to_string(out.members[seen[key]].id));
    seen[key] = i;
    it->members.push_back(i);
  }
  // A configured arm with no members (members = 0) says nothing; drop it.
  std::erase_if(out.arms, [](const EnsembleArm& a) { return a.members.empty(); });
  return out;
}

}  // namespace numens::io
