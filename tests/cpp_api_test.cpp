// tests/cpp_api_test.cpp: include/cloudio.h from C++17.
//
// What a C++ caller writes around the C interface: RAII for handles and
// temporary directories, std::vector buffers, std::string messages, errors as
// exceptions, any callable as a progress callback (through a captureless
// lambda used as the C function pointer), and many std::threads calling the
// library at once. `make test-c` runs it from build/, and under valgrind, so
// the rasters stay small.
//
// The last line is "N passed, M failed"; the exit status is non-zero when
// M > 0.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <stdlib.h>  // mkdtemp

#include "cloudio.h"

namespace fs = std::filesystem;

namespace {

// ---- harness ---------------------------------------------------------------

std::atomic<int> passed{0}, failed{0};

void check(bool ok, const char *what, int line) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    std::fprintf(stderr, "cpp_api_test.cpp:%d: CHECK failed: %s\n", line, what);
  }
}
#define CHECK(cond) check(static_cast<bool>(cond), #cond, __LINE__)

// ---- the C interface, the C++ way ----------------------------------------------

// The outcome of one call: its status and its message.
struct Status {
  int code = CLOUDIO_OK;
  std::string message;
  bool ok() const { return code == CLOUDIO_OK; }
  std::string name() const { return cloudio_status_name(code); }
};

// A failed call as an exception.
class Error : public std::runtime_error {
 public:
  explicit Error(const Status &s) : std::runtime_error(s.name() + ": " + s.message), status_(s.code) {}
  int status() const { return status_; }

 private:
  int status_;
};

// Runs f(err, err_len), the last two arguments of every cloudio call.
template <typename F>
Status call(F &&f) {
  std::array<char, 1024> err;
  err.fill('#');
  const int code = f(err.data(), err.size());
  return {code, std::string(err.data())};
}

// Runs f and throws Error unless it succeeded.
template <typename F>
void must(F &&f) {
  Status s = call(std::forward<F>(f));
  if (!s.ok()) {
    throw Error(s);
  }
}

// Checks that expr, a call that may use err and err_len, returns want, and
// that its message is "" on success and not empty on failure.
#define CHECK_STATUS(expr, want)                                                                     \
  do {                                                                                               \
    const Status s_ = call([&](char *err, size_t err_len) { return (expr); });                       \
    check(s_.code == (want), #expr " == " #want, __LINE__);                                          \
    if (s_.code != (want)) std::fprintf(stderr, "    got %s: %s\n", s_.name().c_str(), s_.message.c_str()); \
    else if (s_.code != CLOUDIO_OK) check(!s_.message.empty(), "a failure explains itself", __LINE__); \
    else check(s_.message.empty(), "success leaves \"\" in err", __LINE__);                          \
  } while (0)

// A progress callback from any callable returning true to go on: the
// captureless lambda converts to the C function pointer, and the callable
// travels in progress_user. Exceptions must not unwind through the library's
// C frames: one thrown by the callable cancels the operation.
template <typename F>
std::pair<cloudio_progress_fn, void *> progress(F &fn) {
  cloudio_progress_fn trampoline = [](double fraction, const char *message, void *user) -> int {
    try {
      return (*static_cast<F *>(user))(fraction, message != nullptr ? message : "") ? 0 : 1;
    } catch (...) {
      return 1;
    }
  };
  return {trampoline, &fn};
}

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cloudio-cpp-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  std::string operator/(const std::string &name) const { return (path_ / name).string(); }
  const fs::path &path() const { return path_; }

  // Every name in the directory, hidden (temporary) files included, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto &e : fs::directory_iterator(path_)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  fs::path path_;
};

std::vector<char> bytes_of(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// NULL-terminated option arrays from string literals.
using Options = std::vector<const char *>;

// RAII handles: released whatever happens.
struct DatasetCloser {
  void operator()(cloudio_dataset *d) const noexcept { cloudio_dataset_close(d, nullptr, 0); }
};
using Dataset = std::unique_ptr<cloudio_dataset, DatasetCloser>;

struct ReaderCloser {
  void operator()(cloudio_reader *r) const noexcept { cloudio_reader_close(r, nullptr, 0); }
};
using Reader = std::unique_ptr<cloudio_reader, ReaderCloser>;

// A writer that aborts unless it was closed.
struct WriterAborter {
  void operator()(cloudio_writer *w) const noexcept { cloudio_writer_abort(w, nullptr, 0); }
};
using Writer = std::unique_ptr<cloudio_writer, WriterAborter>;

Dataset open_dataset(const std::string &path) {
  cloudio_dataset *raw = nullptr;
  must([&](char *e, size_t n) { return cloudio_dataset_open(path.c_str(), &raw, e, n); });
  return Dataset(raw);
}

cloudio_info info_of(cloudio_dataset *ds) {
  cloudio_info info{};
  must([&](char *e, size_t n) { return cloudio_dataset_info(ds, &info, e, n); });
  return info;
}

std::string crs_of(cloudio_dataset *ds) {
  size_t needed = 0;
  must([&](char *e, size_t n) { return cloudio_dataset_crs(ds, nullptr, 0, &needed, e, n); });
  std::string wkt(needed, '\0');
  must([&](char *e, size_t n) { return cloudio_dataset_crs(ds, wkt.data(), wkt.size(), nullptr, e, n); });
  wkt.resize(needed - 1);
  return wkt;
}

template <typename T>
std::vector<T> read_all(cloudio_dataset *ds, int dtype) {
  const cloudio_info info = info_of(ds);
  std::vector<T> out(static_cast<size_t>(info.bands * info.rows * info.cols));
  must([&](char *e, size_t n) {
    return cloudio_dataset_read(ds, 0, 0, info.rows, info.cols, nullptr, 0, dtype, out.data(), out.size() * sizeof(T),
                                e, n);
  });
  return out;
}

using Window = std::array<int64_t, 4>;

// Every window of a tiling: a count query, then one page.
std::vector<Window> tile_windows(int64_t rows, int64_t cols, int64_t tr, int64_t tc, int64_t overlap) {
  uint64_t written = 0, total = 0;
  must([&](char *e, size_t n) {
    return cloudio_tile_windows(rows, cols, tr, tc, overlap, 0, nullptr, 0, &written, &total, e, n);
  });
  std::vector<Window> out(total);
  must([&](char *e, size_t n) {
    return cloudio_tile_windows(rows, cols, tr, tc, overlap, 0, out.empty() ? nullptr : out.front().data(), total,
                                &written, &total, e, n);
  });
  out.resize(written);
  return out;
}

// A smooth surface, different for every seed.
std::vector<float> terrain(int rows, int cols, int seed) {
  std::vector<float> z(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      z[static_cast<size_t>(r) * cols + c] =
          static_cast<float>(500 + 100 * std::sin((r + seed) / 13.0) * std::cos(c / 7.0) + seed);
    }
  }
  return z;
}

bool valid_cog(const std::string &path) {
  const std::string cmd =
      "/usr/bin/python3 -m osgeo_utils.samples.validate_cloud_optimized_geotiff -q '" + path + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

constexpr int kRows = 120, kCols = 90;
const double kGeoTransform[6] = {600000, 10, 0, 5200000, 0, -10};

// ---- tests ---------------------------------------------------------------------------

void test_basics() {
  CHECK(cloudio_abi_version() == CLOUDIO_ABI_VERSION);
  const std::string version = cloudio_version();
  CHECK(version.find("GDAL") != std::string::npos);
  for (int code : {CLOUDIO_OK, CLOUDIO_ERR_INVALID_ARGUMENT, CLOUDIO_ERR_NOT_FOUND, CLOUDIO_ERR_IO,
                   CLOUDIO_ERR_UNSUPPORTED, CLOUDIO_ERR_CANCELLED, CLOUDIO_ERR_INTERNAL}) {
    const std::string name = cloudio_status_name(code);
    CHECK(name.rfind("CLOUDIO_", 0) == 0 && name != "CLOUDIO_ERR_UNKNOWN");
  }
  CHECK(std::string(cloudio_status_name(-3)) == "CLOUDIO_ERR_UNKNOWN");

  const std::vector<Window> want{{0, 0, 3, 3}, {0, 3, 3, 2}, {3, 0, 2, 3}, {3, 3, 2, 2}};
  CHECK(tile_windows(5, 5, 3, 3, 0) == want);
  CHECK(tile_windows(0, 5, 3, 3, 0).empty());
  CHECK(tile_windows(4, 4, 2, 2, 9).size() == 16);
  uint64_t written = 0, total = 0;
  std::vector<int64_t> page(4 * 8);
  CHECK_STATUS(cloudio_tile_windows(int64_t{1} << 31, int64_t{1} << 31, 1, 1, 0, (uint64_t{1} << 62) - 3, page.data(),
                                    8, &written, &total, err, err_len),
               CLOUDIO_OK);
  CHECK(written == 3 && total == uint64_t{1} << 62 && page[8] == (int64_t{1} << 31) - 1);

  // Errors as exceptions, with DESIGN.md's messages.
  try {
    tile_windows(5, 5, 0, 3, 0);
    CHECK(!"tile_windows accepted tile_rows 0");
  } catch (const Error &e) {
    CHECK(e.status() == CLOUDIO_ERR_INVALID_ARGUMENT);
    CHECK(std::string(e.what()) == "CLOUDIO_ERR_INVALID_ARGUMENT: tile_rows and tile_cols must be positive");
  }
  const Status s = call([](char *e, size_t n) {
    uint64_t w, t;
    return cloudio_tile_windows(5, 5, 3, 3, -2, 0, nullptr, 0, &w, &t, e, n);
  });
  CHECK(s.code == CLOUDIO_ERR_INVALID_ARGUMENT && s.message == "overlap must be >= 0");
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 0, nullptr, 1, &written, &total, err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 0, nullptr, 0, nullptr, &total, err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  // A short error buffer: truncated and NUL-terminated.
  std::array<char, 8> shortbuf;
  shortbuf.fill('#');
  CHECK(cloudio_tile_windows(5, 5, 0, 0, 0, 0, nullptr, 0, &written, &total, shortbuf.data(), 5) ==
        CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(std::string(shortbuf.data()) == "tile" && shortbuf[5] == '#');
}

void test_write(const TempDir &dir) {
  const auto z = terrain(kRows, kCols, 0);
  const double nodata = -9999;
  const std::string src = dir / "src.tif", dst = dir / "dst.tif";

  // A buffer to a COG, progress recorded by a capturing lambda.
  std::vector<double> fractions;
  bool other_thread = false;
  const auto me = std::this_thread::get_id();
  auto record = [&](double f, const std::string &) {
    fractions.push_back(f);
    other_thread = other_thread || std::this_thread::get_id() != me;
    return true;
  };
  auto [fn, user] = progress(record);
  const Options blocks{"BLOCKSIZE=128", nullptr};
  CHECK_STATUS(cloudio_write_cog_buffer(z.data(), z.size() * sizeof(float), CLOUDIO_FLOAT32, 1, kRows, kCols,
                                        kGeoTransform, "EPSG:32633", &nodata, src.c_str(), "zstd", blocks.data(), fn,
                                        user, err, err_len),
               CLOUDIO_OK);
  CHECK(!fractions.empty() && fractions.back() == 1.0 && !other_thread);
  CHECK(std::is_sorted(fractions.begin(), fractions.end()));
  CHECK(std::all_of(fractions.begin(), fractions.end(), [](double f) { return f >= 0 && f <= 1; }));
  CHECK(valid_cog(src));
  int valid = 0;
  CHECK_STATUS(cloudio_validate(src.c_str(), &valid, err, err_len), CLOUDIO_OK);
  CHECK(valid == 1);
  size_t needed = 0;
  CHECK_STATUS(cloudio_info_json(src.c_str(), nullptr, 0, &needed, err, err_len), CLOUDIO_OK);
  std::string json(needed, '\0');
  CHECK_STATUS(cloudio_info_json(src.c_str(), json.data(), json.size(), nullptr, err, err_len), CLOUDIO_OK);
  CHECK(json.find("\"block\":[128,128]") != std::string::npos && json.find("\"cog\":true") != std::string::npos);
  {
    Dataset ds = open_dataset(src);
    const cloudio_info info = info_of(ds.get());
    CHECK(info.rows == kRows && info.cols == kCols && info.dtype == CLOUDIO_FLOAT32 && info.block_rows == 128);
    CHECK(info.has_nodata && info.nodata == nodata && std::equal(info.geotransform, info.geotransform + 6, kGeoTransform));
    CHECK(crs_of(ds.get()).find("32633") != std::string::npos);
    CHECK(read_all<float>(ds.get(), 0) == z);
  }

  // A file to a COG, in several ways.
  fractions.clear();
  CHECK_STATUS(cloudio_write_cog(src.c_str(), dst.c_str(), nullptr, nullptr, fn, user, err, err_len), CLOUDIO_OK);
  CHECK(!fractions.empty() && fractions.back() == 1.0 && std::is_sorted(fractions.begin(), fractions.end()));
  for (const char *method : {"deflate", "ZSTD", "lzw"}) {
    CHECK_STATUS(cloudio_write_cog(src.c_str(), dst.c_str(), method, nullptr, nullptr, nullptr, err, err_len),
                 CLOUDIO_OK);
  }
  const Options opts{"BLOCKSIZE=256", "PREDICTOR=NO", nullptr};
  CHECK_STATUS(cloudio_write_cog(src.c_str(), dst.c_str(), "zstd", opts.data(), nullptr, nullptr, err, err_len),
               CLOUDIO_OK);
  CHECK(valid_cog(dst));

  // Cancellation, by returning false and by throwing: nothing left behind.
  const auto before = dir.entries();
  const std::string cancelled = dir / "cancelled.tif";
  auto stop = [](double, const std::string &) { return false; };
  auto [stop_fn, stop_user] = progress(stop);
  CHECK_STATUS(cloudio_write_cog(src.c_str(), cancelled.c_str(), nullptr, nullptr, stop_fn, stop_user, err, err_len),
               CLOUDIO_ERR_CANCELLED);
  int calls = 0;
  auto boom = [&calls](double f, const std::string &) -> bool {
    if (++calls == 2 || f >= 1.0) {
      throw std::runtime_error("boom");
    }
    return true;
  };
  auto [boom_fn, boom_user] = progress(boom);
  CHECK_STATUS(cloudio_write_cog_buffer(z.data(), z.size() * sizeof(float), CLOUDIO_FLOAT32, 1, kRows, kCols, nullptr,
                                        nullptr, nullptr, cancelled.c_str(), nullptr, nullptr, boom_fn, boom_user, err,
                                        err_len),
               CLOUDIO_ERR_CANCELLED);
  CHECK(!fs::exists(cancelled) && dir.entries() == before);

  // Errors leave an existing destination as it was.
  const auto kept = bytes_of(dst);
  const std::string text = dir / "text.tif";
  std::ofstream(text) << "not a raster\n";
  const auto with_text = dir.entries();
  const Options bad_key{"FOO=1", nullptr}, bad_value{"BLOCKSIZE=abc", nullptr}, no_eq{"BLOCKSIZE", nullptr};
  CHECK_STATUS(cloudio_write_cog(src.c_str(), dst.c_str(), "foo", nullptr, nullptr, nullptr, err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog(src.c_str(), dst.c_str(), nullptr, bad_key.data(), nullptr, nullptr, err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog(src.c_str(), dst.c_str(), nullptr, bad_value.data(), nullptr, nullptr, err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog(src.c_str(), dst.c_str(), nullptr, no_eq.data(), nullptr, nullptr, err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog(text.c_str(), dst.c_str(), nullptr, nullptr, nullptr, nullptr, err, err_len),
               CLOUDIO_ERR_IO);
  CHECK_STATUS(cloudio_write_cog((dir / "missing.tif").c_str(), dst.c_str(), nullptr, nullptr, nullptr, nullptr, err,
                                 err_len),
               CLOUDIO_ERR_NOT_FOUND);
  CHECK_STATUS(cloudio_write_cog(dst.c_str(), dst.c_str(), nullptr, nullptr, nullptr, nullptr, err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog(src.c_str(), dst.c_str(), nullptr, nullptr, stop_fn, stop_user, err, err_len),
               CLOUDIO_ERR_CANCELLED);
  CHECK_STATUS(cloudio_write_cog_buffer(z.data(), z.size() * sizeof(float) - 1, CLOUDIO_FLOAT32, 1, kRows, kCols,
                                        nullptr, nullptr, nullptr, dst.c_str(), nullptr, nullptr, nullptr, nullptr, err,
                                        err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog_buffer(z.data(), z.size() * sizeof(float), CLOUDIO_FLOAT32, 1, kRows, kCols, nullptr,
                                        "NOT_A_CRS", nullptr, dst.c_str(), nullptr, nullptr, nullptr, nullptr, err,
                                        err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog_buffer(nullptr, 4, CLOUDIO_FLOAT32, 1, 1, 1, nullptr, nullptr, nullptr, dst.c_str(),
                                        nullptr, nullptr, nullptr, nullptr, err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog_buffer(z.data(), 4, 42, 1, 1, 1, nullptr, nullptr, nullptr, dst.c_str(), nullptr,
                                        nullptr, nullptr, nullptr, err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(bytes_of(dst) == kept && dir.entries() == with_text);
  CHECK_STATUS(cloudio_write_cog(src.c_str(), (dir / "no/such/dir.tif").c_str(), nullptr, nullptr, nullptr, nullptr,
                                 err, err_len),
               CLOUDIO_ERR_NOT_FOUND);
  CHECK_STATUS(cloudio_write_cog(nullptr, dst.c_str(), nullptr, nullptr, nullptr, nullptr, err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog(src.c_str(), "", nullptr, nullptr, nullptr, nullptr, err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  fs::remove(text);
  fs::remove(dst);
}

void test_dataset_and_reader(const TempDir &dir) {
  const std::string src = dir / "src.tif";
  const auto z = terrain(kRows, kCols, 0);
  Dataset ds = open_dataset(src);

  // A window of band 1 as doubles.
  std::vector<double> win(10 * 20);
  const std::vector<int> band1{1};
  CHECK_STATUS(cloudio_dataset_read(ds.get(), 3, 4, 10, 20, band1.data(), band1.size(), CLOUDIO_FLOAT64, win.data(),
                                    win.size() * sizeof(double), err, err_len),
               CLOUDIO_OK);
  CHECK(win[0] == z[3 * kCols + 4] && win.back() == z[12 * kCols + 23]);
  CHECK_STATUS(cloudio_dataset_read(ds.get(), 115, 0, 10, 20, nullptr, 0, CLOUDIO_FLOAT64, win.data(),
                                    win.size() * sizeof(double), err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds.get(), 0, 0, 10, 20, nullptr, 0, CLOUDIO_INT64, win.data(),
                                    win.size() * sizeof(double), err, err_len),
               CLOUDIO_ERR_UNSUPPORTED);
  std::string small(4, '#');
  CHECK_STATUS(cloudio_dataset_crs(ds.get(), small.data(), small.size(), nullptr, err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(small == "####");
  try {
    open_dataset(dir / "missing.tif");
    CHECK(!"opened a missing file");
  } catch (const Error &e) {
    CHECK(e.status() == CLOUDIO_ERR_NOT_FOUND);
  }

  // A reader in a unique_ptr; tiles in a std::vector.
  cloudio_reader_options options;
  cloudio_reader_options_init(&options);
  options.tile_rows = options.tile_cols = 32;
  options.halo = 2;
  options.edge = CLOUDIO_EDGE_NODATA;
  cloudio_reader *raw = nullptr;
  CHECK_STATUS(cloudio_reader_open(src.c_str(), &options, &raw, err, err_len), CLOUDIO_OK);
  Reader reader(raw);
  size_t max_len = 0;
  uint64_t count = 0;
  CHECK_STATUS(cloudio_reader_info(reader.get(), nullptr, &count, &max_len, err, err_len), CLOUDIO_OK);
  CHECK(count == 12 && max_len == sizeof(float) * 36 * 36);
  std::vector<float> tile(max_len / sizeof(float));
  std::array<int64_t, 8> w{};
  const auto windows = tile_windows(kRows, kCols, 32, 32, 0);
  uint64_t seen = 0;
  bool equal = true;
  while (call([&](char *e, size_t n) { return cloudio_reader_next(reader.get(), w.data(), tile.data(), max_len, e, n); })
             .ok() &&
         w[2] > 0) {
    equal = equal && Window{w[0], w[1], w[2], w[3]} == windows.at(seen);
    for (int64_t i = 0; i < w[6]; ++i) {
      for (int64_t j = 0; j < w[7]; ++j) {
        const int64_t r = w[4] + i, c = w[5] + j;
        const float want = r < 0 || c < 0 || r >= kRows || c >= kCols ? -9999.0f : z[r * kCols + c];
        equal = equal && tile[i * w[7] + j] == want;
      }
    }
    ++seen;
  }
  CHECK(seen == count && equal);
  options.edge = 9;
  CHECK_STATUS(cloudio_reader_open(src.c_str(), &options, &raw, err, err_len), CLOUDIO_ERR_INVALID_ARGUMENT);
  options.edge = CLOUDIO_EDGE_REPLICATE;
  options.workers = -1;
  CHECK_STATUS(cloudio_reader_open(src.c_str(), &options, &raw, err, err_len), CLOUDIO_ERR_INVALID_ARGUMENT);
  // The reader closes when it goes out of scope; closing it explicitly works too.
  CHECK_STATUS(cloudio_reader_close(reader.release(), err, err_len), CLOUDIO_OK);
}

// A file GDAL itself writes (three pixel-interleaved bands, the floating-point
// predictor, tiles the reader's do not line up with), read through a reader:
// every cell equals what GDAL was given, not what the library reads elsewhere.
void test_reader_of_a_gdal_file(const TempDir &dir) {
  constexpr int rows = 75, cols = 101, bands = 3;
  const auto cell = [](int b, int64_t r, int64_t c) { return static_cast<float>(1000 * r + c) + 0.25f * b - 500.5f; };
  const std::string path = dir / "gdal.tif";
  const std::string cmd =
      "/usr/bin/python3 -c \"import numpy as np; from osgeo import gdal; "
      "b, r, c = np.mgrid[0:3, 0:75, 0:101]; z = ((1000 * r + c) + 0.25 * b - 500.5).astype(np.float32); "
      "ds = gdal.GetDriverByName('GTiff').Create('" + path + "', 101, 75, 3, gdal.GDT_Float32, "
      "['TILED=YES', 'BLOCKXSIZE=32', 'BLOCKYSIZE=48', 'COMPRESS=DEFLATE', 'PREDICTOR=3', 'INTERLEAVE=PIXEL']); "
      "ds.WriteArray(z); ds = None\"";
  CHECK(std::system(cmd.c_str()) == 0);
  cloudio_reader_options options;
  cloudio_reader_options_init(&options);
  options.tile_rows = 40;
  options.tile_cols = 33;
  cloudio_reader *raw = nullptr;
  must([&](char *e, size_t n) { return cloudio_reader_open(path.c_str(), &options, &raw, e, n); });
  Reader reader(raw);
  size_t max_len = 0;
  must([&](char *e, size_t n) { return cloudio_reader_info(reader.get(), nullptr, nullptr, &max_len, e, n); });
  std::vector<float> tile(max_len / sizeof(float));
  std::array<int64_t, 8> w{};
  std::vector<Window> seen;
  int64_t wrong = 0;
  while (call([&](char *e, size_t n) { return cloudio_reader_next(reader.get(), w.data(), tile.data(), max_len, e, n); })
             .ok() &&
         w[2] > 0) {
    seen.push_back(Window{w[0], w[1], w[2], w[3]});
    for (int b = 0; b < bands; ++b) {
      for (int64_t i = 0; i < w[2]; ++i) {
        for (int64_t j = 0; j < w[3]; ++j) {
          wrong += tile[static_cast<size_t>((b * w[2] + i) * w[3] + j)] != cell(b, w[0] + i, w[1] + j);
        }
      }
    }
  }
  CHECK(wrong == 0 && seen == tile_windows(rows, cols, 40, 33, 0) && seen.size() == 8);
  fs::remove(path);
}

void test_writer(const TempDir &dir) {
  const auto z = terrain(kRows, kCols, 5);
  const std::string dst = dir / "written.tif";
  const auto windows = tile_windows(kRows, kCols, 25, 25, 0);

  // Windows written from four threads at once, then a COG.
  {
    cloudio_writer *raw = nullptr;
    CHECK_STATUS(cloudio_writer_open(dst.c_str(), kRows, kCols, 1, CLOUDIO_FLOAT32, kGeoTransform, "EPSG:32633",
                                     nullptr, "zstd", nullptr, &raw, err, err_len),
                 CLOUDIO_OK);
    Writer writer(raw);
    std::atomic<size_t> next{0};
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        std::vector<float> part;
        for (size_t k; (k = next++) < windows.size();) {
          const Window &q = windows[k];
          part.resize(static_cast<size_t>(q[2] * q[3]));
          for (int64_t r = 0; r < q[2]; ++r) {
            std::copy_n(z.begin() + (q[0] + r) * kCols + q[1], q[3], part.begin() + r * q[3]);
          }
          ok += cloudio_writer_write(writer.get(), q[0], q[1], q[2], q[3], part.data(), part.size() * sizeof(float),
                                     nullptr, 0) == CLOUDIO_OK;
        }
      });
    }
    for (auto &th : threads) th.join();
    CHECK(ok == static_cast<int>(windows.size()));
    std::vector<double> fractions;
    auto record = [&](double f, const std::string &) { fractions.push_back(f); return true; };
    auto [fn, user] = progress(record);
    CHECK_STATUS(cloudio_writer_close(writer.release(), fn, user, err, err_len), CLOUDIO_OK);
    CHECK(!fractions.empty() && fractions.back() == 1.0);
  }
  CHECK(valid_cog(dst));
  CHECK(read_all<float>(open_dataset(dst).get(), 0) == z);

  // A writer dropped without close aborts: nothing appears.
  const auto before = dir.entries();
  const std::string dropped = dir / "dropped.tif";
  {
    cloudio_writer *raw = nullptr;
    must([&](char *e, size_t n) {
      return cloudio_writer_open(dropped.c_str(), 10, 10, 2, CLOUDIO_INT16, nullptr, nullptr, nullptr, nullptr, nullptr,
                                 &raw, e, n);
    });
    Writer writer(raw);
    const std::vector<int16_t> cells(2 * 10 * 10, 7);
    CHECK_STATUS(cloudio_writer_write(writer.get(), 0, 0, 10, 10, cells.data(), cells.size() * sizeof(int16_t), err,
                                      err_len),
                 CLOUDIO_OK);
    CHECK_STATUS(cloudio_writer_write(writer.get(), 5, 5, 10, 10, cells.data(), cells.size() * sizeof(int16_t), err,
                                      err_len),
                 CLOUDIO_ERR_INVALID_ARGUMENT);
  }
  CHECK(!fs::exists(dropped) && dir.entries() == before);
  cloudio_writer *raw = nullptr;
  CHECK_STATUS(cloudio_writer_open(dropped.c_str(), 10, 10, 1, CLOUDIO_INT64, nullptr, nullptr, nullptr, nullptr,
                                   nullptr, &raw, err, err_len),
               CLOUDIO_ERR_UNSUPPORTED);
  CHECK_STATUS(cloudio_writer_close(nullptr, nullptr, nullptr, err, err_len), CLOUDIO_OK); // closing nothing is a no-op
  CHECK_STATUS(cloudio_writer_abort(nullptr, err, err_len), CLOUDIO_OK); // closing nothing is a no-op
  fs::remove(dst);
}

// Eight threads at once: each writes its own COG (a data type of its own),
// pages tile windows, and reads through one shared dataset handle; then four
// threads share one reader.
void test_threads(const TempDir &dir) {
  const std::string shared = dir / "src.tif";
  Dataset ds = open_dataset(shared);
  const auto z = terrain(kRows, kCols, 0);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      bool good = true;
      const std::string out = dir / ("thread" + std::to_string(t) + ".tif");
      const auto data = terrain(kRows, kCols, t);
      std::vector<int16_t> ints(data.begin(), data.end());
      const bool as_int = t % 2 == 1;
      const void *buf = as_int ? static_cast<const void *>(ints.data()) : data.data();
      const size_t len = as_int ? ints.size() * sizeof(int16_t) : data.size() * sizeof(float);
      std::array<char, 256> err{};
      good = good && cloudio_write_cog_buffer(buf, len, as_int ? CLOUDIO_INT16 : CLOUDIO_FLOAT32, 1, kRows, kCols,
                                              kGeoTransform, "EPSG:32633", nullptr, out.c_str(),
                                              t % 3 == 0 ? "lzw" : nullptr, nullptr, nullptr, nullptr, err.data(),
                                              err.size()) == CLOUDIO_OK;
      good = good && fs::file_size(out) > 0;
      uint64_t n = 0, total = 0;
      std::vector<int64_t> page(4 * 100);
      good = good && cloudio_tile_windows(1000 + t, 999, 10, 10, 1, 50, page.data(), 100, &n, &total, err.data(),
                                          err.size()) == CLOUDIO_OK;
      good = good && n == 100 && total == 112u * 111u && page[0] == 0 && page[1] == 50 * 9;
      std::vector<float> win(16 * 16);
      for (int k = 0; k < 5 && good; ++k) {
        const int64_t r = (t * 13 + k * 7) % (kRows - 16), c = (t * 5 + k * 11) % (kCols - 16);
        good = cloudio_dataset_read(ds.get(), r, c, 16, 16, nullptr, 0, 0, win.data(), win.size() * sizeof(float),
                                    err.data(), err.size()) == CLOUDIO_OK &&
               win[0] == z[r * kCols + c] && win[255] == z[(r + 15) * kCols + c + 15];
      }
      if (!good) std::fprintf(stderr, "thread %d: %s\n", t, err.data());
      ok += good;
    });
  }
  for (auto &th : threads) th.join();
  CHECK(ok == 8);
  for (int t = 0; t < 8; ++t) fs::remove(dir / ("thread" + std::to_string(t) + ".tif"));

  // One reader, four consumers: every tile handed out exactly once.
  cloudio_reader_options options;
  cloudio_reader_options_init(&options);
  options.tile_rows = options.tile_cols = 20;
  cloudio_reader *raw = nullptr;
  must([&](char *e, size_t n) { return cloudio_reader_open(shared.c_str(), &options, &raw, e, n); });
  Reader reader(raw);
  uint64_t count = 0;
  size_t max_len = 0;
  must([&](char *e, size_t n) { return cloudio_reader_info(reader.get(), nullptr, &count, &max_len, e, n); });
  std::mutex mu;
  std::multiset<Window> taken;
  std::atomic<int> bad{0};
  threads.clear();
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<float> tile(max_len / sizeof(float));
      std::array<int64_t, 8> w{};
      for (;;) {
        if (cloudio_reader_next(reader.get(), w.data(), tile.data(), max_len, nullptr, 0) != CLOUDIO_OK) {
          ++bad;
          return;
        }
        if (w[2] == 0) return;
        bad += tile[0] != z[w[0] * kCols + w[1]];
        std::lock_guard<std::mutex> lock(mu);
        taken.insert(Window{w[0], w[1], w[2], w[3]});
      }
    });
  }
  for (auto &th : threads) th.join();
  const auto all = tile_windows(kRows, kCols, 20, 20, 0);
  CHECK(bad == 0 && taken.size() == count && std::set<Window>(taken.begin(), taken.end()).size() == count &&
        std::set<Window>(all.begin(), all.end()) == std::set<Window>(taken.begin(), taken.end()));
}

void test_storage(const TempDir &dir) {
  const Options creds{"AWS_S3_ENDPOINT=127.0.0.1:1", "AWS_SECRET_ACCESS_KEY=x", nullptr}, bad{"oops", nullptr};
  CHECK_STATUS(cloudio_storage_configure("s3://cloudio-cpp-test", creds.data(), err, err_len), CLOUDIO_OK);
  CHECK_STATUS(cloudio_storage_configure("s3://cloudio-cpp-test", bad.data(), err, err_len),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_configure(dir.path().c_str(), nullptr, err, err_len), CLOUDIO_ERR_INVALID_ARGUMENT);

  // The listing as a std::string: the size, then the names.
  auto list = [](const std::string &url) {
    size_t needed = 0;
    must([&](char *e, size_t n) { return cloudio_storage_list(url.c_str(), nullptr, 0, &needed, e, n); });
    std::string names(needed, '\0');
    must([&](char *e, size_t n) { return cloudio_storage_list(url.c_str(), names.data(), names.size(), nullptr, e, n); });
    names.resize(needed - 1);
    return names;
  };
  CHECK(list(dir.path().string()) == "src.tif");
  const std::string src = dir / "src.tif", copy = dir / "copy.tif";
  must([&](char *e, size_t n) {
    return cloudio_write_cog(src.c_str(), copy.c_str(), nullptr, nullptr, nullptr, nullptr, e, n);
  });
  CHECK(list("file://" + dir.path().string()) == "copy.tif\nsrc.tif");
  int exists = -1;
  CHECK_STATUS(cloudio_storage_exists(copy.c_str(), &exists, err, err_len), CLOUDIO_OK);
  CHECK(exists == 1);
  CHECK_STATUS(cloudio_storage_delete(copy.c_str(), err, err_len), CLOUDIO_OK);
  CHECK_STATUS(cloudio_storage_exists(copy.c_str(), &exists, err, err_len), CLOUDIO_OK);
  CHECK(exists == 0);
  CHECK_STATUS(cloudio_storage_delete(copy.c_str(), err, err_len), CLOUDIO_ERR_NOT_FOUND);
  CHECK_STATUS(cloudio_storage_list((dir / "nowhere").c_str(), nullptr, 0, nullptr, err, err_len),
               CLOUDIO_ERR_NOT_FOUND);
  CHECK_STATUS(cloudio_storage_delete("http://example.com/a.tif", err, err_len), CLOUDIO_ERR_INVALID_ARGUMENT);
}

}  // namespace

int main() {
  try {
    TempDir dir;
    test_basics();
    test_write(dir);
    test_dataset_and_reader(dir);
    test_reader_of_a_gdal_file(dir);
    test_writer(dir);
    test_threads(dir);
    test_storage(dir);
    CHECK(dir.entries() == std::vector<std::string>{"src.tif"});
  } catch (const std::exception &e) {
    ++failed;
    std::fprintf(stderr, "uncaught exception: %s\n", e.what());
  }
  std::printf("%d passed, %d failed\n", passed.load(), failed.load());
  return failed == 0 ? 0 : 1;
}
