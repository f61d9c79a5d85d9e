#ifndef CLOUDIO_CORE_TRANSLATE_H
#define CLOUDIO_CORE_TRANSLATE_H

#include <stddef.h>
#include <stdint.h>

#include <gdal.h>

#include "gdalc.h"

/* Georeferencing to give an in-memory source. */
typedef struct {
  int has_geotransform;
  double geotransform[6];
  const char *wkt;          /* NULL or "" for none */
  int has_nodata;
  double nodata;
  long long nodata_int64;           /* the nodata of Int64 bands, exactly */
  unsigned long long nodata_uint64; /* ... and of UInt64 bands */
} cloudioGeoref;

/* Metadata items ("KEY=VALUE") to set on each band of a source before
 * translating it (statistics.go): items[b] is band b+1's, NULL-terminated. */
typedef struct {
  int n_bands;
  char ***items;
} cloudioBandMetadata;

/* GDALTranslate of src (opened by name), or of src_ds when it is not NULL
 * (left open), to dst with gdal_translate's argv; band_md (or NULL) goes
 * onto src_ds itself, or onto an in-memory VRT over a source opened by name. */
void cloudioTranslate(const char *src, GDALDatasetH src_ds, const cloudioBandMetadata *band_md, const char *dst,
                     char **argv, void *progress, cloudioErrors *errs);

/* A MEM dataset of bands x rows x cols values of dtype at data
 * (band-sequential, row-major), in place, with georef set (signed_byte: a
 * Byte band of signed bytes, PIXELTYPE=SIGNEDBYTE); NULL with errs filled in
 * when GDAL refuses. Close it with cloudioCloseDataset. */
GDALDatasetH cloudioMemDataset(void *data, int dtype, int signed_byte, int bands, int rows, int cols,
                               const cloudioGeoref *georef, cloudioErrors *errs);
void cloudioCloseDataset(GDALDatasetH ds);

/* A band's nodata value: has is 1 when it has one; value is it as a
 * double, and as_int64 / as_uint64 exactly for 64-bit integer bands (godal
 * reads only the double). */
typedef struct {
  int has;
  double value;
  long long as_int64;
  unsigned long long as_uint64;
} cloudioNoData;

/* Band's nodata value. Returned by value, so that GDAL stores its answer in
 * C memory, never through a pointer to a Go variable (godal's Band.NoData
 * does that, which valgrind reports as GDAL writing into Go's heap). */
cloudioNoData cloudioBandNoData(GDALRasterBandH band);

#endif
