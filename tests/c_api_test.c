/* tests/c_api_test.c: every function of include/cloudio.h, on its success
 * and error paths, from C99.
 *
 * `make test-c` builds it, runs it from build/ and runs it again under
 * valgrind, so the workload stays small (rasters of a few hundred cells a
 * side, two hundred random tiling shapes). It links only libcloudio: pixels
 * are read back through the library itself, and the structure of the COGs is
 * checked by GDAL's validator (osgeo_utils), run as a separate process.
 *
 * Every check counts; the last line is "N passed, M failed" and the exit
 * status is non-zero when M > 0. */
#define _DEFAULT_SOURCE /* mkdtemp, strdup, opendir under -std=c99 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cloudio.h"

/* ---- harness ------------------------------------------------------------- */

static int passed, failed;
static char err[1024]; /* the error buffer every call below is given */

static void check_(int ok, const char *what, const char *file, int line) {
  if (ok) {
    passed++;
  } else {
    failed++;
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
  }
}

static void check_status_(int got, int want, const char *what, const char *file, int line) {
  if (got == want) {
    passed++;
  } else {
    failed++;
    fprintf(stderr, "%s:%d: %s\n    returned %s, want %s (err: \"%s\")\n", file, line, what,
            cloudio_status_name(got), cloudio_status_name(want), err);
  }
}

#define CHECK(cond) check_((cond) ? 1 : 0, #cond, __FILE__, __LINE__)
#define CHECK_STATUS(call, want) check_status_((call), (want), #call, __FILE__, __LINE__)
/* A call that must succeed and then leave "" in err. */
#define CHECK_OK(call)                                                   \
  do {                                                                   \
    strcpy(err, "(stale)");                                              \
    CHECK_STATUS(call, CLOUDIO_OK);                                      \
    CHECK(err[0] == '\0');                                               \
  } while (0)

/* ---- files ----------------------------------------------------------------- */

static char dir[512]; /* this run's temporary directory */

typedef struct {
  char s[700];
} path_t;

static path_t in_dir(const char *name) {
  path_t p;
  snprintf(p.s, sizeof p.s, "%s/%s", dir, name);
  return p;
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static int absent(const char *p) { return p == NULL || !exists(p); }

static long file_size(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* The whole file, malloc'd; NULL when it cannot be read. */
static unsigned char *slurp(const char *p, size_t *len) {
  FILE *f = fopen(p, "rb");
  if (f == NULL) {
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}

static int same_bytes(const char *p, const unsigned char *want, size_t want_len) {
  size_t len = 0;
  unsigned char *got = slurp(p, &len);
  int same = got != NULL && len == want_len && memcmp(got, want, len) == 0;
  free(got);
  return same;
}

static void write_text(const char *p, const char *text) {
  FILE *f = fopen(p, "w");
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

static void write_prefix(const char *p, const unsigned char *bytes, size_t n) {
  FILE *f = fopen(p, "wb");
  if (f != NULL) {
    fwrite(bytes, 1, n, f);
    fclose(f);
  }
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every name in d, hidden ones (the library's temporary files) included,
 * sorted and joined with '\n'; malloc'd. Compared before and after a call to
 * show that it left nothing behind. */
static char *snapshot_of(const char *d) {
  DIR *h = opendir(d);
  if (h == NULL) {
    return strdup("(no directory)");
  }
  char **names = NULL;
  size_t n = 0, cap = 0, total = 1;
  for (struct dirent *e; (e = readdir(h)) != NULL;) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      names = realloc(names, cap * sizeof *names);
    }
    names[n] = strdup(e->d_name);
    total += strlen(names[n]) + 1;
    n++;
  }
  closedir(h);
  if (n > 0) {
    qsort(names, n, sizeof *names, cmp_names);
  }
  char *out = malloc(total);
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    strcat(out, names[i]);
    strcat(out, "\n");
    free(names[i]);
  }
  free(names);
  return out;
}

static void remove_files_in(const char *d) {
  DIR *h = opendir(d);
  if (h == NULL) {
    return;
  }
  for (struct dirent *e; (e = readdir(h)) != NULL;) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      char p[1200];
      snprintf(p, sizeof p, "%s/%s", d, e->d_name);
      remove(p);
    }
  }
  closedir(h);
}

/* A call that must fail with want, explain itself in err, leave nothing at
 * dst (NULL: no destination) and nothing new in the directory (no temporary
 * or staging file). */
#define CHECK_FAILS_CLEANLY(call, want, dst)                      \
  do {                                                            \
    char *before_ = snapshot_of(dir);                             \
    strcpy(err, "(stale)");                                       \
    CHECK_STATUS(call, want);                                     \
    CHECK(err[0] != '\0' && strcmp(err, "(stale)") != 0);         \
    CHECK(absent(dst));                                           \
    char *after_ = snapshot_of(dir);                              \
    CHECK(strcmp(before_, after_) == 0);                          \
    free(before_);                                                \
    free(after_);                                                 \
  } while (0)

/* A call that must fail with want and leave the existing file dst exactly as
 * it was (bytes), with nothing new in the directory. */
#define CHECK_FAILS_KEEPS(call, want, dst, bytes, len)            \
  do {                                                            \
    char *before_ = snapshot_of(dir);                             \
    CHECK_STATUS(call, want);                                     \
    CHECK(same_bytes((dst), (bytes), (len)));                     \
    char *after_ = snapshot_of(dir);                              \
    CHECK(strcmp(before_, after_) == 0);                          \
    free(before_);                                                \
    free(after_);                                                 \
  } while (0)

/* GDAL's COG validator, in a separate process: 1 when path is a valid COG. */
static int valid_cog(const char *path) {
  char cmd[1000];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -m osgeo_utils.samples.validate_cloud_optimized_geotiff -q '%s' >/dev/null 2>&1", path);
  int rc = system(cmd);
  return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

/* ---- data -------------------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t next_random(void) { /* xorshift64* */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717u;
}

static int64_t random_in(int64_t lo, int64_t hi) { return lo + (int64_t)(next_random() % (uint64_t)(hi - lo + 1)); }

static size_t dtype_size(int dtype) {
  switch (dtype) {
    case CLOUDIO_BYTE: return 1;
    case CLOUDIO_UINT16: case CLOUDIO_INT16: return 2;
    case CLOUDIO_UINT32: case CLOUDIO_INT32: case CLOUDIO_FLOAT32: return 4;
    default: return 8;
  }
}

/* bands x rows x cols values of dtype with a recognisable pattern
 * (negative values for signed types); malloc'd. */
static void *make_pixels(int dtype, int64_t bands, int64_t rows, int64_t cols, size_t *len) {
  size_t n = (size_t)(bands * rows * cols);
  *len = n * dtype_size(dtype);
  unsigned char *buf = malloc(*len);
  for (size_t i = 0; i < n; i++) {
    int64_t b = (int64_t)i / (rows * cols), r = ((int64_t)i / cols) % rows, c = (int64_t)i % cols;
    int64_t v = (b * 37 + r * 3 + c * 5) % 200;
    switch (dtype) {
      case CLOUDIO_BYTE: buf[i] = (uint8_t)v; break;
      case CLOUDIO_UINT16: ((uint16_t *)(void *)buf)[i] = (uint16_t)(v * 300); break;
      case CLOUDIO_INT16: ((int16_t *)(void *)buf)[i] = (int16_t)((v - 100) * 300); break;
      case CLOUDIO_UINT32: ((uint32_t *)(void *)buf)[i] = (uint32_t)v * 20000000u; break;
      case CLOUDIO_INT32: ((int32_t *)(void *)buf)[i] = (int32_t)(v - 100) * 20000000; break;
      case CLOUDIO_FLOAT32: ((float *)(void *)buf)[i] = (float)(v - 100) / 8.0f; break;
      case CLOUDIO_FLOAT64: ((double *)(void *)buf)[i] = (double)(v - 100) / 3.0; break;
      case CLOUDIO_UINT64: ((uint64_t *)(void *)buf)[i] = (uint64_t)v << 40; break;
      case CLOUDIO_INT64: ((int64_t *)(void *)buf)[i] = (v - 100) * ((int64_t)1 << 40); break;
    }
  }
  return buf;
}

/* A smooth "terrain" with noise in its low bits (so it does not compress to
 * nothing: truncating the file then really cuts into its tiles). */
static float *make_terrain(int rows, int cols) {
  float *z = malloc(sizeof(float) * (size_t)rows * (size_t)cols);
  for (int r = 0; r < rows; r++) {
    for (int c = 0; c < cols; c++) {
      z[r * cols + c] = (float)(300.0 + 80.0 * sin(r / 17.0) * cos(c / 11.0)) + (float)(next_random() % 1000) / 997.0f;
    }
  }
  return z;
}

/* ---- progress ------------------------------------------------------------------ */

#define PROGRESS_MAGIC 0xC10D10u

/* What a progress callback saw; passed as progress_user. */
struct progress {
  unsigned magic;
  int calls, out_of_range, decreasing, wrong_thread;
  double last;
  int cancel_after;    /* return non-zero on this call (1-based); 0: never */
  double cancel_from;  /* or at the first fraction >= this; > 1: never */
  pthread_t thread;
};

static int bad_progress_user; /* callbacks that did not get their user pointer */

static void progress_init(struct progress *p) {
  memset(p, 0, sizeof *p);
  p->magic = PROGRESS_MAGIC;
  p->last = -1;
  p->cancel_from = 2;
  p->thread = pthread_self();
}

static int on_progress(double fraction, const char *message, void *user) {
  struct progress *p = user;
  if (p == NULL || p->magic != PROGRESS_MAGIC) {
    bad_progress_user++;
    return 0;
  }
  if (message != NULL) {
    p->out_of_range += strlen(message) > 100000; /* readable (valgrind checks it) */
  }
  p->calls++;
  p->out_of_range += !(fraction >= 0 && fraction <= 1);
  p->decreasing += fraction < p->last;
  p->wrong_thread += !pthread_equal(p->thread, pthread_self());
  p->last = fraction;
  return (p->cancel_after > 0 && p->calls >= p->cancel_after) || fraction >= p->cancel_from;
}

static int progress_ok(const struct progress *p) {
  return p->calls > 0 && p->out_of_range == 0 && p->decreasing == 0 && p->wrong_thread == 0 && p->last == 1.0;
}

/* ---- version and status names -------------------------------------------------- */

static void test_version(void) {
  CHECK(cloudio_abi_version() == CLOUDIO_ABI_VERSION);
  const char *v = cloudio_version();
  CHECK(v != NULL && strstr(v, "GDAL") != NULL);
  CHECK(strncmp(v, CLOUDIO_VERSION " (GDAL ", strlen(CLOUDIO_VERSION " (GDAL ")) == 0); /* the header's release */
  CHECK(v == cloudio_version()); /* a static string */
  static const struct {
    int code;
    const char *name;
  } names[] = {
      {CLOUDIO_OK, "CLOUDIO_OK"},
      {CLOUDIO_ERR_INVALID_ARGUMENT, "CLOUDIO_ERR_INVALID_ARGUMENT"},
      {CLOUDIO_ERR_NOT_FOUND, "CLOUDIO_ERR_NOT_FOUND"},
      {CLOUDIO_ERR_IO, "CLOUDIO_ERR_IO"},
      {CLOUDIO_ERR_UNSUPPORTED, "CLOUDIO_ERR_UNSUPPORTED"},
      {CLOUDIO_ERR_CANCELLED, "CLOUDIO_ERR_CANCELLED"},
      {CLOUDIO_ERR_INTERNAL, "CLOUDIO_ERR_INTERNAL"},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const char *got = cloudio_status_name(names[i].code);
    if (got == NULL || strcmp(got, names[i].name) != 0) {
      fprintf(stderr, "status %d: name %s\n", names[i].code, got ? got : "(null)");
    }
    CHECK(got != NULL && strcmp(got, names[i].name) == 0);
  }
  static const int unknown[] = {6, 42, 98, 100, -1, INT32_MIN, INT32_MAX};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *got = cloudio_status_name(unknown[i]);
    CHECK(got != NULL && strcmp(got, "CLOUDIO_ERR_UNKNOWN") == 0);
  }
}

/* ---- tile_windows ------------------------------------------------------------------- */

/* Every window of the DESIGN.md algorithm, in order; malloc'd, *n of them. */
static int64_t *reference_windows(int64_t rows, int64_t cols, int64_t tr, int64_t tc, int64_t ov, uint64_t *n) {
  int64_t sr = tr - ov > 1 ? tr - ov : 1, sc = tc - ov > 1 ? tc - ov : 1;
  uint64_t count = 0;
  for (int64_t r = 0; r < rows; r += sr) {
    for (int64_t c = 0; c < cols; c += sc) {
      count++;
    }
  }
  int64_t *out = malloc(sizeof(int64_t) * 4 * (count + 1));
  uint64_t k = 0;
  for (int64_t r = 0; r < rows; r += sr) {
    for (int64_t c = 0; c < cols; c += sc, k++) {
      out[4 * k] = r;
      out[4 * k + 1] = c;
      out[4 * k + 2] = tr < rows - r ? tr : rows - r;
      out[4 * k + 3] = tc < cols - c ? tc : cols - c;
    }
  }
  *n = count;
  return out;
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_tile_windows(void) {
  int64_t out[4 * 10];
  uint64_t written = 99, total = 99;
  static const int64_t want[] = {0, 0, 3, 3, 0, 3, 3, 2, 3, 0, 2, 3, 3, 3, 2, 2};

  /* The example of DESIGN.md; nothing past the last window is touched. */
  for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
    out[i] = -7;
  }
  CHECK_OK(cloudio_tile_windows(5, 5, 3, 3, 0, 0, out, 10, &written, &total, err, sizeof err));
  CHECK(written == 4 && total == 4 && memcmp(out, want, sizeof want) == 0);
  CHECK(out[16] == -7 && out[39] == -7);

  /* A count query. */
  written = total = 99;
  CHECK_OK(cloudio_tile_windows(5, 5, 3, 3, 0, 0, NULL, 0, &written, &total, err, sizeof err));
  CHECK(written == 0 && total == 4);
  /* capacity 0 with a buffer: nothing written into it. */
  out[0] = -7;
  CHECK_OK(cloudio_tile_windows(5, 5, 3, 3, 0, 1, out, 0, &written, &total, err, sizeof err));
  CHECK(written == 0 && total == 4 && out[0] == -7);

  /* Pages from the middle, up to the end, and past it. */
  CHECK_OK(cloudio_tile_windows(5, 5, 3, 3, 0, 1, out, 2, &written, &total, err, sizeof err));
  CHECK(written == 2 && total == 4 && memcmp(out, want + 4, 8 * sizeof *out) == 0);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 2, out, 10, &written, &total, NULL, 0), CLOUDIO_OK);
  CHECK(written == 2 && total == 4 && memcmp(out, want + 8, 8 * sizeof *out) == 0);
  CHECK_OK(cloudio_tile_windows(5, 5, 3, 3, 0, 3, out, 1, &written, &total, err, sizeof err));
  CHECK(written == 1 && memcmp(out, want + 12, 4 * sizeof *out) == 0);
  out[0] = -7;
  CHECK_OK(cloudio_tile_windows(5, 5, 3, 3, 0, 4, out, 10, &written, &total, err, sizeof err));
  CHECK(written == 0 && total == 4 && out[0] == -7);
  CHECK_OK(cloudio_tile_windows(5, 5, 3, 3, 0, 9, out, 10, &written, &total, err, sizeof err));
  CHECK(written == 0 && total == 4 && out[0] == -7);
  CHECK_OK(cloudio_tile_windows(5, 5, 3, 3, 0, UINT64_MAX, out, 10, &written, &total, err, sizeof err));
  CHECK(written == 0 && total == 4 && out[0] == -7);

  /* Empty rasters yield nothing; a tile larger than the raster is clipped. */
  CHECK_OK(cloudio_tile_windows(0, 5, 3, 3, 0, 0, out, 10, &written, &total, err, sizeof err));
  CHECK(written == 0 && total == 0);
  CHECK_OK(cloudio_tile_windows(7, 0, 3, 3, 2, 0, out, 10, &written, &total, err, sizeof err));
  CHECK(written == 0 && total == 0);
  CHECK_OK(cloudio_tile_windows(2, 3, 1024, 1024, 0, 0, out, 10, &written, &total, err, sizeof err));
  CHECK(written == 1 && total == 1 && out[0] == 0 && out[1] == 0 && out[2] == 2 && out[3] == 3);
  /* Overlap of the tile size or more: a step of 1. */
  static const int64_t step1[] = {0, 0, 2, 2, 0, 1, 2, 2, 0, 2, 2, 1, 1, 0, 2, 2, 1, 1, 2, 2, 1, 2, 2, 1, 2, 0, 1, 2};
  CHECK_OK(cloudio_tile_windows(3, 3, 2, 2, 5, 0, out, 10, &written, &total, err, sizeof err));
  CHECK(written == 9 && total == 9 && memcmp(out, step1, sizeof step1) == 0);
  CHECK_OK(cloudio_tile_windows(3, 3, 2, 2, 2, 0, out, 10, &written, &total, err, sizeof err));
  CHECK(written == 9 && total == 9 && memcmp(out, step1, sizeof step1) == 0);

  /* Pseudo-random shapes against the reference: the whole list, then a page
   * from a random first window. */
  int shapes_ok = 0;
  const int shapes = 200;
  for (int k = 0; k < shapes; k++) {
    int64_t rows = random_in(0, 45), cols = random_in(0, 45), tr = random_in(1, 16), tc = random_in(1, 16);
    int64_t ov = k % 5 == 0 ? random_in(tr < tc ? tr : tc, 20) : random_in(0, 20); /* 1 in 5: overlap >= tile */
    uint64_t n = 0;
    int64_t *ref = reference_windows(rows, cols, tr, tc, ov, &n);
    int64_t *all = malloc(sizeof(int64_t) * 4 * (n + 3));
    int ok = cloudio_tile_windows(rows, cols, tr, tc, ov, 0, NULL, 0, &written, &total, err, sizeof err) == CLOUDIO_OK &&
             total == n && written == 0;
    ok = ok && cloudio_tile_windows(rows, cols, tr, tc, ov, 0, all, n + 3, &written, &total, err, sizeof err) == CLOUDIO_OK &&
         written == n && total == n && (n == 0 || memcmp(all, ref, sizeof(int64_t) * 4 * n) == 0);
    uint64_t first = (uint64_t)random_in(0, (int64_t)n + 2), cap = (uint64_t)random_in(1, 9);
    uint64_t expect = first >= n ? 0 : (n - first < cap ? n - first : cap);
    ok = ok && cloudio_tile_windows(rows, cols, tr, tc, ov, first, all, cap, &written, &total, err, sizeof err) == CLOUDIO_OK &&
         written == expect && total == n && (expect == 0 || memcmp(all, ref + 4 * first, sizeof(int64_t) * 4 * expect) == 0);
    if (!ok) {
      fprintf(stderr, "tile_windows(%lld, %lld, %lld, %lld, %lld) differs from the reference (first %llu)\n", (long long)rows,
              (long long)cols, (long long)tr, (long long)tc, (long long)ov, (unsigned long long)first);
    }
    shapes_ok += ok;
    free(all);
    free(ref);
  }
  CHECK(shapes_ok == shapes);

  /* A 2^31 x 2^31 raster in 1 x 1 tiles: 2^62 windows, counted and paged
   * at once whatever first is. */
  const int64_t side = (int64_t)1 << 31;
  const uint64_t huge = (uint64_t)1 << 62;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_OK(cloudio_tile_windows(side, side, 1, 1, 0, 0, NULL, 0, &written, &total, err, sizeof err));
  CHECK(total == huge && written == 0);
  CHECK_OK(cloudio_tile_windows(side, side, 1, 1, 0, huge - 3, out, 10, &written, &total, err, sizeof err));
  CHECK(written == 3 && total == huge);
  CHECK(out[0] == side - 1 && out[1] == side - 3 && out[2] == 1 && out[3] == 1);
  CHECK(out[4] == side - 1 && out[5] == side - 2 && out[6] == 1 && out[7] == 1);
  CHECK(out[8] == side - 1 && out[9] == side - 1 && out[10] == 1 && out[11] == 1);
  CHECK_OK(cloudio_tile_windows(side, side, 1, 1, 0, huge / 2 + 5, out, 2, &written, &total, err, sizeof err));
  CHECK(written == 2 && out[0] == side / 2 && out[1] == 5 && out[4] == side / 2 && out[5] == 6);
  /* An overlap near the tile size: step 1, windows clipped at the edge. */
  CHECK_OK(cloudio_tile_windows(side, side, 1024, 1024, 1023, huge - 1, out, 10, &written, &total, err, sizeof err));
  CHECK(written == 1 && total == huge && out[0] == side - 1 && out[1] == side - 1 && out[2] == 1 && out[3] == 1);
  CHECK(seconds_since(&t0) < 2.0);

  /* Errors: outputs untouched, messages exact where DESIGN.md fixes them. */
  written = total = 77;
  out[0] = -7;
  CHECK_STATUS(cloudio_tile_windows(5, 5, 0, 3, 0, 0, out, 10, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(err, "tile_rows and tile_cols must be positive") == 0);
  CHECK(written == 77 && total == 77);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 0, 0, 0, out, 10, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(err, "tile_rows and tile_cols must be positive") == 0);
  CHECK_STATUS(cloudio_tile_windows(5, 5, -3, 3, 0, 0, out, 10, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(err, "tile_rows and tile_cols must be positive") == 0);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, INT64_MIN, 0, 0, out, 10, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(err, "tile_rows and tile_cols must be positive") == 0);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, -1, 0, out, 10, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(err, "overlap must be >= 0") == 0);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, INT64_MIN, 0, out, 10, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(err, "overlap must be >= 0") == 0);
  CHECK_STATUS(cloudio_tile_windows(-5, 5, 3, 3, 0, 0, out, 10, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(err[0] != '\0');
  CHECK_STATUS(cloudio_tile_windows(5, -1, 3, 3, 0, 0, out, 10, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_tile_windows(side + 1, 5, 3, 3, 0, 0, out, 10, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_tile_windows(5, side + 1, 3, 3, 0, 0, out, 10, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_tile_windows(INT64_MAX, INT64_MAX, 1, 1, 0, 0, out, 10, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(written == 77 && total == 77 && out[0] == -7);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 0, out, 10, NULL, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 0, out, 10, &written, NULL, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 0, NULL, 1, &written, &total, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(written == 77 && total == 77);
}

/* ---- error buffers -------------------------------------------------------------------- */

/* Buffers of every size get a NUL-terminated prefix of the message, and
 * nothing past err_len is written. */
static int truncates_cleanly(const char *full, size_t err_len, const char *buf, size_t buf_size) {
  size_t n = strnlen(buf, buf_size);
  if (n >= err_len || strncmp(buf, full, n) != 0) {
    return 0;
  }
  for (size_t i = err_len; i < buf_size; i++) {
    if (buf[i] != 'Z') {
      return 0;
    }
  }
  return 1;
}

static void test_error_buffers(void) {
  const char *msg = "tile_rows and tile_cols must be positive";
  uint64_t written, total;
  char buf[64];

  /* NULL / 0: the status alone. */
  CHECK_STATUS(cloudio_tile_windows(5, 5, 0, 0, 0, 0, NULL, 0, &written, &total, NULL, 0),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 0, 0, 0, 0, NULL, 0, &written, &total, NULL, 100),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  /* A 0-length buffer is not touched. */
  memset(buf, 'Z', sizeof buf);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 0, 0, 0, 0, NULL, 0, &written, &total, buf, 0),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(buf[0] == 'Z' && buf[sizeof buf - 1] == 'Z');
  /* 1 byte: just the NUL. */
  memset(buf, 'Z', sizeof buf);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 0, 0, 0, 0, NULL, 0, &written, &total, buf, 1),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(buf[0] == '\0' && buf[1] == 'Z');
  /* 8 bytes: 7 characters and the NUL. */
  memset(buf, 'Z', sizeof buf);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 0, 0, 0, 0, NULL, 0, &written, &total, buf, 8),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(buf, "tile_ro") == 0 && buf[8] == 'Z');
  /* One byte short, exactly enough, and more than enough. */
  memset(buf, 'Z', sizeof buf);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 0, 0, 0, 0, NULL, 0, &written, &total, buf, strlen(msg)),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strlen(buf) == strlen(msg) - 1 && strncmp(buf, msg, strlen(msg) - 1) == 0 && buf[strlen(msg)] == 'Z');
  memset(buf, 'Z', sizeof buf);
  CHECK_STATUS(cloudio_tile_windows(5, 5, 0, 0, 0, 0, NULL, 0, &written, &total, buf, strlen(msg) + 1),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(buf, msg) == 0 && buf[strlen(msg) + 1] == 'Z');
  /* Every size from 1 to past the message. */
  int sizes_ok = 0;
  for (size_t n = 1; n <= strlen(msg) + 3; n++) {
    memset(buf, 'Z', sizeof buf);
    cloudio_tile_windows(5, 5, 0, 0, 0, 0, NULL, 0, &written, &total, buf, n);
    sizes_ok += truncates_cleanly(msg, n, buf, sizeof buf) && strlen(buf) == (n - 1 < strlen(msg) ? n - 1 : strlen(msg));
  }
  CHECK(sizes_ok == (int)strlen(msg) + 3);

  /* A message with multi-byte UTF-8 (the path), cut at every size. */
  path_t missing = in_dir("d\xc3\xa9j\xc3\xa0-vu.tif"); /* "déjà-vu.tif" */
  cloudio_dataset *ds = NULL;
  char full[1024];
  CHECK_STATUS(cloudio_dataset_open(missing.s, &ds, full, sizeof full), CLOUDIO_ERR_NOT_FOUND);
  CHECK(strlen(full) > 10 && strlen(full) < sizeof buf * 8 && strstr(full, "d\xc3\xa9j\xc3\xa0") != NULL);
  char *big = malloc(strlen(full) + 16);
  int utf8_ok = 0;
  size_t len = strlen(full);
  for (size_t n = 1; n <= len + 2; n++) {
    memset(big, 'Z', len + 16);
    cloudio_dataset_open(missing.s, &ds, big, n);
    utf8_ok += truncates_cleanly(full, n, big, len + 16);
  }
  CHECK(utf8_ok == (int)len + 2);
  free(big);

  /* Success clears the buffer. */
  strcpy(buf, "left over");
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 0, NULL, 0, &written, &total, buf, sizeof buf), CLOUDIO_OK);
  CHECK(buf[0] == '\0');
  /* ... but not a buffer of length 0. */
  strcpy(buf, "left over");
  CHECK_STATUS(cloudio_tile_windows(5, 5, 3, 3, 0, 0, NULL, 0, &written, &total, buf, 0), CLOUDIO_OK);
  CHECK(strcmp(buf, "left over") == 0);

  /* The same conventions from a function that goes through GDAL. */
  path_t none = in_dir("none.tif"), out = in_dir("out.tif");
  memset(buf, 'Z', sizeof buf);
  CHECK_STATUS(cloudio_write_cog(none.s, out.s, NULL, NULL, NULL, NULL, buf, 8), CLOUDIO_ERR_NOT_FOUND);
  CHECK(strlen(buf) == 7 && buf[8] == 'Z');
  memset(buf, 'Z', sizeof buf);
  CHECK_STATUS(cloudio_write_cog(none.s, out.s, NULL, NULL, NULL, NULL, buf, 0), CLOUDIO_ERR_NOT_FOUND);
  CHECK(buf[0] == 'Z');
  CHECK_STATUS(cloudio_write_cog(none.s, out.s, NULL, NULL, NULL, NULL, NULL, 0), CLOUDIO_ERR_NOT_FOUND);
}

/* ---- write_cog_buffer ----------------------------------------------------------------------- */

static const double gt_utm[6] = {500000, 30, 0, 4500000, 0, -30};

/* Info of a raster through the library. */
static int info_of(const char *path, cloudio_info *info) {
  cloudio_dataset *ds = NULL;
  if (cloudio_dataset_open(path, &ds, err, sizeof err) != CLOUDIO_OK) {
    return 0;
  }
  int ok = cloudio_dataset_info(ds, info, err, sizeof err) == CLOUDIO_OK;
  return cloudio_dataset_close(ds, err, sizeof err) == CLOUDIO_OK && ok;
}

/* The raster's CRS as WKT, malloc'd ("" without one). */
static char *crs_of(const char *path) {
  cloudio_dataset *ds = NULL;
  char *wkt = NULL;
  size_t needed = 0;
  if (cloudio_dataset_open(path, &ds, err, sizeof err) == CLOUDIO_OK &&
      cloudio_dataset_crs(ds, NULL, 0, &needed, err, sizeof err) == CLOUDIO_OK && needed > 0) {
    wkt = malloc(needed);
    if (cloudio_dataset_crs(ds, wkt, needed, NULL, err, sizeof err) != CLOUDIO_OK) {
      free(wkt);
      wkt = NULL;
    }
  }
  if (ds != NULL) {
    cloudio_dataset_close(ds, err, sizeof err);
  }
  return wkt ? wkt : strdup("(unreadable)");
}

/* The whole raster read back through the library in its own type. */
static int reads_back(const char *path, const void *want, size_t len) {
  cloudio_dataset *ds = NULL;
  cloudio_info info;
  if (cloudio_dataset_open(path, &ds, err, sizeof err) != CLOUDIO_OK) {
    return 0;
  }
  void *got = malloc(len);
  int ok = cloudio_dataset_info(ds, &info, err, sizeof err) == CLOUDIO_OK &&
           cloudio_dataset_read(ds, 0, 0, info.rows, info.cols, NULL, 0, 0, got, len, err, sizeof err) == CLOUDIO_OK &&
           memcmp(got, want, len) == 0;
  free(got);
  return cloudio_dataset_close(ds, err, sizeof err) == CLOUDIO_OK && ok;
}

static void test_write_cog_buffer(void) {
  /* Every data type, one band and three, read back through the library. */
  static const int dtypes[] = {CLOUDIO_BYTE,    CLOUDIO_UINT16,  CLOUDIO_INT16,  CLOUDIO_UINT32, CLOUDIO_INT32,
                               CLOUDIO_FLOAT32, CLOUDIO_FLOAT64, CLOUDIO_UINT64, CLOUDIO_INT64};
  for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
    int dtype = dtypes[i];
    int64_t bands = i % 2 ? 3 : 1, rows = 23, cols = 31;
    size_t len;
    void *data = make_pixels(dtype, bands, rows, cols, &len);
    char name[64];
    snprintf(name, sizeof name, "dtype%d.tif", dtype);
    path_t p = in_dir(name);
    CHECK_OK(cloudio_write_cog_buffer(data, len, dtype, bands, rows, cols, gt_utm, "EPSG:32633", NULL, p.s, NULL, NULL,
                                      NULL, NULL, err, sizeof err));
    cloudio_info info;
    CHECK(info_of(p.s, &info) && info.dtype == dtype && info.bands == bands && info.rows == rows && info.cols == cols);
    if (dtype == CLOUDIO_INT64 || dtype == CLOUDIO_UINT64) {
      /* Buffers of 64-bit integers cannot be read (documented). */
      cloudio_dataset *ds = NULL;
      CHECK_OK(cloudio_dataset_open(p.s, &ds, err, sizeof err));
      void *back = malloc(len);
      CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, rows, cols, NULL, 0, 0, back, len, err, sizeof err),
                   CLOUDIO_ERR_UNSUPPORTED);
      free(back);
      CHECK_OK(cloudio_dataset_close(ds, err, sizeof err));
    } else {
      CHECK(reads_back(p.s, data, len));
    }
    remove(p.s);
    free(data);
  }

  /* Float32 with georeferencing, in 128 x 128 blocks so that it has
   * overviews, with progress from the calling thread. */
  enum { ROWS = 300, COLS = 200 };
  float *z = make_terrain(ROWS, COLS);
  const size_t zlen = sizeof(float) * ROWS * COLS;
  const double nodata = -9999;
  path_t f32 = in_dir("f32.tif");
  const char *const blocks128[] = {"BLOCKSIZE=128", NULL};
  struct progress prog;
  progress_init(&prog);
  CHECK_OK(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, gt_utm, "EPSG:32633", &nodata, f32.s, NULL,
                                    blocks128, on_progress, &prog, err, sizeof err));
  CHECK(progress_ok(&prog));
  CHECK(valid_cog(f32.s));
  cloudio_info info;
  CHECK(info_of(f32.s, &info));
  CHECK(info.rows == ROWS && info.cols == COLS && info.bands == 1 && info.dtype == CLOUDIO_FLOAT32);
  CHECK(info.block_rows == 128 && info.block_cols == 128);
  CHECK(info.has_geotransform && memcmp(info.geotransform, gt_utm, sizeof gt_utm) == 0);
  CHECK(info.has_nodata && info.nodata == -9999);
  char *wkt = crs_of(f32.s);
  CHECK(strstr(wkt, "32633") != NULL && strstr(wkt, "UTM") != NULL);
  CHECK(reads_back(f32.s, z, zlen));

  /* Int16, a bare EPSG code, LZW. */
  size_t len;
  int16_t *i16 = make_pixels(CLOUDIO_INT16, 1, 64, 80, &len);
  const double nodata16 = -32768;
  path_t p16 = in_dir("i16.tif");
  CHECK_OK(cloudio_write_cog_buffer(i16, len, CLOUDIO_INT16, 1, 64, 80, gt_utm, "32633", &nodata16, p16.s, "LZW", NULL,
                                    NULL, NULL, err, sizeof err));
  CHECK(info_of(p16.s, &info) && info.dtype == CLOUDIO_INT16 && info.has_nodata && info.nodata == -32768);
  char *wkt16 = crs_of(p16.s);
  CHECK(strcmp(wkt16, wkt) == 0);
  free(wkt16);
  free(i16);

  /* Byte, 3 bands, no georeferencing at all, zstd. */
  uint8_t *rgb = make_pixels(CLOUDIO_BYTE, 3, 50, 70, &len);
  path_t p8 = in_dir("rgb.tif");
  CHECK_OK(cloudio_write_cog_buffer(rgb, len, CLOUDIO_BYTE, 3, 50, 70, NULL, NULL, NULL, p8.s, "zstd", NULL, NULL, NULL,
                                    err, sizeof err));
  CHECK(valid_cog(p8.s));
  CHECK(info_of(p8.s, &info) && info.bands == 3 && info.dtype == CLOUDIO_BYTE && !info.has_nodata);
  CHECK(info.has_geotransform == 0);
  CHECK(info.geotransform[0] == 0 && info.geotransform[1] == 1 && info.geotransform[5] == 1); /* GDAL's default */
  char *none = crs_of(p8.s);
  CHECK(strcmp(none, "") == 0);
  free(none);
  CHECK(reads_back(p8.s, rgb, len));
  free(rgb);

  /* Float64, 3 bands, a WKT crs, NaN nodata, "" crs meaning none elsewhere. */
  double *f64 = make_pixels(CLOUDIO_FLOAT64, 3, 40, 30, &len);
  const double nan_nodata = NAN;
  path_t p64 = in_dir("f64.tif");
  progress_init(&prog);
  CHECK_OK(cloudio_write_cog_buffer(f64, len, CLOUDIO_FLOAT64, 3, 40, 30, gt_utm, wkt, &nan_nodata, p64.s, "Deflate",
                                    NULL, on_progress, &prog, err, sizeof err));
  CHECK(progress_ok(&prog));
  CHECK(info_of(p64.s, &info) && info.bands == 3 && info.dtype == CLOUDIO_FLOAT64 && info.has_nodata &&
        isnan(info.nodata));
  char *wkt64 = crs_of(p64.s);
  CHECK(strstr(wkt64, "32633") != NULL);
  free(wkt64);
  CHECK(reads_back(p64.s, f64, len));
  path_t nocrs = in_dir("nocrs.tif");
  CHECK_OK(cloudio_write_cog_buffer(f64, len, CLOUDIO_FLOAT64, 3, 40, 30, NULL, "", NULL, nocrs.s, NULL, NULL, NULL,
                                    NULL, err, sizeof err));
  char *empty = crs_of(nocrs.s);
  CHECK(strcmp(empty, "") == 0);
  free(empty);
  remove(nocrs.s);

  /* Cancelled: at the first call, half-way, and at the very last call. */
  path_t cancelled = in_dir("cancelled.tif");
  for (int when = 0; when < 3; when++) {
    progress_init(&prog);
    if (when == 0) {
      prog.cancel_after = 1;
    } else if (when == 1) {
      prog.cancel_from = 0.5;
    } else {
      prog.cancel_from = 1.0;
    }
    CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(f64, len, CLOUDIO_FLOAT64, 3, 40, 30, gt_utm, "EPSG:32633", NULL,
                                                 cancelled.s, NULL, NULL, on_progress, &prog, err, sizeof err),
                        CLOUDIO_ERR_CANCELLED, cancelled.s);
    CHECK(prog.calls >= 1);
  }

  /* Errors: nothing appears at the destination. */
  path_t dst = in_dir("never.tif"), nodir = in_dir("no-such-dir/never.tif");
  const char *const bad_key[] = {"FOO=1", NULL}, *const bad_value[] = {"BLOCKSIZE=abc", NULL};
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(NULL, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, dst.s, NULL,
                                               NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, 0, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, dst.s, NULL,
                                               NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen - 1, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, dst.s,
                                               NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS - 1, NULL, NULL, NULL, dst.s,
                                               NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT64, 1, ROWS, COLS, NULL, NULL, NULL, dst.s, NULL,
                                               NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  /* A data_len beyond PTRDIFF_MAX is a data_len that does not match. */
  {
    char *before = snapshot_of(dir);
    int rc = cloudio_write_cog_buffer(z, SIZE_MAX, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, dst.s, NULL, NULL,
                                      NULL, NULL, err, sizeof err);
    CHECK(rc != CLOUDIO_OK && absent(dst.s));
    CHECK(rc == CLOUDIO_ERR_INVALID_ARGUMENT);
    char *after = snapshot_of(dir);
    CHECK(strcmp(before, after) == 0);
    free(before);
    free(after);
  }
  static const int bad_dtypes[] = {0, 8, 11, 14, 99, -1};
  for (size_t i = 0; i < sizeof bad_dtypes / sizeof bad_dtypes[0]; i++) {
    CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, bad_dtypes[i], 1, ROWS, COLS, NULL, NULL, NULL, dst.s, NULL,
                                                 NULL, NULL, NULL, err, sizeof err),
                        CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  }
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 0, ROWS, COLS, NULL, NULL, NULL, dst.s, NULL,
                                               NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, 0, COLS, NULL, NULL, NULL, dst.s, NULL,
                                               NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, 0, NULL, NULL, NULL, dst.s, NULL,
                                               NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, -1, -ROWS, COLS, NULL, NULL, NULL, dst.s,
                                               NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, -ROWS, -COLS, NULL, NULL, NULL, dst.s, NULL,
                                               NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, gt_utm, "NOT_A_CRS", NULL,
                                               dst.s, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, NULL, NULL,
                                               NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, "", NULL,
                                               NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, dst.s, "foo",
                                               NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, dst.s, NULL,
                                               bad_key, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, dst.s, NULL,
                                               bad_value, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, nodir.s, NULL,
                                               NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_NOT_FOUND, nodir.s);
  char bad_utf8[700];
  snprintf(bad_utf8, sizeof bad_utf8, "%s/\xff\xfe" ".tif", dir);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, bad_utf8, NULL,
                                               NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, bad_utf8);
  CHECK_FAILS_CLEANLY(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL,
                                               "https://example.com/x.tif", NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);

  /* An existing destination survives failed overwrites. */
  size_t keep_len = 0;
  unsigned char *keep = slurp(f32.s, &keep_len);
  CHECK(keep != NULL && keep_len > 0);
  CHECK_FAILS_KEEPS(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, "NOT_A_CRS", NULL, f32.s,
                                             NULL, NULL, NULL, NULL, err, sizeof err),
                    CLOUDIO_ERR_INVALID_ARGUMENT, f32.s, keep, keep_len);
  CHECK_FAILS_KEEPS(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, f32.s, "foo",
                                             NULL, NULL, NULL, err, sizeof err),
                    CLOUDIO_ERR_INVALID_ARGUMENT, f32.s, keep, keep_len);
  progress_init(&prog);
  prog.cancel_from = 0.5;
  CHECK_FAILS_KEEPS(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, NULL, NULL, NULL, f32.s, NULL,
                                             NULL, on_progress, &prog, err, sizeof err),
                    CLOUDIO_ERR_CANCELLED, f32.s, keep, keep_len);
  free(keep);

  free(f64);
  free(wkt);
  free(z);
  remove(p16.s);
  remove(p8.s);
  remove(p64.s);
  /* f32.tif stays: test_write_cog reads it. */
}

/* ---- validate and info ----------------------------------------------------------------------- */

static void test_validate_and_info(void) {
  path_t cog = in_dir("f32.tif"), edited = in_dir("edited.tif"), text = in_dir("text.tif"), missing = in_dir("missing.tif");
  int valid = -1;
  CHECK_OK(cloudio_validate(cog.s, &valid, err, sizeof err));
  CHECK(valid == 1);

  /* A COG whose ghost header declares an edit: invalid, the reason in err. */
  size_t len = 0;
  unsigned char *bytes = slurp(cog.s, &len);
  const char *claim = "KNOWN_INCOMPATIBLE_EDITION=NO\n";
  unsigned char *at = NULL;
  for (size_t i = 0; bytes != NULL && at == NULL && i + strlen(claim) <= len; i++) {
    if (memcmp(bytes + i, claim, strlen(claim)) == 0) {
      at = bytes + i;
    }
  }
  CHECK(at != NULL);
  if (at != NULL) {
    memcpy(at, "KNOWN_INCOMPATIBLE_EDITION=YES", strlen(claim));
  }
  write_prefix(edited.s, bytes, len);
  free(bytes);
  valid = -1;
  CHECK_STATUS(cloudio_validate(edited.s, &valid, err, sizeof err), CLOUDIO_OK);
  CHECK(valid == 0 && strcmp(err, "KNOWN_INCOMPATIBLE_EDITION=YES is declared in the file") == 0);

  /* The report: a size query, then every finding, one per line. */
  size_t needed = 0;
  valid = -1;
  CHECK_OK(cloudio_validate_report(edited.s, CLOUDIO_VALIDATE_FULL, &valid, NULL, 0, &needed, err, sizeof err));
  CHECK(valid == 0 && needed > 1);
  char *report = malloc(needed);
  CHECK_STATUS(cloudio_validate_report(edited.s, CLOUDIO_VALIDATE_AUTO, NULL, report, needed - 1, NULL, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_OK(cloudio_validate_report(edited.s, CLOUDIO_VALIDATE_QUICK, NULL, report, needed, NULL, err, sizeof err));
  CHECK(strcmp(report, "error: KNOWN_INCOMPATIBLE_EDITION=YES is declared in the file\n") == 0);
  free(report);
  char empty[4] = "x";
  CHECK_OK(cloudio_validate_report(cog.s, CLOUDIO_VALIDATE_AUTO, &valid, empty, sizeof empty, &needed, err, sizeof err));
  CHECK(valid == 1 && needed == 1 && empty[0] == '\0');

  /* Not a TIFF: invalid. Missing: NOT_FOUND. Bad arguments. */
  write_text(text.s, "not a raster");
  CHECK_STATUS(cloudio_validate(text.s, &valid, err, sizeof err), CLOUDIO_OK);
  CHECK(valid == 0 && strstr(err, "not a GeoTIFF") != NULL);
  valid = -1;
  CHECK_STATUS(cloudio_validate(missing.s, &valid, err, sizeof err), CLOUDIO_ERR_NOT_FOUND);
  CHECK(valid == -1);
  CHECK_STATUS(cloudio_validate(NULL, &valid, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_validate(cog.s, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_validate_report(cog.s, 7, &valid, NULL, 0, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_validate_report(missing.s, CLOUDIO_VALIDATE_AUTO, &valid, NULL, 0, NULL, err, sizeof err),
               CLOUDIO_ERR_NOT_FOUND);

  /* info: JSON, with a size query. */
  needed = 0;
  CHECK_OK(cloudio_info_json(cog.s, NULL, 0, &needed, err, sizeof err));
  char *json = malloc(needed);
  CHECK_STATUS(cloudio_info_json(cog.s, json, needed - 1, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_OK(cloudio_info_json(cog.s, json, needed, NULL, err, sizeof err));
  CHECK(strlen(json) + 1 == needed && json[0] == '{' && strstr(json, "\"rows\":300,\"cols\":200,\"bands\":1") != NULL &&
        strstr(json, "\"dtype\":\"float32\"") != NULL && strstr(json, "\"epsg\":32633") != NULL &&
        strstr(json, "\"nodata\":-9999") != NULL && strstr(json, "\"cog\":true") != NULL);
  CHECK(strstr(json, "\"statistics\":{\"minimum\":") != NULL); /* recorded by cloudio_write_cog_buffer */
  free(json);
  CHECK_STATUS(cloudio_info_json(missing.s, NULL, 0, &needed, err, sizeof err), CLOUDIO_ERR_NOT_FOUND);
  CHECK_STATUS(cloudio_info_json(text.s, NULL, 0, &needed, err, sizeof err), CLOUDIO_ERR_IO);
  CHECK_STATUS(cloudio_info_json(NULL, NULL, 0, &needed, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  remove(edited.s);
  remove(text.s);
}

/* ---- write_cog ------------------------------------------------------------------------------- */

static void test_write_cog(void) {
  path_t src = in_dir("f32.tif"), dst = in_dir("cog.tif");
  CHECK(exists(src.s));

  /* Compress methods in any case, and options. */
  static const char *const methods[] = {NULL, "zstd", "LZW", "DeFlAtE", "none"};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    CHECK_OK(cloudio_write_cog(src.s, dst.s, methods[i], NULL, NULL, NULL, err, sizeof err));
    CHECK(file_size(dst.s) > 0);
    if (i == 0) {
      CHECK(valid_cog(dst.s));
    }
  }
  const char *const opts[] = {"BLOCKSIZE=256", "PREDICTOR=NO", NULL};
  CHECK_OK(cloudio_write_cog(src.s, dst.s, "zstd", opts, NULL, NULL, err, sizeof err));
  CHECK(valid_cog(dst.s));
  cloudio_info info;
  CHECK(info_of(dst.s, &info) && info.block_rows == 256 && info.block_cols == 256 && info.dtype == CLOUDIO_FLOAT32 &&
        info.has_nodata && info.nodata == -9999 && info.has_geotransform &&
        memcmp(info.geotransform, gt_utm, sizeof gt_utm) == 0);
  char *wkt = crs_of(dst.s);
  CHECK(strstr(wkt, "32633") != NULL);
  free(wkt);
  const char *const lower[] = {"blocksize=128", "level=1", NULL}; /* keys in any case */
  CHECK_OK(cloudio_write_cog(src.s, dst.s, NULL, lower, NULL, NULL, err, sizeof err));
  CHECK(info_of(dst.s, &info) && info.block_rows == 128);
  const char *const empty_opts[] = {NULL};
  CHECK_OK(cloudio_write_cog(src.s, dst.s, NULL, empty_opts, NULL, NULL, err, sizeof err));

  /* Progress: in [0, 1], never decreasing, ending at 1, on this thread, with
   * the user pointer passed through. */
  struct progress prog;
  progress_init(&prog);
  CHECK_OK(cloudio_write_cog(src.s, dst.s, NULL, NULL, on_progress, &prog, err, sizeof err));
  CHECK(progress_ok(&prog));
  CHECK(bad_progress_user == 0);
  int full_calls = prog.calls;

  /* Cancelled at the first call, after two, and at the last (1.0): nothing
   * at dst, no temporary file left. */
  remove(dst.s);
  for (int when = 0; when < 3; when++) {
    progress_init(&prog);
    if (when == 0) {
      prog.cancel_after = 1;
    } else if (when == 1) {
      prog.cancel_after = full_calls > 2 ? 2 : 1;
    } else {
      prog.cancel_from = 1.0;
    }
    CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, dst.s, NULL, NULL, on_progress, &prog, err, sizeof err),
                        CLOUDIO_ERR_CANCELLED, dst.s);
    CHECK(prog.calls == (when == 0 ? 1 : when == 1 ? prog.cancel_after : full_calls));
  }

  /* Errors. */
  path_t text = in_dir("text.tif"), missing = in_dir("missing.tif"), nodir = in_dir("no-such-dir/x.tif");
  path_t zero_bands = in_dir("zero-bands.pix");
  write_text(text.s, "this is not a raster\n");
  CHECK(!valid_cog(text.s)); /* the validator does say no */
  const char *const bad_key[] = {"FOO=1", NULL}, *const bad_value[] = {"BLOCKSIZE=abc", NULL};
  const char *const no_eq[] = {"BLOCKSIZE", NULL}, *const no_key[] = {"=256", NULL};
  const char *const bad_choice[] = {"PREDICTOR=SOMETIMES", NULL}, *const second_bad[] = {"BLOCKSIZE=256", "FOO=1", NULL};
  CHECK_FAILS_CLEANLY(cloudio_write_cog(NULL, dst.s, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, NULL, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  CHECK_FAILS_CLEANLY(cloudio_write_cog("", dst.s, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, "", NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, dst.s, "foo", NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK(strstr(err, "FOO") != NULL || strstr(err, "foo") != NULL);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, dst.s, NULL, bad_key, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK(strstr(err, "FOO") != NULL);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, dst.s, NULL, bad_value, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK(strstr(err, "abc") != NULL);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, dst.s, NULL, no_eq, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, dst.s, NULL, no_key, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, dst.s, NULL, bad_choice, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, dst.s, NULL, second_bad, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(missing.s, dst.s, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_NOT_FOUND, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(text.s, dst.s, NULL, NULL, NULL, NULL, err, sizeof err), CLOUDIO_ERR_IO,
                      dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, nodir.s, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_NOT_FOUND, nodir.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, src.s, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  CHECK(exists(src.s));
  char same[800];
  snprintf(same, sizeof same, "%s/./f32.tif", dir); /* the source under another spelling */
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, same, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  CHECK(exists(src.s));
  char bad_utf8[700];
  snprintf(bad_utf8, sizeof bad_utf8, "/tmp/\xff" ".tif");
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, bad_utf8, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, bad_utf8);
  snprintf(bad_utf8, sizeof bad_utf8, "%s/\xc3\x28" ".tif", dir); /* a broken 2-byte sequence */
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, bad_utf8, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, bad_utf8);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(bad_utf8, dst.s, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, dst.s);
  CHECK_FAILS_CLEANLY(cloudio_write_cog(src.s, "https://example.com/x.tif", NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  /* A destination that is a directory is refused and stays a directory. */
  path_t subdir = in_dir("a-directory.tif");
  mkdir(subdir.s, 0700);
  {
    char *before = snapshot_of(dir);
    CHECK(cloudio_write_cog(src.s, subdir.s, NULL, NULL, NULL, NULL, err, sizeof err) != CLOUDIO_OK);
    struct stat st;
    CHECK(stat(subdir.s, &st) == 0 && S_ISDIR(st.st_mode));
    char *after = snapshot_of(dir);
    CHECK(strcmp(before, after) == 0);
    free(before);
    free(after);
  }
  rmdir(subdir.s);
  /* A raster without bands cannot become a COG. */
  char cmd[1000];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"from osgeo import gdal; gdal.GetDriverByName('PCIDSK').Create('%s', 4, 4, 0)\"",
           zero_bands.s);
  CHECK(system(cmd) == 0 && exists(zero_bands.s));
  {
    char *before = snapshot_of(dir);
    CHECK(cloudio_write_cog(zero_bands.s, dst.s, NULL, NULL, NULL, NULL, err, sizeof err) != CLOUDIO_OK);
    CHECK(absent(dst.s) && err[0] != '\0');
    char *after = snapshot_of(dir);
    CHECK(strcmp(before, after) == 0);
    free(before);
    free(after);
  }

  /* An existing destination survives failed overwrites, byte for byte. */
  CHECK_OK(cloudio_write_cog(src.s, dst.s, "LZW", NULL, NULL, NULL, err, sizeof err));
  size_t keep_len = 0;
  unsigned char *keep = slurp(dst.s, &keep_len);
  CHECK(keep != NULL && keep_len > 0);
  CHECK_FAILS_KEEPS(cloudio_write_cog(text.s, dst.s, NULL, NULL, NULL, NULL, err, sizeof err), CLOUDIO_ERR_IO, dst.s,
                    keep, keep_len);
  CHECK_FAILS_KEEPS(cloudio_write_cog(missing.s, dst.s, NULL, NULL, NULL, NULL, err, sizeof err),
                    CLOUDIO_ERR_NOT_FOUND, dst.s, keep, keep_len);
  CHECK_FAILS_KEEPS(cloudio_write_cog(src.s, dst.s, "foo", NULL, NULL, NULL, err, sizeof err),
                    CLOUDIO_ERR_INVALID_ARGUMENT, dst.s, keep, keep_len);
  CHECK_FAILS_KEEPS(cloudio_write_cog(src.s, dst.s, NULL, bad_value, NULL, NULL, err, sizeof err),
                    CLOUDIO_ERR_INVALID_ARGUMENT, dst.s, keep, keep_len);
  for (int when = 0; when < 2; when++) {
    progress_init(&prog);
    prog.cancel_after = when == 0 ? 1 : 0;
    prog.cancel_from = when == 0 ? 2 : 1.0;
    CHECK_FAILS_KEEPS(cloudio_write_cog(src.s, dst.s, "zstd", NULL, on_progress, &prog, err, sizeof err),
                      CLOUDIO_ERR_CANCELLED, dst.s, keep, keep_len);
  }
  free(keep);
  /* ... and a successful one replaces it. */
  CHECK_OK(cloudio_write_cog(src.s, dst.s, "zstd", NULL, NULL, NULL, err, sizeof err));
  CHECK(valid_cog(dst.s));

  remove(zero_bands.s);
  remove(text.s);
  remove(dst.s);
  remove(src.s);
}

/* ---- datasets -------------------------------------------------------------------------------- */

enum { DS_ROWS = 130, DS_COLS = 170 };
/* The cells test_dataset writes to ds.tif, which test_reader reads. */
static float *ds_cells;

static void test_dataset(void) {
  float *z = ds_cells = make_terrain(DS_ROWS, DS_COLS);
  const size_t zlen = sizeof(float) * DS_ROWS * DS_COLS;
  const double gt[6] = {1000, 2, 0, 5000, 0, -2}, nodata = -1;
  path_t src = in_dir("ds.tif"), plain = in_dir("plain.tif");
  const char *const opts[] = {"BLOCKSIZE=128", NULL};
  CHECK_OK(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, DS_ROWS, DS_COLS, gt, "EPSG:3857", &nodata, src.s,
                                    NULL, opts, NULL, NULL, err, sizeof err));
  CHECK_OK(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, DS_ROWS, DS_COLS, NULL, NULL, NULL, plain.s, NULL,
                                    NULL, NULL, NULL, err, sizeof err));

  cloudio_dataset *ds = NULL;
  CHECK_OK(cloudio_dataset_open(src.s, &ds, err, sizeof err));
  CHECK(ds != NULL);
  cloudio_info info;
  memset(&info, 0xAB, sizeof info);
  CHECK_OK(cloudio_dataset_info(ds, &info, err, sizeof err));
  CHECK(info.rows == DS_ROWS && info.cols == DS_COLS && info.bands == 1 && info.dtype == CLOUDIO_FLOAT32);
  CHECK(info.block_rows == 128 && info.block_cols == 128);
  CHECK(info.has_geotransform == 1 && memcmp(info.geotransform, gt, sizeof gt) == 0);
  CHECK(info.has_nodata == 1 && info.nodata == -1);
  char nodata_text[32] = "";
  size_t nodata_needed = 0;
  CHECK_OK(cloudio_dataset_nodata(ds, 1, nodata_text, sizeof nodata_text, &nodata_needed, err, sizeof err));
  CHECK(strcmp(nodata_text, "-1") == 0 && nodata_needed == 3);
  CHECK_STATUS(cloudio_dataset_nodata(ds, 2, nodata_text, sizeof nodata_text, NULL, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);

  /* CRS: size query, exact buffer, a buffer one byte short (untouched). */
  size_t needed = 0;
  CHECK_OK(cloudio_dataset_crs(ds, NULL, 0, &needed, err, sizeof err));
  CHECK(needed > 100);
  char *wkt = malloc(needed + 1);
  memset(wkt, '#', needed + 1);
  size_t needed2 = 0;
  CHECK_OK(cloudio_dataset_crs(ds, wkt, needed, &needed2, err, sizeof err));
  CHECK(needed2 == needed && strlen(wkt) == needed - 1 && wkt[needed] == '#' && strstr(wkt, "3857") != NULL);
  memset(wkt, '#', needed + 1);
  CHECK_STATUS(cloudio_dataset_crs(ds, wkt, needed - 1, &needed2, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(wkt[0] == '#' && wkt[needed - 2] == '#' && needed2 == needed);
  CHECK_STATUS(cloudio_dataset_crs(ds, wkt, 1, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(wkt[0] == '#');
  CHECK_OK(cloudio_dataset_crs(ds, wkt, 0, &needed2, err, sizeof err)); /* buf_len 0: only *needed */
  CHECK(wkt[0] == '#' && needed2 == needed);
  CHECK_OK(cloudio_dataset_crs(ds, NULL, 0, NULL, err, sizeof err));
  free(wkt);

  /* The type a read would fill, checked as a read checks it, without reading. */
  const int band1[] = {1}, missing_band[] = {2};
  int read_type = -1;
  CHECK_OK(cloudio_dataset_read_type(ds, NULL, 0, 0, &read_type, err, sizeof err));
  CHECK(read_type == CLOUDIO_FLOAT32);
  CHECK_OK(cloudio_dataset_read_type(ds, band1, 1, CLOUDIO_INT16, &read_type, err, sizeof err));
  CHECK(read_type == CLOUDIO_INT16);
  read_type = -1;
  CHECK_STATUS(cloudio_dataset_read_type(ds, missing_band, 1, 0, &read_type, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err, "band 2 does not exist") != NULL && read_type == -1);
  CHECK_STATUS(cloudio_dataset_read_type(ds, band1, 1, CLOUDIO_INT64, &read_type, err, sizeof err),
               CLOUDIO_ERR_UNSUPPORTED);
  CHECK_STATUS(cloudio_dataset_read_type(ds, band1, 1, 0, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);

  /* Reads: a window of band 1, every band, converted types. */
  float win[10 * 20];
  CHECK_OK(cloudio_dataset_read(ds, 5, 7, 10, 20, band1, 1, 0, win, sizeof win, err, sizeof err));
  int same = 1;
  for (int r = 0; r < 10; r++) {
    for (int c = 0; c < 20; c++) {
      same &= win[r * 20 + c] == z[(5 + r) * DS_COLS + 7 + c];
    }
  }
  CHECK(same);
  CHECK_OK(cloudio_dataset_read(ds, 5, 7, 10, 20, band1, 1, CLOUDIO_FLOAT32, win, sizeof win, err, sizeof err));
  CHECK(win[0] == z[5 * DS_COLS + 7]);
  double wind[10 * 20];
  CHECK_OK(cloudio_dataset_read(ds, 120, 150, 10, 20, NULL, 0, CLOUDIO_FLOAT64, wind, sizeof wind, err, sizeof err));
  same = 1;
  for (int r = 0; r < 10; r++) {
    for (int c = 0; c < 20; c++) {
      same &= wind[r * 20 + c] == (double)z[(120 + r) * DS_COLS + 150 + c];
    }
  }
  CHECK(same);
  int16_t wini[4];
  CHECK_OK(cloudio_dataset_read(ds, 0, 0, 2, 2, NULL, 0, CLOUDIO_INT16, wini, sizeof wini, err, sizeof err));
  CHECK(abs(wini[0] - (int)lrintf(z[0])) <= 1);
  const int band11[] = {1, 1};
  float twice[2 * 4];
  CHECK_OK(cloudio_dataset_read(ds, 1, 1, 2, 2, band11, 2, 0, twice, sizeof twice, err, sizeof err));
  CHECK(memcmp(twice, twice + 4, sizeof(float) * 4) == 0 && twice[0] == z[DS_COLS + 1]);
  float *all = malloc(zlen);
  CHECK_OK(cloudio_dataset_read(ds, 0, 0, DS_ROWS, DS_COLS, NULL, 0, 0, all, zlen, err, sizeof err));
  CHECK(memcmp(all, z, zlen) == 0);

  /* Read errors. */
  CHECK_STATUS(cloudio_dataset_read(ds, 125, 0, 10, 20, NULL, 0, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 160, 10, 20, NULL, 0, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, -1, 0, 10, 20, NULL, 0, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, -5, 10, 20, NULL, 0, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 0, 20, NULL, 0, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, -20, NULL, 0, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  /* Offsets so large that offset + size overflows. */
  CHECK(cloudio_dataset_read(ds, INT64_MAX - 5, 0, 10, 20, NULL, 0, 0, win, sizeof win, err, sizeof err) ==
            CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(cloudio_dataset_read(ds, INT64_MAX, INT64_MAX, 10, 20, NULL, 0, CLOUDIO_FLOAT64, wind, sizeof wind, err,
                             sizeof err) == CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, NULL, 0, 0, win, sizeof win - 4, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 10, NULL, 0, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, NULL, 0, CLOUDIO_FLOAT64, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  const int band0[] = {0}, band2[] = {2}, bandneg[] = {-1};
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, band0, 1, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, band2, 1, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, bandneg, 1, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, NULL, 1, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, NULL, 0, 0, NULL, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  int64_t wide[10 * 20];
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, NULL, 0, CLOUDIO_INT64, wide, sizeof wide, err, sizeof err),
               CLOUDIO_ERR_UNSUPPORTED);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, NULL, 0, CLOUDIO_UINT64, wide, sizeof wide, err, sizeof err),
               CLOUDIO_ERR_UNSUPPORTED);
  CHECK(cloudio_dataset_read(ds, 0, 0, 10, 20, NULL, 0, 99, wide, sizeof wide, err, sizeof err) != CLOUDIO_OK);
  /* A buf_len beyond PTRDIFF_MAX is a wrong buf_len. */
  CHECK(cloudio_dataset_read(ds, 0, 0, 10, 20, NULL, 0, 0, win, SIZE_MAX, err, sizeof err) ==
            CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(NULL, 0, 0, 10, 20, NULL, 0, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_info(ds, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_info(NULL, &info, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_crs(NULL, NULL, 0, &needed, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);

  /* Close; the handle is then invalid, never a crash. */
  CHECK_OK(cloudio_dataset_close(ds, err, sizeof err));
  CHECK_STATUS(cloudio_dataset_close(ds, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_info(ds, &info, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_crs(ds, NULL, 0, &needed, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, 10, 20, NULL, 0, 0, win, sizeof win, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_OK(cloudio_dataset_close(NULL, err, sizeof err)); /* closing nothing is a no-op, as free(NULL) */

  /* A raster without georeferencing. */
  CHECK_OK(cloudio_dataset_open(plain.s, &ds, err, sizeof err));
  CHECK_OK(cloudio_dataset_info(ds, &info, err, sizeof err));
  CHECK(info.has_nodata == 0);
  CHECK(info.has_geotransform == 0);
  CHECK_OK(cloudio_dataset_crs(ds, NULL, 0, &needed, err, sizeof err));
  CHECK(needed == 1);
  char one[4] = "###";
  CHECK_OK(cloudio_dataset_crs(ds, one, sizeof one, NULL, err, sizeof err));
  CHECK(one[0] == '\0');
  CHECK_OK(cloudio_dataset_close(ds, err, sizeof err));

  /* Open errors; *out untouched. */
  path_t missing = in_dir("missing.tif"), text = in_dir("text.tif"), trunc = in_dir("truncated.tif");
  path_t zero_bands = in_dir("zero-bands.pix");
  write_text(text.s, "not a raster either\n");
  cloudio_dataset *const untouched = (cloudio_dataset *)(void *)&info;
  ds = untouched;
  CHECK_STATUS(cloudio_dataset_open(NULL, &ds, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_open(src.s, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_open("", &ds, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_dataset_open(missing.s, &ds, err, sizeof err), CLOUDIO_ERR_NOT_FOUND);
  CHECK(strstr(err, "missing.tif") != NULL);
  CHECK_STATUS(cloudio_dataset_open(text.s, &ds, err, sizeof err), CLOUDIO_ERR_IO);
  CHECK_STATUS(cloudio_dataset_open("/tmp/\xff" ".tif", &ds, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  char cmd[1000];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"from osgeo import gdal; gdal.GetDriverByName('PCIDSK').Create('%s', 4, 4, 0)\"",
           zero_bands.s);
  CHECK(system(cmd) == 0);
  CHECK_STATUS(cloudio_dataset_open(zero_bands.s, &ds, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(ds == untouched);

  /* A file truncated on disk opens (its header is whole) but cannot be
   * decoded: CLOUDIO_ERR_IO, through the direct decoder and through GDAL. */
  size_t n = 0;
  unsigned char *bytes = slurp(src.s, &n);
  write_prefix(trunc.s, bytes, n / 2);
  free(bytes);
  CHECK_OK(cloudio_dataset_open(trunc.s, &ds, err, sizeof err));
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, DS_ROWS, DS_COLS, NULL, 0, 0, all, zlen, err, sizeof err),
               CLOUDIO_ERR_IO);
  double *alld = malloc(sizeof(double) * DS_ROWS * DS_COLS);
  CHECK_STATUS(cloudio_dataset_read(ds, 0, 0, DS_ROWS, DS_COLS, NULL, 0, CLOUDIO_FLOAT64, alld,
                                    sizeof(double) * DS_ROWS * DS_COLS, err, sizeof err),
               CLOUDIO_ERR_IO);
  free(alld);
  CHECK_OK(cloudio_dataset_close(ds, err, sizeof err));

  free(all);
  remove(plain.s);
  remove(text.s);
  remove(zero_bands.s);
  /* ds.tif and truncated.tif (and ds_cells) stay for the reader. */
}

/* ---- tile reader ------------------------------------------------------------------------------- */

/* Cell (b, r, c) of the rasters GDAL writes for test_reader_of_gdal_files:
 * exact in a float, different in every band, row and column. */
static float gdal_cell(int b, int r, int c) { return (float)(1000 * r + c) + 0.25f * (float)b - 500.5f; }

/* Files written by GDAL itself (not through cloudio), in the layouts that
 * take the decoder's every path: the floating-point predictor on pixel- and
 * band-interleaved bands, tiles and strips, DEFLATE and ZSTD. Every tile of
 * the reader and a window of cloudio_dataset_read must hold gdal_cell's
 * values, which GDAL was given. */
static void test_reader_of_gdal_files(void) {
  enum { ROWS = 75, COLS = 101, BANDS = 3 };
  static const char *layouts[] = {
      "TILED=YES,BLOCKXSIZE=32,BLOCKYSIZE=48,COMPRESS=DEFLATE,PREDICTOR=3,INTERLEAVE=PIXEL",
      "TILED=YES,BLOCKXSIZE=32,BLOCKYSIZE=48,COMPRESS=ZSTD,PREDICTOR=3,INTERLEAVE=BAND",
      "COMPRESS=DEFLATE,PREDICTOR=3,INTERLEAVE=PIXEL,BLOCKYSIZE=7",
      "COMPRESS=DEFLATE,PREDICTOR=2,INTERLEAVE=PIXEL,BLOCKYSIZE=7",
      "COMPRESS=NONE,INTERLEAVE=PIXEL",
  };
  for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
    char name[32], cmd[1400];
    snprintf(name, sizeof name, "gdal%zu.tif", l);
    path_t p = in_dir(name);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np; from osgeo import gdal; "
             "b, r, c = np.mgrid[0:%d, 0:%d, 0:%d]; "
             "z = ((1000 * r + c) + 0.25 * b - 500.5).astype(np.float32); "
             "ds = gdal.GetDriverByName('GTiff').Create('%s', %d, %d, %d, gdal.GDT_Float32, '%s'.split(',')); "
             "ds.WriteArray(z); ds = None\"",
             BANDS, ROWS, COLS, p.s, COLS, ROWS, BANDS, layouts[l]);
    CHECK(system(cmd) == 0 && exists(p.s));
    cloudio_reader_options ro;
    cloudio_reader_options_init(&ro);
    ro.tile_rows = 40;
    ro.tile_cols = 33;
    cloudio_reader *reader = NULL;
    size_t max_len = 0;
    uint64_t count = 0, tiles = 0, wrong = 0;
    CHECK_OK(cloudio_reader_open(p.s, &ro, &reader, err, sizeof err));
    CHECK_OK(cloudio_reader_info(reader, NULL, &count, &max_len, err, sizeof err));
    float *tile = malloc(max_len);
    int64_t w[8];
    while (cloudio_reader_next(reader, w, tile, max_len, err, sizeof err) == CLOUDIO_OK && w[2] > 0) {
      for (int b = 0; b < BANDS; b++) {
        for (int64_t i = 0; i < w[2]; i++) {
          for (int64_t j = 0; j < w[3]; j++) {
            wrong += tile[(b * w[2] + i) * w[3] + j] != gdal_cell(b, (int)(w[0] + i), (int)(w[1] + j));
          }
        }
      }
      tiles++;
    }
    CHECK_OK(cloudio_reader_close(reader, err, sizeof err));
    if (wrong != 0 || tiles != count || count != 2 * 4) {
      fprintf(stderr, "%s: %llu of %llu tiles read, %llu cells differ from what GDAL wrote\n", layouts[l],
              (unsigned long long)tiles, (unsigned long long)count, (unsigned long long)wrong);
    }
    CHECK(wrong == 0 && tiles == count && count == 2 * 4);
    cloudio_dataset *ds = NULL;
    float win[BANDS][9][11];
    CHECK_OK(cloudio_dataset_open(p.s, &ds, err, sizeof err));
    CHECK_OK(cloudio_dataset_read(ds, 60, 85, 9, 11, NULL, 0, 0, win, sizeof win, err, sizeof err));
    CHECK_OK(cloudio_dataset_close(ds, err, sizeof err));
    wrong = 0;
    for (int b = 0; b < BANDS; b++) {
      for (int i = 0; i < 9; i++) {
        for (int j = 0; j < 11; j++) {
          wrong += win[b][i][j] != gdal_cell(b, 60 + i, 85 + j);
        }
      }
    }
    CHECK(wrong == 0);
    free(tile);
    remove(p.s);
  }
}

static void test_reader(void) {
  path_t src = in_dir("ds.tif"), trunc = in_dir("truncated.tif"), missing = in_dir("missing.tif");
  float *z = ds_cells;

  /* Defaults. */
  cloudio_reader_options ro;
  memset(&ro, 0xAB, sizeof ro);
  cloudio_reader_options_init(&ro);
  CHECK(ro.tile_rows == 1024 && ro.tile_cols == 1024 && ro.overlap == 0 && ro.halo == 0);
  CHECK(ro.edge == CLOUDIO_EDGE_REPLICATE && ro.bands == NULL && ro.n_bands == 0 && ro.dtype == 0);
  CHECK(ro.workers == 0 && ro.prefetch == 0);
  cloudio_reader_options_init(NULL); /* does nothing */

  /* ABI 1: the struct never grows. Whatever a caller's struct holds past
   * its last field (here its tail padding, where a later field would go)
   * is never read as a request; masks are cloudio_reader_open_masked's. */
  {
    cloudio_reader_options old;
    cloudio_reader_options_init(&old);
    old.tile_rows = old.tile_cols = 50;
    const size_t end = offsetof(cloudio_reader_options, prefetch) + sizeof old.prefetch;
    memset((unsigned char *)&old + end, 0xFF, sizeof old - end);
    size_t plain_len = 0, masked_len = 0;
    cloudio_reader *plain = NULL, *masked = NULL;
    CHECK_OK(cloudio_reader_open(src.s, &old, &plain, err, sizeof err));
    CHECK_OK(cloudio_reader_info(plain, NULL, NULL, &plain_len, err, sizeof err));
    CHECK_OK(cloudio_reader_close(plain, err, sizeof err));
    CHECK_OK(cloudio_reader_open_masked(src.s, &old, 0, &plain, err, sizeof err));
    CHECK_OK(cloudio_reader_close(plain, err, sizeof err));
    CHECK_OK(cloudio_reader_open_masked(src.s, &old, 1, &masked, err, sizeof err));
    CHECK_OK(cloudio_reader_info(masked, NULL, NULL, &masked_len, err, sizeof err));
    CHECK_OK(cloudio_reader_close(masked, err, sizeof err));
    CHECK(plain_len == sizeof(float) * 50 * 50 && masked_len == (sizeof(float) + 1) * 50 * 50);
    CHECK_STATUS(cloudio_reader_open_masked(src.s, NULL, 1, &masked, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  }

  /* 50 x 60 tiles with a replicated halo of 1. */
  ro.tile_rows = 50;
  ro.tile_cols = 60;
  ro.halo = 1;
  cloudio_reader *reader = NULL;
  CHECK_OK(cloudio_reader_open(src.s, &ro, &reader, err, sizeof err));
  ro.tile_rows = 7; /* the options were copied */
  uint64_t count = 0;
  size_t max_len = 0;
  cloudio_info info;
  CHECK_OK(cloudio_reader_info(reader, &info, &count, &max_len, err, sizeof err));
  CHECK(count == 9 && max_len == sizeof(float) * 52 * 62);
  CHECK(info.rows == DS_ROWS && info.cols == DS_COLS && info.has_nodata && info.nodata == -1);
  CHECK_OK(cloudio_reader_info(reader, NULL, NULL, NULL, err, sizeof err));
  float *tile = malloc(max_len);
  int64_t w[8];
  /* Too small a buffer takes nothing. */
  CHECK_STATUS(cloudio_reader_next(reader, w, tile, 16, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_reader_next(reader, w, tile, max_len - 1, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_reader_next(reader, NULL, tile, max_len, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_reader_next(reader, w, NULL, max_len, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  int64_t windows[4 * 9];
  uint64_t written = 0, total = 0;
  CHECK_OK(cloudio_tile_windows(DS_ROWS, DS_COLS, 50, 60, 0, 0, windows, 9, &written, &total, err, sizeof err));
  int tiles = 0, order_ok = 1, mismatches = 0;
  for (;;) {
    memset(w, 0x55, sizeof w);
    if (cloudio_reader_next(reader, w, tile, max_len, err, sizeof err) != CLOUDIO_OK || w[2] == 0) {
      break;
    }
    order_ok &= tiles < 9 && memcmp(w, windows + 4 * tiles, 4 * sizeof *w) == 0;
    order_ok &= w[4] == w[0] - 1 && w[5] == w[1] - 1 && w[6] == w[2] + 2 && w[7] == w[3] + 2;
    for (int64_t r = 0; r < w[6]; r++) {
      for (int64_t c = 0; c < w[7]; c++) {
        int64_t y = w[4] + r, x = w[5] + c;
        y = y < 0 ? 0 : y >= DS_ROWS ? DS_ROWS - 1 : y;
        x = x < 0 ? 0 : x >= DS_COLS ? DS_COLS - 1 : x;
        mismatches += tile[r * w[7] + c] != z[y * DS_COLS + x];
      }
    }
    tiles++;
  }
  CHECK(tiles == 9 && order_ok && mismatches == 0);
  CHECK(w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0);
  CHECK_OK(cloudio_reader_next(reader, w, tile, max_len, err, sizeof err)); /* still the end */
  CHECK(w[2] == 0);
  CHECK_OK(cloudio_reader_close(reader, err, sizeof err));
  CHECK_STATUS(cloudio_reader_next(reader, w, tile, max_len, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_reader_info(reader, &info, &count, &max_len, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_reader_close(reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_OK(cloudio_reader_close(NULL, err, sizeof err));
  CHECK_STATUS(cloudio_reader_next(NULL, w, tile, max_len, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_reader_info(NULL, &info, &count, &max_len, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  free(tile);

  /* Overlap, a nodata halo of 2, Float64, one worker, one tile ahead. */
  cloudio_reader_options_init(&ro);
  ro.tile_rows = 40;
  ro.tile_cols = 40;
  ro.overlap = 8;
  ro.halo = 2;
  ro.edge = CLOUDIO_EDGE_NODATA;
  ro.dtype = CLOUDIO_FLOAT64;
  ro.workers = 1;
  ro.prefetch = 1;
  CHECK_OK(cloudio_reader_open(src.s, &ro, &reader, err, sizeof err));
  CHECK_OK(cloudio_reader_info(reader, NULL, &count, &max_len, err, sizeof err));
  CHECK_OK(cloudio_tile_windows(DS_ROWS, DS_COLS, 40, 40, 8, 0, NULL, 0, &written, &total, err, sizeof err));
  CHECK(count == total && max_len == sizeof(double) * 44 * 44);
  int64_t *all_windows = malloc(sizeof(int64_t) * 4 * total);
  CHECK_OK(cloudio_tile_windows(DS_ROWS, DS_COLS, 40, 40, 8, 0, all_windows, total, &written, &total, err, sizeof err));
  double *dtile = malloc(max_len);
  tiles = 0;
  order_ok = 1;
  mismatches = 0;
  while (cloudio_reader_next(reader, w, dtile, max_len, err, sizeof err) == CLOUDIO_OK && w[2] > 0) {
    order_ok &= (uint64_t)tiles < total && memcmp(w, all_windows + 4 * tiles, 4 * sizeof *w) == 0;
    for (int64_t r = 0; r < w[6]; r++) {
      for (int64_t c = 0; c < w[7]; c++) {
        int64_t y = w[4] + r, x = w[5] + c;
        double want = y < 0 || x < 0 || y >= DS_ROWS || x >= DS_COLS ? -1.0 : (double)z[y * DS_COLS + x];
        mismatches += dtile[r * w[7] + c] != want;
      }
    }
    tiles++;
  }
  CHECK((uint64_t)tiles == total && order_ok && mismatches == 0);
  CHECK_OK(cloudio_reader_close(reader, err, sizeof err));
  free(all_windows);
  free(dtile);

  /* Closed early, tiles not taken are dropped. */
  cloudio_reader_options_init(&ro);
  ro.tile_rows = ro.tile_cols = 16;
  ro.workers = 2;
  CHECK_OK(cloudio_reader_open(src.s, &ro, &reader, err, sizeof err));
  CHECK_OK(cloudio_reader_info(reader, NULL, NULL, &max_len, err, sizeof err));
  tile = malloc(max_len);
  CHECK_OK(cloudio_reader_next(reader, w, tile, max_len, err, sizeof err));
  CHECK(w[2] == 16 && w[3] == 16 && tile[17] == z[DS_COLS + 1]);
  CHECK_OK(cloudio_reader_close(reader, err, sizeof err));
  free(tile);

  /* Bands in any order from a 3-band raster. */
  size_t len;
  uint8_t *rgb = make_pixels(CLOUDIO_BYTE, 3, 50, 70, &len);
  path_t prgb = in_dir("reader-rgb.tif");
  CHECK_OK(cloudio_write_cog_buffer(rgb, len, CLOUDIO_BYTE, 3, 50, 70, NULL, NULL, NULL, prgb.s, NULL, NULL, NULL, NULL,
                                    err, sizeof err));
  const int bands31[] = {3, 1};
  cloudio_reader_options_init(&ro);
  ro.tile_rows = 50;
  ro.tile_cols = 70;
  ro.bands = bands31;
  ro.n_bands = 2;
  CHECK_OK(cloudio_reader_open(prgb.s, &ro, &reader, err, sizeof err));
  CHECK_OK(cloudio_reader_info(reader, &info, &count, &max_len, err, sizeof err));
  CHECK(count == 1 && max_len == 2 * 50 * 70 && info.bands == 3);
  uint8_t *btile = malloc(max_len);
  CHECK_OK(cloudio_reader_next(reader, w, btile, max_len, err, sizeof err));
  CHECK(memcmp(btile, rgb + 2 * 50 * 70, 50 * 70) == 0 && memcmp(btile + 50 * 70, rgb, 50 * 70) == 0);
  CHECK_OK(cloudio_reader_close(reader, err, sizeof err));
  free(btile);

  /* Open errors; *out untouched. */
  cloudio_reader *const untouched = (cloudio_reader *)(void *)&info;
  reader = untouched;
  path_t text = in_dir("text.tif");
  write_text(text.s, "still not a raster\n");
  cloudio_reader_options_init(&ro);
  CHECK_STATUS(cloudio_reader_open(NULL, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_reader_open(src.s, NULL, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_reader_open(src.s, &ro, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_reader_open(missing.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_NOT_FOUND);
  CHECK_STATUS(cloudio_reader_open(text.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_IO);
  CHECK_STATUS(cloudio_reader_open("/tmp/\xff" ".tif", &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  ro.tile_rows = 0;
  CHECK_STATUS(cloudio_reader_open(src.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(err, "tile_rows and tile_cols must be positive") == 0);
  ro.tile_rows = 64;
  ro.tile_cols = -64;
  CHECK_STATUS(cloudio_reader_open(src.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(err, "tile_rows and tile_cols must be positive") == 0);
  ro.tile_cols = 64;
  ro.overlap = -1;
  CHECK_STATUS(cloudio_reader_open(src.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(err, "overlap must be >= 0") == 0);
  ro.overlap = 0;
  ro.halo = -1;
  CHECK_STATUS(cloudio_reader_open(src.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  ro.halo = 0;
  ro.workers = -1;
  CHECK_STATUS(cloudio_reader_open(src.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  ro.workers = 0;
  ro.prefetch = -1;
  CHECK_STATUS(cloudio_reader_open(src.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  ro.prefetch = 0;
  ro.edge = 7;
  CHECK_STATUS(cloudio_reader_open(src.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  ro.edge = CLOUDIO_EDGE_NODATA; /* rgb has no nodata */
  ro.halo = 1;
  CHECK_STATUS(cloudio_reader_open(prgb.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  ro.edge = CLOUDIO_EDGE_REPLICATE;
  ro.halo = 0;
  const int band4[] = {1, 4}, band0[] = {0};
  ro.bands = band4;
  ro.n_bands = 2;
  CHECK_STATUS(cloudio_reader_open(prgb.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  ro.bands = band0;
  ro.n_bands = 1;
  CHECK_STATUS(cloudio_reader_open(prgb.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  ro.bands = NULL;
  ro.n_bands = 2;
  CHECK_STATUS(cloudio_reader_open(prgb.s, &ro, &reader, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  ro.n_bands = 0;
  ro.dtype = CLOUDIO_INT64;
  CHECK(cloudio_reader_open(prgb.s, &ro, &reader, err, sizeof err) != CLOUDIO_OK);
  CHECK(reader == untouched);

  /* A decoding failure is CLOUDIO_ERR_IO, and every later call says so. */
  cloudio_reader_options_init(&ro);
  ro.tile_rows = ro.tile_cols = 64;
  CHECK_OK(cloudio_reader_open(trunc.s, &ro, &reader, err, sizeof err));
  CHECK_OK(cloudio_reader_info(reader, NULL, &count, &max_len, err, sizeof err));
  tile = malloc(max_len);
  int rc = CLOUDIO_OK;
  for (uint64_t i = 0; i <= count && rc == CLOUDIO_OK; i++) {
    rc = cloudio_reader_next(reader, w, tile, max_len, err, sizeof err);
  }
  CHECK_STATUS(rc, CLOUDIO_ERR_IO);
  CHECK_STATUS(cloudio_reader_next(reader, w, tile, max_len, err, sizeof err), CLOUDIO_ERR_IO);
  CHECK(err[0] != '\0');
  CHECK_OK(cloudio_reader_close(reader, err, sizeof err));
  free(tile);

  free(rgb);
  free(z);
  remove(prgb.s);
  remove(text.s);
  remove(trunc.s);
}

/* ---- tile writer ------------------------------------------------------------------------------ */

static void test_writer(void) {
  path_t src = in_dir("ds.tif"), dst = in_dir("written.tif"), nodir = in_dir("no-such-dir/w.tif");
  const size_t zlen = sizeof(float) * DS_ROWS * DS_COLS;
  float *z = malloc(zlen);
  cloudio_dataset *ds = NULL;
  CHECK_OK(cloudio_dataset_open(src.s, &ds, err, sizeof err));
  CHECK_OK(cloudio_dataset_read(ds, 0, 0, DS_ROWS, DS_COLS, NULL, 0, 0, z, zlen, err, sizeof err));
  CHECK_OK(cloudio_dataset_close(ds, err, sizeof err));
  const double gt[6] = {1000, 2, 0, 5000, 0, -2}, nodata = -1;

  /* Windows written in reverse order, closed with progress: the source
   * again, as a valid COG. */
  cloudio_writer *writer = NULL;
  const char *const opts[] = {"BLOCKSIZE=128", NULL};
  CHECK_OK(cloudio_writer_open(dst.s, DS_ROWS, DS_COLS, 1, CLOUDIO_FLOAT32, gt, "EPSG:3857", &nodata, "zstd", opts,
                               &writer, err, sizeof err));
  CHECK(absent(dst.s)); /* nothing published before close */
  int64_t win[4 * 30];
  uint64_t n = 0, total = 0;
  CHECK_OK(cloudio_tile_windows(DS_ROWS, DS_COLS, 40, 40, 0, 0, win, 30, &n, &total, err, sizeof err));
  CHECK(n == total && n == 20);
  float *part = malloc(sizeof(float) * 40 * 40);
  int writes_ok = 0;
  for (uint64_t k = n; k-- > 0;) {
    const int64_t *q = win + 4 * k;
    for (int64_t r = 0; r < q[2]; r++) {
      memcpy(part + r * q[3], z + (q[0] + r) * DS_COLS + q[1], sizeof(float) * (size_t)q[3]);
    }
    writes_ok += cloudio_writer_write(writer, q[0], q[1], q[2], q[3], part, sizeof(float) * (size_t)(q[2] * q[3]), err,
                                      sizeof err) == CLOUDIO_OK;
  }
  CHECK(writes_ok == (int)n);
  /* Write errors (the writer stays usable). */
  CHECK_STATUS(cloudio_writer_write(writer, 120, 160, 20, 20, part, sizeof(float) * 400, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_write(writer, -1, 0, 2, 2, part, sizeof(float) * 4, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_write(writer, 0, 0, 0, 2, part, 0, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_write(writer, 0, 0, 2, 2, part, 12, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_write(writer, 0, 0, 2, 2, part, 20, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_write(writer, 0, 0, 2, 2, NULL, 16, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(cloudio_writer_write(writer, 0, 0, 2, 2, part, SIZE_MAX, err, sizeof err) ==
            CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_write(NULL, 0, 0, 2, 2, part, 16, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  struct progress prog;
  progress_init(&prog);
  CHECK_OK(cloudio_writer_close(writer, on_progress, &prog, err, sizeof err));
  CHECK(progress_ok(&prog));
  CHECK(valid_cog(dst.s));
  CHECK(reads_back(dst.s, z, zlen));
  cloudio_info info;
  CHECK(info_of(dst.s, &info) && info.has_nodata && info.nodata == -1 && info.has_geotransform &&
        memcmp(info.geotransform, gt, sizeof gt) == 0 && info.block_rows == 128);
  char *wkt = crs_of(dst.s);
  CHECK(strstr(wkt, "3857") != NULL);
  free(wkt);
  /* The handle is released: using it again is an error, not a crash. */
  CHECK_STATUS(cloudio_writer_close(writer, NULL, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_abort(writer, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_write(writer, 0, 0, 2, 2, part, 16, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);

  /* Cells never written read as nodata, or 0 without one; 2 bands of Int16
   * from overlapping windows (the last write wins), no progress. */
  path_t sparse = in_dir("sparse.tif");
  const double nd = -5;
  CHECK_OK(cloudio_writer_open(sparse.s, 30, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, &nd, NULL, NULL, &writer, err,
                               sizeof err));
  const float ones[4] = {1, 1, 1, 1};
  CHECK_OK(cloudio_writer_write(writer, 10, 10, 2, 2, ones, sizeof ones, err, sizeof err));
  CHECK_OK(cloudio_writer_close(writer, NULL, NULL, err, sizeof err));
  float back[30 * 20];
  CHECK_OK(cloudio_dataset_open(sparse.s, &ds, err, sizeof err));
  CHECK_OK(cloudio_dataset_read(ds, 0, 0, 30, 20, NULL, 0, 0, back, sizeof back, err, sizeof err));
  CHECK_OK(cloudio_dataset_close(ds, err, sizeof err));
  int cells_ok = 1;
  for (int r = 0; r < 30; r++) {
    for (int c = 0; c < 20; c++) {
      cells_ok &= back[r * 20 + c] == (r >= 10 && r < 12 && c >= 10 && c < 12 ? 1.0f : -5.0f);
    }
  }
  CHECK(cells_ok);
  CHECK_OK(cloudio_writer_open(sparse.s, 30, 20, 2, CLOUDIO_INT16, NULL, NULL, NULL, "lzw", NULL, &writer, err,
                               sizeof err));
  int16_t a[2 * 3 * 3], b[2 * 2 * 2];
  for (int i = 0; i < 18; i++) {
    a[i] = (int16_t)(i < 9 ? 7 : -7);
  }
  for (int i = 0; i < 8; i++) {
    b[i] = (int16_t)(i < 4 ? 100 : -100);
  }
  CHECK_OK(cloudio_writer_write(writer, 0, 0, 3, 3, a, sizeof a, err, sizeof err));
  CHECK_OK(cloudio_writer_write(writer, 1, 1, 2, 2, b, sizeof b, err, sizeof err));
  CHECK_STATUS(cloudio_writer_write(writer, 0, 0, 3, 3, a, sizeof a / 2, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT); /* one band's worth */
  CHECK_OK(cloudio_writer_close(writer, NULL, NULL, err, sizeof err));
  int16_t back16[2 * 30 * 20];
  CHECK_OK(cloudio_dataset_open(sparse.s, &ds, err, sizeof err));
  CHECK_OK(cloudio_dataset_info(ds, &info, err, sizeof err));
  CHECK(info.bands == 2 && info.dtype == CLOUDIO_INT16 && !info.has_nodata);
  CHECK_OK(cloudio_dataset_read(ds, 0, 0, 30, 20, NULL, 0, 0, back16, sizeof back16, err, sizeof err));
  CHECK_OK(cloudio_dataset_close(ds, err, sizeof err));
  cells_ok = 1;
  for (int band = 0; band < 2; band++) {
    for (int r = 0; r < 30; r++) {
      for (int c = 0; c < 20; c++) {
        int want = 0;
        if (r >= 1 && r < 3 && c >= 1 && c < 3) {
          want = band == 0 ? 100 : -100;
        } else if (r < 3 && c < 3) {
          want = band == 0 ? 7 : -7;
        }
        cells_ok &= back16[band * 600 + r * 20 + c] == want;
      }
    }
  }
  CHECK(cells_ok);
  remove(sparse.s);

  /* Abort: nothing at dst, no staging file. */
  path_t aborted = in_dir("aborted.tif");
  char *before = snapshot_of(dir);
  CHECK_OK(cloudio_writer_open(aborted.s, 30, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, &writer, err,
                               sizeof err));
  CHECK_OK(cloudio_writer_write(writer, 0, 0, 2, 2, ones, sizeof ones, err, sizeof err));
  CHECK_OK(cloudio_writer_abort(writer, err, sizeof err));
  char *after = snapshot_of(dir);
  CHECK(absent(aborted.s) && strcmp(before, after) == 0);
  free(after);
  CHECK_STATUS(cloudio_writer_abort(writer, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_close(writer, NULL, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_OK(cloudio_writer_abort(NULL, err, sizeof err));
  CHECK_OK(cloudio_writer_close(NULL, NULL, NULL, err, sizeof err));

  /* A cancelled close: nothing at dst, the handle released. */
  CHECK_OK(cloudio_writer_open(aborted.s, 30, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, &writer, err,
                               sizeof err));
  CHECK_OK(cloudio_writer_write(writer, 0, 0, 2, 2, ones, sizeof ones, err, sizeof err));
  progress_init(&prog);
  prog.cancel_after = 1;
  CHECK_STATUS(cloudio_writer_close(writer, on_progress, &prog, err, sizeof err), CLOUDIO_ERR_CANCELLED);
  after = snapshot_of(dir);
  CHECK(absent(aborted.s) && strcmp(before, after) == 0);
  free(after);
  free(before);
  CHECK_STATUS(cloudio_writer_abort(writer, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);

  /* STREAM=YES: tiles are encoded as they are complete; progress on this
   * thread to 1; a window into a tile already encoded fails the writer,
   * which then leaves nothing; a cancelled close leaves nothing. */
  const char *const stream[] = {"STREAM=YES", NULL};
  path_t streamed = in_dir("streamed.tif");
  float *big = calloc(600 * 700, sizeof *big);
  for (int i = 0; i < 600 * 700; i++) {
    big[i] = (float)(i % 977);
  }
  for (int how = 0; how < 3; how++) {
    before = snapshot_of(dir);
    CHECK_OK(cloudio_writer_open(streamed.s, 600, 700, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, stream, &writer, err,
                                 sizeof err));
    CHECK_OK(cloudio_writer_write(writer, 0, 0, 512, 700, big, 512 * 700 * sizeof *big, err, sizeof err));
    progress_init(&prog);
    if (how == 0) {
      CHECK_OK(cloudio_writer_write(writer, 512, 0, 88, 700, big + 512 * 700, 88 * 700 * sizeof *big, err, sizeof err));
      CHECK_OK(cloudio_writer_close(writer, on_progress, &prog, err, sizeof err));
      CHECK(progress_ok(&prog));
      float *back = malloc(600 * 700 * sizeof *back);
      CHECK_OK(cloudio_dataset_open(streamed.s, &ds, err, sizeof err));
      CHECK_OK(cloudio_dataset_read(ds, 0, 0, 600, 700, NULL, 0, 0, back, 600 * 700 * sizeof *back, err, sizeof err));
      CHECK_OK(cloudio_dataset_close(ds, err, sizeof err));
      CHECK(memcmp(back, big, 600 * 700 * sizeof *back) == 0);
      free(back);
      remove(streamed.s);
    } else if (how == 1) {
      CHECK_STATUS(cloudio_writer_write(writer, 500, 500, 20, 20, big, 400 * sizeof *big, err, sizeof err),
                   CLOUDIO_ERR_INVALID_ARGUMENT);
      CHECK(strstr(err, "writes into tile (row 0, col 0) of the output, whose cells were all written and encoded already") != NULL);
      CHECK_STATUS(cloudio_writer_close(writer, NULL, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
    } else {
      prog.cancel_from = 1.0;
      CHECK_STATUS(cloudio_writer_close(writer, on_progress, &prog, err, sizeof err), CLOUDIO_ERR_CANCELLED);
    }
    after = snapshot_of(dir);
    CHECK(absent(streamed.s) && strcmp(before, after) == 0);
    free(after);
    free(before);
  }
  free(big);

  /* An existing destination survives an abort and a cancelled close, and
   * the writer's staging file goes with it. */
  size_t keep_len = 0;
  unsigned char *keep = slurp(dst.s, &keep_len);
  for (int how = 0; how < 2; how++) {
    before = snapshot_of(dir);
    CHECK_OK(cloudio_writer_open(dst.s, 30, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, &writer, err,
                                 sizeof err));
    CHECK_OK(cloudio_writer_write(writer, 0, 0, 2, 2, ones, sizeof ones, err, sizeof err));
    if (how == 0) {
      CHECK_OK(cloudio_writer_abort(writer, err, sizeof err));
    } else {
      progress_init(&prog);
      prog.cancel_from = 1.0;
      CHECK_STATUS(cloudio_writer_close(writer, on_progress, &prog, err, sizeof err), CLOUDIO_ERR_CANCELLED);
    }
    CHECK(same_bytes(dst.s, keep, keep_len));
    after = snapshot_of(dir);
    CHECK(strcmp(before, after) == 0);
    free(before);
    free(after);
  }
  free(keep);

  /* Open errors: nothing appears, *out untouched. */
  cloudio_writer *const untouched = (cloudio_writer *)(void *)&info;
  writer = untouched;
  const char *const bad_key[] = {"FOO=1", NULL};
  CHECK_FAILS_CLEANLY(cloudio_writer_open(NULL, 30, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, &writer, err,
                                          sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  CHECK_FAILS_CLEANLY(cloudio_writer_open("", 30, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, &writer, err,
                                          sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  CHECK_FAILS_CLEANLY(cloudio_writer_open(aborted.s, 30, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, NULL,
                                          err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, aborted.s);
  CHECK_FAILS_CLEANLY(cloudio_writer_open(aborted.s, 30, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, "nope", NULL,
                                          &writer, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, aborted.s);
  CHECK_FAILS_CLEANLY(cloudio_writer_open(aborted.s, 30, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, bad_key,
                                          &writer, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, aborted.s);
  CHECK_FAILS_CLEANLY(cloudio_writer_open(aborted.s, 0, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, &writer,
                                          err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, aborted.s);
  CHECK_FAILS_CLEANLY(cloudio_writer_open(aborted.s, 30, -20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, &writer,
                                          err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, aborted.s);
  CHECK_FAILS_CLEANLY(cloudio_writer_open(aborted.s, 30, 20, 0, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, &writer,
                                          err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, aborted.s);
  CHECK_FAILS_CLEANLY(cloudio_writer_open(aborted.s, 30, 20, 1, 99, NULL, NULL, NULL, NULL, NULL, &writer, err,
                                          sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, aborted.s);
  CHECK_FAILS_CLEANLY(cloudio_writer_open(aborted.s, 30, 20, 1, CLOUDIO_INT64, NULL, NULL, NULL, NULL, NULL, &writer,
                                          err, sizeof err),
                      CLOUDIO_ERR_UNSUPPORTED, aborted.s);
  CHECK_FAILS_CLEANLY(cloudio_writer_open(aborted.s, 30, 20, 1, CLOUDIO_UINT64, NULL, NULL, NULL, NULL, NULL, &writer,
                                          err, sizeof err),
                      CLOUDIO_ERR_UNSUPPORTED, aborted.s);
  CHECK_FAILS_CLEANLY(cloudio_writer_open(aborted.s, 30, 20, 1, CLOUDIO_FLOAT32, gt, "NOT_A_CRS", NULL, NULL, NULL,
                                          &writer, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, aborted.s);
  CHECK_FAILS_CLEANLY(cloudio_writer_open(nodir.s, 30, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, &writer,
                                          err, sizeof err),
                      CLOUDIO_ERR_NOT_FOUND, nodir.s);
  CHECK_FAILS_CLEANLY(cloudio_writer_open("/tmp/\xff" ".tif", 30, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL,
                                          &writer, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, "/tmp/\xff" ".tif");
  CHECK_FAILS_CLEANLY(cloudio_writer_open("https://example.com/w.tif", 30, 20, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL,
                                          NULL, NULL, &writer, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  CHECK(writer == untouched);

  free(part);
  free(z);
  remove(dst.s);
  remove(src.s);
}

/* ---- storage ----------------------------------------------------------------------------------- */

static void test_storage(void) {
  /* Per-prefix options: no request is made here. */
  const char *const opts[] = {"AWS_S3_ENDPOINT=127.0.0.1:1", "AWS_SECRET_ACCESS_KEY=x", "AWS_ACCESS_KEY_ID=y", NULL};
  const char *const none[] = {NULL};
  const char *const bad[] = {"NOT AN OPTION", NULL}, *const no_key[] = {"=x", NULL};
  const char *const reordered[] = {"AWS_ACCESS_KEY_ID=y", "AWS_S3_ENDPOINT=127.0.0.1:1", "aws_secret_access_key=x", NULL};
  size_t needed_prefix = 0;
  CHECK_OK(cloudio_storage_configure("s3://cloudio-c-test", opts, err, sizeof err));
  CHECK_OK(cloudio_storage_configure("s3://cloudio-c-test/", reordered, err, sizeof err)); /* the same: nothing to do */
  /* Other options for a configured prefix: refused, naming the keys, never the values. */
  CHECK_STATUS(cloudio_storage_configure("s3://cloudio-c-test", none, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err, "AWS_SECRET_ACCESS_KEY") != NULL && strstr(err, "=x") == NULL && strstr(err, "replace") != NULL);
  CHECK_OK(cloudio_storage_replace("s3://cloudio-c-test", none, err, sizeof err));
  CHECK_OK(cloudio_storage_configure("s3://cloudio-c-test", NULL, err, sizeof err)); /* what replace set */
  CHECK_STATUS(cloudio_storage_replace(NULL, none, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_replace("s3://cloudio-c-test", bad, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_OK(cloudio_storage_configure("s3://cloudio-c-test/folder/", NULL, err, sizeof err));
  CHECK_OK(cloudio_storage_configure("gs://cloudio-c-test", NULL, err, sizeof err));
  CHECK_OK(cloudio_storage_configure("https://example.com/data/", NULL, err, sizeof err));
  CHECK_OK(cloudio_storage_configure("/vsis3/cloudio-c-test-2", opts, err, sizeof err));
  CHECK_STATUS(cloudio_storage_configure("s3://cloudio-c-test", bad, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_configure("s3://cloudio-c-test", no_key, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_configure(dir, opts, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_configure("file:///tmp", opts, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_configure("", opts, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_configure(NULL, opts, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);

  /* What a binding asks instead of deciding: a store's prefix, which stores cover a name, secrets. */
  char prefix[64];
  CHECK_OK(cloudio_storage_prefix("s3://cloudio-c-test", 0, prefix, sizeof prefix, &needed_prefix, err, sizeof err));
  CHECK(strcmp(prefix, "s3://cloudio-c-test/") == 0 && needed_prefix == strlen(prefix) + 1);
  CHECK_STATUS(cloudio_storage_prefix("https://example.com/data", 1, prefix, sizeof prefix, NULL, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err, "read-only") != NULL);
  CHECK_STATUS(cloudio_storage_prefix(dir, 0, prefix, sizeof prefix, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  int covers = -1;
  CHECK_OK(cloudio_storage_covers("s3://cloudio-c-test/", "S3://cloudio-c-test/a.tif", &covers, err, sizeof err));
  CHECK(covers == 1);
  CHECK_OK(cloudio_storage_covers("s3://cloudio-c-test/", "s3://cloudio-c-test-2/a.tif", &covers, err, sizeof err));
  CHECK(covers == 0);
  CHECK_STATUS(cloudio_storage_covers("s3://cloudio-c-test/", "a", NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  int secret = -1;
  CHECK_OK(cloudio_secret_option("AZURE_STORAGE_SAS_TOKEN", &secret, err, sizeof err));
  CHECK(secret == 1);
  CHECK_OK(cloudio_secret_option("AWS_ACCESS_KEY_ID", &secret, err, sizeof err));
  CHECK(secret == 0);
  const char *const held[] = {"GS_SECRET_ACCESS_KEY=held-c-secret", NULL};
  char scrubbed[128];
  CHECK_OK(cloudio_scrub("held-c-secret at https://u:p4ss@h/k?sig=abcd", held, scrubbed, sizeof scrubbed, NULL, err,
                         sizeof err));
  CHECK(strcmp(scrubbed, "*** at https://***@h/k?sig=***") == 0);

  /* A local directory: list, exists, delete. */
  path_t sub = in_dir("listing");
  CHECK(mkdir(sub.s, 0700) == 0);
  char a[800], b[800], file_url[900];
  snprintf(a, sizeof a, "%s/a.tif", sub.s);
  snprintf(b, sizeof b, "%s/b.tif", sub.s);
  size_t needed = 0;
  CHECK_OK(cloudio_storage_list(sub.s, NULL, 0, &needed, err, sizeof err));
  CHECK(needed == 1);
  const float cell = 1;
  CHECK_OK(cloudio_write_cog_buffer(&cell, sizeof cell, CLOUDIO_FLOAT32, 1, 1, 1, NULL, NULL, NULL, b, NULL, NULL, NULL,
                                    NULL, err, sizeof err));
  CHECK_OK(cloudio_write_cog_buffer(&cell, sizeof cell, CLOUDIO_FLOAT32, 1, 1, 1, NULL, NULL, NULL, a, NULL, NULL, NULL,
                                    NULL, err, sizeof err));
  const char *want = "a.tif\nb.tif";
  CHECK_OK(cloudio_storage_list(sub.s, NULL, 0, &needed, err, sizeof err));
  CHECK(needed == strlen(want) + 1);
  char listing[64], tiny[8];
  memset(listing, '#', sizeof listing);
  CHECK_OK(cloudio_storage_list(sub.s, listing, strlen(want) + 1, NULL, err, sizeof err));
  CHECK(strcmp(listing, want) == 0 && listing[strlen(want) + 1] == '#');
  snprintf(file_url, sizeof file_url, "file://%s", sub.s);
  memset(listing, '#', sizeof listing);
  CHECK_OK(cloudio_storage_list(file_url, listing, sizeof listing, &needed, err, sizeof err));
  CHECK(strcmp(listing, want) == 0 && needed == strlen(want) + 1);
  memset(tiny, '#', sizeof tiny);
  CHECK_STATUS(cloudio_storage_list(sub.s, tiny, sizeof tiny, &needed, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(tiny[0] == '#' && needed == strlen(want) + 1);
  CHECK_OK(cloudio_storage_list(sub.s, tiny, 0, NULL, err, sizeof err));
  CHECK(tiny[0] == '#');
  path_t nodir = in_dir("no-such-dir");
  CHECK_STATUS(cloudio_storage_list(nodir.s, listing, sizeof listing, &needed, err, sizeof err), CLOUDIO_ERR_NOT_FOUND);
  CHECK_STATUS(cloudio_storage_list(NULL, listing, sizeof listing, &needed, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);

  int there = -1;
  CHECK_OK(cloudio_storage_exists(a, &there, err, sizeof err));
  CHECK(there == 1);
  snprintf(file_url, sizeof file_url, "file://%s", a);
  there = -1;
  CHECK_OK(cloudio_storage_exists(file_url, &there, err, sizeof err));
  CHECK(there == 1);
  CHECK_OK(cloudio_storage_delete(file_url, err, sizeof err));
  CHECK(!exists(a));
  CHECK_OK(cloudio_storage_exists(a, &there, err, sizeof err));
  CHECK(there == 0);
  CHECK_STATUS(cloudio_storage_delete(a, err, sizeof err), CLOUDIO_ERR_NOT_FOUND);
  CHECK_STATUS(cloudio_storage_delete("https://example.com/x.tif", err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_delete(NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_exists(b, NULL, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_storage_exists(NULL, &there, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_OK(cloudio_storage_list(sub.s, listing, sizeof listing, NULL, err, sizeof err));
  CHECK(strcmp(listing, "b.tif") == 0);
  CHECK_OK(cloudio_storage_delete(b, err, sizeof err));
  CHECK(rmdir(sub.s) == 0);
}

/* ---- Zarr ------------------------------------------------------------------------------------ */

static void remove_tree(const char *p) {
  char cmd[900];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
  CHECK(system(cmd) == 0);
}

static void test_zarr(void) {
  enum { ROWS = 70, COLS = 90 };
  size_t zlen;
  float *z = make_terrain(ROWS, COLS);
  zlen = (size_t)ROWS * COLS * sizeof *z;
  path_t src = in_dir("zsrc.tif"), dst = in_dir("dem.zarr");
  const double nodata = -9999;
  CHECK_OK(cloudio_write_cog_buffer(z, zlen, CLOUDIO_FLOAT32, 1, ROWS, COLS, gt_utm, "EPSG:32633", &nodata, src.s,
                                    NULL, NULL, NULL, NULL, err, sizeof err));

  /* A raster to a store, chunks 32 x 48: everything GDAL reads back. */
  struct progress prog;
  progress_init(&prog);
  CHECK_OK(cloudio_write_zarr(src.s, dst.s, 32, 48, "zstd", NULL, on_progress, &prog, err, sizeof err));
  CHECK(progress_ok(&prog));
  cloudio_info info;
  CHECK(info_of(dst.s, &info) && info.rows == ROWS && info.cols == COLS && info.bands == 1 &&
        info.dtype == CLOUDIO_FLOAT32 && info.block_rows == 32 && info.block_cols == 48);
  CHECK(info.has_geotransform && memcmp(info.geotransform, gt_utm, sizeof gt_utm) == 0);
  CHECK(info.has_nodata && info.nodata == nodata);
  char *wkt = crs_of(dst.s);
  CHECK(strstr(wkt, "32633") != NULL);
  free(wkt);
  CHECK(reads_back(dst.s, z, zlen));
  path_t array = in_dir("dem.zarr/dem/.zarray");
  CHECK(exists(array.s));

  /* A buffer of three bands, default chunks (clipped to the raster), every
   * compressor of GDAL 3.6 and case-insensitive names. */
  size_t len;
  void *i16 = make_pixels(CLOUDIO_INT16, 3, 40, 50, &len);
  const double nd16 = -1;
  static const char *const methods[] = {"NONE", "blosc", "Zlib", "gzip", "lzma", "ZSTD", "lz4", NULL};
  path_t bands = in_dir("bands.zarr");
  for (int i = 0; methods[i] != NULL; i++) {
    CHECK_OK(cloudio_write_zarr_buffer(i16, len, CLOUDIO_INT16, 3, 40, 50, gt_utm, "32633", &nd16, bands.s, 0, 0,
                                       methods[i], NULL, NULL, NULL, err, sizeof err));
    CHECK(info_of(bands.s, &info) && info.bands == 3 && info.dtype == CLOUDIO_INT16 && info.block_rows == 40 &&
          info.block_cols == 50 && info.nodata == nd16);
    CHECK(reads_back(bands.s, i16, len));
    remove_tree(bands.s);
  }
  /* A store is a source like any other. */
  path_t again = in_dir("again.zarr"), cog = in_dir("from-zarr.tif");
  const char *const level[] = {"ZSTD_LEVEL=3", NULL};
  CHECK_OK(cloudio_write_zarr(dst.s, again.s, 0, 0, NULL, level, NULL, NULL, err, sizeof err));
  CHECK(reads_back(again.s, z, zlen));
  CHECK_OK(cloudio_write_cog(again.s, cog.s, NULL, NULL, NULL, NULL, err, sizeof err));
  CHECK(valid_cog(cog.s) && reads_back(cog.s, z, zlen));
  remove(cog.s);
  remove_tree(again.s);

  /* Cancelled at the first call and at the last: nothing left. */
  for (int when = 0; when < 2; when++) {
    progress_init(&prog);
    if (when == 0) {
      prog.cancel_after = 1;
    } else {
      prog.cancel_from = 1.0;
    }
    CHECK_FAILS_CLEANLY(cloudio_write_zarr(src.s, again.s, 16, 16, NULL, NULL, on_progress, &prog, err, sizeof err),
                        CLOUDIO_ERR_CANCELLED, again.s);
  }

  /* Errors. */
  path_t missing = in_dir("missing.tif"), nodir = in_dir("no-such-dir/x.zarr");
  const char *const blocksize[] = {"BLOCKSIZE=4,4,4", NULL}, *const unknown[] = {"QUALITY=5", NULL};
  const char *const bad_level[] = {"ZSTD_LEVEL=high", NULL};
  CHECK_FAILS_CLEANLY(cloudio_write_zarr(src.s, again.s, 0, 0, "brotli", NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, again.s);
  CHECK(strstr(err, "BROTLI") != NULL && strstr(err, "ZSTD") != NULL);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr(src.s, again.s, -1, 0, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, again.s);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr(src.s, again.s, 0, 0, NULL, blocksize, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, again.s);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr(src.s, again.s, 0, 0, NULL, unknown, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, again.s);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr(src.s, again.s, 0, 0, NULL, bad_level, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, again.s);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr(NULL, again.s, 0, 0, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, again.s);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr(src.s, NULL, 0, 0, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr(src.s, "", 0, 0, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr(missing.s, again.s, 0, 0, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_NOT_FOUND, again.s);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr(src.s, nodir.s, 0, 0, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_NOT_FOUND, nodir.s);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr(src.s, dst.s, 0, 0, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL); /* exists: kept as it was */
  CHECK(reads_back(dst.s, z, zlen));
  CHECK_FAILS_CLEANLY(cloudio_write_zarr(src.s, "https://example.com/x.zarr", 0, 0, NULL, NULL, NULL, NULL, err,
                                         sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr_buffer(NULL, len, CLOUDIO_INT16, 3, 40, 50, NULL, NULL, NULL, again.s, 0, 0,
                                                NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, again.s);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr_buffer(i16, len - 1, CLOUDIO_INT16, 3, 40, 50, NULL, NULL, NULL, again.s, 0,
                                                0, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, again.s);
  const double bad_nodata = 70000; /* no Int16 value: Zarr keeps nodata as a fill_value of the array's type */
  CHECK_FAILS_CLEANLY(cloudio_write_zarr_buffer(i16, len, CLOUDIO_INT16, 3, 40, 50, NULL, NULL, &bad_nodata, again.s,
                                                0, 0, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, again.s);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr_buffer(i16, len, CLOUDIO_INT16, 3, 40, 50, NULL, "NOT_A_CRS", NULL, again.s,
                                                0, 0, NULL, NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, again.s);
  CHECK_FAILS_CLEANLY(cloudio_write_zarr_buffer(i16, len, CLOUDIO_INT16, 3, 40, 50, NULL, NULL, NULL, NULL, 0, 0, NULL,
                                                NULL, NULL, NULL, err, sizeof err),
                      CLOUDIO_ERR_INVALID_ARGUMENT, NULL);
  free(i16);
  free(z);
  remove_tree(dst.s);
  remove(src.s);
}

/* The whole mask of band 1 of path, through a reader with masks (malloc'd,
 * rows * cols bytes), or NULL. */
static unsigned char *mask_of(const char *path, int64_t rows, int64_t cols, size_t cell) {
  cloudio_reader_options ro;
  cloudio_reader_options_init(&ro);
  ro.tile_rows = rows;
  ro.tile_cols = cols;
  cloudio_reader *r = NULL;
  if (cloudio_reader_open_masked(path, &ro, 1, &r, err, sizeof err) != CLOUDIO_OK) {
    return NULL;
  }
  size_t max_len = 0;
  unsigned char *buf = NULL, *mask = NULL;
  int64_t window[8];
  if (cloudio_reader_info(r, NULL, NULL, &max_len, err, sizeof err) == CLOUDIO_OK &&
      max_len == (size_t)(rows * cols) * (cell + 1) && (buf = malloc(max_len)) != NULL &&
      cloudio_reader_next(r, window, buf, max_len, err, sizeof err) == CLOUDIO_OK && window[2] == rows) {
    mask = malloc((size_t)(rows * cols));
    memcpy(mask, buf + (size_t)(rows * cols) * cell, (size_t)(rows * cols));
  }
  free(buf);
  cloudio_reader_close(r, err, sizeof err);
  return mask;
}

static int same_mask(const unsigned char *got, const unsigned char *want, int n) {
  int same = got != NULL;
  for (int i = 0; same && i < n; i++) {
    same = (got[i] == 0) == (want[i] == 0);
  }
  return same;
}

/* A writer tied to its source: the same-source rule, masks written as
 * nodata or as the output's mask, the source's mask copied, readers that
 * deliver masks, option values checked up front. (Band roles and metadata
 * are compared with GDAL's in the Go and Python tests.) */
static void test_derived_writer(void) {
  enum { R = 70, C = 90 };
  path_t src = in_dir("derive-src.tif"), dst = in_dir("derived.tif"), copied = in_dir("derived-copy.tif");
  unsigned char *cells = malloc(R * C), *mask = malloc(R * C), *filled = malloc(R * C);
  for (int i = 0; i < R * C; i++) {
    cells[i] = (unsigned char)(i % 251);
    mask[i] = (i % 7 == 0) ? 0 : 1;
    filled[i] = mask[i] == 0 ? 255 : cells[i];
  }
  CHECK_OK(cloudio_write_cog_buffer(cells, R * C, CLOUDIO_BYTE, 1, R, C, NULL, NULL, NULL, src.s, NULL, NULL, NULL,
                                    NULL, err, sizeof err));

  /* The destination names the source: refused, however it is spelt. */
  char dotted[800], via_file[800];
  snprintf(dotted, sizeof dotted, "%s/./../%s/derive-src.tif", dir, strrchr(dir, '/') + 1);
  snprintf(via_file, sizeof via_file, "file://%s", src.s);
  const char *same[] = {src.s, dotted, via_file};
  cloudio_writer *w = NULL;
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
    CHECK_OK(cloudio_writer_open(same[i], R, C, 1, CLOUDIO_BYTE, NULL, NULL, NULL, NULL, NULL, &w, err, sizeof err));
    CHECK_STATUS(cloudio_writer_set_source(w, src.s, NULL, 0, 0, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err, "is the source") != NULL);
    CHECK_OK(cloudio_writer_abort(w, err, sizeof err));
  }

  /* Masked cells without nodata: the output's mask. */
  const int band1[] = {1};
  CHECK_OK(cloudio_writer_open(dst.s, R, C, 1, CLOUDIO_BYTE, NULL, NULL, NULL, NULL, NULL, &w, err, sizeof err));
  CHECK_OK(cloudio_writer_set_source(w, src.s, band1, 1, CLOUDIO_COPY_METADATA, err, sizeof err));
  CHECK_STATUS(cloudio_writer_set_source(w, src.s, NULL, 0, CLOUDIO_COPY_MASK, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT); /* one source to copy from */
  CHECK_STATUS(cloudio_writer_set_source(w, src.s, NULL, 0, 8, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_set_source(w, NULL, NULL, 0, 0, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_set_source(w, src.s, NULL, 1, 0, err, sizeof err), CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_write_masked(w, 0, 0, R, C, cells, R * C, mask, R * C - 1, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(cloudio_writer_write_masked(w, 0, 0, R, C, cells, R * C, NULL, R * C, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK_OK(cloudio_writer_write_masked(w, 0, 0, R, C, cells, R * C, mask, R * C, err, sizeof err));
  CHECK_STATUS(cloudio_writer_set_source(w, src.s, NULL, 0, 0, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT); /* after a write */
  CHECK_OK(cloudio_writer_close(w, NULL, NULL, err, sizeof err));
  CHECK(valid_cog(dst.s) && reads_back(dst.s, cells, R * C));
  unsigned char *got = mask_of(dst.s, R, C, 1);
  CHECK(same_mask(got, mask, R * C));
  free(got);

  /* That mask, copied from the output (a source now) to another. */
  CHECK_OK(cloudio_writer_open(copied.s, R, C, 1, CLOUDIO_BYTE, NULL, NULL, NULL, NULL, NULL, &w, err, sizeof err));
  CHECK_OK(cloudio_writer_set_source(w, dst.s, NULL, 0, CLOUDIO_COPY_MASK, err, sizeof err));
  CHECK_OK(cloudio_writer_write(w, 0, 0, R, C, cells, R * C, err, sizeof err));
  CHECK_OK(cloudio_writer_close(w, NULL, NULL, err, sizeof err));
  got = mask_of(copied.s, R, C, 1);
  CHECK(same_mask(got, mask, R * C));
  free(got);

  /* With nodata, masked cells are written as it; the caller's buffer stays. */
  const double nodata = 255;
  CHECK_OK(cloudio_writer_open(copied.s, R, C, 1, CLOUDIO_BYTE, NULL, NULL, &nodata, NULL, NULL, &w, err, sizeof err));
  CHECK_OK(cloudio_writer_write_masked(w, 0, 0, R, C, cells, R * C, mask, R * C, err, sizeof err));
  CHECK(cells[0] == 0 && cells[7] == 7);
  CHECK_OK(cloudio_writer_close(w, NULL, NULL, err, sizeof err));
  CHECK(reads_back(copied.s, filled, R * C));
  got = mask_of(copied.s, R, C, 1); /* the nodata value masks them */
  CHECK(same_mask(got, mask, R * C));
  free(got);

  /* A nodata value Byte cannot hold, bad option values: refused up front,
   * naming what is wrong. */
  const double too_big = 300;
  CHECK_STATUS(cloudio_writer_open(dst.s, R, C, 1, CLOUDIO_BYTE, NULL, NULL, &too_big, NULL, NULL, &w, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err, "nodata 300") != NULL);
  const char *const zero[] = {"BLOCKSIZE=0", NULL}, *const bogus[] = {"OVERVIEW_RESAMPLING=bogus", NULL};
  CHECK_STATUS(cloudio_writer_open(dst.s, R, C, 1, CLOUDIO_BYTE, NULL, NULL, NULL, NULL, zero, &w, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err, "BLOCKSIZE") != NULL);
  CHECK_STATUS(cloudio_write_cog(src.s, copied.s, NULL, bogus, NULL, NULL, err, sizeof err),
               CLOUDIO_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err, "OVERVIEW_RESAMPLING") != NULL && strstr(err, "AVERAGE") != NULL);
  free(filled);
  free(cells);
  free(mask);
  remove(src.s);
  remove(dst.s);
  remove(copied.s);
}

/* ---- hostile files, forks, racing closes ---------------------------------------- */

static const char *self; /* argv[0]: probes run in a child process of their own */

static uint64_t le_get(const unsigned char *p, int size) {
  uint64_t v = 0;
  for (int i = size - 1; i >= 0; i--) {
    v = v << 8 | p[i];
  }
  return v;
}

static void le_put(unsigned char *p, uint64_t v, int size) {
  for (int i = 0; i < size; i++, v >>= 8) {
    p[i] = (unsigned char)v;
  }
}

/* Make the last tile of path's first IFD (a little-endian BigTIFF) claim
 * count bytes: its TileByteCounts become LONG8 values appended to the file
 * (GDAL writes SHORT or LONG ones when they fit). 1 on success. */
static int claim_bytes(const char *path, uint64_t count) {
  size_t len = 0;
  unsigned char *b = slurp(path, &len);
  int done = 0;
  if (b == NULL || len < 16 || memcmp(b, "II+\0", 4) != 0) {
    free(b);
    return 0;
  }
  uint64_t ifd = le_get(b + 8, 8), n = ifd + 8 <= len ? le_get(b + ifd, 8) : 0;
  for (uint64_t i = 0; i < n && ifd + 8 + 20 * (i + 1) <= len && !done; i++) {
    unsigned char *e = b + ifd + 8 + 20 * i;
    int type = (int)le_get(e + 2, 2), size = type == 3 ? 2 : type == 4 ? 4 : type == 16 ? 8 : 0;
    uint64_t values = le_get(e + 4, 8);
    if (le_get(e, 2) != 325 || size == 0 || values == 0 || values > 1024) {
      continue;
    }
    uint64_t at = (uint64_t)size * values <= 8 ? ifd + 8 + 20 * i + 12 : le_get(e + 12, 8);
    size_t end = (len + 7) / 8 * 8;
    unsigned char *out = calloc(end + 8 * values, 1);
    memcpy(out, b, len);
    for (uint64_t k = 0; k < values; k++) {
      le_put(out + end + 8 * k, k + 1 == values ? count : le_get(b + at + (uint64_t)size * k, size), 8);
    }
    e = out + ifd + 8 + 20 * i;
    le_put(e + 2, 16, 2);
    le_put(e + 12, end, 8);
    write_prefix(path, out, end + 8 * values);
    free(out);
    done = 1;
  }
  free(b);
  return done;
}

/* The side of the crafted BigTIFFs: 2 x 2 tiles of the smallest BLOCKSIZE
 * the COG writer takes. */
enum { HUGE_SIDE = 256 };

/* Probe (in a child process): read every cell of path; print the error and
 * exit with the status. */
static int probe_read(const char *path) {
  cloudio_dataset *ds = NULL;
  static float cells[HUGE_SIDE * HUGE_SIDE];
  int rc = cloudio_dataset_open(path, &ds, err, sizeof err);
  if (rc == CLOUDIO_OK) {
    rc = cloudio_dataset_read(ds, 0, 0, HUGE_SIDE, HUGE_SIDE, NULL, 0, 0, cells, sizeof cells, err, sizeof err);
    cloudio_dataset_close(ds, NULL, 0);
  }
  printf("%s\n", err);
  return rc;
}

/* Probe: fork, before the first call into the library or after one; the
 * child's calls must fail at once, not hang. Exit status 0 when they did. */
static int probe_fork(int after_a_call) {
  if (after_a_call && strstr(cloudio_version(), "GDAL") == NULL) {
    return 1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20); /* a hang ends in SIGALRM, not in a stuck test */
    uint64_t written = 0, total = 0;
    char msg[512] = "";
    cloudio_dataset *ds = NULL;
    int ok = cloudio_tile_windows(5, 5, 3, 3, 0, 0, NULL, 0, &written, &total, msg, sizeof msg) ==
                 CLOUDIO_ERR_UNSUPPORTED &&
             strstr(msg, "forked") != NULL;
    ok = ok && cloudio_dataset_open("anything.tif", &ds, msg, sizeof msg) == CLOUDIO_ERR_UNSUPPORTED && ds == NULL;
    ok = ok && cloudio_abi_version() == CLOUDIO_ABI_VERSION && strstr(cloudio_version(), "forked") != NULL;
    _exit(ok ? 0 : 1);
  }
  int st = 0;
  return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* Run this program as "self args" and capture its first output line. */
static int run_probe(const char *args, char *line, size_t line_len) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "'%s' %s", self, args);
  FILE *p = popen(cmd, "r");
  if (p == NULL) {
    return -1;
  }
  line[0] = '\0';
  if (fgets(line, (int)line_len, p) == NULL) {
    line[0] = '\0';
  }
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct racer {
  void *handle;
  int kind; /* 0 dataset close, 1 reader close, 2 writer abort */
  volatile int *start;
  int rc;
};

static void *race_close(void *arg) {
  struct racer *r = arg;
  char msg[256];
  while (!*r->start) {
  }
  r->rc = r->kind == 0   ? cloudio_dataset_close(r->handle, msg, sizeof msg)
          : r->kind == 1 ? cloudio_reader_close(r->handle, msg, sizeof msg)
                         : cloudio_writer_abort(r->handle, msg, sizeof msg);
  return NULL;
}

/* Four threads close one handle at once: one closes it, the others get
 * CLOUDIO_ERR_INVALID_ARGUMENT, and nothing is freed twice. */
static int closes_race_cleanly(void *handle, int kind) {
  enum { N = 4 };
  struct racer racers[N];
  pthread_t threads[N];
  volatile int start = 0;
  for (int i = 0; i < N; i++) {
    racers[i] = (struct racer){handle, kind, &start, -1};
    pthread_create(&threads[i], NULL, race_close, &racers[i]);
  }
  start = 1;
  int ok = 0, refused = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(threads[i], NULL);
    ok += racers[i].rc == CLOUDIO_OK;
    refused += racers[i].rc == CLOUDIO_ERR_INVALID_ARGUMENT;
  }
  return ok == 1 && refused == N - 1;
}

static void test_hostile(void) {
  /* BigTIFFs whose last tile claims 2^40, 2^62, 2^63+5 and 2^64-1 bytes: an
   * IO error naming the tile, in a child process that must survive. */
  const uint64_t counts[] = {(uint64_t)1 << 40, (uint64_t)1 << 62, ((uint64_t)1 << 63) + 5, UINT64_MAX};
  float cells[64 * 64];
  for (int i = 0; i < 64 * 64; i++) {
    cells[i] = (float)i;
  }
  const char *const big[] = {"BIGTIFF=YES", "BLOCKSIZE=128", NULL};
  static float huge_cells[HUGE_SIDE * HUGE_SIDE];
  for (int i = 0; i < HUGE_SIDE * HUGE_SIDE; i++) {
    huge_cells[i] = (float)i;
  }
  for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
    path_t huge = in_dir("huge.tif");
    CHECK_OK(cloudio_write_cog_buffer(huge_cells, sizeof huge_cells, CLOUDIO_FLOAT32, 1, HUGE_SIDE, HUGE_SIDE, NULL,
                                      NULL, NULL, huge.s, NULL, big, NULL, NULL, err, sizeof err));
    CHECK(claim_bytes(huge.s, counts[k]));
    char args[800], line[1024];
    snprintf(args, sizeof args, "--probe-read '%s'", huge.s);
    CHECK_STATUS(run_probe(args, line, sizeof line), CLOUDIO_ERR_IO);
    CHECK(strstr(line, "tile (1, 1)") != NULL && strstr(line, huge.s) != NULL);
    remove(huge.s);
  }

  /* Forks (in probe processes: valgrind would check the child's leaks
   * too), before the first call and after one. */
  char line[1024];
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK(run_probe("--probe-fork 0", line, sizeof line) == 0);
  CHECK(run_probe("--probe-fork 1", line, sizeof line) == 0);
  CHECK(seconds_since(&t0) < 10);

  /* 64-bit nodata, exactly: a double cannot carry 2^64 - 1, the NODATA option can. */
  {
    uint64_t big_cells[4 * 5] = {0};
    const char *const exact[] = {"NODATA=18446744073709551615", NULL};
    path_t n64 = in_dir("n64.tif");
    CHECK_OK(cloudio_write_cog_buffer(big_cells, sizeof big_cells, CLOUDIO_UINT64, 1, 4, 5, NULL, NULL, NULL, n64.s, NULL,
                                      exact, NULL, NULL, err, sizeof err));
    cloudio_dataset *ds = NULL;
    char text[32] = "";
    CHECK_OK(cloudio_dataset_open(n64.s, &ds, err, sizeof err));
    CHECK_OK(cloudio_dataset_nodata(ds, 1, text, sizeof text, NULL, err, sizeof err));
    CHECK(strcmp(text, "18446744073709551615") == 0);
    CHECK_OK(cloudio_dataset_close(ds, err, sizeof err));
    const double byte_nodata = 300;
    uint8_t bytes[4 * 5] = {0};
    CHECK_STATUS(cloudio_write_cog_buffer(bytes, sizeof bytes, CLOUDIO_BYTE, 1, 4, 5, NULL, NULL, &byte_nodata, n64.s,
                                          NULL, NULL, NULL, NULL, err, sizeof err),
                 CLOUDIO_ERR_INVALID_ARGUMENT);
    remove(n64.s);
  }

  /* Closes racing on one handle. */
  path_t src = in_dir("race.tif");
  CHECK_OK(cloudio_write_cog_buffer(cells, sizeof cells, CLOUDIO_FLOAT32, 1, 64, 64, NULL, NULL, NULL, src.s, NULL,
                                    NULL, NULL, NULL, err, sizeof err));
  int clean = 1;
  for (int round = 0; round < 8; round++) {
    cloudio_dataset *ds = NULL;
    cloudio_reader *reader = NULL;
    cloudio_writer *writer = NULL;
    cloudio_reader_options o;
    cloudio_reader_options_init(&o);
    CHECK_OK(cloudio_dataset_open(src.s, &ds, err, sizeof err));
    clean &= closes_race_cleanly(ds, 0);
    CHECK_OK(cloudio_reader_open(src.s, &o, &reader, err, sizeof err));
    clean &= closes_race_cleanly(reader, 1);
    path_t dst = in_dir("race-out.tif");
    CHECK_OK(cloudio_writer_open(dst.s, 64, 64, 1, CLOUDIO_FLOAT32, NULL, NULL, NULL, NULL, NULL, &writer, err,
                                 sizeof err));
    clean &= closes_race_cleanly(writer, 2);
  }
  CHECK(clean);
  remove(src.s);
}

int main(int argc, char **argv) {
  self = argv[0];
  if (argc == 3 && strcmp(argv[1], "--probe-fork") == 0) {
    return probe_fork(atoi(argv[2]));
  }
  if (argc == 3 && strcmp(argv[1], "--probe-read") == 0) {
    return probe_read(argv[2]);
  }
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/cloudio-c-test-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  test_version();
  test_tile_windows();
  test_error_buffers();
  test_write_cog_buffer();
  test_validate_and_info();
  test_write_cog();
  test_dataset();
  test_reader();
  test_reader_of_gdal_files();
  test_writer();
  test_derived_writer();
  test_storage();
  test_zarr();
  test_hostile();
  CHECK(bad_progress_user == 0);

  /* Every test removed what it made: anything left is a stray file. */
  char *left = snapshot_of(dir);
  CHECK(strcmp(left, "") == 0);
  if (left[0] != '\0') {
    fprintf(stderr, "left in %s:\n%s", dir, left);
  }
  free(left);
  remove_files_in(dir);
  CHECK(rmdir(dir) == 0);

  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
