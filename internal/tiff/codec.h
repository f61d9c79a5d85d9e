#ifndef CLOUDIO_TIFF_CODEC_H
#define CLOUDIO_TIFF_CODEC_H

#include <stddef.h>

#include "gdalc.h"

/* One block's encoding: libtiff's predictor (as GTiff applies it, row by
 * row over the block's full width) and then GDAL's compressor. */
typedef struct {
  const void *compressor; /* a CPLCompressor, or NULL for no compression */
  const char *const *options; /* its options (LEVEL=n), NULL-terminated */
  int predictor;              /* 1, 2 (horizontal) or 3 (floating point) */
  size_t rows, row_len;       /* the block: rows of row_len bytes */
  int sample_bytes, samples;  /* bytes of one sample, samples per pixel */
} cloudioEncoding;

/* The CPLCompressor GDAL registers under id ("zlib", "zstd"), or NULL. */
const void *cloudioCompressor(const char *id);

/* Encodes the block raw into out (capacity out_cap) and returns the encoded
 * length; scratch holds rows * row_len bytes and receives the predicted
 * block (raw is left as it is). A failure is recorded in errs (gdalc.h's
 * convention) and the length is then 0. */
size_t cloudioEncodeBlock(const cloudioEncoding *e, const void *raw, void *scratch, void *out, size_t out_cap,
                          cloudioErrors *errs);

#endif
