// Reading TOML configuration files strictly: typed getters with ranges that remember which keys
// were read, so a key outside the schema (a typo) is an error and never silently ignored; and the
// "section.key=value" command-line overrides. Shared by every configuration format of the drivers
// (training, ensembles, studies).
#pragma once

#include <toml++/toml.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "io/error.hpp"  // file_problem
#include "mca/config.hpp"
#include "mca/error.hpp"

namespace numens::drivers {

// One [section] of the file: typed getters that remember which keys were read, so finish() can
// name any key that is not part of the schema (a typo must never be silently ignored).
class Section {
 public:
  Section(std::string file, std::string name, const toml::table* t)
      : file_(std::move(file)), name_(std::move(name)), t_(t) {}

  int64_t integer(const char* key, int64_t def, int64_t lo, int64_t hi) {
    const toml::node* n = get(key);
    if (!n) return def;
    if (!n->is_integer()) throw bad(key, "must be an integer");
    const int64_t v = n->as_integer()->get();
    if (v < lo || v > hi)
      throw bad(key, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                         std::to_string(v));
    return v;
  }
  double number(const char* key, double def, double lo, double hi) {
    const toml::node* n = get(key);
    if (!n) return def;
    double v;
    if (n->is_integer())
      v = double(n->as_integer()->get());
    else if (n->is_floating_point())
      v = n->as_floating_point()->get();
    else
      throw bad(key, "must be a number");
    if (!std::isfinite(v) || v < lo || v > hi) {
      std::ostringstream o;
      o << "must be in [" << lo << ", " << hi << "], got " << v;
      throw bad(key, o.str());
    }
    return v;
  }
  std::string string(const char* key, const std::string& def) {
    const toml::node* n = get(key);
    if (!n) return def;
    if (!n->is_string()) throw bad(key, "must be a string");
    return n->as_string()->get();
  }
  std::vector<std::string> strings(const char* key) {
    const toml::node* n = get(key);
    if (!n) return {};
    const toml::array* a = n->as_array();
    if (!a) throw bad(key, "must be an array of strings");
    std::vector<std::string> out;
    for (const toml::node& e : *a) {
      if (!e.is_string()) throw bad(key, "must be an array of strings");
      out.push_back(e.as_string()->get());
    }
    return out;
  }
  // The node itself (nullptr when absent), for values the typed getters do not cover (arrays of
  // tables); it counts as read.
  const toml::node* raw(const char* key) { return get(key); }
  bool boolean(const char* key, bool def) {
    const toml::node* n = get(key);
    if (!n) return def;
    if (!n->is_boolean()) throw bad(key, "must be true or false");
    return n->as_boolean()->get();
  }
  void finish() const {
    if (!t_) return;
    for (const auto& [k, v] : *t_)
      if (!used_.count(std::string(k.str())))
        throw ConfigError(file_ + ": unknown key '" + std::string(k.str()) + "' in [" + name_ +
                          "]");
  }
  ConfigError bad(const char* key, const std::string& what) const {
    return ConfigError(file_ + ": [" + name_ + "] " + key + " " + what);
  }

 private:
  const toml::node* get(const char* key) {
    used_.insert(key);
    return t_ ? t_->get(key) : nullptr;
  }
  std::string file_, name_;
  const toml::table* t_;
  std::set<std::string> used_;
};

// s as a TOML string literal (escaped as toml++ writes it), for values written into TOML text and
// for --set overrides built by the drivers.
inline std::string toml_quoted(const std::string& s) {
  std::ostringstream o;
  o << toml::value<std::string>(s);
  return o.str();
}

// "optim.lr=0.001" into the table; the value is TOML, or a bare string when it does not parse.
inline void apply_override(toml::table& root, const std::string& ov, const std::string& file) {
  const auto eq = ov.find('=');
  const auto dot = ov.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq)
    throw ConfigError(file + ": override '" + ov + "' is not section.key=value");
  const std::string sec = ov.substr(0, dot), key = ov.substr(dot + 1, eq - dot - 1);
  const std::string val = ov.substr(eq + 1);
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + val);
  } catch (const toml::parse_error&) {
    parsed = toml::table{{"v", val}};
  }
  if (!root.contains(sec)) root.insert(sec, toml::table{});
  toml::table* t = root[sec].as_table();
  if (!t) throw ConfigError(file + ": override '" + ov + "': '" + sec + "' is not a section");
  t->insert_or_assign(key, *parsed.get("v"));
}

// A configuration file parsed, then the "section.key=value" overrides applied in order: the one
// reader of every TOML configuration (train, ensemble, study). An empty `file` starts from an empty
// table (a configuration given wholly by overrides). Throws ConfigError naming the file (and the
// line of a syntax error): missing file, a directory, bad TOML, a malformed override.
inline toml::table load_toml(const std::filesystem::path& file,
                             const std::vector<std::string>& overrides) {
  const std::string fname = file.empty() ? std::string("(command line)") : file.string();
  toml::table root;
  if (!file.empty()) {
    if (const std::string why = io::file_problem(file); !why.empty())
      throw ConfigError(fname + ": " + why);
    try {
      root = toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
      throw ConfigError(fname + ":" + std::to_string(e.source().begin.line) + ": " +
                        std::string(e.description()));
    }
  }
  for (const auto& ov : overrides) apply_override(root, ov, fname);
  return root;
}

// The same keys as TOML lines (each ending in a newline); the inverse of read_cost_options.
inline std::string cost_options_toml(const mca::CostOptions& c) {
  return "fma = " + toml_quoted(std::string(mca::to_string(c.fma))) +
         "\nsr_bits = " + std::to_string(c.sr_bits) + "\nrounds = " + std::to_string(c.rounds) +
         "\ngranularity = " + toml_quoted(mca::granularity_string(c.tile)) + "\n";
}

// The cost options of MCA.md v2 (fma, sr_bits, rounds, granularity) from a section ([arith] or an
// ensemble arm), each defaulting to its value in `a` (the base configuration).
inline void read_cost_options(Section& s, mca::ArithConfig& a) {
  try {
    a.fma = mca::parse_fma(s.string("fma", std::string(mca::to_string(a.fma))));
  } catch (const ConfigError& e) {
    throw s.bad("fma", std::string("is invalid: ") + e.what());
  }
  a.sr_bits = int(s.integer("sr_bits", a.sr_bits, 2, 32));
  a.rounds = int(s.integer("rounds", a.rounds, 7, 10));
  if (a.rounds != 7 && a.rounds != 10) throw s.bad("rounds", "must be 10 or 7 (Philox4x32 rounds)");
  try {
    a.tile = mca::parse_granularity(s.string("granularity", mca::granularity_string(a.tile)));
  } catch (const ConfigError& e) {
    throw s.bad("granularity", std::string("is invalid: ") + e.what());
  }
}

}  // namespace numens::drivers
