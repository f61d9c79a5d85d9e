#ifndef CLOUDIO_CORE_RAWTIFF_H
#define CLOUDIO_CORE_RAWTIFF_H

#include <stddef.h>

/* A GeoTIFF opened for direct block decoding; see rawtiff.c. Decoding is
 * thread-safe; cloudioRawBlockRow is not (it asks GDAL's dataset). */
typedef struct cloudioRaw cloudioRaw;

/* NULL when the raster's layout is not one the decoder handles. */
cloudioRaw *cloudioRawOpen(const char *name);

/* The raster's size, the block grid, whether blocks hold every band (pixel
 * interleaved), and the bytes of a decoded block and of one of its rows. */
void cloudioRawLayout(const cloudioRaw *r, int *rows, int *cols, int *block_rows, int *block_cols,
                      int *pixel_interleaved, size_t *block_len, size_t *row_len);

/* File offsets and byte counts of every block of block row by of the 1-based
 * band (band 1 when pixel interleaved); both 0 for a sparse block. */
int cloudioRawBlockRow(cloudioRaw *r, int band, int by, unsigned long long *offsets, unsigned long long *sizes);

/* Read n bytes at off of name into buf, through a VSI handle of its own (so
 * that GDAL's sequential read-ahead never fetches more). Returns 0, or 3
 * (CLOUDIO_ERR_IO) with a message in err. */
int cloudioRawFetch(const char *name, unsigned long long off, size_t n, void *buf, char *err, size_t err_len);

/* Decode a block of block row by from its n bytes at data into block (the
 * layout's block_len bytes), with row (row_len bytes) as scratch; *rows receives the rows it holds (a striped
 * file's last strip is short), 0 for a sparse block (n == 0). Returns 0, or
 * 3 (CLOUDIO_ERR_IO) with a message in err. */
int cloudioRawDecodeBlock(const cloudioRaw *r, const void *data, size_t n, int by, void *block, void *row,
                          int *rows, char *err, size_t err_len);

/* Copy the part of the window in decoded block (bx, by) (got_rows as
 * cloudioRawDecodeBlock gave; 0 fills nodata) into out, band-sequential and
 * row-major, in the raster's own type. bands are 1-based; band_slot is the
 * band of out a band-interleaved block goes to (ignored when pixel
 * interleaved). */
void cloudioRawPlace(const cloudioRaw *r, const void *block, int got_rows, int bx, int by, long long row_off,
                     long long col_off, long long rows, long long cols, const int *bands, int n_bands, int band_slot,
                     void *out);

/* cloudioRawDecodeBlock then cloudioRawPlace, with block and row as their
 * scratch, in fewer passes where the layout allows. */
int cloudioRawDecodeInto(const cloudioRaw *r, const void *data, size_t n, int bx, int by, long long row_off,
                         long long col_off, long long rows, long long cols, const int *bands, int n_bands, int band_slot,
                         void *out, void *block, void *row, char *err, size_t err_len);

void cloudioRawClose(cloudioRaw *r);

#endif
