#ifndef CLOUDIO_TIFF_CODEC_H
#define CLOUDIO_TIFF_CODEC_H

#include <stddef.h>

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

/* Encodes the block raw into out (capacity out_cap); scratch holds
 * rows * row_len bytes and receives the predicted block (raw is left as it
 * is). *out_len is the encoded length. Returns 0, or -1 with the reason in
 * err (err_len bytes, NUL-terminated). */
int cloudioEncodeBlock(const cloudioEncoding *e, const void *raw, void *scratch, void *out, size_t out_cap,
                       size_t *out_len, char *err, size_t err_len);

#endif
