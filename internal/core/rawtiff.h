#ifndef CLOUDIO_CORE_RAWTIFF_H
#define CLOUDIO_CORE_RAWTIFF_H

#include <stddef.h>

/* A GeoTIFF opened for direct block decoding; see rawtiff.c. Not
 * thread-safe: every reader worker owns one. */
typedef struct cloudioRaw cloudioRaw;

/* NULL when the raster's layout is not one the decoder handles. */
cloudioRaw *cloudioRawOpen(const char *name);

/* Read a window of the 1-based bands into out, band-sequential, row-major,
 * in the raster's own type. Returns 0, or 3 (CLOUDIO_ERR_IO) with a message
 * in err. The window must be inside the raster. */
int cloudioRawRead(cloudioRaw *r, long long row_off, long long col_off, long long rows, long long cols,
                   const int *bands, int n_bands, void *out, char *err, size_t err_len);

void cloudioRawClose(cloudioRaw *r);

#endif
