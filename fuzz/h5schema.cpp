// libFuzzer target: the HDF5 schemas numens reads (cohort, slice file, segmentation, summary,
// brain-age results, checkpoint). HDF5's own byte parser is not the target (malformed HDF5 bytes
// find HDF5's bugs, not ours), so an input is a list of edits applied through the HDF5 API to a
// valid file numens wrote (fuzz/seeds/h5/, made by fuzz/make_h5_seeds.sh): every file the
// readers see is well-formed HDF5 with an odd schema. Edits: an object deleted; a dataset replaced
// by one of another rank, shape or type; values overwritten with NaN, inf, negatives, extremes;
// an attribute replaced by another type or value; an unexpected object added. The reader of the
// seed's kind then reads everything the file offers. Findings: a crash, a sanitizer report, an
// allocation past libFuzzer's limit, or an exception that is not numens::Error.
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "io/brainage_results.hpp"
#include "io/checkpoint.hpp"
#include "io/cohort.hpp"
#include "io/segmentation.hpp"
#include "io/slice_file.hpp"
#include "io/summary.hpp"
#include "mca/error.hpp"

#ifndef NUMENS_FUZZ_SEEDS
#error "NUMENS_FUZZ_SEEDS (the directory of the seed files) must be defined"
#endif

namespace {

namespace fs = std::filesystem;

enum class Kind { cohort, slices, segmentation, summary, brainage, checkpoint };

struct Seed {
  Kind kind;
  std::string bytes;
};

const std::vector<Seed>& seeds() {
  static const std::vector<Seed> s = [] {
    const std::pair<const char*, Kind> files[] = {
        {"cohort.h5", Kind::cohort},   {"slices.h5", Kind::slices},
        {"seg.h5", Kind::segmentation}, {"summary.h5", Kind::summary},
        {"brainage.h5", Kind::brainage}, {"ckpt.h5", Kind::checkpoint}};
    std::vector<Seed> v;
    for (const auto& [name, kind] : files) {
      std::ifstream f(fs::path(NUMENS_FUZZ_SEEDS) / name, std::ios::binary);
      if (!f) __builtin_trap();  // the harness is broken, not the reader
      v.push_back({kind, std::string(std::istreambuf_iterator<char>(f), {})});
    }
    return v;
  }();
  return s;
}

// The input as a stream of small integers.
struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  bool empty() const { return n == 0; }
  unsigned byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  unsigned u16() { return byte() | (byte() << 8); }
  std::int64_t i64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t(byte()) << (8 * i);
    return std::int64_t(v);
  }
};

struct Objects {
  std::vector<std::string> datasets, groups;
  std::vector<std::pair<std::string, std::string>> attrs;  // (object, attribute)
};

herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* data) {
  auto* v = static_cast<std::vector<std::string>*>(data);
  v->push_back(name);
  return 0;
}

void collect_attrs(hid_t file, const std::string& obj, Objects& o) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  H5Aiterate_by_name(file, obj.c_str(), H5_INDEX_NAME, H5_ITER_NATIVE, &idx, collect_attr, &names,
                     H5P_DEFAULT);
  for (auto& a : names) o.attrs.emplace_back(obj, a);
}

herr_t collect_link(hid_t file, const char* name, const H5L_info_t*, void* data) {
  auto* o = static_cast<Objects*>(data);
  const std::string path = std::string("/") + name;
  const hid_t id = H5Oopen(file, path.c_str(), H5P_DEFAULT);
  if (id < 0) return 0;
  const H5I_type_t t = H5Iget_type(id);
  H5Oclose(id);
  if (t == H5I_DATASET) o->datasets.push_back(path);
  if (t == H5I_GROUP) o->groups.push_back(path);
  collect_attrs(file, path, *o);
  return 0;
}

Objects list(hid_t file) {
  Objects o;
  o.groups.push_back("/");
  collect_attrs(file, "/", o);
  H5Lvisit(file, H5_INDEX_NAME, H5_ITER_NATIVE, collect_link, &o);
  return o;
}

// A type for new datasets and attributes.
hid_t pick_type(unsigned k) {
  static const hid_t* types[] = {&H5T_NATIVE_INT8,  &H5T_NATIVE_UINT8, &H5T_NATIVE_INT16,
                                 &H5T_NATIVE_INT32, &H5T_NATIVE_INT64, &H5T_NATIVE_FLOAT,
                                 &H5T_NATIVE_DOUBLE};
  return *types[k % 7];
}

// A value of the kinds that break assumptions, as raw bytes of `type`.
void special_value(hid_t type, unsigned k, std::int64_t raw, unsigned char* out) {
  const size_t sz = H5Tget_size(type);
  if (H5Tget_class(type) == H5T_FLOAT) {
    const double vals[] = {std::nan(""), INFINITY, -INFINITY, -1.0, 0.0, 1e30, -1e30, 1e-40,
                           double(raw)};
    const double d = vals[k % 9];
    if (sz == 4) {
      const float f = float(d);
      std::memcpy(out, &f, 4);
    } else {
      std::memcpy(out, &d, 8);
    }
  } else {
    const std::int64_t vals[] = {-1, 0, std::numeric_limits<std::int64_t>::max(),
                                 std::numeric_limits<std::int64_t>::min(), 255, 32767, raw};
    const std::int64_t v = vals[k % 7];
    std::memcpy(out, &v, std::min<size_t>(sz, 8));  // little-endian: the low bytes
  }
}

// Replaces dataset `path` by a new one of rank 0..3 with small dims and the given type.
void replace_dataset(hid_t file, const std::string& path, Reader& in) {
  hid_t old = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  hid_t type = -1;
  if (old >= 0) {
    const hid_t t = H5Dget_type(old);
    type = in.byte() % 2 ? H5Tcopy(t) : -1;  // keep the type half the time: shape only
    H5Tclose(t);
    H5Dclose(old);
  }
  if (type < 0) type = H5Tcopy(pick_type(in.byte()));
  H5Ldelete(file, path.c_str(), H5P_DEFAULT);
  const int rank = int(in.byte() % 4);
  hsize_t dims[3] = {1, 1, 1};
  hsize_t count = 1;
  for (int i = 0; i < rank; ++i) dims[i] = in.byte() % 9, count *= dims[i];
  const hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, nullptr);
  const hid_t d = H5Dcreate2(file, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
  if (d >= 0 && H5Tget_class(type) != H5T_STRING && H5Tget_class(type) != H5T_COMPOUND &&
      H5Tget_class(type) != H5T_VLEN) {
    std::vector<unsigned char> buf(count * H5Tget_size(type));
    for (auto& b : buf) b = (unsigned char)in.byte();
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  }
  if (d >= 0) H5Dclose(d);
  H5Sclose(space);
  H5Tclose(type);
}

// Overwrites up to 4 elements of a numeric dataset with special values.
void poke_dataset(hid_t file, const std::string& path, Reader& in) {
  const hid_t d = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  if (d < 0) return;
  const hid_t t = H5Dget_type(d);
  const H5T_class_t c = H5Tget_class(t);
  const hid_t space = H5Dget_space(d);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  const size_t sz = H5Tget_size(t);
  if ((c == H5T_INTEGER || c == H5T_FLOAT) && n > 0 && n * hssize_t(sz) <= (1 << 24)) {
    const hid_t mem = H5Tget_native_type(t, H5T_DIR_ASCEND);
    std::vector<unsigned char> buf(size_t(n) * H5Tget_size(mem));
    if (H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) >= 0) {
      const int pokes = 1 + int(in.byte() % 4);
      for (int i = 0; i < pokes; ++i) {
        const size_t at = size_t(in.u16() + (in.u16() << 16)) % size_t(n);
        special_value(mem, in.byte(), in.i64(), buf.data() + at * H5Tget_size(mem));
      }
      H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    }
    H5Tclose(mem);
  }
  H5Sclose(space);
  H5Tclose(t);
  H5Dclose(d);
}

// Replaces an attribute by a scalar or a short array of another type, or a string.
void replace_attr(hid_t file, const std::string& obj, const std::string& name, Reader& in) {
  H5Adelete_by_name(file, obj.c_str(), name.c_str(), H5P_DEFAULT);
  const hid_t o = H5Oopen(file, obj.c_str(), H5P_DEFAULT);
  if (o < 0) return;
  const unsigned k = in.byte();
  if (k % 4 == 0) {  // a string of input bytes
    std::string s;
    const unsigned len = in.byte() % 24;
    for (unsigned i = 0; i < len; ++i) s += char(in.byte());
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, std::max<size_t>(1, s.size()));
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(o, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT);
    s.resize(std::max<size_t>(1, s.size()));
    if (a >= 0) H5Awrite(a, t, s.data()), H5Aclose(a);
    H5Sclose(space);
    H5Tclose(t);
  } else {
    const hid_t t = pick_type(in.byte());
    const hsize_t n = k % 4 == 1 ? 1 + in.byte() % 4 : 1;
    const hid_t space = k % 4 == 1 ? H5Screate_simple(1, &n, nullptr) : H5Screate(H5S_SCALAR);
    std::vector<unsigned char> buf(n * H5Tget_size(t));
    for (hsize_t i = 0; i < n; ++i)
      special_value(t, in.byte(), in.i64(), buf.data() + i * H5Tget_size(t));
    const hid_t a = H5Acreate2(o, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) H5Awrite(a, t, buf.data()), H5Aclose(a);
    H5Sclose(space);
  }
  H5Oclose(o);
}

void edit(hid_t file, Reader& in) {
  for (int ops = 0; ops < 8 && !in.empty(); ++ops) {
    const Objects o = list(file);
    const unsigned op = in.byte() % 5;
    const unsigned pick = in.u16();
    if (op == 0 && !o.datasets.empty()) {  // delete an object
      const bool group = in.byte() % 4 == 0 && o.groups.size() > 1;
      const std::string& p = group ? o.groups[1 + pick % (o.groups.size() - 1)]
                                   : o.datasets[pick % o.datasets.size()];
      H5Ldelete(file, p.c_str(), H5P_DEFAULT);
    } else if (op == 1 && !o.datasets.empty()) {
      replace_dataset(file, o.datasets[pick % o.datasets.size()], in);
    } else if (op == 2 && !o.datasets.empty()) {
      poke_dataset(file, o.datasets[pick % o.datasets.size()], in);
    } else if (op == 3 && !o.attrs.empty()) {
      const auto& [obj, name] = o.attrs[pick % o.attrs.size()];
      replace_attr(file, obj, name, in);
    } else if (op == 4) {  // an unexpected member of a group
      const std::string& g = o.groups[pick % o.groups.size()];
      const std::string name = (g == "/" ? "" : g) + "/x" + std::to_string(in.byte() % 4);
      replace_dataset(file, name, in);
    }
  }
}

void read_all(Kind kind, const fs::path& p) {
  namespace io = numens::io;
  switch (kind) {
    case Kind::cohort: {
      io::CohortReader r(p);
      (void)r.lut();
      (void)r.provenance("config");
      for (std::size_t i = 0; i < r.subjects().size(); ++i) (void)r.read(i);
      break;
    }
    case Kind::slices: {
      io::SliceFile f(p);
      const std::int64_t n = f.info().count;
      if (n > 0) {
        io::SliceBatch b;
        const std::int64_t rows[] = {0, n - 1};
        f.read(rows, b);
      }
      break;
    }
    case Kind::segmentation: {
      io::SegmentationReader r(p);
      for (const auto& id : r.subject_ids()) {
        (void)r.geometry(id);
        (void)r.labels(id);
        if (r.has_probs(id)) (void)r.probs(id);
        (void)r.mean_dice(id);
      }
      break;
    }
    case Kind::summary: {
      io::SummaryReader r(p);
      const auto& t = r.tables();
      (void)r.provenance("config");
      for (const auto& s : t.subject_ids) {
        for (const auto& a : t.arm_names)
          if (r.has_maps(s, a)) {
            (void)r.map_geometry(s);
            (void)r.maps(s, a);
          }
      }
      break;
    }
    case Kind::brainage:
      (void)io::read_brainage_results(p);
      break;
    case Kind::checkpoint:
      (void)io::read_checkpoint(p);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // edits that HDF5 refuses are simply skipped
  (void)seeds();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in{data, size};
  const Seed& seed = seeds()[in.byte() % seeds().size()];
  static const fs::path dir = fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  const fs::path p = dir / ("numens-fuzz-h5-" + std::to_string(::getpid()) + ".h5");
  {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(seed.bytes.data(), std::streamsize(seed.bytes.size()));
    if (!f) __builtin_trap();
  }
  const hid_t file = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) __builtin_trap();
  edit(file, in);
  H5Fclose(file);
  try {
    read_all(seed.kind, p);
  } catch (const numens::Error&) {
  }
  return 0;
}
