#ifndef CLOUDIO_CORE_RAWTIFF_H
#define CLOUDIO_CORE_RAWTIFF_H

#include <stddef.h>

/* A GeoTIFF opened for direct block decoding; see rawtiff.c. Decoding is
 * thread-safe; cloudioRawBlockRow is not (it asks GDAL's dataset). */
typedef struct cloudioRaw cloudioRaw;

/* NULL when the raster's layout is not one the decoder handles. */
cloudioRaw *cloudioRawOpen(const char *name);

/* The block grid, whether blocks hold every band (pixel interleaved), and
 * the scratch bytes cloudioRawDecode needs. */
void cloudioRawLayout(const cloudioRaw *r, int *block_rows, int *block_cols, int *pixel_interleaved,
                      size_t *scratch_len);

/* File offsets and byte counts of every block of block row by of the 1-based
 * band (band 1 when pixel interleaved); both 0 for a sparse block. */
int cloudioRawBlockRow(cloudioRaw *r, int band, int by, unsigned long long *offsets, unsigned long long *sizes);

/* Read n bytes at off of name into buf, through a VSI handle of its own (so
 * that GDAL's sequential read-ahead never fetches more). Returns 0, or 3
 * (CLOUDIO_ERR_IO) with a message in err. */
int cloudioRawFetch(const char *name, unsigned long long off, size_t n, void *buf, char *err, size_t err_len);

/* Decode block (bx, by) from its n bytes at data (n == 0: a sparse block,
 * filled with nodata) and copy its part of the window into out,
 * band-sequential and row-major, in the raster's own type. bands are 1-based;
 * band_slot is the band of out a band-interleaved block goes to (ignored when
 * pixel interleaved). scratch holds the layout's scratch_len bytes. Returns 0,
 * or 3 (CLOUDIO_ERR_IO) with a message in err. */
int cloudioRawDecode(const cloudioRaw *r, const void *data, size_t n, int bx, int by, long long row_off,
                     long long col_off, long long rows, long long cols, const int *bands, int n_bands, int band_slot,
                     void *out, void *scratch, char *err, size_t err_len);

void cloudioRawClose(cloudioRaw *r);

#endif
