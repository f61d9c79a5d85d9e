#ifndef CLOUDIO_CORE_TRANSLATE_H
#define CLOUDIO_CORE_TRANSLATE_H

#include <stddef.h>
#include <stdint.h>

#include <cpl_error.h>
#include <gdal.h>

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

/* Failures GDAL reported during one call: the CPLE number of the first
 * CE_Failure / CE_Fatal and their messages joined by "; ". */
typedef struct {
  int failed;
  int code;
  char msg[2048];
  char warning[512]; /* the last warning: GDAL reports some HTTP failures only so */
} cloudioErrors;

/* Metadata items ("KEY=VALUE") to set on each band of a source before
 * translating it (statistics.go): items[b] is band b+1's, NULL-terminated. */
typedef struct {
  int n_bands;
  char ***items;
} cloudioBandMetadata;

/* GDALTranslate of src (opened by name), or of src_ds when it is not NULL
 * (left open), to dst with gdal_translate's argv; band_md (or NULL) goes
 * onto src_ds itself, or onto an in-memory VRT over a source opened by name. */
int cloudioTranslate(const char *src, GDALDatasetH src_ds, const cloudioBandMetadata *band_md, const char *dst,
                     char **argv, void *progress, cloudioErrors *errs);

/* A MEM dataset of bands x rows x cols values of dtype at data
 * (band-sequential, row-major), in place, with georef set (signed_byte: a
 * Byte band of signed bytes, PIXELTYPE=SIGNEDBYTE); NULL with errs filled in
 * when GDAL refuses. Close it with cloudioCloseDataset. */
GDALDatasetH cloudioMemDataset(void *data, int dtype, int signed_byte, int bands, int rows, int cols,
                               const cloudioGeoref *georef, cloudioErrors *errs);
void cloudioCloseDataset(GDALDatasetH ds);

/* The nodata value of 64-bit integer band (1-based) of the raster name,
 * exactly (godal reads nodata only as a double): 1 when it has one. */
int cloudioNoData64(const char *name, int band, long long *as_int64, unsigned long long *as_uint64);

/* Whether GDAL's virtual file system finds name (a local path or /vsi...). */
int cloudioPathExists(const char *name);

/* Pin name's values of keys (NULL-terminated) onto the calling thread's
 * configuration, and put back what they replaced. */
char **cloudioPinOptions(const char *name, char **keys);
void cloudioUnpinOptions(char **saved);

/* Whether a directory, or an object store's bucket, container or prefix,
 * can be listed with the options scoped to it: one of CLOUDIO_LIST_*
 * (FORBIDDEN: the bucket exists, but these credentials may not look at
 * that key; UNKNOWN: the prefix has no objects, and the store did not say
 * whether its bucket exists). */
enum {
  CLOUDIO_LIST_MISSING = 0,
  CLOUDIO_LIST_OK = 1,
  CLOUDIO_LIST_REFUSED = 2,
  CLOUDIO_LIST_NO_ANSWER = 3,
  CLOUDIO_LIST_FORBIDDEN = 4,
  CLOUDIO_LIST_UNKNOWN = 5
};
int cloudioCanList(const char *name);

/* Whether GDAL's message msg says that no HTTP answer came. */
int cloudioNoAnswer(const char *msg);

/* Whether name exists: 1; 0; -1 when its server did not answer, -2 when it
 * refused the credentials. Asks the server, not GDAL's cache. */
int cloudioStat(const char *name);

/* Rename through GDAL's virtual file system (works for /vsimem/ too). */
int cloudioRename(const char *from, const char *to);

/* Copy local file src to dst (any GDAL name); returns non-zero on failure. */
int cloudioUpload(const char *src, const char *dst, cloudioErrors *errs);

/* Per-prefix GDAL configuration (credentials, endpoints, timeouts). */
void cloudioSetPathOption(const char *prefix, const char *key, const char *value);
void cloudioClearPathOptions(const char *prefix);

/* Names under prefix, and why there are none (*state, a CLOUDIO_LIST_*);
 * free with CSLDestroy. */
char **cloudioList(const char *prefix, int recursive, int *state, cloudioErrors *errs);

/* Delete one file or object; non-zero on failure. */
int cloudioUnlink(const char *name, cloudioErrors *errs);

/* The error handler of cloudioTranslate and cloudioUpload; user data is a
 * cloudioErrors. */
void CPL_STDCALL cloudioCollectErrors(CPLErr cls, CPLErrorNum num, const char *msg);

#endif
