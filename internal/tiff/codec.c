/* Block encoding for the COG encoder: libtiff's predictors, byte for byte as
 * GTiff applies them, then GDAL's own compressors (CPLGetCompressor: zlib
 * through libdeflate in Debian's build, zstd), so that blocks come out as
 * GDAL's COG driver writes them. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cpl_compressor.h>
#include <cpl_error.h>

#include "codec.h"

const void *cloudioCompressor(const char *id) { return CPLGetCompressor(id); }

/* Horizontal differencing of one row of n samples of one width, stride
 * samples apart (libtiff's horDiff8/16/32/64: from the end, wrapping). */
#define HOR_DIFF(type)                                        \
  static void hor_diff_##type(type *p, size_t n, size_t stride) { \
    for (size_t i = n; i-- > stride;) p[i] = (type)(p[i] - p[i - stride]); \
  }
HOR_DIFF(uint8_t)
HOR_DIFF(uint16_t)
HOR_DIFF(uint32_t)
HOR_DIFF(uint64_t)

/* libtiff's fpDiff on a little-endian host: the bytes of the row's samples
 * regrouped by significance (most significant plane first), then
 * byte-wise horizontal differencing. */
static void fp_diff(uint8_t *row, const uint8_t *src, size_t len, size_t size, size_t stride) {
  size_t wc = len / size;
  for (size_t b = 0; b < size; b++) {
    uint8_t *plane = row + (size - b - 1) * wc;
    const uint8_t *from = src + b;
    for (size_t k = 0; k < wc; k++) plane[k] = from[size * k];
  }
  if (stride == 1) /* one band: a constant stride, which the compiler vectorises */
    for (size_t i = len; i-- > 1;) row[i] = (uint8_t)(row[i] - row[i - 1]);
  else
    hor_diff_uint8_t(row, len, stride);
}

static void predict(const cloudioEncoding *e, const uint8_t *raw, uint8_t *out) {
  size_t n = e->row_len / (size_t)e->sample_bytes, stride = (size_t)e->samples;
  for (size_t r = 0; r < e->rows; r++) {
    const uint8_t *src = raw + r * e->row_len;
    uint8_t *row = out + r * e->row_len;
    if (e->predictor == 3) {
      fp_diff(row, src, e->row_len, (size_t)e->sample_bytes, stride);
      continue;
    }
    memcpy(row, src, e->row_len);
    switch (e->sample_bytes) {
      case 1: hor_diff_uint8_t(row, n, stride); break;
      case 2: hor_diff_uint16_t((uint16_t *)row, n, stride); break;
      case 4: hor_diff_uint32_t((uint32_t *)row, n, stride); break;
      case 8: hor_diff_uint64_t((uint64_t *)row, n, stride); break;
    }
  }
}

static size_t encode_block(const cloudioEncoding *e, const void *raw, void *scratch, void *out, size_t out_cap) {
  size_t len = e->rows * e->row_len;
  const void *input = raw;
  if (e->predictor == 2 || e->predictor == 3) {
    predict(e, raw, scratch);
    input = scratch;
  }
  if (e->compressor == NULL) {
    if (len > out_cap) {
      CPLError(CE_Failure, CPLE_AppDefined, "a %zu-byte block does not fit a %zu-byte buffer", len, out_cap);
      return 0;
    }
    memcpy(out, input, len);
    return len;
  }
  const CPLCompressor *c = e->compressor;
  void *dst = out;
  size_t n = out_cap;
  if (!c->pfnFunc(input, len, &dst, &n, (CSLConstList)e->options, c->user_data)) {
    CPLError(CE_Failure, CPLE_AppDefined, "%s compression of a %zu-byte block failed", c->pszId, len);
    return 0;
  }
  return n;
}

size_t cloudioEncodeBlock(const cloudioEncoding *e, const void *raw, void *scratch, void *out, size_t out_cap,
                          cloudioErrors *errs) {
  cloudioErrorsBegin(errs);
  size_t n = encode_block(e, raw, scratch, out, out_cap);
  cloudioErrorsEnd(errs);
  return n;
}
