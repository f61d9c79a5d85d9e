/* Every function of include/cloudio.h, on its success and error paths, from C99.
 * Run from build/ (the Makefile's test-c target), also under valgrind. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cloudio.h"

static int passed, failed;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      passed++;                                                                \
    } else {                                                                   \
      failed++;                                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define CHECK_STATUS(call, want)                                                                      \
  do {                                                                                                \
    int got_ = (call);                                                                                \
    if (got_ == (want)) {                                                                             \
      passed++;                                                                                       \
    } else {                                                                                          \
      failed++;                                                                                       \
      fprintf(stderr, "%s:%d: %s returned %s, want %s (err: %s)\n", __FILE__, __LINE__, #call,       \
              cloudio_status_name(got_), cloudio_status_name(want), err);                            \
    }                                                                                                 \
  } while (0)

static char err[512];
static char dir[256];

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static int entries(void) {
  int n = 0;
  DIR *d = opendir(dir);
  for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
    n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0);
  }
  if (d != NULL) {
    closedir(d);
  }
  return n;
}

/* Reference tiling from DESIGN.md. */
static uint64_t reference_windows(int64_t rows, int64_t cols, int64_t tr, int64_t tc, int64_t ov, int64_t *out,
                                  uint64_t cap) {
  int64_t sr = tr - ov > 1 ? tr - ov : 1, sc = tc - ov > 1 ? tc - ov : 1;
  uint64_t n = 0;
  for (int64_t r = 0; r < rows; r += sr) {
    for (int64_t c = 0; c < cols; c += sc) {
      if (n < cap) {
        out[4 * n] = r;
        out[4 * n + 1] = c;
        out[4 * n + 2] = tr < rows - r ? tr : rows - r;
        out[4 * n + 3] = tc < cols - c ? tc : cols - c;
      }
      n++;
    }
  }
  return n;
}

static void test_version(void) {
  CHECK(cloudio_abi_version() == CLOUDIO_ABI_VERSION);
  CHECK(strstr(cloudio_version(), "GDAL") != NULL);
  CHECK(strcmp(cloudio_status_name(CLOUDIO_OK), "CLOUDIO_OK") == 0);
  CHECK(strcmp(cloudio_status_name(CLOUDIO_ERR_INVALID_ARGUMENT), "CLOUDIO_ERR_INVALID_ARGUMENT") == 0);
  CHECK(strcmp(cloudio_status_name(CLOUDIO_ERR_NOT_FOUND), "CLOUDIO_ERR_NOT_FOUND") == 0);
  CHECK(strcmp(cloudio_status_name(CLOUDIO_ERR_IO), "CLOUDIO_ERR_IO") == 0);
  CHECK(strcmp(cloudio_status_name(CLOUDIO_ERR_UNSUPPORTED), "CLOUDIO_ERR_UNSUPPORTED") == 0);
  CHECK(strcmp(cloudio_status_name(CLOUDIO_ERR_CANCELLED), "CLOUDIO_ERR_CANCELLED") == 0);
  CHECK(strcmp(cloudio_status_name(CLOUDIO_ERR_INTERNAL), "CLOUDIO_ERR_INTERNAL") == 0);
  CHECK(strcmp(cloudio_status_name(42), "CLOUDIO_ERR_UNKNOWN") == 0);
}

static void test_tile_windows(void) {
  int64_t out[4 * 8], ref[4 * 64];
  uint64_t written = 0, total = 0;
  static const int64_t want[] = {0, 0, 3, 3, 0, 3, 3, 2, 3, 0, 2, 3, 3, 3, 2, 2};
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 0, out, 8, &written, &total, err, sizeof err), CLOUDIO_OK);
  CHECK(written == 4 && total == 4 && memcmp(out, want, sizeof want) == 0);
  CHECK(err[0] == '\0');
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 0, NULL, 0, &written, &total, err, sizeof err), CLOUDIO_OK);
  CHECK(written == 0 && total == 4);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 2, out, 8, &written, &total, NULL, 0), CLOUDIO_OK);
  CHECK(written == 2 && memcmp(out, want + 8, 8 * sizeof *out) == 0);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 9, out, 8, &written, &total, NULL, 0), CLOUDIO_OK);
  CHECK(written == 0 && total == 4);
  CHECK_STATUS(cloudio_tile_windows(0, 5, 3, 3, 0, 0, out, 8, &written, &total, NULL, 0), CLOUDIO_OK);
  CHECK(total == 0);

  /* Pseudo-random shapes against the reference, paged from the middle. */
  unsigned seed = 12345;
  int mismatches = 0;
  for (int k = 0; k < 150; k++) {
    seed = seed * 1103515245u + 12345u;
    int64_t rows = seed % 40, cols = (seed >> 8) % 40, tr = 1 + (seed >> 16) % 12, tc = 1 + (seed >> 20) % 12;
    int64_t ov = (seed >> 24) % 14;
    uint64_t n = reference_windows(rows, cols, tr, tc, ov, ref, 16);
    uint64_t first = n > 2 ? n / 3 : 0;
    int64_t page[4 * 16];
    if (cloudio_tile_windows(rows, cols, tr, tc, ov, first, page, 4, &written, &total, err, sizeof err) != CLOUDIO_OK ||
        total != n) {
      mismatches++;
      continue;
    }
    uint64_t avail = first < 16 ? (16 - first < 4 ? 16 - first : 4) : 0;
    for (uint64_t i = 0; i < written && i < avail; i++) {
      mismatches += memcmp(page + 4 * i, ref + 4 * (first + i), 4 * sizeof *page) != 0;
    }
  }
  CHECK(mismatches == 0);

  /* Huge counts: O(1), and the last window computed directly. */
  const int64_t side = (int64_t)1 << 31;
  CHECK_STATUS(cloudio_tile_windows(side, side, 1, 1, 0, ((uint64_t)1 << 62) - 1, out, 8, &written, &total, err,
                                    sizeof err),
               CLOUDIO_OK);
  CHECK(total == (uint64_t)1 << 62 && written == 1 && out[0] == side - 1 && out[1] == side - 1 && out[2] == 1);

  /* Errors. */
  CHECK_STATUS(cloudio_tile_windows(5, 5, 0, 3, 0, 0, out, 8, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(err, "tile_rows and tile_cols must be positive") == 0);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, -1, 0, 0, out, 8, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, -1, 0, out, 8, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(err, "overlap must be >= 0") == 0);
  CHECK_STATUS(cloudio_tile_windows(-5, 5, 3, 3, 0, 0, out, 8, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_tile_windows(side + 1, 5, 3, 3, 0, 0, out, 8, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 0, out, 8, NULL, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 0, out, 8, &written, NULL, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 0, NULL, 8, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);

  /* Error buffers: NULL, 0 bytes (untouched), 1 byte (""), short (truncated). */
  char small[8], one[1] = {'x'}, zero[1] = {'z'};
  CHECK(cloudio_tile_windows(5, 5, 0, 0, 0, 0, NULL, 0, &written, &total, NULL, 0) == CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(cloudio_tile_windows(5, 5, 0, 0, 0, 0, NULL, 0, &written, &total, zero, 0) == CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(zero[0] == 'z');
  CHECK(cloudio_tile_windows(5, 5, 0, 0, 0, 0, NULL, 0, &written, &total, one, 1) == CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(one[0] == '\0');
  CHECK(cloudio_tile_windows(5, 5, 0, 0, 0, 0, NULL, 0, &written, &total, small, sizeof small) ==
        CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strlen(small) == 7 && strncmp(small, "tile_ro", 7) == 0);
}

struct progress_log {
  int calls, decreasing;
  double last;
  int cancel_after;
};

static int on_progress(double fraction, const char *message, void *user) {
  struct progress_log *log = user;
  (void)message;
  log->decreasing += fraction < log->last || fraction < 0 || fraction > 1;
  log->last = fraction;
  log->calls++;
  return log->cancel_after > 0 && log->calls >= log->cancel_after;
}

static int validate(const char *path) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 -m osgeo_utils.samples.validate_cloud_optimized_geotiff -q '%s'", path);
  return system(cmd) == 0;
}

static void test_write_cog(void) {
  enum { ROWS = 300, COLS = 200 };
  float *data = malloc(sizeof(float) * ROWS * COLS * 3);
  for (int i = 0; i < ROWS * COLS * 3; i++) {
    data[i] = (float)(100.0 + 50.0 * sin(i / 97.0) + (i % 7));
  }
  const double gt[6] = {500000, 30, 0, 4500000, 0, -30}, nodata = -9999;
  char src[300], dst[300], dst2[300], text[300], missing[300];
  path_in(src, sizeof src, "src.tif");
  path_in(dst, sizeof dst, "dst.tif");
  path_in(dst2, sizeof dst2, "dst2.tif");
  path_in(text, sizeof text, "text.tif");
  path_in(missing, sizeof missing, "missing.tif");
  size_t len = sizeof(float) * ROWS * COLS;

  CHECK_STATUS(cloudio_write_cog_buffer(data, len, CLOUDIO_FLOAT32, 1, ROWS, COLS, gt, "EPSG:32633", &nodata, src,
                                        NULL, NULL, NULL, NULL, err, sizeof err),
               CLOUDIO_OK);
  CHECK(validate(src));
  CHECK_STATUS(cloudio_write_cog_buffer(data, 3 * len, CLOUDIO_FLOAT32, 3, ROWS, COLS, NULL, NULL, NULL, dst2, "zstd",
                                        NULL, NULL, NULL, err, sizeof err),
               CLOUDIO_OK);
  int16_t *ints = malloc(sizeof(int16_t) * ROWS * COLS);
  for (int i = 0; i < ROWS * COLS; i++) {
    ints[i] = (int16_t)(i % 3000);
  }
  CHECK_STATUS(cloudio_write_cog_buffer(ints, sizeof(int16_t) * ROWS * COLS, CLOUDIO_INT16, 1, ROWS, COLS, gt, "4326",
                                        NULL, dst2, "LZW", NULL, NULL, NULL, err, sizeof err),
               CLOUDIO_OK);
  CHECK(validate(dst2));

  struct progress_log log = {0, 0, 0, 0};
  CHECK_STATUS(cloudio_write_cog(src, dst, NULL, NULL, on_progress, &log, err, sizeof err), CLOUDIO_OK);
  CHECK(log.calls > 0 && log.decreasing == 0 && log.last == 1.0);
  CHECK(validate(dst));
  const char *const opts[] = {"BLOCKSIZE=256", "PREDICTOR=NO", NULL};
  CHECK_STATUS(cloudio_write_cog(src, dst, "zstd", opts, NULL, NULL, err, sizeof err), CLOUDIO_OK);

  /* Cancellation leaves nothing behind. */
  remove(dst);
  int before = entries();
  struct progress_log cancel = {0, 0, 0, 1};
  CHECK_STATUS(cloudio_write_cog(src, dst, NULL, NULL, on_progress, &cancel, err, sizeof err), CLOUDIO_ERR_CANCELLED);
  CHECK(!exists(dst) && entries() == before);

  /* Errors. */
  FILE *f = fopen(text, "w");
  fputs("not a raster", f);
  fclose(f);
  before = entries();
  CHECK_STATUS(cloudio_write_cog(NULL, dst, NULL, NULL, NULL, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog(src, NULL, NULL, NULL, NULL, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog("", dst, NULL, NULL, NULL, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog(src, dst, "foo", NULL, NULL, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err, "FOO") != NULL);
  const char *const bad_key[] = {"FOO=1", NULL}, *const bad_value[] = {"BLOCKSIZE=abc", NULL};
  const char *const no_eq[] = {"BLOCKSIZE", NULL};
  CHECK_STATUS(cloudio_write_cog(src, dst, NULL, bad_key, NULL, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog(src, dst, NULL, bad_value, NULL, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog(src, dst, NULL, no_eq, NULL, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog(missing, dst, NULL, NULL, NULL, NULL, err, sizeof err), CLOUDIO_ERR_NOT_FOUND);
  CHECK_STATUS(cloudio_write_cog(text, dst, NULL, NULL, NULL, NULL, err, sizeof err), CLOUDIO_ERR_IO);
  CHECK_STATUS(cloudio_write_cog(src, "/nonexistent-dir/x.tif", NULL, NULL, NULL, NULL, err, sizeof err),
               CLOUDIO_ERR_NOT_FOUND);
  CHECK_STATUS(cloudio_write_cog(src, src, NULL, NULL, NULL, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog(src, "/tmp/\xff\xfe.tif", NULL, NULL, NULL, NULL, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(!exists(dst) && entries() == before);

  /* A failed overwrite leaves the existing destination as it was. */
  CHECK_STATUS(cloudio_write_cog(src, dst, NULL, NULL, NULL, NULL, err, sizeof err), CLOUDIO_OK);
  struct stat st_before, st_after;
  stat(dst, &st_before);
  CHECK_STATUS(cloudio_write_cog(text, dst, NULL, NULL, NULL, NULL, err, sizeof err), CLOUDIO_ERR_IO);
  stat(dst, &st_after);
  CHECK(st_before.st_size == st_after.st_size && st_before.st_ino == st_after.st_ino);

  CHECK_STATUS(cloudio_write_cog_buffer(NULL, len, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, dst, NULL, NULL,
                                        NULL, NULL, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog_buffer(data, len - 4, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, dst, NULL,
                                        NULL, NULL, NULL, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog_buffer(data, len, 99, 1, ROWS, COLS, NULL, NULL, NULL, dst, NULL, NULL, NULL, NULL,
                                        err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog_buffer(data, len, CLOUDIO_FLOAT32, 0, ROWS, COLS, NULL, NULL, NULL, dst, NULL, NULL,
                                        NULL, NULL, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog_buffer(data, len, CLOUDIO_FLOAT32, 1, -ROWS, COLS, NULL, NULL, NULL, dst, NULL, NULL,
                                        NULL, NULL, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_write_cog_buffer(data, len, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, "NOT_A_CRS", NULL, dst2, NULL,
                                        NULL, NULL, NULL, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  remove(text);
  remove(dst);
  remove(dst2);
  free(ints);
  free(data);
  remove(src);
}

static void test_dataset_reader_writer(void) {
  enum { ROWS = 130, COLS = 170 };
  float data[ROWS * COLS];
  for (int i = 0; i < ROWS * COLS; i++) {
    data[i] = (float)(i % 1000) / 4.0f;
  }
  const double gt[6] = {0, 1, 0, 0, 0, -1}, nodata = -1;
  char src[300], dst[300];
  path_in(src, sizeof src, "ds.tif");
  path_in(dst, sizeof dst, "written.tif");
  const char *const opts[] = {"BLOCKSIZE=64", NULL};
  CHECK_STATUS(cloudio_write_cog_buffer(data, sizeof data, CLOUDIO_FLOAT32, 1, ROWS, COLS, gt, "EPSG:3857", &nodata,
                                        src, NULL, opts, NULL, NULL, err, sizeof err),
               CLOUDIO_OK);

  cloudio_dataset *ds = NULL;
  cloudio_info info;
  CHECK_STATUS(cloudio_dataset_open(src, &ds, err, sizeof err), CLOUDIO_OK);
  CHECK_STATUS(cloudio_dataset_info(ds, &info, err, sizeof err), CLOUDIO_OK);
  CHECK(info.rows == ROWS && info.cols == COLS && info.bands == 1 && info.dtype == CLOUDIO_FLOAT32);
  CHECK(info.block_rows == 64 && info.has_geotransform && info.geotransform[5] == -1 && info.has_nodata &&
        info.nodata == -1);
  size_t needed = 0;
  CHECK_STATUS(cloudio_dataset_crs(ds, NULL, 0, &needed, err, sizeof err), CLOUDIO_OK);
  char *wkt = malloc(needed);
  CHECK_STATUS(cloudio_dataset_crs(ds, wkt, needed, NULL, err, sizeof err), CLOUDIO_OK);
  CHECK(strstr(wkt, "3857") != NULL);
  char tiny[4];
  CHECK_STATUS(cloudio_dataset_crs(ds, tiny, sizeof tiny, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  free(wkt);
  float win[10 * 20];
  const int band1[] = {1};
  CHECK_STATUS(cloudio_dataset_read(ds, 5, 7, 10, 20, band1, 1, 0, win, sizeof win, err, sizeof err), CLOUDIO_OK);
  CHECK(win[0] == data[5 * COLS + 7] && win[10 * 20 - 1] == data[14 * COLS + 26]);
  double wind[10 * 20];
  CHECK_STATUS(cloudio_dataset_read(ds, 5, 7, 10, 20, NULL, 0, CLOUDIO_FLOAT64, wind, sizeof wind, err, sizeof err),
               CLOUDIO_OK);
  CHECK(wind[3] == (double)data[5 * COLS + 10]);
  CHECK_STATUS(cloudio_dataset_read(ds, 125, 0, 10, 20, NULL, 0, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, NULL, 0, 0, win, sizeof win - 4, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  const int band2[] = {2};
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, band2, 1, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, NULL, 0, 0, NULL, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_close(ds, err, sizeof err), CLOUDIO_OK);
  CHECK_STATUS(cloudio_dataset_info(NULL, &info, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_open(NULL, &ds, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_open(src, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_open("/nonexistent.tif", &ds, err, sizeof err), CLOUDIO_ERR_NOT_FOUND);

  /* Reader with a halo, and a writer fed out of order. */
  cloudio_reader_options ro;
  cloudio_reader_options_init(&ro);
  CHECK(ro.tile_rows == 1024 && ro.tile_cols == 1024 && ro.halo == 0 && ro.workers == 0);
  ro.tile_rows = 50;
  ro.tile_cols = 60;
  ro.halo = 1;
  cloudio_reader *reader = NULL;
  CHECK_STATUS(cloudio_reader_open(src, &ro, &reader, err, sizeof err), CLOUDIO_OK);
  uint64_t count = 0;
  size_t max_len = 0;
  CHECK_STATUS(cloudio_reader_info(reader, &info, &count, &max_len, err, sizeof err), CLOUDIO_OK);
  CHECK(count == 9 && max_len == sizeof(float) * 52 * 62);
  cloudio_writer *writer = NULL;
  CHECK_STATUS(cloudio_writer_open(dst, ROWS, COLS, 1, CLOUDIO_FLOAT32, gt, "EPSG:3857", &nodata, "zstd", NULL,
                                   &writer, err, sizeof err),
               CLOUDIO_OK);
  float *tile = malloc(max_len), *core = malloc(max_len);
  int64_t w[8];
  int tiles = 0, mismatches = 0;
  CHECK_STATUS(cloudio_reader_next(reader, w, tile, 16, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  while (cloudio_reader_next(reader, w, tile, max_len, err, sizeof err) == CLOUDIO_OK && w[2] > 0) {
    tiles++;
    for (int64_t r = 0; r < w[6]; r++) {
      for (int64_t c = 0; c < w[7]; c++) {
        int64_t y = w[4] + r, x = w[5] + c;
        y = y < 0 ? 0 : y >= ROWS ? ROWS - 1 : y;
        x = x < 0 ? 0 : x >= COLS ? COLS - 1 : x;
        mismatches += tile[r * w[7] + c] != data[y * COLS + x];
      }
    }
    for (int64_t r = 0; r < w[2]; r++) {
      memcpy(core + r * w[3], tile + (r + 1) * w[7] + 1, sizeof(float) * (size_t)w[3]);
    }
    CHECK_STATUS(cloudio_writer_write(writer, w[0], w[1], w[2], w[3], core, sizeof(float) * (size_t)(w[2] * w[3]), err,
                                      sizeof err),
                 CLOUDIO_OK);
  }
  CHECK(tiles == 9 && mismatches == 0 && w[2] == 0);
  CHECK_STATUS(cloudio_writer_write(writer, 120, 160, 20, 20, core, sizeof(float) * 400, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_write(writer, 0, 0, 2, 2, core, 12, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_reader_close(reader, err, sizeof err), CLOUDIO_OK);
  CHECK_STATUS(cloudio_reader_next(NULL, w, tile, max_len, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  struct progress_log log = {0, 0, 0, 0};
  CHECK_STATUS(cloudio_writer_close(writer, on_progress, &log, err, sizeof err), CLOUDIO_OK);
  CHECK(validate(dst) && log.last == 1.0);

  /* The copy equals the source. */
  CHECK_STATUS(cloudio_dataset_open(dst, &ds, err, sizeof err), CLOUDIO_OK);
  float *back = malloc(sizeof data);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, ROWS, COLS, NULL, 0, 0, back, sizeof data, err, sizeof err), CLOUDIO_OK);
  CHECK(memcmp(back, data, sizeof data) == 0);
  CHECK_STATUS(cloudio_dataset_close(ds, err, sizeof err), CLOUDIO_OK);
  free(back);

  /* Writer errors and abort. */
  remove(dst);
  int before = entries();
  CHECK_STATUS(cloudio_writer_open(dst, ROWS, COLS, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, "nope", NULL, &writer, err,
                                   sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_open(dst, 0, COLS, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, &writer, err,
                                   sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_open("/nonexistent-dir/x.tif", ROWS, COLS, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL,
                                   NULL, &writer, err, sizeof err),
               CLOUDIO_ERR_NOT_FOUND);
  CHECK_STATUS(cloudio_writer_open(dst, ROWS, COLS, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, &writer, err,
                                   sizeof err),
               CLOUDIO_OK);
  CHECK_STATUS(cloudio_writer_write(writer, 0, 0, 10, 10, core, sizeof(float) * 100, err, sizeof err), CLOUDIO_OK);
  CHECK_STATUS(cloudio_writer_abort(writer, err, sizeof err), CLOUDIO_OK);
  CHECK(!exists(dst) && entries() == before);
  CHECK_STATUS(cloudio_writer_abort(NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);

  /* Reader errors. */
  ro.halo = -1;
  CHECK_STATUS(cloudio_reader_open(src, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  ro.halo = 0;
  ro.tile_rows = 0;
  CHECK_STATUS(cloudio_reader_open(src, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_reader_open(src, NULL, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  free(tile);
  free(core);
  remove(src);
}

static void test_storage(void) {
  const char *const opts[] = {"AWS_S3_ENDPOINT=127.0.0.1:1", "AWS_SECRET_ACCESS_KEY=x", NULL};
  const char *const bad[] = {"NOT AN OPTION", NULL};
  CHECK_STATUS(cloudio_storage_configure("s3://cloudio-c-test", opts, err, sizeof err), CLOUDIO_OK);
  CHECK_STATUS(cloudio_storage_configure("s3://cloudio-c-test", bad, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_configure("/tmp/local", opts, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_configure(NULL, opts, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);

  char a[300], b[300];
  path_in(a, sizeof a, "a.tif");
  path_in(b, sizeof b, "b.tif");
  const float cell = 1;
  CHECK_STATUS(cloudio_write_cog_buffer(&cell, sizeof cell, CLOUDIO_FLOAT32, 1, 1, 1, NULL, NULL, NULL, a, NULL, NULL,
                                        NULL, NULL, err, sizeof err),
               CLOUDIO_OK);
  CHECK_STATUS(cloudio_write_cog_buffer(&cell, sizeof cell, CLOUDIO_FLOAT32, 1, 1, 1, NULL, NULL, NULL, b, NULL, NULL,
                                        NULL, NULL, err, sizeof err),
               CLOUDIO_OK);
  size_t needed = 0;
  CHECK_STATUS(cloudio_storage_list(dir, NULL, 0, &needed, err, sizeof err), CLOUDIO_OK);
  CHECK(needed == strlen("a.tif\nb.tif") + 1);
  char listing[64], tiny[4];
  CHECK_STATUS(cloudio_storage_list(dir, listing, sizeof listing, NULL, err, sizeof err), CLOUDIO_OK);
  CHECK(strcmp(listing, "a.tif\nb.tif") == 0);
  CHECK_STATUS(cloudio_storage_list(dir, tiny, sizeof tiny, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_list("/nonexistent-dir/", listing, sizeof listing, NULL, err, sizeof err),
               CLOUDIO_ERR_NOT_FOUND);
  int there = -1;
  CHECK_STATUS(cloudio_storage_exists(a, &there, err, sizeof err), CLOUDIO_OK);
  CHECK(there == 1);
  CHECK_STATUS(cloudio_storage_delete(a, err, sizeof err), CLOUDIO_OK);
  CHECK_STATUS(cloudio_storage_exists(a, &there, err, sizeof err), CLOUDIO_OK);
  CHECK(there == 0);
  CHECK_STATUS(cloudio_storage_delete(a, err, sizeof err), CLOUDIO_ERR_NOT_FOUND);
  CHECK_STATUS(cloudio_storage_delete("https://example.com/x.tif", err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_exists(a, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_delete(b, err, sizeof err), CLOUDIO_OK);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/cloudio-c-test-XXXXXX");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  test_version();
  test_tile_windows();
  test_write_cog();
  test_dataset_reader_writer();
  test_storage();
  rmdir(dir);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
