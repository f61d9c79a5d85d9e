#ifndef CLOUDIO_TIFF_DECODE_H
#define CLOUDIO_TIFF_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "gdalc.h"

/* How the blocks of one image are encoded and laid out; see decode.c.
 * Read-only once filled in, so decoding is thread-safe. decode.go checks
 * every field against the image before any block is decoded. */
typedef struct {
  int64_t height, width;         /* the image, in cells */
  int64_t block_rows, block_cols;
  int size;                      /* bytes per sample */
  int spp;                       /* samples per pixel of a block: every band (pixel interleaved) or 1 */
  int compression;               /* CLOUDIO_CODEC_* */
  int predictor;                 /* 1, 2 or 3 */
  const void *zstd;              /* GDAL's "zstd" decompressor (a CPLCompressor) */
  size_t block_len;              /* bytes of one decoded block */
  size_t row_len;                /* bytes of one row of a block */
  unsigned char fill[8];         /* one sample of what sparse blocks hold */
} cloudioBlocks;

enum { CLOUDIO_CODEC_NONE = 0, CLOUDIO_CODEC_DEFLATE = 1, CLOUDIO_CODEC_ZSTD = 2 };

/* A window of the image and where it goes: out holds n_samples planes of
 * rows x cols samples, row-major; samples are 0-based sample indices of a
 * pixel-interleaved block; a band-interleaved block goes to plane slot. */
typedef struct {
  int64_t row_off, col_off, rows, cols;
  const int *samples;
  int n_samples;
  int slot;
  void *out;
} cloudioWindow;

/* The "zstd" decompressor of GDAL's registry, NULL when GDAL has none. */
const void *cloudioZstd(void);

/* Decode the n bytes at data of a block of block row by into block
 * (block_len bytes), with row (row_len bytes) as scratch: the rows it holds
 * (a striped image's last strip is short), 0 for a sparse block (n == 0).
 * Damage is a failure in errs (gdalc.h), as from every helper below. */
int64_t cloudioDecodeBlock(const cloudioBlocks *b, const void *data, size_t n, int64_t by, void *block, void *row,
                           cloudioErrors *errs);

/* Decode a block as cloudioDecodeBlock does, but leave its predictor: enough
 * to find damage (a stream that does not decode, or decodes short). */
void cloudioCheckBlock(const cloudioBlocks *b, const void *data, size_t n, int64_t by, void *block, cloudioErrors *errs);

/* Copy the part of w in decoded block (bx, by) (got_rows as
 * cloudioDecodeBlock gave; 0 fills with b->fill) into w->out. */
void cloudioPlace(const cloudioBlocks *b, const void *block, int64_t got_rows, int64_t bx, int64_t by,
                  const cloudioWindow *w);

/* cloudioDecodeBlock then cloudioPlace, with block and row as their
 * scratch, in fewer passes where the layout allows. */
void cloudioDecodeInto(const cloudioBlocks *b, const void *data, size_t n, int64_t bx, int64_t by,
                       const cloudioWindow *w, void *block, void *row, cloudioErrors *errs);

#endif
