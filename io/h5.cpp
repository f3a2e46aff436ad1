#include "io/h5.hpp"

#include <optional>

#include <hdf5.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <type_traits>

namespace numens::io {

static_assert(std::is_same_v<hid_t, std::int64_t>, "detail::Id stores hid_t as int64_t");
static_assert(sizeof(hsize_t) == sizeof(std::uint64_t),
              "Shape entries convert to hsize_t losslessly");

namespace {

// HDF5 prints its error stack to stderr by default; numens reports through exceptions instead.
// Called before every handle is made; the once-flag keeps it one call per process.
void quiet_hdf5() {
  static std::once_flag flag;
  std::call_once(flag, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

// A write, flush or close that failed on the storage (a full disk or quota, a read-only file
// system, an I/O error) leaves HDF5's file state broken: the library then crashes in its own
// clean-up at exit (H5F__close_cb). The flag tells the driver to exit without that clean-up.
std::atomic<bool> g_storage_failed{false};

// ": <the system's reason>" when the last system call failed on the storage, else "".
// Callers clear errno before the HDF5 call.
std::string storage_reason() {
  const int e = errno;
  if (e != ENOSPC && e != EDQUOT && e != EROFS && e != EIO && e != EFBIG) return "";
  return std::string(": ") + std::strerror(e);
}

// The error for a failed write/flush/close: the storage's reason when there is one.
H5Error write_failure(const std::string& what) {
  g_storage_failed.store(true);
  return H5Error(what + storage_reason());
}

hid_t native_type(DType t) {
  switch (t) {
    case DType::u8:
      return H5T_NATIVE_UINT8;
    case DType::i16:
      return H5T_NATIVE_INT16;
    case DType::i32:
      return H5T_NATIVE_INT32;
    case DType::i64:
      return H5T_NATIVE_INT64;
    case DType::f32:
      return H5T_NATIVE_FLOAT;
    case DType::f64:
      return H5T_NATIVE_DOUBLE;
  }
  return -1;
}

// The closers take int64_t to fit detail::Id; these are the H5*close functions themselves.
int close_file(std::int64_t id) {
  return H5Fclose(id);
}
int close_group(std::int64_t id) {
  return H5Gclose(id);
}
int close_dataset(std::int64_t id) {
  return H5Dclose(id);
}
int close_space(std::int64_t id) {
  return H5Sclose(id);
}
int close_type(std::int64_t id) {
  return H5Tclose(id);
}
int close_attr(std::int64_t id) {
  return H5Aclose(id);
}
int close_plist(std::int64_t id) {
  return H5Pclose(id);
}

// Identifies a stored type among the six numens writes; anything else is reported by name.
bool stored_dtype(hid_t type, DType* out) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_INTEGER) {
    const H5T_sign_t sign = H5Tget_sign(type);
    if (size == 1 && sign == H5T_SGN_NONE) return *out = DType::u8, true;
    if (size == 2 && sign == H5T_SGN_2) return *out = DType::i16, true;
    if (size == 4 && sign == H5T_SGN_2) return *out = DType::i32, true;
    if (size == 8 && sign == H5T_SGN_2) return *out = DType::i64, true;
  } else if (cls == H5T_FLOAT) {
    if (size == 4) return *out = DType::f32, true;
    if (size == 8) return *out = DType::f64, true;
  }
  return false;
}

std::string describe_type(hid_t type) {
  DType t;
  if (stored_dtype(type, &t)) return dtype_name(t);
  const H5T_class_t cls = H5Tget_class(type);
  const std::string size = std::to_string(H5Tget_size(type));
  switch (cls) {
    case H5T_INTEGER:
      return "integer of " + size + " bytes";
    case H5T_FLOAT:
      return "float of " + size + " bytes";
    case H5T_STRING:
      return "string";
    default:
      return "HDF5 type class " + std::to_string(int(cls));
  }
}

// Chunks for compressed storage: whole rows of the last two axes up to 64x64 (a 2-D slice tile),
// leading axes 1 except the third-from-last up to 16, so a 256^3 volume gets 16x64x64 chunks of
// 64 Ki elements: large enough for deflate to work well, small enough to read one slice cheaply.
Shape default_chunk(const Shape& shape) {
  Shape c(shape.size(), 1);
  const size_t r = shape.size();
  if (r >= 1) c[r - 1] = std::min<std::uint64_t>(shape[r - 1], 64);
  if (r >= 2) c[r - 2] = std::min<std::uint64_t>(shape[r - 2], 64);
  if (r >= 3) c[r - 3] = std::min<std::uint64_t>(shape[r - 3], 16);
  return c;
}

// hsize_t is unsigned long long, Shape holds uint64_t (unsigned long): same width, distinct types.
std::vector<hsize_t> to_hsize(const Shape& s) {
  return std::vector<hsize_t>(s.begin(), s.end());
}

// The file dataspace of `dset` with the block [start, start + count) selected, and a memory
// dataspace of the block's shape: what every partial read or write needs.
struct BlockSpaces {
  detail::Id file, mem;
};
std::optional<BlockSpaces> block_spaces(hid_t dset, const std::vector<hsize_t>& start,
                                        const std::vector<hsize_t>& count) {
  BlockSpaces b{
      detail::Id(H5Dget_space(dset), close_space),
      detail::Id(H5Screate_simple(int(count.size()), count.data(), nullptr), close_space)};
  if (!b.file.valid() || !b.mem.valid() ||
      H5Sselect_hyperslab(b.file.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                          nullptr) < 0)
    return std::nullopt;
  return b;
}

std::string shape_string(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + ")";
}

}  // namespace

const char* dtype_name(DType t) {
  switch (t) {
    case DType::u8:
      return "uint8";
    case DType::i16:
      return "int16";
    case DType::i32:
      return "int32";
    case DType::i64:
      return "int64";
    case DType::f32:
      return "float32";
    case DType::f64:
      return "float64";
  }
  return "?";
}

std::uint64_t element_count(const Shape& shape) {
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// ---- detail::Id ---------------------------------------------------------------------------------

namespace detail {
Id& Id::operator=(Id&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = -1;
  }
  return *this;
}
bool Id::close() {
  if (id_ < 0) return true;
  const int rc = closer_ ? closer_(id_) : 0;
  id_ = -1;
  return rc >= 0;
}
}  // namespace detail

// ---- Object: attributes -------------------------------------------------------------------------

std::string Object::child_path(std::string_view child) const {
  if (child.empty()) return path_;
  return (path_ == "/" ? "/" : path_ + "/") + std::string(child);
}

std::string Object::where(std::string_view child) const {
  return "h5: " + file_ + ":" + child_path(child) + ": ";
}

bool Object::has_attr(std::string_view name) const {
  const std::string n(name);
  const htri_t e = H5Aexists(id_.get(), n.c_str());
  if (e < 0) throw H5Error(where() + "cannot query attribute '" + n + "'");
  return e > 0;
}

namespace {
// Attributes are replaced, not updated in place: the new value may have another type or length.
void delete_attr_if_present(hid_t obj, const std::string& name, const std::string& where) {
  const htri_t e = H5Aexists(obj, name.c_str());
  if (e < 0) throw H5Error(where + "cannot query attribute '" + name + "'");
  if (e > 0 && H5Adelete(obj, name.c_str()) < 0)
    throw H5Error(where + "cannot replace attribute '" + name + "'");
}

detail::Id open_attr(hid_t obj, const std::string& name, const std::string& where) {
  const htri_t e = H5Aexists(obj, name.c_str());
  if (e < 0) throw H5Error(where + "cannot query attribute '" + name + "'");
  if (e == 0) throw H5Error(where + "attribute '" + name + "' not found");
  detail::Id a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), close_attr);
  if (!a.valid()) throw H5Error(where + "cannot open attribute '" + name + "'");
  return a;
}
}  // namespace

void Object::set_attr(std::string_view name, std::string_view value) {
  const std::string n(name);
  delete_attr_if_present(id_.get(), n, where());
  // Fixed-length UTF-8, NUL-padded: readable by h5py/h5dump as a plain string. HDF5 forbids a
  // zero-size string type, so an empty value is stored as one NUL byte (reads back as "").
  detail::Id type(H5Tcopy(H5T_C_S1), close_type);
  if (!type.valid() || H5Tset_size(type.get(), std::max<size_t>(value.size(), 1)) < 0 ||
      H5Tset_strpad(type.get(), H5T_STR_NULLPAD) < 0 || H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0)
    throw H5Error(where() + "cannot make string type for attribute '" + n + "'");
  detail::Id space(H5Screate(H5S_SCALAR), close_space);
  detail::Id a(H5Acreate2(id_.get(), n.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
               close_attr);
  if (!space.valid() || !a.valid()) throw H5Error(where() + "cannot create attribute '" + n + "'");
  std::string buf(value);
  if (buf.empty()) buf.push_back('\0');
  if (H5Awrite(a.get(), type.get(), buf.data()) < 0)
    throw H5Error(where() + "cannot write attribute '" + n + "'");
  if (!a.close()) throw H5Error(where() + "cannot close attribute '" + n + "'");
}

void Object::write_attr_raw(std::string_view name, DType t, const void* value) {
  const std::string n(name);
  delete_attr_if_present(id_.get(), n, where());
  detail::Id space(H5Screate(H5S_SCALAR), close_space);
  detail::Id a(
      H5Acreate2(id_.get(), n.c_str(), native_type(t), space.get(), H5P_DEFAULT, H5P_DEFAULT),
      close_attr);
  if (!space.valid() || !a.valid()) throw H5Error(where() + "cannot create attribute '" + n + "'");
  if (H5Awrite(a.get(), native_type(t), value) < 0)
    throw H5Error(where() + "cannot write attribute '" + n + "'");
  if (!a.close()) throw H5Error(where() + "cannot close attribute '" + n + "'");
}

void Object::set_attr(std::string_view name, double value) {
  write_attr_raw(name, DType::f64, &value);
}

void Object::set_attr(std::string_view name, std::int64_t value) {
  const std::string n(name);
  delete_attr_if_present(id_.get(), n, where());
  detail::Id space(H5Screate(H5S_SCALAR), close_space);
  detail::Id a(
      H5Acreate2(id_.get(), n.c_str(), H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT),
      close_attr);
  if (!space.valid() || !a.valid() || H5Awrite(a.get(), H5T_NATIVE_INT64, &value) < 0 || !a.close())
    throw H5Error(where() + "cannot write attribute '" + n + "'");
}

std::string Object::attr_string(std::string_view name) const {
  const std::string n(name);
  detail::Id a = open_attr(id_.get(), n, where());
  detail::Id type(H5Aget_type(a.get()), close_type);
  if (!type.valid()) throw H5Error(where() + "cannot get type of attribute '" + n + "'");
  if (H5Tget_class(type.get()) != H5T_STRING)
    throw H5Error(where() + "attribute '" + n + "' is a " + describe_type(type.get()) +
                  ", not a string");
  detail::Id space(H5Aget_space(a.get()), close_space);
  if (!space.valid() || H5Sget_simple_extent_npoints(space.get()) != 1)
    throw H5Error(where() + "attribute '" + n + "' is not a single string");
  const htri_t vlen = H5Tis_variable_str(type.get());
  if (vlen < 0) throw H5Error(where() + "cannot inspect attribute '" + n + "'");
  if (vlen > 0) {
    // Variable-length (as h5py writes by default): HDF5 allocates, we copy and free.
    detail::Id mem(H5Tcopy(H5T_C_S1), close_type);
    char* p = nullptr;
    // The memory type takes the stored character set: HDF5 will not convert ASCII <-> UTF-8.
    if (!mem.valid() || H5Tset_size(mem.get(), H5T_VARIABLE) < 0 ||
        H5Tset_cset(mem.get(), H5Tget_cset(type.get())) < 0 || H5Aread(a.get(), mem.get(), &p) < 0)
      throw H5Error(where() + "cannot read attribute '" + n + "'");
    std::string out = p ? p : "";
    H5free_memory(p);
    return out;
  }
  const size_t size = H5Tget_size(type.get());
  std::string buf(size, '\0');
  if (H5Aread(a.get(), type.get(), buf.data()) < 0)
    throw H5Error(where() + "cannot read attribute '" + n + "'");
  buf.resize(buf.find('\0') == std::string::npos ? size : buf.find('\0'));
  // Space-padded strings (Fortran-style writers) lose their padding too.
  if (H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD) {
    buf.erase(buf.find_last_not_of(' ') + 1);
  }
  return buf;
}

void Object::read_attr_raw(std::string_view name, bool as_double, void* value) const {
  const std::string n(name);
  detail::Id a = open_attr(id_.get(), n, where());
  detail::Id type(H5Aget_type(a.get()), close_type);
  detail::Id space(H5Aget_space(a.get()), close_space);
  if (!type.valid() || !space.valid())
    throw H5Error(where() + "cannot inspect attribute '" + n + "'");
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT)
    throw H5Error(where() + "attribute '" + n + "' is a " + describe_type(type.get()) +
                  ", not a number");
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    throw H5Error(where() + "attribute '" + n + "' is not a single number");
  const hid_t mem = as_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
  if (H5Aread(a.get(), mem, value) < 0)
    throw H5Error(where() + "cannot read attribute '" + n + "'");
}

double Object::attr_double(std::string_view name) const {
  double v = 0;
  read_attr_raw(name, true, &v);
  return v;
}

std::int64_t Object::attr_int(std::string_view name) const {
  const std::string n(name);
  {
    // Integers only: a float attribute read as int would truncate without a word.
    detail::Id a = open_attr(id_.get(), n, where());
    detail::Id type(H5Aget_type(a.get()), close_type);
    if (!type.valid() || H5Tget_class(type.get()) != H5T_INTEGER)
      throw H5Error(where() + "attribute '" + n + "' is not an integer");
  }
  std::int64_t v = 0;
  read_attr_raw(name, false, &v);
  return v;
}

// ---- Dataset ------------------------------------------------------------------------------------

Shape Dataset::shape() const {
  detail::Id space(H5Dget_space(id_.get()), close_space);
  if (!space.valid()) throw H5Error(where() + "cannot get dataspace");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) throw H5Error(where() + "cannot get rank");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
    throw H5Error(where() + "cannot get shape");
  return Shape(dims.begin(), dims.end());
}

DType Dataset::dtype() const {
  detail::Id type(H5Dget_type(id_.get()), close_type);
  if (!type.valid()) throw H5Error(where() + "cannot get element type");
  DType t;
  if (!stored_dtype(type.get(), &t))
    throw H5Error(where() + "element type " + describe_type(type.get()) +
                  " is not one numens reads (uint8, int16, int32, float32, float64)");
  return t;
}

bool Dataset::chunked() const {
  detail::Id plist(H5Dget_create_plist(id_.get()), close_plist);
  if (!plist.valid()) throw H5Error(where() + "cannot get creation properties");
  return H5Pget_layout(plist.get()) == H5D_CHUNKED;
}

void Dataset::read_raw(DType t, void* out, std::uint64_t n) const {
  const DType stored = dtype();
  if (stored != t)
    throw H5Error(where() + "stored as " + dtype_name(stored) + ", read as " + dtype_name(t) +
                  " requested");
  if (n == 0) return;
  if (H5Dread(id_.get(), native_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    throw H5Error(where() + "cannot read data (corrupt file or failed filter)");
}

void Dataset::read_rows_raw(DType t, std::uint64_t first, std::uint64_t count, void* out) const {
  const DType stored = dtype();
  if (stored != t)
    throw H5Error(where() + "stored as " + dtype_name(stored) + ", read as " + dtype_name(t) +
                  " requested");
  const Shape s = shape();
  if (s.empty()) throw H5Error(where() + "rows requested from a scalar dataset");
  if (first > s[0] || count > s[0] - first)
    throw H5Error(where() + "rows [" + std::to_string(first) + ", " +
                  std::to_string(first + count) + ") requested, the dataset has " +
                  std::to_string(s[0]));
  if (count == 0) return;
  std::vector<hsize_t> start(s.size(), 0), cnt = to_hsize(s);
  start[0] = first;
  cnt[0] = count;
  const auto sp = block_spaces(id_.get(), start, cnt);
  if (!sp) throw H5Error(where() + "cannot select rows to read");
  if (H5Dread(id_.get(), native_type(t), sp->mem.get(), sp->file.get(), H5P_DEFAULT, out) < 0)
    throw H5Error(where() + "cannot read rows (corrupt file or failed filter)");
}

std::vector<std::string> Dataset::read_strings() const {
  detail::Id type(H5Dget_type(id_.get()), close_type);
  if (!type.valid()) throw H5Error(where() + "cannot get element type");
  if (H5Tget_class(type.get()) != H5T_STRING)
    throw H5Error(where() + "stored as " + describe_type(type.get()) + ", strings expected");
  const Shape s = shape();
  if (s.size() != 1)
    throw H5Error(where() + "strings expected in a 1-D dataset, shape is " + shape_string(s));
  const std::size_t n = s[0];
  std::vector<std::string> out(n);
  if (n == 0) return out;
  const htri_t vlen = H5Tis_variable_str(type.get());
  if (vlen < 0) throw H5Error(where() + "cannot inspect string type");
  if (vlen > 0) {
    detail::Id mem(H5Tcopy(H5T_C_S1), close_type);
    std::vector<char*> ptrs(n, nullptr);
    if (!mem.valid() || H5Tset_size(mem.get(), H5T_VARIABLE) < 0 ||
        H5Tset_cset(mem.get(), H5Tget_cset(type.get())) < 0 ||
        H5Dread(id_.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
      throw H5Error(where() + "cannot read strings (corrupt file?)");
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = ptrs[i] ? ptrs[i] : "";
      H5free_memory(ptrs[i]);
    }
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::vector<char> buf(n * size);
  if (H5Dread(id_.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    throw H5Error(where() + "cannot read strings (corrupt file?)");
  const bool spacepad = H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD;
  for (std::size_t i = 0; i < n; ++i) {
    std::string v(buf.data() + i * size, size);
    v.resize(std::min(v.find('\0'), v.size()));
    if (spacepad) v.erase(v.find_last_not_of(' ') + 1);
    out[i] = std::move(v);
  }
  return out;
}

void Dataset::append_raw(DType t, const void* data, std::uint64_t n) {
  const DType stored = dtype();
  if (stored != t)
    throw H5Error(where() + "stored as " + dtype_name(stored) + ", append of " + dtype_name(t));
  Shape shape = this->shape();
  if (shape.empty()) throw H5Error(where() + "cannot append to a scalar dataset");
  std::uint64_t row = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) row *= shape[i];
  if (row == 0 || n % row != 0)
    throw H5Error(where() + std::to_string(n) + " elements are not whole rows of " +
                  std::to_string(row));
  const std::uint64_t rows = n / row;
  if (rows == 0) return;
  const std::uint64_t old = shape[0];
  shape[0] += rows;
  if (H5Dset_extent(id_.get(), to_hsize(shape).data()) < 0)
    throw H5Error(where() + "cannot extend (not made by create_appendable?)");
  std::vector<hsize_t> start(shape.size(), 0), count = to_hsize(shape);
  start[0] = old;
  count[0] = rows;
  const auto sp = block_spaces(id_.get(), start, count);
  if (!sp) throw H5Error(where() + "cannot select rows to append");
  errno = 0;
  if (H5Dwrite(id_.get(), native_type(t), sp->mem.get(), sp->file.get(), H5P_DEFAULT, data) < 0)
    throw write_failure(where() + "cannot write appended rows");
}

void Dataset::write_block_raw(DType t, const Shape& offset, const Shape& count, const void* data,
                              std::uint64_t n) {
  const DType stored = dtype();
  if (stored != t)
    throw H5Error(where() + "stored as " + dtype_name(stored) + ", block write of " +
                  dtype_name(t));
  const Shape shape = this->shape();
  if (offset.size() != shape.size() || count.size() != shape.size())
    throw H5Error(where() + "block offset/count rank differs from the dataset's " +
                  shape_string(shape));
  for (std::size_t i = 0; i < shape.size(); ++i)
    if (offset[i] > shape[i] || count[i] > shape[i] - offset[i])
      throw H5Error(where() + "block at " + shape_string(offset) + " of " + shape_string(count) +
                    " leaves the dataset " + shape_string(shape));
  if (element_count(count) != n)
    throw H5Error(where() + "block " + shape_string(count) + " needs " +
                  std::to_string(element_count(count)) + " elements, " + std::to_string(n) +
                  " given");
  if (n == 0) return;
  const std::vector<hsize_t> start = to_hsize(offset), cnt = to_hsize(count);
  const auto sp = block_spaces(id_.get(), start, cnt);
  if (!sp) throw H5Error(where() + "cannot select the block to write");
  errno = 0;
  if (H5Dwrite(id_.get(), native_type(t), sp->mem.get(), sp->file.get(), H5P_DEFAULT, data) < 0)
    throw write_failure(where() + "cannot write block");
}

// ---- Group --------------------------------------------------------------------------------------

bool Group::exists(std::string_view name) const {
  const std::string n(name);
  // H5Lexists on a nested path needs every intermediate link to exist; check them one by one.
  size_t pos = 0;
  while (true) {
    const size_t slash = n.find('/', pos);
    const std::string prefix = n.substr(0, slash);
    const htri_t e = H5Lexists(id_.get(), prefix.c_str(), H5P_DEFAULT);
    if (e < 0) throw H5Error(where(n) + "cannot query link");
    if (e == 0) return false;
    if (slash == std::string::npos) return true;
    pos = slash + 1;
  }
}

Group Group::create_group(std::string_view name) {
  const std::string n(name);
  if (exists(n)) throw H5Error(where(n) + "cannot create group: already exists");
  detail::Id g(H5Gcreate2(id_.get(), n.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               close_group);
  if (!g.valid()) throw H5Error(where(n) + "cannot create group");
  return Group(std::move(g), file_, child_path(n));
}

Group Group::group(std::string_view name) const {
  const std::string n(name);
  if (!exists(n)) throw H5Error(where(n) + "group not found");
  detail::Id g(H5Gopen2(id_.get(), n.c_str(), H5P_DEFAULT), close_group);
  if (!g.valid()) throw H5Error(where(n) + "cannot open as a group");
  return Group(std::move(g), file_, child_path(n));
}

Dataset Group::dataset(std::string_view name) const {
  const std::string n(name);
  if (!exists(n)) throw H5Error(where(n) + "dataset not found");
  detail::Id d(H5Dopen2(id_.get(), n.c_str(), H5P_DEFAULT), close_dataset);
  if (!d.valid()) throw H5Error(where(n) + "cannot open as a dataset");
  return Dataset(std::move(d), file_, child_path(n));
}

Dataset Group::write_raw(std::string_view name, DType t, const void* data, std::uint64_t n,
                         const Shape& shape, const WriteOptions& opt) {
  const std::string nm(name);
  const std::string at = where(nm);
  if (element_count(shape) != n)
    throw H5Error(at + "data has " + std::to_string(n) + " elements, shape " + shape_string(shape) +
                  " needs " + std::to_string(element_count(shape)));
  if (exists(nm)) throw H5Error(at + "cannot write dataset: already exists");
  if (shape.size() > H5S_MAX_RANK)
    throw H5Error(at + "rank " + std::to_string(shape.size()) + " exceeds HDF5's limit");

  detail::Id space(shape.empty()
                       ? H5Screate(H5S_SCALAR)
                       : H5Screate_simple(int(shape.size()), to_hsize(shape).data(), nullptr),
                   close_space);
  if (!space.valid()) throw H5Error(at + "cannot create dataspace " + shape_string(shape));
  detail::Id dcpl(H5Pcreate(H5P_DATASET_CREATE), close_plist);
  if (!dcpl.valid()) throw H5Error(at + "cannot create dataset properties");

  // Chunking needs rank >= 1 and no zero extent; a compress request that cannot apply (scalar or
  // empty array) falls back to contiguous storage rather than failing.
  const bool compress = opt.compress && !shape.empty() && n > 0;
  if (compress) {
    Shape chunk = opt.chunk.empty() ? default_chunk(shape) : opt.chunk;
    if (chunk.size() != shape.size())
      throw H5Error(at + "chunk " + shape_string(chunk) + " does not match rank of shape " +
                    shape_string(shape));
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (chunk[i] == 0) throw H5Error(at + "chunk " + shape_string(chunk) + " has a zero extent");
      chunk[i] = std::min(chunk[i], shape[i]);
    }
    if (opt.gzip_level < 0 || opt.gzip_level > 9)
      throw H5Error(at + "gzip level " + std::to_string(opt.gzip_level) + " is not in 0..9");
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0)
      throw H5Error(at + "this HDF5 library has no deflate filter");
    if (H5Pset_chunk(dcpl.get(), int(chunk.size()), to_hsize(chunk).data()) < 0 ||
        H5Pset_shuffle(dcpl.get()) < 0 || H5Pset_deflate(dcpl.get(), unsigned(opt.gzip_level)) < 0)
      throw H5Error(at + "cannot set chunking/compression " + shape_string(chunk));
  }

  detail::Id d(H5Dcreate2(id_.get(), nm.c_str(), native_type(t), space.get(), H5P_DEFAULT,
                          dcpl.get(), H5P_DEFAULT),
               close_dataset);
  if (!d.valid()) throw H5Error(at + "cannot create dataset");
  errno = 0;
  if (n > 0 && H5Dwrite(d.get(), native_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw write_failure(at + "cannot write data");
  return Dataset(std::move(d), file_, child_path(nm));
}

Dataset Group::create_appendable_raw(std::string_view name, DType t, const Shape& row_shape,
                                     std::uint64_t rows_per_chunk, const WriteOptions& opt) {
  const std::string nm(name);
  const std::string at = where(nm);
  if (exists(nm)) throw H5Error(at + "cannot create dataset: already exists");
  if (rows_per_chunk == 0) throw H5Error(at + "rows_per_chunk must be >= 1");
  Shape dims{0}, maxdims{0}, chunk{rows_per_chunk};
  for (auto d : row_shape) {
    if (d == 0) throw H5Error(at + "row shape " + shape_string(row_shape) + " has a zero extent");
    dims.push_back(d);
    maxdims.push_back(d);
    chunk.push_back(d);
  }
  std::vector<hsize_t> hdims = to_hsize(dims), hmax = to_hsize(maxdims);
  hmax[0] = H5S_UNLIMITED;
  detail::Id space(H5Screate_simple(int(dims.size()), hdims.data(), hmax.data()), close_space);
  return create_chunked(nm, t, space, chunk, opt);
}

Dataset Group::create_raw(std::string_view name, DType t, const Shape& shape,
                          const WriteOptions& opt) {
  const std::string nm(name);
  const std::string at = where(nm);
  if (exists(nm)) throw H5Error(at + "cannot create dataset: already exists");
  if (shape.empty() || shape.size() > H5S_MAX_RANK || element_count(shape) == 0)
    throw H5Error(at + "shape " + shape_string(shape) + " cannot be created for block writes");
  Shape chunk = opt.chunk.empty() ? default_chunk(shape) : opt.chunk;
  if (chunk.size() != shape.size())
    throw H5Error(at + "chunk " + shape_string(chunk) + " does not match rank of shape " +
                  shape_string(shape));
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    if (chunk[i] == 0) throw H5Error(at + "chunk " + shape_string(chunk) + " has a zero extent");
    chunk[i] = std::min(chunk[i], shape[i]);
  }
  detail::Id space(H5Screate_simple(int(shape.size()), to_hsize(shape).data(), nullptr),
                   close_space);
  return create_chunked(nm, t, space, chunk, opt);
}

Dataset Group::create_chunked(const std::string& nm, DType t, const detail::Id& space,
                              const Shape& chunk, const WriteOptions& opt) {
  const std::string at = where(nm);
  detail::Id dcpl(H5Pcreate(H5P_DATASET_CREATE), close_plist);
  if (!space.valid() || !dcpl.valid()) throw H5Error(at + "cannot create dataspace");
  if (H5Pset_chunk(dcpl.get(), int(chunk.size()), to_hsize(chunk).data()) < 0)
    throw H5Error(at + "cannot set chunking " + shape_string(chunk));
  if (opt.compress) {
    if (opt.gzip_level < 0 || opt.gzip_level > 9)
      throw H5Error(at + "gzip level " + std::to_string(opt.gzip_level) + " is not in 0..9");
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0)
      throw H5Error(at + "this HDF5 library has no deflate filter");
    if (H5Pset_shuffle(dcpl.get()) < 0 || H5Pset_deflate(dcpl.get(), unsigned(opt.gzip_level)) < 0)
      throw H5Error(at + "cannot set compression");
  }
  detail::Id d(H5Dcreate2(id_.get(), nm.c_str(), native_type(t), space.get(), H5P_DEFAULT,
                          dcpl.get(), H5P_DEFAULT),
               close_dataset);
  if (!d.valid()) throw H5Error(at + "cannot create dataset");
  return Dataset(std::move(d), file_, child_path(nm));
}

Dataset Group::write_strings(std::string_view name, const std::vector<std::string>& values) {
  const std::string nm(name);
  const std::string at = where(nm);
  if (exists(nm)) throw H5Error(at + "cannot write dataset: already exists");
  std::size_t width = 1;  // HDF5 forbids a zero-size string type
  for (const auto& v : values) width = std::max(width, v.size());
  detail::Id type(H5Tcopy(H5T_C_S1), close_type);
  if (!type.valid() || H5Tset_size(type.get(), width) < 0 ||
      H5Tset_strpad(type.get(), H5T_STR_NULLPAD) < 0 || H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0)
    throw H5Error(at + "cannot make string type");
  const hsize_t n = values.size();
  detail::Id space(H5Screate_simple(1, &n, nullptr), close_space);
  if (!space.valid()) throw H5Error(at + "cannot create dataspace");
  detail::Id d(H5Dcreate2(id_.get(), nm.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                          H5P_DEFAULT),
               close_dataset);
  if (!d.valid()) throw H5Error(at + "cannot create dataset");
  std::vector<char> buf(values.size() * width, '\0');
  for (std::size_t i = 0; i < values.size(); ++i)
    std::copy(values[i].begin(), values[i].end(), buf.begin() + std::ptrdiff_t(i * width));
  errno = 0;
  if (n > 0 && H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    throw write_failure(at + "cannot write data");
  return Dataset(std::move(d), file_, child_path(nm));
}

// ---- File ---------------------------------------------------------------------------------------

File File::create(const std::filesystem::path& path) {
  quiet_hdf5();
  const std::string p = path.string();
  errno = 0;
  detail::Id f(H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), close_file);
  if (!f.valid())
    throw H5Error("h5: " + p + ": cannot create file" +
                  (storage_reason().empty() ? std::string(" (directory missing or not writable?)")
                                            : storage_reason()));
  return File(std::move(f), p);
}

File File::open(const std::filesystem::path& path, Mode mode) {
  quiet_hdf5();
  const std::string p = path.string();
  std::error_code ec;
  if (const std::string why = file_problem(path); !why.empty())
    throw H5Error("h5: " + p + ": " + why);
  // H5Fis_hdf5 tells "not HDF5" apart from other open failures, for a precise message.
  const htri_t is_h5 = H5Fis_hdf5(p.c_str());
  if (is_h5 == 0) throw H5Error("h5: " + p + ": not an HDF5 file (no HDF5 signature)");
  detail::Id f(H5Fopen(p.c_str(), mode == Mode::read ? H5F_ACC_RDONLY : H5F_ACC_RDWR, H5P_DEFAULT),
               close_file);
  if (!f.valid()) throw H5Error("h5: " + p + ": cannot open file (corrupt, or no permission)");
  return File(std::move(f), p);
}

Group File::root() const {
  if (!id_.valid()) throw H5Error("h5: " + path_ + ":/: file is closed");
  detail::Id g(H5Gopen2(id_.get(), "/", H5P_DEFAULT), close_group);
  if (!g.valid()) throw H5Error("h5: " + path_ + ":/: cannot open root group (corrupt file?)");
  return Group(std::move(g), path_, "/");
}

void File::close() {
  if (!id_.valid()) return;
  errno = 0;
  if (H5Fflush(id_.get(), H5F_SCOPE_GLOBAL) < 0)
    throw write_failure("h5: " + path_ + ": cannot write the file to disk");
  errno = 0;
  if (!id_.close()) throw write_failure("h5: " + path_ + ": cannot close");
}

bool h5_storage_failed() {
  return g_storage_failed.load();
}

// ---- provenance ---------------------------------------------------------------------------------

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_provenance(Group& root, std::string_view numens_version, std::string_view git_commit,
                      std::string_view config) {
  root.set_attr("numens_version", numens_version);
  root.set_attr("git_commit", git_commit);
  root.set_attr("creation_time", utc_now_iso8601());
  root.set_attr("config", config);
}

void check_format(const Group& root, const std::filesystem::path& path, std::string_view what,
                  std::string_view format, std::int64_t max_version) {
  auto fail = [&](const std::string& problem) {
    throw IoError(std::string(what) + ": " + path.string() + ": " + problem);
  };
  if (!root.has_attr("format"))
    fail("not a numens " + std::string(what) + " (no 'format' attribute on the root group)");
  const std::string have = root.attr_string("format");
  if (have != format)
    fail("not a numens " + std::string(what) + ": format is '" + have + "', expected '" +
         std::string(format) + "'");
  const std::int64_t version = root.attr_int("format_version");
  if (version < 1 || version > max_version)
    fail("format_version " + std::to_string(version) + " is not supported (this numens reads 1.." +
         std::to_string(max_version) + ")");
}

}  // namespace numens::io
