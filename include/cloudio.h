/*
 * cloudio.h — the C interface of libcloudio: cloud-optimised raster I/O for
 * digital-elevation-model pipelines.
 *
 * This header is hand-written and is the contract. It compiles as C99 and as
 * C++ (the declarations are wrapped in extern "C").
 *
 * Conventions (after SQLite, zstd and GDAL):
 *  - Every function that does work returns an int status: CLOUDIO_OK (0) or
 *    one of the CLOUDIO_ERR_* codes below. Results go through caller-provided
 *    pointers, which are written only on success unless documented.
 *  - err / err_len: a caller buffer for a human-readable message. It may be
 *    NULL or err_len may be 0 (no message is written). When given, it is
 *    always NUL-terminated, set to "" on success, and truncated (never
 *    overflowed) when the message is longer than err_len - 1 bytes.
 *  - Strings passed in are UTF-8 and NUL-terminated. Option lists are
 *    GDAL-style NULL-terminated arrays of "KEY=VALUE" strings.
 *  - No function keeps a pointer it was given after it returns, unless its
 *    documentation says so.
 *  - No Go panic ever crosses this boundary: it becomes CLOUDIO_ERR_INTERNAL.
 *  - Every function is safe to call from many threads at once.
 *  - A process must not fork() after its first call into the library and
 *    then call it again in the child: the Go runtime's threads do not exist
 *    there and the call would hang. Start worker processes with spawn or
 *    fork-exec instead.
 *
 * Paths: a local path or any GDAL dataset name (for example "/vsimem/x.tif"
 * or "/vsicurl/https://...").
 *
 * Memory: GDAL's block cache is bounded. Unless the environment sets
 * GDAL_CACHEMAX, the library sets it to 256 MB when it is first used.
 */
#ifndef CLOUDIO_H
#define CLOUDIO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this interface. It changes only when a function's
 * signature or meaning changes incompatibly. */
#define CLOUDIO_ABI_VERSION 1

/* Status codes. */
enum {
  CLOUDIO_OK = 0,
  CLOUDIO_ERR_INVALID_ARGUMENT = 1, /* bad size, NULL pointer, unknown option value */
  CLOUDIO_ERR_NOT_FOUND        = 2, /* input missing, or output's parent directory missing */
  CLOUDIO_ERR_IO               = 3, /* GDAL could not read or write */
  CLOUDIO_ERR_UNSUPPORTED      = 4, /* driver or feature missing from this GDAL build */
  CLOUDIO_ERR_CANCELLED        = 5, /* a progress callback returned non-zero */
  CLOUDIO_ERR_INTERNAL         = 99 /* a bug: a recovered panic */
};

/* Pixel data types. The values are GDAL's GDALDataType values, so they can be
 * passed to and from GDAL's own API unchanged. */
typedef enum cloudio_dtype {
  CLOUDIO_BYTE    = 1,  /* uint8_t  */
  CLOUDIO_UINT16  = 2,  /* uint16_t */
  CLOUDIO_INT16   = 3,  /* int16_t  */
  CLOUDIO_UINT32  = 4,  /* uint32_t */
  CLOUDIO_INT32   = 5,  /* int32_t  */
  CLOUDIO_FLOAT32 = 6,  /* float    */
  CLOUDIO_FLOAT64 = 7,  /* double   */
  CLOUDIO_UINT64  = 12, /* uint64_t */
  CLOUDIO_INT64   = 13  /* int64_t  */
} cloudio_dtype;

/* Returns CLOUDIO_ABI_VERSION as the library was built. A program compiled
 * against this header should check that the two agree. Never fails. */
int cloudio_abi_version(void);

/* Returns a static string naming the library version and the GDAL it runs
 * on, for example "0.1.0 (GDAL 3.6.2)". The caller must not free it. */
const char *cloudio_version(void);

/* Returns a static string naming a status code, for example
 * "CLOUDIO_ERR_NOT_FOUND"; "CLOUDIO_ERR_UNKNOWN" for a value that is not a
 * status code. Never NULL; the caller must not free it. */
const char *cloudio_status_name(int status);

/* Progress callback. fraction is in [0, 1]; message may be NULL or "" and is
 * valid only during the call. Return 0 to go on, non-zero to cancel: the
 * operation then stops, cleans up, and returns CLOUDIO_ERR_CANCELLED.
 * The callback is called on the thread that called the library function. */
typedef int (*cloudio_progress_fn)(double fraction, const char *message, void *user);

/* Tile windows of a rows x cols raster, in the order tile_windows() yields
 * them: row-major, tiles of tile_rows x tile_cols cells that start every
 * max(1, tile_rows - overlap) rows and max(1, tile_cols - overlap) columns,
 * clipped at the raster's edge.
 *
 * Writes windows [first, first + capacity) as quadruples
 * (row_off, col_off, n_rows, n_cols) into out[4*i .. 4*i+3]; fewer when the
 * raster has fewer windows after first. *written = number of windows written;
 * *total = number of windows overall. out may be NULL when capacity is 0 (a
 * count query). The cost is O(capacity), whatever first is.
 *
 * Returns CLOUDIO_OK, or CLOUDIO_ERR_INVALID_ARGUMENT when rows or cols is
 * negative or above 2^31, tile_rows or tile_cols is not positive
 * ("tile_rows and tile_cols must be positive"), overlap is negative
 * ("overlap must be >= 0"), written or total is NULL, out is NULL with
 * capacity > 0, or the total does not fit in a uint64_t. */
int cloudio_tile_windows(int64_t rows, int64_t cols,
                         int64_t tile_rows, int64_t tile_cols, int64_t overlap,
                         uint64_t first, int64_t *out, uint64_t capacity,
                         uint64_t *written, uint64_t *total,
                         char *err, size_t err_len);

/* Write the raster at src (a path or GDAL name) as a Cloud-Optimised GeoTIFF
 * at dst, keeping every band, the data type, geotransform, CRS and nodata,
 * with internal overviews when larger than one block.
 *
 * compress: a COMPRESS method of the installed GDAL's COG driver, matched
 * case-insensitively ("deflate", "ZSTD", "lzw", ...); NULL means "deflate".
 * An unknown name is CLOUDIO_ERR_INVALID_ARGUMENT, never an uncompressed file.
 *
 * Defaults: PREDICTOR chosen from the data type for LZW, DEFLATE and ZSTD
 * (STANDARD for integers, FLOATING_POINT for floats), NUM_THREADS=ALL_CPUS,
 * BIGTIFF=IF_SAFER. options: extra COG creation options ("KEY=VALUE",
 * NULL-terminated) or NULL; they override every default. An option the COG
 * driver does not declare, or a value outside the ones it declares, is
 * CLOUDIO_ERR_INVALID_ARGUMENT.
 *
 * The write is atomic: the COG is written to a temporary file in dst's
 * directory and renamed over dst only once GDAL closed it without error. On
 * any failure or cancellation the temporary file is removed and an existing
 * dst is left untouched.
 *
 * progress may be NULL; progress_user is passed to it unchanged.
 *
 * Returns CLOUDIO_OK; CLOUDIO_ERR_INVALID_ARGUMENT (NULL or empty src/dst,
 * dst equal to src, unknown compress or option, a path that is not UTF-8);
 * CLOUDIO_ERR_NOT_FOUND (src missing, dst's directory missing);
 * CLOUDIO_ERR_IO (src not a raster GDAL can read, dst not writable);
 * CLOUDIO_ERR_UNSUPPORTED (no COG driver); CLOUDIO_ERR_CANCELLED. */
int cloudio_write_cog(const char *src, const char *dst, const char *compress,
                      const char *const *options,
                      cloudio_progress_fn progress, void *progress_user,
                      char *err, size_t err_len);

/* Write a caller's pixel buffer as a COG at dst, as cloudio_write_cog does
 * (same compress, options, progress, atomicity and status codes).
 *
 * data: bands x rows x cols values of type dtype, band-sequential and
 * row-major with no padding (a C-contiguous array of that shape), in native
 * byte order. The buffer is read in place (not copied) and only during the
 * call. data_len is its size in bytes and must equal
 * bands * rows * cols * (size of dtype).
 *
 * geotransform: GDAL's six affine coefficients, or NULL for none.
 * crs: "EPSG:4326", "4326", WKT, PROJ.4, or anything GDAL's
 * OSRSetFromUserInput accepts; NULL or "" for none.
 * nodata: a pointer to the nodata value, or NULL for none.
 *
 * Returns CLOUDIO_ERR_INVALID_ARGUMENT as well for a NULL data, an unknown
 * dtype, non-positive sizes, a data_len that does not match, or a crs GDAL
 * cannot parse. */
int cloudio_write_cog_buffer(const void *data, size_t data_len, int dtype,
                             int64_t bands, int64_t rows, int64_t cols,
                             const double *geotransform, const char *crs,
                             const double *nodata,
                             const char *dst, const char *compress,
                             const char *const *options,
                             cloudio_progress_fn progress, void *progress_user,
                             char *err, size_t err_len);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CLOUDIO_H */
