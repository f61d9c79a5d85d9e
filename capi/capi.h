/* Declarations shared by capi's Go files and capi.c; a subset of
 * include/cloudio.h, which cgo cannot include next to its own prototypes of
 * the exported functions. */
#ifndef CLOUDIO_CAPI_H
#define CLOUDIO_CAPI_H
#include <stddef.h>
#include <stdint.h>

typedef int (*cloudio_progress_fn)(double fraction, const char *message, void *user);

typedef struct cloudio_info {
  int64_t rows, cols, bands;
  int dtype;
  int64_t block_rows, block_cols;
  int has_geotransform;
  double geotransform[6];
  int has_nodata;
  double nodata;
} cloudio_info;

typedef struct cloudio_reader_options {
  int64_t tile_rows, tile_cols, overlap, halo;
  int edge;
  const int *bands;
  size_t n_bands;
  int dtype;
  int workers, prefetch;
  int masks;
} cloudio_reader_options;

/* Calls a C function pointer, which Go cannot do itself. */
__attribute__((visibility("hidden")))
int capi_call_progress(cloudio_progress_fn fn, double fraction, const char *message, void *user);

#endif
