#include "drivers/model_io.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <sstream>

#include "io/error.hpp"

namespace numens::drivers {

namespace fs = std::filesystem;

nn::NetConfig parse_net(const std::string& text, const fs::path& context) {
  std::map<std::string, int> kv;
  std::istringstream in(text);
  std::string word;
  auto bad = [&](const std::string& what) -> io::IoError {
    return io::IoError(context.string() + ": model description '" + text + "': " + what);
  };
  while (in >> word) {
    const auto eq = word.find('=');
    if (eq == std::string::npos) throw bad("'" + word + "' is not key=value");
    int v = 0;
    const char* b = word.data() + eq + 1;
    const char* e = word.data() + word.size();
    const auto [p, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || p != e || b == e) throw bad("'" + word + "' has no integer value");
    kv[word.substr(0, eq)] = v;
  }
  nn::NetConfig c;
  const std::pair<const char*, int*> fields[] = {
      {"in_channels", &c.in_channels},         {"filters", &c.filters}, {"kernel", &c.kernel},
      {"convs_per_block", &c.convs_per_block}, {"levels", &c.levels},   {"classes", &c.classes},
      {"input_filters", &c.input_filters}};
  for (const auto& [name, dst] : fields) {
    const auto it = kv.find(name);
    if (it == kv.end()) throw bad(std::string("no ") + name);
    *dst = it->second;
    kv.erase(it);
  }
  if (!kv.empty()) throw bad("unknown key '" + kv.begin()->first + "'");
  try {
    c.validate();
  } catch (const Error& e) {
    throw bad(e.what());
  }
  return c;
}

std::string arch_name(const nn::NetConfig& net) {
  auto same = [&](const nn::NetConfig& ref) { return ref.describe() == net.describe(); };
  if (same(nn::fastsurfer_cnn(net.classes))) return "fastsurfer-cnn-1";
  if (same(nn::vinn_like(net.classes))) return "fastsurfer-vinn";
  return "custom";
}

namespace {

std::vector<io::NamedArray> to_arrays(const std::vector<nn::ParamInfo>& entries,
                                      const std::vector<float>& flat) {
  std::vector<io::NamedArray> out;
  for (const nn::ParamInfo& p : entries) {
    const Shape& s = p.shape;
    const auto n = size_t(s.numel());
    io::NamedArray a;
    a.name = p.name;
    // BN statistics and biases are stored flat (C) as in PyTorch's state_dict, weights 4-D.
    if (s.n == 1 && s.h == 1 && s.w == 1)
      a.shape = {uint64_t(s.c)};
    else if (s.c == 1 && s.h == 1 && s.w == 1)
      a.shape = {uint64_t(s.n)};
    else
      a.shape = {uint64_t(s.n), uint64_t(s.c), uint64_t(s.h), uint64_t(s.w)};
    a.values.assign(flat.begin() + p.offset, flat.begin() + p.offset + int64_t(n));
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<float> from_arrays(const std::vector<nn::ParamInfo>& entries, int64_t size,
                               const std::vector<io::NamedArray>& arrays, const char* what,
                               const fs::path& path) {
  if (arrays.size() != entries.size())
    throw io::IoError(path.string() + ": " + what + " has " + std::to_string(arrays.size()) +
                      " arrays, the model has " + std::to_string(entries.size()) +
                      " (checkpoint of another architecture?)");
  std::vector<float> flat(size_t(size), 0.0f);
  for (size_t i = 0; i < entries.size(); ++i) {
    const nn::ParamInfo& p = entries[i];
    const io::NamedArray& a = arrays[i];
    if (a.name != p.name || int64_t(a.values.size()) != p.shape.numel())
      throw io::IoError(path.string() + ": " + what + " array " + std::to_string(i) + " is '" +
                        a.name + "' with " + std::to_string(a.values.size()) +
                        " values, the model expects '" + p.name + "' with " +
                        std::to_string(p.shape.numel()));
    std::copy(a.values.begin(), a.values.end(), flat.begin() + p.offset);
  }
  return flat;
}

}  // namespace

void put_state(const nn::FastSurferNet<float>& net, const nn::TrainerState& s,
               io::Checkpoint& ckpt) {
  const auto& pe = net.params().entries();
  ckpt.params = to_arrays(pe, s.params);
  ckpt.adam_m = to_arrays(pe, s.adam_m);
  ckpt.adam_v = to_arrays(pe, s.adam_v);
  ckpt.bn = to_arrays(net.stats().entries(), s.stats);
  ckpt.step = s.step;
}

nn::TrainerState get_state(const nn::FastSurferNet<float>& net, const io::Checkpoint& ckpt,
                           const fs::path& path) {
  const auto& pe = net.params().entries();
  const int64_t np = net.params().size();
  nn::TrainerState s;
  s.step = ckpt.step;
  s.params = from_arrays(pe, np, ckpt.params, "params", path);
  s.adam_m = from_arrays(pe, np, ckpt.adam_m, "optim/m", path);
  s.adam_v = from_arrays(pe, np, ckpt.adam_v, "optim/v", path);
  s.stats = from_arrays(net.stats().entries(), net.stats().size(), ckpt.bn, "bn", path);
  return s;
}

void load_weights(nn::FastSurferNet<float>& net, const io::Checkpoint& ckpt, const fs::path& path) {
  const auto p =
      from_arrays(net.params().entries(), net.params().size(), ckpt.params, "params", path);
  const auto b = from_arrays(net.stats().entries(), net.stats().size(), ckpt.bn, "bn", path);
  std::copy(p.begin(), p.end(), net.params().values().data());
  std::copy(b.begin(), b.end(), net.stats().values().data());
}

}  // namespace numens::drivers
