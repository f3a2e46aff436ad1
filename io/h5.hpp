// RAII handles over the HDF5 C API. Every call is checked; a failure throws H5Error naming the
// file and the object path ("h5: run/cohort.h5:/images/t1: ..."). HDF5's own error-stack printing
// is switched off the first time any handle is made, so the typed error is the only report.
//
// Arrays are plain std::vector plus a shape (row-major, last index fastest, as HDF5 stores them):
// io/ knows nothing of tensors. Reads are strict about the element type: reading an int16
// dataset as float throws instead of converting, so a schema mistake cannot pass silently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/atomic_file.hpp"
#include "io/error.hpp"

namespace numens::io {

enum class DType { u8, i16, i32, i64, f32, f64 };

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<std::uint8_t>() {
  return DType::u8;
}
template <>
constexpr DType dtype_of<std::int16_t>() {
  return DType::i16;
}
template <>
constexpr DType dtype_of<std::int32_t>() {
  return DType::i32;
}
template <>
constexpr DType dtype_of<std::int64_t>() {
  return DType::i64;
}
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}

const char* dtype_name(DType t);

using Shape = std::vector<std::uint64_t>;

// Number of elements of a shape (1 for a scalar, rank 0).
std::uint64_t element_count(const Shape& shape);

template <class T>
struct Array {
  Shape shape;
  std::vector<T> data;
};

struct WriteOptions {
  // Chunked + deflate storage, for volumes and slice stacks. Off by default: small arrays gain
  // nothing and contiguous storage is faster to read whole.
  bool compress = false;
  int gzip_level = 4;  // 4: most of level 9's ratio on MRI volumes at a fraction of its time
  Shape chunk;         // empty: chosen from the shape (see h5.cpp)
};

namespace detail {
// Owns one HDF5 identifier (file, group, dataset, ...) and closes it with the matching H5*close.
// hid_t is int64_t since HDF5 1.10; h5.cpp asserts it, which keeps <hdf5.h> out of this header.
class Id {
 public:
  using Closer = int (*)(std::int64_t);
  Id() = default;
  Id(std::int64_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Id() { reset(); }
  Id(Id&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Id& operator=(Id&& o) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  std::int64_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now and reports whether HDF5 accepted the close (the destructor cannot report).
  bool close();

 private:
  void reset() { close(); }
  std::int64_t id_ = -1;
  Closer closer_ = nullptr;
};
}  // namespace detail

// Anything attributes hang on: a group (including a file's root) or a dataset.
class Object {
 public:
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }

  bool has_attr(std::string_view name) const;
  // Setting an existing attribute replaces it (type and value).
  void set_attr(std::string_view name, std::string_view value);
  void set_attr(std::string_view name, const char* value) {
    set_attr(name, std::string_view(value));
  }
  void set_attr(std::string_view name, double value);
  void set_attr(std::string_view name, std::int64_t value);
  void set_attr(std::string_view name, int value) { set_attr(name, std::int64_t(value)); }
  std::string attr_string(std::string_view name) const;
  double attr_double(std::string_view name) const;
  std::int64_t attr_int(std::string_view name) const;

 protected:
  Object(detail::Id id, std::string file, std::string path)
      : id_(std::move(id)), file_(std::move(file)), path_(std::move(path)) {}
  // "h5: <file>:<path>[/child]: " prefix of every message about this object.
  std::string where(std::string_view child = {}) const;
  std::string child_path(std::string_view child) const;
  void write_attr_raw(std::string_view name, DType t, const void* value);
  void read_attr_raw(std::string_view name, bool as_double, void* value) const;

  detail::Id id_;
  std::string file_;
  std::string path_;
};

class Dataset : public Object {
 public:
  Shape shape() const;
  DType dtype() const;
  bool chunked() const;

  template <class T>
  std::vector<T> read() const {
    std::vector<T> out(element_count(shape()));
    read_raw(dtype_of<T>(), out.data(), out.size());
    return out;
  }
  // Rows [first, first + count) along the first axis (a hyperslab: only the chunks holding them
  // are read and decompressed). Throws when the range is outside the dataset.
  template <class T>
  std::vector<T> read_rows(std::uint64_t first, std::uint64_t count) const {
    const Shape s = shape();
    std::uint64_t row = 1;
    for (std::size_t i = 1; i < s.size(); ++i) row *= s[i];
    std::vector<T> out(count * row);
    read_rows_raw(dtype_of<T>(), first, count, out.data());
    return out;
  }
  // A 1-D dataset of strings, fixed-length (as numens writes) or variable-length (as h5py
  // writes by default). Throws if the dataset does not hold strings or is not 1-D.
  std::vector<std::string> read_strings() const;

  // Appends whole rows along the first axis of a dataset made by Group::create_appendable
  // (data.size() must be a multiple of one row's elements; the element type must match).
  template <class T>
  void append(std::span<const T> data) {
    append_raw(dtype_of<T>(), data.data(), data.size());
  }
  template <class T>
  void append(const std::vector<T>& data) {
    append<T>(std::span<const T>(data));
  }

  // Writes the box [offset, offset + count) of a dataset (a hyperslab; row-major data of
  // count's shape): for outputs produced piece by piece into a dataset of known shape
  // (Group::create). Throws when the box leaves the dataset or the element type differs.
  template <class T>
  void write_block(const Shape& offset, const Shape& count, std::span<const T> data) {
    write_block_raw(dtype_of<T>(), offset, count, data.data(), data.size());
  }

 private:
  friend class Group;
  using Object::Object;
  void read_raw(DType t, void* out, std::uint64_t n) const;
  void read_rows_raw(DType t, std::uint64_t first, std::uint64_t count, void* out) const;
  void append_raw(DType t, const void* data, std::uint64_t n);
  void write_block_raw(DType t, const Shape& offset, const Shape& count, const void* data,
                       std::uint64_t n);
};

class Group : public Object {
 public:
  Group create_group(std::string_view name);
  Group group(std::string_view name) const;
  // True when a link of that name exists here (group or dataset).
  bool exists(std::string_view name) const;

  // Writes a new dataset; throws if `name` exists or data.size() does not match the shape.
  template <class T>
  Dataset write(std::string_view name, std::span<const T> data, const Shape& shape,
                const WriteOptions& opt = {}) {
    return write_raw(name, dtype_of<T>(), data.data(), data.size(), shape, opt);
  }
  template <class T>
  Dataset write(std::string_view name, const std::vector<T>& data, const Shape& shape,
                const WriteOptions& opt = {}) {
    return write<T>(name, std::span<const T>(data), shape, opt);
  }

  // A 1-D dataset of UTF-8 strings, stored fixed-length (the longest, NUL-padded) so h5py reads
  // it as bytes (`.asstr()[()]` gives str) and h5dump prints it; an empty list is allowed.
  Dataset write_strings(std::string_view name, const std::vector<std::string>& values);

  // An empty dataset of shape (0, row_shape...) that grows along its first axis through
  // Dataset::append: for outputs whose length is known only at the end (slice stacks). Always
  // chunked, `rows_per_chunk` rows per chunk; opt.compress adds shuffle + deflate.
  template <class T>
  Dataset create_appendable(std::string_view name, const Shape& row_shape,
                            std::uint64_t rows_per_chunk, const WriteOptions& opt = {}) {
    return create_appendable_raw(name, dtype_of<T>(), row_shape, rows_per_chunk, opt);
  }

  // A dataset of fixed `shape` whose content comes later through Dataset::write_block (zeros
  // until written). Chunked as opt says (compressed when opt.compress); rank >= 1, no zero extent.
  template <class T>
  Dataset create(std::string_view name, const Shape& shape, const WriteOptions& opt = {}) {
    return create_raw(name, dtype_of<T>(), shape, opt);
  }

  Dataset dataset(std::string_view name) const;

  template <class T>
  Array<T> read(std::string_view name) const {
    const Dataset d = dataset(name);
    return Array<T>{d.shape(), d.read<T>()};
  }

 private:
  friend class File;
  using Object::Object;
  Dataset write_raw(std::string_view name, DType t, const void* data, std::uint64_t n,
                    const Shape& shape, const WriteOptions& opt);
  Dataset create_appendable_raw(std::string_view name, DType t, const Shape& row_shape,
                                std::uint64_t rows_per_chunk, const WriteOptions& opt);
  // The chunked (optionally shuffled + deflated) dataset `nm` over `space`.
  Dataset create_chunked(const std::string& nm, DType t, const detail::Id& space,
                         const Shape& chunk, const WriteOptions& opt);
  Dataset create_raw(std::string_view name, DType t, const Shape& shape, const WriteOptions& opt);
};

class File {
 public:
  enum class Mode { read, read_write };
  // Creates (truncating) `path`. For an output other processes may read, create it at
  // AtomicFile::temp_path(), close() it, then AtomicFile::commit().
  static File create(const std::filesystem::path& path);
  static File open(const std::filesystem::path& path, Mode mode = Mode::read);

  Group root() const;
  const std::string& path() const { return path_; }
  // Flushes and closes; throws H5Error if HDF5 reports a failure. Objects still open keep the
  // file open in HDF5 (weak close), but everything written so far is on disk after close().
  void close();

 private:
  File(detail::Id id, std::string path) : id_(std::move(id)), path_(std::move(path)) {}
  detail::Id id_;
  std::string path_;
};

// Whether a write, flush or close of an HDF5 file failed on the storage in this process (a full
// disk, a quota, a read-only file system). HDF5 then crashes in its own clean-up at exit, so a
// driver that reported the error ends the process without it (drivers/main.cpp).
bool h5_storage_failed();

// The provenance every numens file carries, as attributes of the root group. Version and commit
// are arguments (the driver passes numens/version.hpp's constants): io/ does not depend on the
// build's generated header. creation_time is UTC ISO-8601 ("2026-11-23T08:31:17Z").
void write_provenance(Group& root, std::string_view numens_version, std::string_view git_commit,
                      std::string_view config);
std::string utc_now_iso8601();

// Checks that `root` is the root of a numens file of kind `format` ("numens-cohort", ...) at a
// format_version this program reads (1..max_version). Throws IoError "<what>: <path>: <problem>",
// e.g. "checkpoint: x.h5: format is 'numens-cohort', expected 'numens-checkpoint'".
void check_format(const Group& root, const std::filesystem::path& path, std::string_view what,
                  std::string_view format, std::int64_t max_version);

}  // namespace numens::io
