/*
 * stream_slope: the slope (degrees) of a DEM, streamed tile by tile from a
 * raster into a new COG with cloudio's tile reader and tile writer.
 *
 *   stream_slope SRC DST [TILE]
 *
 * Memory stays bounded by a few tiles whatever the raster size: the reader
 * decodes tiles ahead on worker threads, each tile comes with a one-cell halo
 * (edge-replicated beyond the raster) so that the 3 x 3 neighbourhood is
 * complete at tile seams, and the writer turns the windows into a COG.
 *
 * Slope: central differences, atan(hypot(dz/dx, dz/dy)) in degrees, computed
 * in double and stored as float32; cells whose 3 x 3 neighbourhood holds
 * nodata are nodata.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cloudio.h"

#define SLOPE_NODATA (-9999.0)

static int fail(const char *what, int status, const char *err) {
  fprintf(stderr, "stream_slope: %s: %s (%s)\n", what, err, cloudio_status_name(status));
  return 1;
}

/* Slope of the core of a padded tile: in is (rows + 2) x (cols + 2). */
static void slope(const float *in, int64_t rows, int64_t cols, double cell_x, double cell_y,
                  int has_nodata, double nodata, float *out) {
  const int64_t stride = cols + 2;
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t c = 0; c < cols; c++) {
      const float *p = in + (r + 1) * stride + (c + 1);
      float n = p[-stride], s = p[stride], w = p[-1], e = p[1];
      if (has_nodata && (p[0] == (float)nodata || n == (float)nodata || s == (float)nodata ||
                         w == (float)nodata || e == (float)nodata)) {
        out[r * cols + c] = (float)SLOPE_NODATA;
        continue;
      }
      double dzdx = ((double)e - (double)w) / (2.0 * cell_x);
      double dzdy = ((double)s - (double)n) / (2.0 * cell_y);
      out[r * cols + c] = (float)(atan(sqrt(dzdx * dzdx + dzdy * dzdy)) * (180.0 / M_PI));
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s SRC DST [TILE]\n", argv[0]);
    return 2;
  }
  const int64_t tile = argc > 3 ? atoll(argv[3]) : 1024;
  char err[1024];
  int rc;

  cloudio_reader_options opts;
  cloudio_reader_options_init(&opts);
  opts.tile_rows = opts.tile_cols = tile;
  opts.halo = 1;
  opts.edge = CLOUDIO_EDGE_REPLICATE;
  opts.dtype = CLOUDIO_FLOAT32;
  static const int first_band[] = {1};
  opts.bands = first_band;
  opts.n_bands = 1;

  cloudio_reader *reader = NULL;
  if ((rc = cloudio_reader_open(argv[1], &opts, &reader, err, sizeof err)) != CLOUDIO_OK) {
    return fail("open source", rc, err);
  }
  cloudio_info info;
  uint64_t count = 0;
  size_t max_len = 0;
  if ((rc = cloudio_reader_info(reader, &info, &count, &max_len, err, sizeof err)) != CLOUDIO_OK) {
    cloudio_reader_close(reader, NULL, 0);
    return fail("describe source", rc, err);
  }

  /* The source's CRS, for the destination. */
  size_t wkt_len = 0;
  cloudio_dataset *ds = NULL;
  char *wkt = NULL;
  if ((rc = cloudio_dataset_open(argv[1], &ds, err, sizeof err)) == CLOUDIO_OK &&
      (rc = cloudio_dataset_crs(ds, NULL, 0, &wkt_len, err, sizeof err)) == CLOUDIO_OK &&
      (wkt = malloc(wkt_len)) != NULL) {
    rc = cloudio_dataset_crs(ds, wkt, wkt_len, NULL, err, sizeof err);
  }
  if (ds != NULL) {
    cloudio_dataset_close(ds, NULL, 0);
  }
  if (rc != CLOUDIO_OK || wkt == NULL) {
    free(wkt);
    cloudio_reader_close(reader, NULL, 0);
    return fail("read the source's CRS", rc, err);
  }

  const double out_nodata = SLOPE_NODATA;
  /* Each cell is written once: tiles are encoded as they are complete. */
  const char *const writer_options[] = {"STREAM=YES", NULL};
  cloudio_writer *writer = NULL;
  rc = cloudio_writer_open(argv[2], info.rows, info.cols, 1, CLOUDIO_FLOAT32,
                           info.has_geotransform ? info.geotransform : NULL, wkt, &out_nodata,
                           "deflate", writer_options, &writer, err, sizeof err);
  free(wkt);
  if (rc != CLOUDIO_OK) {
    cloudio_reader_close(reader, NULL, 0);
    return fail("create destination", rc, err);
  }

  float *in = malloc(max_len);
  float *out = malloc((size_t)(tile * tile) * sizeof(float));
  if (in == NULL || out == NULL) {
    free(in);
    free(out);
    cloudio_reader_close(reader, NULL, 0);
    cloudio_writer_abort(writer, NULL, 0);
    return fail("allocate tiles", CLOUDIO_ERR_INTERNAL, "out of memory");
  }
  const double cell_x = fabs(info.geotransform[1]), cell_y = fabs(info.geotransform[5]);
  int64_t win[8];
  for (uint64_t done = 0;; done++) {
    if ((rc = cloudio_reader_next(reader, win, in, max_len, err, sizeof err)) != CLOUDIO_OK || win[2] == 0) {
      break;
    }
    slope(in, win[2], win[3], cell_x, cell_y, info.has_nodata, info.nodata, out);
    rc = cloudio_writer_write(writer, win[0], win[1], win[2], win[3], out,
                              (size_t)(win[2] * win[3]) * sizeof(float), err, sizeof err);
    if (rc != CLOUDIO_OK) {
      break;
    }
    if (done % 16 == 15 || done + 1 == count) {
      fprintf(stderr, "\rstream_slope: %llu / %llu tiles", (unsigned long long)(done + 1), (unsigned long long)count);
    }
  }
  fprintf(stderr, "\n");
  free(in);
  free(out);
  cloudio_reader_close(reader, NULL, 0);
  if (rc != CLOUDIO_OK) {
    cloudio_writer_abort(writer, NULL, 0);
    return fail("stream tiles", rc, err);
  }
  if ((rc = cloudio_writer_close(writer, NULL, NULL, err, sizeof err)) != CLOUDIO_OK) {
    return fail("finish COG", rc, err);
  }
  printf("%s\n", argv[2]);
  return 0;
}
