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
 *  - No Go panic ever crosses this boundary, nor ends the process from one
 *    of the library's own threads: it becomes the call's
 *    CLOUDIO_ERR_INTERNAL.
 *  - A file's bytes are untrusted: a malformed or damaged GeoTIFF (offsets
 *    or byte counts past its end or beyond what a block can take, a block
 *    that does not decode) is CLOUDIO_ERR_IO naming the file and the block,
 *    on every path that reads it.
 *  - Every function is safe to call from many threads at once.
 *  - A child of a process that has loaded the library (linked it, or
 *    dlopen()ed it) must not call it: the Go runtime inside starts its
 *    threads when the library is loaded, and a forked child has none of them.
 *    Every function called in such a child returns CLOUDIO_ERR_UNSUPPORTED
 *    at once, with a message saying so, instead of hanging (functions
 *    without a status: cloudio_version and cloudio_status_name return that
 *    message, cloudio_reader_options_init does nothing). Start worker
 *    processes with fork-exec or posix_spawn, or load the library in the
 *    child only.
 *  - Closing or aborting a NULL handle is a no-op returning CLOUDIO_OK (as
 *    free(NULL)). Two threads closing one handle at once is safe: one closes
 *    it, the other gets CLOUDIO_ERR_INVALID_ARGUMENT.
 *  - The library exports only the cloudio_* functions below (a linker
 *    version script), so it shares a process with GDAL, godal users and
 *    other Go libraries.
 *
 * Paths: a local path or any GDAL dataset name (for example "/vsimem/x.tif"
 * or "/vsicurl/https://...").
 *
 * Memory: GDAL's block cache is bounded. Unless the environment sets
 * GDAL_CACHEMAX, the library sets it to 32 MB when it is first used.
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

/* The release this header belongs to (the checkout's VERSION file, which
 * the tests check it against). cloudio_version() names the release of the
 * library actually loaded, which starts with the same string when they
 * match. */
#define CLOUDIO_VERSION "0.1.0"

/* Status codes. */
enum {
  CLOUDIO_OK = 0,
  CLOUDIO_ERR_INVALID_ARGUMENT = 1, /* bad size, NULL pointer, unknown option value */
  CLOUDIO_ERR_NOT_FOUND        = 2, /* input missing, or output's parent directory missing */
  CLOUDIO_ERR_IO               = 3, /* GDAL could not read or write */
  CLOUDIO_ERR_UNSUPPORTED      = 4, /* driver or feature missing from this GDAL build; a forked child */
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
  CLOUDIO_INT64   = 13, /* int64_t  */
  CLOUDIO_INT8    = 14  /* int8_t: GDAL 3.7's GDT_Int8. GDAL 3.6 has no such type and keeps
                           signed bytes in Byte bands marked PIXELTYPE=SIGNEDBYTE: cloudio
                           reads those as CLOUDIO_INT8 and writes CLOUDIO_INT8 as such (not
                           to Zarr, which GDAL 3.6 cannot) */
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
 * the bands' colour interpretation, masks (a per-dataset mask, an alpha
 * band), colour tables, descriptions, units, scale/offset and metadata,
 * with internal overviews when larger than one block.
 *
 * compress: a COMPRESS method of the installed GDAL's COG driver, matched
 * case-insensitively ("deflate", "ZSTD", "lzw", ...); NULL means "deflate".
 * An unknown name is CLOUDIO_ERR_INVALID_ARGUMENT, never an uncompressed file.
 *
 * Defaults: PREDICTOR chosen from the data type for LZW, DEFLATE and ZSTD
 * (STANDARD for integers, FLOATING_POINT for floats), NUM_THREADS=ALL_CPUS,
 * BIGTIFF=IF_SAFER, and OVERVIEW_RESAMPLING=NEAREST for integer rasters
 * (codes and classes are never invented) or AVERAGE for floating point (no
 * overshoot, nodata-aware, no growing holes) unless RESAMPLING is given.
 * The overview method is recorded in the file's metadata as
 * OVERVIEW_RESAMPLING. options: extra COG creation options ("KEY=VALUE",
 * NULL-terminated) or NULL; they override every default (a key given twice:
 * the last wins). Every value is checked before any work, as
 * CLOUDIO_ERR_INVALID_ARGUMENT naming the option: an option the COG driver
 * does not declare, a value of another type (integer, number, YES/NO) or
 * outside the declared range or choices, and the limits the driver does not
 * declare: BLOCKSIZE a multiple of 16 from 128 to 4096, OVERVIEW_RESAMPLING
 * and RESAMPLING one of this GDAL's overview methods (NEAREST, AVERAGE, RMS,
 * BILINEAR, GAUSS, CUBIC, CUBICSPLINE, LANCZOS, MODE, ...), NUM_THREADS
 * ALL_CPUS or >= 1, QUALITY 1..100.
 *
 * Statistics: each band's STATISTICS_MINIMUM, _MAXIMUM, _MEAN, _STDDEV and
 * _VALID_PERCENT (NaN, nodata and masked cells excluded) go into the COG's
 * metadata, as GDAL's ComputeStatistics would write them, so that readers
 * need no scan. Here they cost one parallel read of src before GDAL reads
 * it. The option STATISTICS=NO (cloudio's own, under the name GDAL 3.8's
 * COG driver gives it; never passed to GDAL 3.6) turns them off;
 * STATISTICS=YES is the default.
 *
 * The write is atomic: the COG is written to a temporary file in dst's
 * directory and renamed over dst only once GDAL closed it without error. On
 * any failure or cancellation the temporary file is removed and an existing
 * dst is left untouched.
 *
 * progress may be NULL; progress_user is passed to it unchanged.
 *
 * Returns CLOUDIO_OK; CLOUDIO_ERR_INVALID_ARGUMENT (NULL or empty src/dst,
 * dst naming src however either is spelt (".", "..", symbolic and hard
 * links, file://, the same object-store key), unknown compress or option, a
 * path that is not UTF-8);
 * CLOUDIO_ERR_NOT_FOUND (src missing, dst's directory missing);
 * CLOUDIO_ERR_IO (src not a raster GDAL can read, or damaged: cloudio
 * decodes every block of a GeoTIFF src while GDAL translates it, as GDAL
 * reads some damaged blocks as garbage without an error; dst not writable);
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
 * nodata: a pointer to the nodata value, or NULL for none. It must be a value
 * of dtype exactly (300 is no Byte value, 1.5 no Int16 value, 0.1 no Float32
 * value: 0.100000001490116 is), else CLOUDIO_ERR_INVALID_ARGUMENT. A 64-bit
 * integer that a double cannot hold (2^64 - 1, 2^53 + 1) goes in options as
 * "NODATA=18446744073709551615": cloudio's own option, never passed to GDAL,
 * which gives the nodata value as text, exactly (and may replace nodata;
 * both given with different values is CLOUDIO_ERR_INVALID_ARGUMENT).
 *
 * Returns CLOUDIO_ERR_INVALID_ARGUMENT as well for a NULL data, an unknown
 * dtype, non-positive sizes, a data_len that does not match, a crs GDAL
 * cannot parse, or a nodata value the data type cannot hold. */
int cloudio_write_cog_buffer(const void *data, size_t data_len, int dtype,
                             int64_t bands, int64_t rows, int64_t cols,
                             const double *geotransform, const char *crs,
                             const double *nodata,
                             const char *dst, const char *compress,
                             const char *const *options,
                             cloudio_progress_fn progress, void *progress_user,
                             char *err, size_t err_len);

/* ---- Checking and describing files --------------------------------------- */

/* Is the file at name (a path or any URL the library reads) a valid COG,
 * by the rules of GDAL's own validator (validate_cloud_optimized_geotiff):
 * tiling, overviews present and in decreasing size, IFDs before the data
 * and in order, the data of the smallest overview first and of the full
 * resolution last, the ghost header in its place and, for local files, its
 * claims (block order, leader and trailer bytes, masks interleaved with
 * their imagery) checked against the bytes of every block.
 *
 * *valid = 1 or 0; when 0, err receives the first error (the return is
 * still CLOUDIO_OK). A file that exists but is no TIFF (another format, a
 * directory, a damaged file) is not valid. Returns CLOUDIO_ERR_NOT_FOUND
 * when name does not exist, CLOUDIO_ERR_IO when it cannot be read,
 * CLOUDIO_ERR_INVALID_ARGUMENT for a NULL argument. */
int cloudio_validate(const char *name, int *valid, char *err, size_t err_len);

/* How far cloudio_validate_report checks the bytes of the blocks. */
enum {
  CLOUDIO_VALIDATE_AUTO  = 0, /* local files and /vsimem/ fully, remote ones quickly (GDAL's default) */
  CLOUDIO_VALIDATE_FULL  = 1, /* always read a few bytes around every block (slow over a network) */
  CLOUDIO_VALIDATE_QUICK = 2  /* never: the header and the IFDs only */
};

/* cloudio_validate with every error and warning: the report is one line
 * per finding, "error: <sentence>\n" for each error, then
 * "warning: <sentence>\n" for each warning (GDAL's sentences); "" for a
 * valid file without warnings. Warnings (no internal overviews on a large
 * file) do not make a file invalid.
 *
 * full_check: one of CLOUDIO_VALIDATE_*. valid may be NULL. Sizes as in
 * cloudio_dataset_crs: *needed (when not NULL) receives the buffer size the
 * report needs, NUL included; with buf NULL or buf_len 0 only *needed and
 * *valid are set; a buf shorter than *needed is
 * CLOUDIO_ERR_INVALID_ARGUMENT and receives nothing. Statuses as in
 * cloudio_validate, and CLOUDIO_ERR_INVALID_ARGUMENT for an unknown
 * full_check. */
int cloudio_validate_report(const char *name, int full_check, int *valid,
                            char *buf, size_t buf_len, size_t *needed,
                            char *err, size_t err_len);

/* Describe the raster at name as one JSON object (UTF-8), read from its
 * metadata alone (no pixel is read):
 *
 *   driver               GDAL's short name, e.g. "GTiff"
 *   rows, cols, bands    sizes
 *   dtype                band 1's type as numpy names it ("float32")
 *   geotransform         GDAL's 6 affine coefficients, or null
 *   crs                  {"wkt": WKT2, "epsg": code or null}, or null
 *   nodata               band 1's nodata value, or null
 *   block                band 1's block size [rows, cols]
 *   overviews            band 1's overview sizes [[rows, cols], ...], largest first
 *   compress, predictor  GDAL's COMPRESSION and PREDICTOR, or null
 *   overview_resampling  the overview resampling the file records
 *                        (rio-cogeo's OVERVIEW_RESAMPLING or
 *                        OVR_RESAMPLING_ALG, lower case), or null
 *   band_info            per band: description, unit, color_interp (GDAL's
 *                        name), nodata, mask (GDAL's mask flags, e.g.
 *                        ["PER_DATASET"], when the band has a mask band of
 *                        its own, else null), statistics (the file's
 *                        STATISTICS_*: minimum, maximum, mean, stddev,
 *                        valid_percent, each null when absent; null when
 *                        the file records none)
 *   cog                  whether cloudio_validate calls it a valid COG
 *
 * NaN and infinite numbers are the strings "NaN", "Infinity" and
 * "-Infinity", as gdalinfo writes them. More keys may come in later
 * versions. Sizes as in cloudio_dataset_crs (a size query with buf NULL).
 * Returns CLOUDIO_ERR_NOT_FOUND when name does not exist, CLOUDIO_ERR_IO
 * when GDAL cannot read it as a raster, CLOUDIO_ERR_INVALID_ARGUMENT for a
 * NULL name or a buffer too small. */
int cloudio_info_json(const char *name, char *buf, size_t buf_len, size_t *needed,
                      char *err, size_t err_len);

/* ---- Datasets ------------------------------------------------------------ */

/* An open raster. Opaque; create with cloudio_dataset_open, release with
 * cloudio_dataset_close. One handle may be used by many threads at once:
 * each read borrows a GDAL handle of its own. */
typedef struct cloudio_dataset cloudio_dataset;

/* What a raster is. Sizes in cells; block size is band 1's; dtype holds
 * every band's values: the bands' type, or, when they differ (a VRT's
 * bands may), the narrowest type that holds them all (Byte and Float32:
 * Float32). */
typedef struct cloudio_info {
  int64_t rows, cols, bands;
  int dtype;                     /* a cloudio_dtype (GDAL type number) */
  int64_t block_rows, block_cols; /* internal block (tile or strip) size */
  int has_geotransform;          /* 0: geotransform holds GDAL's default */
  double geotransform[6];        /* GDAL's affine coefficients */
  int has_nodata;
  double nodata;
} cloudio_info;

/* Open the raster name (a path or GDAL name) for reading; *out receives the
 * handle. Returns CLOUDIO_ERR_NOT_FOUND when name does not exist,
 * CLOUDIO_ERR_IO when GDAL cannot read it as a raster,
 * CLOUDIO_ERR_INVALID_ARGUMENT for NULL arguments, a name that is not UTF-8
 * or a raster without bands. */
int cloudio_dataset_open(const char *name, cloudio_dataset **out,
                         char *err, size_t err_len);

/* Describe the raster into *out. Returns CLOUDIO_ERR_INVALID_ARGUMENT for a
 * NULL, closed or unknown handle or a NULL out. */
int cloudio_dataset_info(cloudio_dataset *ds, cloudio_info *out,
                         char *err, size_t err_len);

/* The raster's CRS as WKT ("" when it has none). *needed (when not NULL)
 * receives the buffer size the WKT needs, NUL included. With buf NULL or
 * buf_len 0 only *needed is set; a buf shorter than *needed is
 * CLOUDIO_ERR_INVALID_ARGUMENT and receives nothing. */
int cloudio_dataset_crs(cloudio_dataset *ds, char *buf, size_t buf_len, size_t *needed,
                        char *err, size_t err_len);

/* The nodata value of band (1-based) as text, exactly: "" when the band has
 * none, else an integer ("-9999", "18446744073709551615": cloudio_info's
 * double cannot hold every 64-bit integer), a decimal number as C's strtod
 * reads it back to the same double ("-3.4028234663852886e+38"), "nan",
 * "+Inf" or "-Inf". Sizes as in cloudio_dataset_crs. Returns
 * CLOUDIO_ERR_INVALID_ARGUMENT for a band that does not exist. */
int cloudio_dataset_nodata(cloudio_dataset *ds, int band, char *buf, size_t buf_len, size_t *needed,
                           char *err, size_t err_len);

/* Read the window (row_off, col_off, n_rows, n_cols) of the given bands
 * (1-based; bands NULL and n_bands 0 mean every band) into buf,
 * band-sequential and row-major, converted to dtype (0: the raster's own
 * type; CLOUDIO_INT64 and CLOUDIO_UINT64 are CLOUDIO_ERR_UNSUPPORTED).
 * buf_len must be exactly n_bands * n_rows * n_cols * (size of dtype).
 * Returns CLOUDIO_ERR_INVALID_ARGUMENT for a window not inside the raster, a
 * band that does not exist, a wrong buf_len or a closed handle;
 * CLOUDIO_ERR_IO when GDAL cannot decode the data (for example a file
 * truncated on disk). */
int cloudio_dataset_read(cloudio_dataset *ds, int64_t row_off, int64_t col_off,
                         int64_t n_rows, int64_t n_cols,
                         const int *bands, size_t n_bands, int dtype,
                         void *buf, size_t buf_len, char *err, size_t err_len);

/* *buffer_dtype = the type cloudio_dataset_read fills for these bands and
 * dtype (0: the type that holds every value of the bands), checked as it
 * checks them, without reading: for a caller that plans reads up front (a
 * Dask graph) and must fail before the first one. Returns
 * CLOUDIO_ERR_INVALID_ARGUMENT for a band that does not exist or a closed
 * handle, CLOUDIO_ERR_UNSUPPORTED for bands no one buffer type holds or a
 * dtype no buffer can be. */
int cloudio_dataset_read_type(cloudio_dataset *ds, const int *bands, size_t n_bands, int dtype, int *buffer_dtype,
                              char *err, size_t err_len);

/* Release the dataset. Reads running on other threads finish first. The
 * handle is invalid afterwards: closing it again, or using it, is
 * CLOUDIO_ERR_INVALID_ARGUMENT, never a crash (as long as no other handle has
 * been created at the same address since). NULL is a no-op returning
 * CLOUDIO_OK. */
int cloudio_dataset_close(cloudio_dataset *ds, char *err, size_t err_len);

/* ---- Tile reader ---------------------------------------------------------- */

/* Decodes a raster's tiles ahead of the caller on worker threads and hands
 * them out in cloudio_tile_windows order. GeoTIFF blocks are decoded
 * directly, each run of adjacent blocks fetched with one range request, many
 * in flight; other rasters go through a GDAL handle per worker.
 * Memory stays bounded by (prefetch + 1) tiles. Opaque. */
typedef struct cloudio_reader cloudio_reader;

/* How a halo is filled beyond the raster's edge. */
enum {
  CLOUDIO_EDGE_REPLICATE = 0, /* repeat the outermost row or column */
  CLOUDIO_EDGE_NODATA    = 1  /* the raster's nodata value (it must have one) */
};

/* Parameters of a reader. Initialise with cloudio_reader_options_init, then
 * set what differs from the defaults. */
typedef struct cloudio_reader_options {
  int64_t tile_rows, tile_cols; /* default 1024 x 1024 */
  int64_t overlap;              /* as in cloudio_tile_windows; default 0 */
  int64_t halo;                 /* cells added on every side of each tile; default 0 */
  int edge;                     /* CLOUDIO_EDGE_*; default replicate */
  const int *bands;             /* 1-based; NULL = every band (default) */
  size_t n_bands;
  int dtype;                    /* 0 = the raster's own type (default) */
  int workers;                  /* decoding threads; 0 = the core count, 8 x that for
                                   object stores and HTTP (default) */
  int prefetch;                 /* tiles decoded ahead; 0 = 2 x workers, 1 x for object
                                   stores and HTTP (default) */
} cloudio_reader_options;
/* The struct is part of ABI 1 and never grows: the library reads and writes
 * exactly these fields, so callers compiled against any ABI 1 header work.
 * Parameters added later are arguments of their own functions (masks:
 * cloudio_reader_open_masked). */

/* Fill *options with the defaults. Does nothing for NULL. */
void cloudio_reader_options_init(cloudio_reader_options *options);

/* Open name and start decoding its tiles. The options are copied; bands
 * need not outlive the call. Returns the statuses of cloudio_dataset_open,
 * and CLOUDIO_ERR_INVALID_ARGUMENT for tile sizes as cloudio_tile_windows
 * rejects them, a negative halo, workers or prefetch, an unknown edge mode,
 * edge nodata on a raster without nodata, or a band that does not exist. */
int cloudio_reader_open(const char *name, const cloudio_reader_options *options,
                        cloudio_reader **out, char *err, size_t err_len);

/* cloudio_reader_open, and with masks non-zero each tile's data is followed
 * by the masks of its bands (see cloudio_reader_next); masks 0 is exactly
 * cloudio_reader_open. Same statuses. */
int cloudio_reader_open_masked(const char *name, const cloudio_reader_options *options, int masks,
                               cloudio_reader **out, char *err, size_t err_len);

/* Describe the reader: the raster (*info), the number of tiles (*count) and
 * the buffer size that holds any tile, halo included (*max_buf_len). Any
 * output pointer may be NULL. */
int cloudio_reader_info(cloudio_reader *reader, cloudio_info *info, uint64_t *count,
                        size_t *max_buf_len, char *err, size_t err_len);

/* Take the next tile. window receives 8 values: the tile's window
 * (row_off, col_off, n_rows, n_cols) and the padded window the data covers
 * (the tile grown by the halo on every side, so its offsets may be negative).
 * buf receives the padded window's cells of the selected bands,
 * band-sequential and row-major; buf_len must be at least its size (use
 * *max_buf_len from cloudio_reader_info). From a reader opened with masks
 * (cloudio_reader_open_masked), the data is followed by one byte per cell
 * of each selected band, band-sequential, for the same padded window:
 * GDAL's mask of the band (its nodata, a per-dataset mask, an alpha band),
 * 0 where the cell holds no data and 255 elsewhere; beyond the raster's
 * edge replicated like the data, or 0 with CLOUDIO_EDGE_NODATA. Masks are
 * read through GDAL. After the last tile, returns
 * CLOUDIO_OK with all 8 values 0 (n_rows == 0 means the end).
 * A buffer too small is CLOUDIO_ERR_INVALID_ARGUMENT and takes nothing; a
 * decoding failure is CLOUDIO_ERR_IO and ends the reader (every later call
 * returns the same error). Calls from several threads are serialised. */
int cloudio_reader_next(cloudio_reader *reader, int64_t window[8], void *buf, size_t buf_len,
                        char *err, size_t err_len);

/* Stop the workers and release the reader; tiles not taken are dropped.
 * NULL is a no-op returning CLOUDIO_OK. */
int cloudio_reader_close(cloudio_reader *reader, char *err, size_t err_len);

/* ---- Tile writer ---------------------------------------------------------- */

/* Accepts windows in any order from any thread and produces a COG at close,
 * atomically: a writer that fails, or is aborted, leaves nothing at its
 * destination. Opaque. */
typedef struct cloudio_writer cloudio_writer;

/* Create a writer of a rows x cols raster of bands bands of dtype at dst,
 * with georeferencing as in cloudio_write_cog_buffer and compress / options
 * as in cloudio_write_cog (OVERVIEW_RESAMPLING, BLOCKSIZE, ... and their
 * defaults). Everything is validated here, before any tile is computed: a
 * nodata value the data type cannot hold exactly (300 for Byte, 1.5 for an
 * integer type, 1e40 or 0.1 for Float32) is CLOUDIO_ERR_INVALID_ARGUMENT;
 * the option NODATA=<text> gives it as text, as for
 * cloudio_write_cog_buffer. The output's
 * bands are Undefined (as GDAL makes the bands of an in-memory raster; a
 * GeoTIFF shows band 1 as Gray unless a Byte raster has 3 or 4 bands) until
 * cloudio_writer_set_source gives them roles. Statistics (see
 * cloudio_write_cog) are computed from the windows as they are written;
 * only when windows overlap or a mask rather than nodata marks cells does
 * close read the staging file for them.
 * Windows go into a staging GeoTIFF beside dst (in TMPDIR for an object
 * store's COG) unless options hold STREAM=YES: then each tile of the COG
 * is encoded as soon as every cell of it has been written, on every core,
 * and a COG for S3 is uploaded while it is encoded, with nothing staged.
 * The price: a window may overlap earlier ones only in tiles not yet
 * complete, and a window masked without a nodata value must come before
 * the first tile is complete (else write returns
 * CLOUDIO_ERR_INVALID_ARGUMENT and the writer is failed). Where cloudio's
 * encoder does not implement the options (see cloudio_write_cog),
 * STREAM=YES stages the windows as without it. Returns the statuses of
 * cloudio_write_cog_buffer; CLOUDIO_INT64 / CLOUDIO_UINT64 are
 * CLOUDIO_ERR_UNSUPPORTED. */
int cloudio_writer_open(const char *dst, int64_t rows, int64_t cols, int64_t bands, int dtype,
                        const double *geotransform, const char *crs, const double *nodata,
                        const char *compress, const char *const *options,
                        cloudio_writer **out, char *err, size_t err_len);

/* What cloudio_writer_set_source copies from a source (flags, or-ed). */
enum {
  CLOUDIO_COPY_METADATA = 1, /* band descriptions, units, scale/offset, band and dataset
                                metadata (not the source's STATISTICS_*), colour tables */
  CLOUDIO_COPY_MASK     = 2  /* the source's per-dataset mask, for windows written
                                without a mask of their own (same size only) */
};

/* Tie the writer to a raster src its output is computed from, before the
 * first write. src must not name dst, however either is spelt (".", "..",
 * symbolic and hard links, file://, the same object-store key): that is
 * CLOUDIO_ERR_INVALID_ARGUMENT, the rule every writer applies. bands[i]
 * (1-based) is the source band output band i is computed from (n_bands is
 * the writer's band count); bands NULL and n_bands 0: the bands are not
 * matched (a func that makes other bands), only the dataset is.
 * Matched bands take the source bands' colour interpretation (a palette
 * only with CLOUDIO_COPY_METADATA, for Byte or UInt16 and a single band:
 * GeoTIFF makes further bands of a palette raster alpha bands) and, with
 * copy, what the CLOUDIO_COPY_* flags say. A writer computed from several
 * rasters names each (every one is checked against dst); only one may be
 * given non-zero copy flags, and it gives the roles (else the first with
 * bands). Returns CLOUDIO_ERR_INVALID_ARGUMENT after a write, for a
 * band that does not exist, a band count that does not match, unknown
 * flags, a second source to copy from, or a mask to copy onto another
 * size; the statuses of cloudio_dataset_open for src. */
int cloudio_writer_set_source(cloudio_writer *writer, const char *src, const int *bands, size_t n_bands,
                              int copy, char *err, size_t err_len);

/* Store the window (row_off, col_off, n_rows, n_cols) of every band from buf
 * (band-sequential, row-major, the writer's dtype; buf_len exactly its size).
 * Windows may overlap (the last write wins; see STREAM=YES in
 * cloudio_writer_open) and come from any thread.
 * Returns CLOUDIO_ERR_INVALID_ARGUMENT for a window not inside the raster or
 * a wrong buf_len; CLOUDIO_ERR_IO when the staging file cannot be written
 * (the writer is then failed: close returns the error and cleans up). */
int cloudio_writer_write(cloudio_writer *writer, int64_t row_off, int64_t col_off,
                         int64_t n_rows, int64_t n_cols, const void *buf, size_t buf_len,
                         char *err, size_t err_len);

/* As cloudio_writer_write, with mask marking the cells that hold no data:
 * one byte per cell of every band, band-sequential (bands * n_rows * n_cols
 * bytes, mask_len exactly that; 0 = no data). When the writer has a nodata
 * value, masked cells are written as it (buf itself is not changed);
 * otherwise the output gets a per-dataset mask, in which a cell is masked
 * when it is masked in every band, so the bands' masks must then agree
 * (CLOUDIO_ERR_INVALID_ARGUMENT otherwise). Windows written without a mask
 * are valid in that mask, or have the source's (CLOUDIO_COPY_MASK). */
int cloudio_writer_write_masked(cloudio_writer *writer, int64_t row_off, int64_t col_off,
                                int64_t n_rows, int64_t n_cols, const void *buf, size_t buf_len,
                                const unsigned char *mask, size_t mask_len, char *err, size_t err_len);

/* Finish: build the COG with overviews and move it to dst. progress may be
 * NULL. The handle is released whatever the outcome. Cells never written
 * read as the nodata value when the writer has one, otherwise as 0. NULL
 * is a no-op returning CLOUDIO_OK. */
int cloudio_writer_close(cloudio_writer *writer, cloudio_progress_fn progress, void *progress_user,
                         char *err, size_t err_len);

/* Discard everything written and release the writer. NULL is a no-op
 * returning CLOUDIO_OK. */
int cloudio_writer_abort(cloudio_writer *writer, char *err, size_t err_len);

/* ---- Cloud storage -------------------------------------------------------- */

/* Every function that takes a path also takes s3://bucket/key,
 * gs://bucket/key, az://container/key, http(s)://... (read-only) and GDAL's
 * own /vsi... names; file:// is a local path. */

/* Scope GDAL configuration options to every name under url, a prefix such as
 * "s3://bucket" or "s3://bucket/folder/" (GDAL's VSISetPathSpecificOption):
 * credentials and endpoints for two prefixes live side by side, and nothing
 * reaches GDAL's global configuration. options are GDAL configuration
 * "KEY=VALUE" pairs (AWS_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_HTTPS, AWS_VIRTUAL_HOSTING, GS_..., AZURE_...,
 * GDAL_HTTP_TIMEOUT, ...), NULL-terminated, or NULL. Defaults that bound
 * requests to an unreachable endpoint (GDAL_HTTP_CONNECTTIMEOUT=10,
 * GDAL_HTTP_TIMEOUT=60, GDAL_HTTP_MAX_RETRY=2, GDAL_HTTP_RETRY_DELAY=0.5) and
 * CPL_VSIL_USE_TEMP_FILE_FOR_RANDOM_WRITE=YES come first; options override
 * them. GDAL 3.6 reads its HTTP timeouts and retries only from its global or
 * the calling thread's configuration, so cloudio sets a prefix's values on
 * the thread of every GDAL call it makes for a name under it (and puts the
 * thread's own back after): they bound every call but Azure uploads, whose
 * worker threads GDAL starts itself and which follow the global values.
 *
 * Configuring the same prefix again with the same options does nothing;
 * with other options it is CLOUDIO_ERR_INVALID_ARGUMENT (the message names
 * the options that differ, never their values), because every user of the
 * prefix in this process would silently get the new ones: replace them with
 * cloudio_storage_replace. Nested prefixes ("s3://bucket" and
 * "s3://bucket/folder/") follow GDAL's rule: for each option, the longest
 * configured prefix of a name that sets it wins; options it does not set
 * come from the shorter prefixes, then from GDAL's global configuration and
 * the environment. GDAL compares plain strings, so "s3://dem" also covers
 * "s3://dems/...": give sibling buckets all of their own options.
 * Every option configured for a prefix of a name is also set on the thread
 * of each GDAL call cloudio makes for that name (GDAL 3.6 lists with the
 * bucket's options), so a prefix may have credentials of its own only.
 * Messages from the library never carry the values of secret options
 * (keys, tokens, passwords, SAS, headers) nor credentials inside URLs.
 * Returns CLOUDIO_ERR_INVALID_ARGUMENT for a url that is not remote, an
 * option that is not KEY=VALUE, or other options for a configured prefix. */
int cloudio_storage_configure(const char *url, const char *const *options, char *err, size_t err_len);

/* As cloudio_storage_configure, but replaces the options of a prefix that is
 * already configured (a new endpoint or rotated credentials). Every user of
 * the prefix in this process sees the new options from then on. */
int cloudio_storage_replace(const char *url, const char *const *options, char *err, size_t err_len);

/* The names under url, relative to it, sorted, separated by '\n' (all keys
 * below the prefix for object stores). Sizes as in cloudio_dataset_crs:
 * *needed (when not NULL) receives the size the listing needs, NUL included.
 * An existing prefix with no objects lists as "". Returns
 * CLOUDIO_ERR_NOT_FOUND for a missing directory or bucket, CLOUDIO_ERR_IO
 * when the server refuses the credentials or does not answer. */
int cloudio_storage_list(const char *url, char *buf, size_t buf_len, size_t *needed, char *err, size_t err_len);

/* *exists = 1 when url names an existing file or object, or a bucket or
 * container (az://container), or a prefix of one ending in '/'
 * (s3://bucket/team/), that exists and these credentials can look into,
 * else 0. The answer is the server's, never what GDAL cached. Returns
 * CLOUDIO_ERR_IO when the server refuses the credentials or does not answer
 * (within its timeout times its retries plus one). */
int cloudio_storage_exists(const char *url, int *exists, char *err, size_t err_len);

/* Delete one file or object. CLOUDIO_ERR_NOT_FOUND when it does not exist;
 * CLOUDIO_ERR_IO when the server refuses the credentials;
 * CLOUDIO_ERR_INVALID_ARGUMENT for an HTTP URL (read-only). */
int cloudio_storage_delete(const char *url, char *err, size_t err_len);

/* The canonical prefix of the store at url (s3://bucket, s3://bucket/folder/,
 * gs://, az://, http(s)://, or a /vsi... prefix), which needs no server:
 * url ending in one '/', so that a key joins it as prefix + key and
 * "s3://dems/" never covers "s3://dems2/...". Sizes as in
 * cloudio_dataset_crs. With writable nonzero the store must be one that can
 * be written. Returns CLOUDIO_ERR_INVALID_ARGUMENT for a url that is not an
 * object store or HTTP URL, and for an HTTP url when writable (read-only). */
int cloudio_storage_prefix(const char *url, int writable, char *buf, size_t buf_len, size_t *needed, char *err,
                           size_t err_len);

/* *covers = 1 when name (a path, URL or GDAL name, or a Zarr array's
 * ZARR:"url":/array, which lies in its store) is the store prefix or lies
 * below it ("s3://dems/" covers "s3://dems/a.tif" and "S3://dems", not
 * "s3://dems2/a.tif"; gs:// and gcs:// are one scheme), else 0. The rule
 * for choosing which store's options travel with a name to another
 * process; GDAL itself matches the options of a prefix as a plain string
 * (see cloudio_storage_configure). Returns CLOUDIO_ERR_INVALID_ARGUMENT when
 * prefix is not a store URL. */
int cloudio_storage_covers(const char *prefix, const char *name, int *covers, char *err, size_t err_len);

/* *secret = 1 when the configuration option named key holds a secret
 * (keys, tokens, passwords, SAS, connection strings, HTTP headers and
 * user:password; AWS_ACCESS_KEY_ID is a user name), else 0: the rule by
 * which the library's messages mask option values, for a caller's own
 * displays of options. */
int cloudio_secret_option(const char *key, int *secret, char *err, size_t err_len);

/* text with every secret masked as in the library's own messages, into buf
 * (sizes as in cloudio_dataset_crs): the values of secret options configured
 * for a store in this process and of those among options ("KEY=VALUE",
 * NULL-terminated, or NULL: options the caller holds; an entry without '='
 * is masked whole), a URL's user:password, signatures and tokens in query
 * strings, authorization header values, the keys of a connection string.
 * For a caller's own messages about stores. */
int cloudio_scrub(const char *text, const char *const *options, char *buf, size_t buf_len, size_t *needed, char *err,
                  size_t err_len);

/* ---- Zarr ------------------------------------------------------------------ */

/* Write the raster at src (a path, URL or GDAL name; a Zarr store too) as a
 * Zarr (V2) store at dst, a local path or an object-store URL
 * (s3://bucket/dem.zarr, ...), through GDAL's Zarr driver. Every band, the
 * data type, geotransform, CRS and nodata are kept, and GDAL reads them back.
 * On GDAL 3.6 the store holds one 2-D array per band, named after dst
 * ("dem.zarr" holds "dem", or "dem_band1" ... "dem_bandN"), beside the X and
 * Y coordinate arrays GDAL writes; every cloudio function that reads a
 * raster opens such a store, by its path or URL, as one raster of all bands.
 *
 * chunk_rows, chunk_cols: the chunk (tile) size, clipped to the raster;
 * 0 means 512. compress: a COMPRESS method of the installed GDAL's Zarr
 * driver, case-insensitive (GDAL 3.6: "none", "blosc", "zlib", "gzip",
 * "lzma", "zstd", "lz4"); NULL means "zstd". An unknown name is
 * CLOUDIO_ERR_INVALID_ARGUMENT, never an uncompressed store. options: extra
 * Zarr creation options ("ZSTD_LEVEL=9", "FORMAT=ZARR_V3", ...), NULL-terminated,
 * or NULL, checked as cloudio_write_cog checks its options; BLOCKSIZE=N
 * (square chunks) or BLOCKSIZE=ROWS,COLS sets the chunk size when
 * chunk_rows and chunk_cols are 0 (both is CLOUDIO_ERR_INVALID_ARGUMENT);
 * OVERVIEW_RESAMPLING (a store has no overviews) and APPEND_SUBDATASET are
 * refused.
 *
 * The write is atomic: a failed or cancelled write leaves nothing at dst.
 * A local store is written to a temporary directory beside dst and renamed
 * to dst when complete. For an object store it is written to a local
 * temporary directory and then uploaded, every chunk before any metadata,
 * so that no reader opens a store with chunks missing; on failure the
 * objects uploaded are deleted again (if the server has gone away, the error
 * says which objects are left: chunks only, which no reader opens as a
 * store). An existing dst is never replaced (CLOUDIO_ERR_INVALID_ARGUMENT):
 * delete it first. progress may be NULL; for an object store the upload is
 * the second half of the fractions.
 *
 * Returns CLOUDIO_OK; CLOUDIO_ERR_INVALID_ARGUMENT (NULL or empty src/dst,
 * dst naming src (as cloudio_write_cog) or existing, negative chunk sizes, unknown compress or
 * option, a nodata value the data type cannot hold as Zarr's fill_value,
 * an HTTP dst, a Zarr source whose several arrays are not the bands of one
 * raster); CLOUDIO_ERR_NOT_FOUND (src missing, dst's directory or bucket
 * missing); CLOUDIO_ERR_IO (src unreadable, dst not writable, an upload
 * failed); CLOUDIO_ERR_UNSUPPORTED (no Zarr driver, a /vsi... dst other than
 * an object store); CLOUDIO_ERR_CANCELLED. */
int cloudio_write_zarr(const char *src, const char *dst, int64_t chunk_rows, int64_t chunk_cols,
                       const char *compress, const char *const *options,
                       cloudio_progress_fn progress, void *progress_user,
                       char *err, size_t err_len);

/* Write a caller's pixel buffer as a Zarr store at dst: data, data_len,
 * dtype, the sizes and the georeferencing as in cloudio_write_cog_buffer;
 * chunk sizes, compress, options, progress, atomicity and status codes as in
 * cloudio_write_zarr. */
int cloudio_write_zarr_buffer(const void *data, size_t data_len, int dtype,
                              int64_t bands, int64_t rows, int64_t cols,
                              const double *geotransform, const char *crs,
                              const double *nodata,
                              const char *dst, int64_t chunk_rows, int64_t chunk_cols,
                              const char *compress, const char *const *options,
                              cloudio_progress_fn progress, void *progress_user,
                              char *err, size_t err_len);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CLOUDIO_H */
