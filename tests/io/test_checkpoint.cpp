// Checkpoint files: what is written is read back exactly, and every kind of damage is refused
// with one line naming the file.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "io/checkpoint.hpp"
#include "io/error.hpp"
#include "io/h5.hpp"
#include "tests/io/expect_error.hpp"
#include "tests/io/tmpdir.hpp"

using namespace numens::io;
using numens::io::testing::check_error;
using numens::io::testing::TempDir;

namespace {

Checkpoint sample() {
  Checkpoint c;
  c.config = "[model]\nfilters = 4\n";
  c.seeds = "{init = 1, data = 2, augment = 3, mca = 4}";
  c.view = "coronal";
  c.arch = "custom";
  c.net = "in_channels=7 filters=4 kernel=3 convs_per_block=3 levels=2 classes=3 input_filters=0";
  c.arith = "sr t32=12 t64=53 seed=4 member=0 granularity=op";
  c.resume_key = "key";
  c.epoch = 3;
  c.step = 42;
  c.best_metric = 0.75;
  c.best_epoch = 2;
  c.lr = 0.005;
  c.history = "epoch,loss\n1,0.5\n";
  c.class_values = {0, 17, 53};
  c.class_names = {"Unknown", "Left-Hippocampus", "Right-Hippocampus"};
  auto arr = [](const char* name, std::vector<std::uint64_t> shape, float base) {
    NamedArray a{name, shape, {}};
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    for (std::uint64_t i = 0; i < n; ++i) a.values.push_back(base + 0.25f * float(i));
    return a;
  };
  c.params = {arr("enc1.conv0.weight", {4, 7, 3, 3}, 1), arr("enc1.conv0.bias", {4}, -1),
              arr("classifier.weight", {3, 4, 1, 1}, 2)};
  c.adam_m = {arr("enc1.conv0.weight", {4, 7, 3, 3}, 0.5f), arr("enc1.conv0.bias", {4}, 0.1f),
              arr("classifier.weight", {3, 4, 1, 1}, 0.2f)};
  c.adam_v = c.adam_m;
  for (auto& a : c.adam_v)
    for (auto& v : a.values) v *= v;
  c.bn = {arr("enc1.bn1.running_mean", {4}, 0), arr("enc1.bn1.running_var", {4}, 1)};
  return c;
}

void same_arrays(const std::vector<NamedArray>& a, const std::vector<NamedArray>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].name == b[i].name);
    CHECK(a[i].shape == b[i].shape);
    CHECK(a[i].values == b[i].values);
  }
}

}  // namespace

TEST_CASE("checkpoint: write then read gives back every attribute and array exactly") {
  TempDir dir;
  const Checkpoint c = sample();
  write_checkpoint(dir / "ckpt.h5", c, "0.test", "abc");
  const Checkpoint r = read_checkpoint(dir / "ckpt.h5");
  CHECK(r.config == c.config);
  CHECK(r.seeds == c.seeds);
  CHECK(r.view == c.view);
  CHECK(r.arch == c.arch);
  CHECK(r.net == c.net);
  CHECK(r.arith == c.arith);
  CHECK(r.resume_key == c.resume_key);
  CHECK(r.epoch == 3);
  CHECK(r.step == 42);
  CHECK(r.best_metric == 0.75);
  CHECK(r.best_epoch == 2);
  CHECK(r.lr == 0.005);
  CHECK(r.history == c.history);
  CHECK(r.class_values == c.class_values);
  CHECK(r.class_names == c.class_names);
  same_arrays(r.params, c.params);
  same_arrays(r.adam_m, c.adam_m);
  same_arrays(r.adam_v, c.adam_v);
  same_arrays(r.bn, c.bn);
  // the documented layout, as h5py users would read it
  const File f = File::open(dir / "ckpt.h5");
  CHECK(f.root().attr_string("format") == "numens-checkpoint");
  CHECK(f.root().dataset("params/enc1/conv0/weight").shape() == Shape{4, 7, 3, 3});
  CHECK(f.root().dataset("bn/enc1/bn1/running_var").shape() == Shape{4});
  const Checkpoint h = read_checkpoint_header(dir / "ckpt.h5");
  CHECK(h.params.empty());
  CHECK(h.epoch == 3);
}

TEST_CASE("checkpoint: NaN best_metric (no validation yet) survives the round trip") {
  TempDir dir;
  Checkpoint c = sample();
  c.best_metric = std::nan("");
  c.best_epoch = -1;
  write_checkpoint(dir / "ckpt.h5", c, "0.test", "abc");
  CHECK(std::isnan(read_checkpoint(dir / "ckpt.h5").best_metric));
}

TEST_CASE("checkpoint: inconsistent content is refused at write, and no file is left") {
  TempDir dir;
  Checkpoint c = sample();
  c.adam_m.pop_back();
  check_error<IoError>([&] { write_checkpoint(dir / "a.h5", c, "0", "x"); }, "a.h5",
                       "optim/m holds 2 arrays, params holds 3");
  c = sample();
  c.adam_v[1].name = "enc1.conv0.other";
  check_error<IoError>([&] { write_checkpoint(dir / "b.h5", c, "0", "x"); }, "b.h5",
                       "does not match parameter 'enc1.conv0.bias'");
  c = sample();
  for (auto* arrays : {&c.params, &c.adam_m, &c.adam_v}) (*arrays)[0].name = "enc1..weight";
  check_error<IoError>([&] { write_checkpoint(dir / "c.h5", c, "0", "x"); }, "c.h5", "empty part");
  c = sample();
  c.class_names.pop_back();
  check_error<IoError>([&] { write_checkpoint(dir / "d.h5", c, "0", "x"); }, "d.h5", "class table");
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.exists();
  CHECK(files == 0);
}

TEST_CASE("checkpoint: damaged or foreign files are refused naming the file") {
  TempDir dir;
  write_checkpoint(dir / "good.h5", sample(), "0", "x");
  check_error<IoError>([&] { read_checkpoint(dir / "none.h5"); }, "none.h5", "file not found");
  {  // a NaN parameter (a diverged run must not be resumed silently)
    Checkpoint c = sample();
    c.params[2].values[5] = std::nan("");
    write_checkpoint(dir / "nan.h5", c, "0", "x");
    check_error<IoError>([&] { read_checkpoint(dir / "nan.h5"); }, "nan.h5",
                         "'classifier.weight' holds a NaN");
  }
  {  // another numens file kind
    File f = File::create(dir / "cohort.h5");
    Group root = f.root();
    root.set_attr("format", "numens-cohort");
    f.close();
    check_error<IoError>([&] { read_checkpoint(dir / "cohort.h5"); }, "cohort.h5",
                         "format is 'numens-cohort'");
  }
  {  // truncated
    const auto size = std::filesystem::file_size(dir / "good.h5");
    std::ifstream in(dir / "good.h5", std::ios::binary);
    std::string bytes(size / 2, '\0');
    in.read(bytes.data(), std::streamsize(bytes.size()));
    std::ofstream(dir / "cut.h5", std::ios::binary) << bytes;
    check_error<IoError>([&] { read_checkpoint(dir / "cut.h5"); }, "cut.h5", "");
  }
}
