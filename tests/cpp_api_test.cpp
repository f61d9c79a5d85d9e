// The C ABI from C++17: RAII around handles and temporary directories, a
// lambda behind the progress callback, and eight threads calling at once.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cloudio.h"

namespace fs = std::filesystem;

namespace {

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

// A temporary directory removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cloudio-cpp-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string &name) const { return (path / name).string(); }
};

// A status with its message, as a C++ caller would want it.
struct Result {
  int status;
  std::string message;
  explicit operator bool() const { return status == CLOUDIO_OK; }
};

template <typename F>
Result call(F &&f) {
  char err[512];
  int status = f(err, sizeof err);
  return {status, err};
}

// A progress lambda through the C callback's user pointer.
using Progress = std::function<bool(double)>;
int progress_trampoline(double fraction, const char *, void *user) {
  return (*static_cast<Progress *>(user))(fraction) ? 0 : 1;
}

struct ReaderDeleter {
  void operator()(cloudio_reader *r) const { cloudio_reader_close(r, nullptr, 0); }
};
using ReaderPtr = std::unique_ptr<cloudio_reader, ReaderDeleter>;

std::vector<float> terrain(int rows, int cols, int seed) {
  std::vector<float> z(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      z[static_cast<size_t>(r) * cols + c] = static_cast<float>(500 + 100 * std::sin((r + seed) / 13.0) * std::cos(c / 7.0));
  return z;
}

}  // namespace

int main() {
  TempDir dir;
  CHECK(cloudio_abi_version() == CLOUDIO_ABI_VERSION);
  CHECK(std::string(cloudio_version()).find("GDAL") != std::string::npos);

  const int rows = 120, cols = 90;
  const double gt[6] = {0, 10, 0, 0, 0, -10};
  auto z = terrain(rows, cols, 0);
  const std::string src = dir / "src.tif", dst = dir / "dst.tif";
  auto written = call([&](char *e, size_t n) {
    return cloudio_write_cog_buffer(z.data(), z.size() * sizeof(float), CLOUDIO_FLOAT32, 1, rows, cols, gt,
                                    "EPSG:32633", nullptr, src.c_str(), "zstd", nullptr, nullptr, nullptr, e, n);
  });
  CHECK(written);

  std::vector<double> fractions;
  Progress record = [&](double f) { fractions.push_back(f); return true; };
  CHECK(call([&](char *e, size_t n) {
    return cloudio_write_cog(src.c_str(), dst.c_str(), nullptr, nullptr, progress_trampoline, &record, e, n);
  }));
  CHECK(!fractions.empty() && fractions.back() == 1.0);

  Progress stop = [](double) { return false; };
  const std::string cancelled = dir / "cancelled.tif";
  auto r = call([&](char *e, size_t n) {
    return cloudio_write_cog(src.c_str(), cancelled.c_str(), nullptr, nullptr, progress_trampoline, &stop, e, n);
  });
  CHECK(r.status == CLOUDIO_ERR_CANCELLED && !fs::exists(cancelled));

  r = call([&](char *e, size_t n) {
    return cloudio_write_cog(src.c_str(), dst.c_str(), "no-such-method", nullptr, nullptr, nullptr, e, n);
  });
  CHECK(r.status == CLOUDIO_ERR_INVALID_ARGUMENT && r.message.find("NO-SUCH-METHOD") != std::string::npos);

  // A reader in a unique_ptr; tiles in a std::vector.
  cloudio_reader_options options;
  cloudio_reader_options_init(&options);
  options.tile_rows = options.tile_cols = 32;
  cloudio_reader *raw = nullptr;
  CHECK(call([&](char *e, size_t n) { return cloudio_reader_open(dst.c_str(), &options, &raw, e, n); }));
  ReaderPtr reader(raw);
  size_t max_len = 0;
  uint64_t count = 0;
  CHECK(call([&](char *e, size_t n) { return cloudio_reader_info(reader.get(), nullptr, &count, &max_len, e, n); }));
  std::vector<float> tile(max_len / sizeof(float));
  int64_t win[8];
  uint64_t seen = 0;
  bool equal = true;
  while (static_cast<bool>(call([&](char *e, size_t n) { return cloudio_reader_next(reader.get(), win, tile.data(), max_len, e, n); })) &&
         win[2] > 0) {
    ++seen;
    for (int64_t i = 0; i < win[2]; ++i)
      for (int64_t j = 0; j < win[3]; ++j)
        equal = equal && tile[i * win[3] + j] == z[(win[0] + i) * cols + win[1] + j];
  }
  CHECK(seen == count && count == 12 && equal);

  // Eight threads at once: each writes its own COG and pages tile windows.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto data = terrain(rows, cols, t);
      const std::string out = dir / ("thread" + std::to_string(t) + ".tif");
      char err[256];
      uint64_t n = 0, total = 0;
      std::vector<int64_t> page(4 * 100);
      bool good = cloudio_write_cog_buffer(data.data(), data.size() * sizeof(float), CLOUDIO_FLOAT32, 1, rows, cols,
                                           gt, nullptr, nullptr, out.c_str(), nullptr, nullptr, nullptr, nullptr, err,
                                           sizeof err) == CLOUDIO_OK &&
                  cloudio_tile_windows(1000 + t, 999, 10, 10, 1, 0, page.data(), 100, &n, &total, err, sizeof err) ==
                      CLOUDIO_OK &&
                  n == 100 && total == 112u * 111u && fs::file_size(out) > 0;
      ok += good;
    });
  }
  for (auto &th : threads) th.join();
  CHECK(ok == 8);

  std::printf("%d passed, %d failed\n", passed.load(), failed.load());
  return failed != 0;
}
