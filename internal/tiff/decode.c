/* Direct decoding of GeoTIFF blocks, the CPU-bound half of the tile reader.
 *
 * Why it exists: reading a DEFLATE + floating-point-predictor COG through
 * GDAL's RasterIO spends about half its CPU time in libtiff's predictor
 * decoding (a byte-at-a-time loop) and more in block-cache copies. These
 * kernels inflate a block with GDAL's own decompressors (CPLZLibInflate,
 * which uses libdeflate, and the "zstd" decompressor of GDAL's registry)
 * and undo the predictor with SIMD, straight into the caller's window. They
 * handle the layouts cloudio and GDAL's COG driver write (tiled or striped,
 * DEFLATE / ZSTD / none, predictor 1, 2 or 3, band or pixel interleaved,
 * little-endian); decode.go declines anything else. The caller (decode.go)
 * has checked the layout against the image and every window against the
 * image and its buffer, so that no index here leaves its buffer. */
#include "decode.h"

#include <stdio.h>
#include <string.h>

#include <cpl_compressor.h>
#include <cpl_conv.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

const void *cloudioZstd(void) { return CPLGetDecompressor("zstd"); }

/* In-place inclusive prefix sum of bytes with stride 1 (the first step of
 * undoing the floating-point predictor). */
static void prefix_bytes(unsigned char *p, size_t n) {
  size_t i = 0;
#ifdef __SSE2__
  __m128i carry = _mm_setzero_si128();
  for (; i + 16 <= n; i += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(p + i));
    x = _mm_add_epi8(x, _mm_slli_si128(x, 1));
    x = _mm_add_epi8(x, _mm_slli_si128(x, 2));
    x = _mm_add_epi8(x, _mm_slli_si128(x, 4));
    x = _mm_add_epi8(x, _mm_slli_si128(x, 8));
    x = _mm_add_epi8(x, carry);
    _mm_storeu_si128((__m128i *)(p + i), x);
    carry = _mm_set1_epi8((char)p[i + 15]);
  }
#endif
  unsigned char c = i > 0 ? p[i - 1] : 0;
  for (; i < n; i++) {
    c = (unsigned char)(c + p[i]);
    p[i] = c;
  }
}

/* The floating-point predictor (TIFF technical note 3) differences the
 * bytes of a row of wc samples of size bytes with stride spp, after storing
 * them as byte planes from the most significant byte. Undoing it is a
 * prefix sum (float_prefix) and then interleaving the planes (unshuffle). */
static void float_prefix(unsigned char *row, size_t wc, int size, int spp) {
  size_t n = wc * (size_t)size;
  if (spp == 1) {
    prefix_bytes(row, n);
  } else {
    for (size_t i = (size_t)spp; i < n; i++) {
      row[i] = (unsigned char)(row[i] + row[i - (size_t)spp]);
    }
  }
}

/* Interleave samples [k0, k0 + width) of the byte planes of a row of wc
 * samples into dst, which must not overlap them. */
static void unshuffle(unsigned char *dst, const unsigned char *planes, size_t wc, int size, size_t k0, size_t width) {
  size_t k = 0;
#ifdef __SSE2__
  if (size == 4) {
    const unsigned char *b3 = planes + k0, *b2 = planes + wc + k0, *b1 = planes + 2 * wc + k0, *b0 = planes + 3 * wc + k0;
    for (; k + 16 <= width; k += 16) {
      __m128i x0 = _mm_loadu_si128((const __m128i *)(b0 + k)), x1 = _mm_loadu_si128((const __m128i *)(b1 + k));
      __m128i x2 = _mm_loadu_si128((const __m128i *)(b2 + k)), x3 = _mm_loadu_si128((const __m128i *)(b3 + k));
      __m128i lo01 = _mm_unpacklo_epi8(x0, x1), hi01 = _mm_unpackhi_epi8(x0, x1);
      __m128i lo23 = _mm_unpacklo_epi8(x2, x3), hi23 = _mm_unpackhi_epi8(x2, x3);
      __m128i *out = (__m128i *)(dst + 4 * k);
      _mm_storeu_si128(out + 0, _mm_unpacklo_epi16(lo01, lo23));
      _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(lo01, lo23));
      _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(hi01, hi23));
      _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(hi01, hi23));
    }
  }
#endif
  for (; k < width; k++) {
    for (int byte = 0; byte < size; byte++) {
      dst[(size_t)size * k + (size_t)byte] = planes[(size_t)(size - byte - 1) * wc + k0 + k];
    }
  }
}

/* Undo horizontal differencing (predictor 2) on one row. */
static void undo_int_predictor(unsigned char *row, size_t wc, int size, int spp) {
  size_t s = (size_t)spp;
  switch (size) {
  case 1:
    for (size_t i = s; i < wc; i++) row[i] = (uint8_t)(row[i] + row[i - s]);
    break;
  case 2: {
    uint16_t *v = (uint16_t *)row;
    for (size_t i = s; i < wc; i++) v[i] = (uint16_t)(v[i] + v[i - s]);
    break;
  }
  case 4: {
    uint32_t *v = (uint32_t *)row;
    for (size_t i = s; i < wc; i++) v[i] += v[i - s];
    break;
  }
  case 8: {
    uint64_t *v = (uint64_t *)row;
    for (size_t i = s; i < wc; i++) v[i] += v[i - s];
    break;
  }
  }
}

/* Decode a block's n bytes from raw into block (b->block_len bytes; tmp
 * holds one row), undoing the predictor unless predict is 0; the rows
 * present (a striped image's last strip is short). A failure is raised
 * (CPLError) into the caller's error context. */
static int64_t decode_block(const cloudioBlocks *b, const unsigned char *raw, size_t n, int64_t by, unsigned char *block,
                            unsigned char *tmp, int predict) {
  size_t got = 0;
  if (b->compression == CLOUDIO_CODEC_NONE) {
    got = n < b->block_len ? n : b->block_len;
    memcpy(block, raw, got);
  } else if (b->compression == CLOUDIO_CODEC_DEFLATE) {
    if (CPLZLibInflate(raw, n, block, b->block_len, &got) == NULL) {
      CPLError(CE_Failure, CPLE_AppDefined, "corrupt DEFLATE data (%zu bytes)", n);
      return 0;
    }
  } else {
    const CPLCompressor *zstd = b->zstd;
    void *out = block;
    got = b->block_len;
    if (!zstd->pfnFunc(raw, n, &out, &got, NULL, zstd->user_data)) {
      CPLError(CE_Failure, CPLE_AppDefined, "corrupt ZSTD data (%zu bytes)", n);
      return 0;
    }
  }
  size_t wc = (size_t)b->block_cols * (size_t)b->spp;
  int64_t rows = (int64_t)(got / b->row_len);
  int64_t expect = b->block_rows;
  if (b->height - by * b->block_rows < expect) {
    expect = b->height - by * b->block_rows;
  }
  if (rows < expect) {
    CPLError(CE_Failure, CPLE_AppDefined, "%zu bytes decode to %lld rows of the %lld it must hold: the file is truncated or corrupt",
             n, (long long)rows, (long long)expect);
    return 0;
  }
  for (int64_t i = 0; i < rows && predict && b->predictor > 1; i++) {
    unsigned char *row = block + (size_t)i * b->row_len;
    if (b->predictor == 2) {
      undo_int_predictor(row, wc, b->size, b->spp);
    } else {
      float_prefix(row, wc, b->size, b->spp);
      memcpy(tmp, row, b->row_len);
      unshuffle(row, tmp, wc, b->size, 0, wc);
    }
  }
  return rows;
}

static void fill(const cloudioBlocks *b, unsigned char *dst, size_t cells) {
  static const unsigned char zero[8];
  if (memcmp(b->fill, zero, (size_t)b->size) == 0) {
    memset(dst, 0, cells * (size_t)b->size);
    return;
  }
  for (size_t i = 0; i < cells; i++) {
    memcpy(dst + i * (size_t)b->size, b->fill, (size_t)b->size);
  }
}

int64_t cloudioDecodeBlock(const cloudioBlocks *b, const void *data, size_t n, int64_t by, void *block, void *row,
                           cloudioErrors *errs) {
  cloudioErrorsBegin(errs);
  int64_t rows = n == 0 ? 0 : decode_block(b, data, n, by, block, row, 1);
  cloudioErrorsEnd(errs);
  return rows;
}

void cloudioCheckBlock(const cloudioBlocks *b, const void *data, size_t n, int64_t by, void *block, cloudioErrors *errs) {
  cloudioErrorsBegin(errs);
  if (n > 0) {
    decode_block(b, data, n, by, block, NULL, 0);
  }
  cloudioErrorsEnd(errs);
}

/* The part of a window (rows ra..rb-1, columns ca..cb-1) in block (bx, by),
 * whose first cell is (r0, c0). */
typedef struct {
  int64_t r0, c0, ra, rb, ca, cb;
} overlap;

static overlap block_overlap(const cloudioBlocks *b, int64_t bx, int64_t by, const cloudioWindow *w) {
  overlap o;
  o.r0 = by * b->block_rows;
  o.c0 = bx * b->block_cols;
  o.ra = o.r0 > w->row_off ? o.r0 : w->row_off;
  o.rb = o.r0 + b->block_rows < w->row_off + w->rows ? o.r0 + b->block_rows : w->row_off + w->rows;
  o.ca = o.c0 > w->col_off ? o.c0 : w->col_off;
  o.cb = o.c0 + b->block_cols < w->col_off + w->cols ? o.c0 + b->block_cols : w->col_off + w->cols;
  return o;
}

void cloudioPlace(const cloudioBlocks *b, const void *decoded, int64_t got_rows, int64_t bx, int64_t by,
                  const cloudioWindow *w) {
  const size_t sz = (size_t)b->size;
  const unsigned char *block = decoded;
  unsigned char *dst = w->out;
  overlap o = block_overlap(b, bx, by, w);
  size_t width = (size_t)(o.cb - o.ca);
  /* Pixel-interleaved blocks hold every band; a band-interleaved one goes
   * to its band's slot only. */
  int k0 = b->spp > 1 ? 0 : w->slot, k1 = b->spp > 1 ? w->n_samples : w->slot + 1;
  for (int k = k0; k < k1; k++) {
    int sample = b->spp > 1 ? w->samples[k] : 0;
    for (int64_t y = o.ra; y < o.rb; y++) {
      unsigned char *d = dst + (((size_t)k * (size_t)w->rows + (size_t)(y - w->row_off)) * (size_t)w->cols +
                                (size_t)(o.ca - w->col_off)) * sz;
      if (got_rows == 0) {
        fill(b, d, width);
        continue;
      }
      const unsigned char *s =
          block + (((size_t)(y - o.r0) * (size_t)b->block_cols + (size_t)(o.ca - o.c0)) * (size_t)b->spp + (size_t)sample) * sz;
      if (b->spp == 1) {
        memcpy(d, s, width * sz);
      } else {
        for (size_t c = 0; c < width; c++) {
          memcpy(d + c * sz, s + c * (size_t)b->spp * sz, sz);
        }
      }
    }
  }
}

/* cloudioDecodeBlock then cloudioPlace, in fewer passes where the layout
 * allows; a failure is raised into the pushed error context. */
static void decode_into(const cloudioBlocks *b, const void *data, size_t n, int64_t bx, int64_t by,
                        const cloudioWindow *w, void *block, void *row, const cloudioErrors *errs) {
  if (n == 0 || b->predictor != 3 || b->spp != 1) {
    int64_t got_rows = n == 0 ? 0 : decode_block(b, data, n, by, block, row, 1);
    if (!errs->failed) {
      cloudioPlace(b, block, got_rows, bx, by, w);
    }
    return;
  }
  /* The last step of the floating-point predictor writes straight into the
   * window: one pass over the cells fewer, and only the rows and columns
   * the window needs. */
  decode_block(b, data, n, by, block, row, 0);
  if (errs->failed) {
    return;
  }
  const size_t sz = (size_t)b->size, wc = (size_t)b->block_cols;
  overlap o = block_overlap(b, bx, by, w);
  unsigned char *dst = (unsigned char *)w->out + (size_t)w->slot * (size_t)w->rows * (size_t)w->cols * sz;
  for (int64_t y = o.ra; y < o.rb; y++) {
    unsigned char *src = (unsigned char *)block + (size_t)(y - o.r0) * b->row_len;
    float_prefix(src, wc, b->size, 1);
    unshuffle(dst + ((size_t)(y - w->row_off) * (size_t)w->cols + (size_t)(o.ca - w->col_off)) * sz, src, wc, b->size,
              (size_t)(o.ca - o.c0), (size_t)(o.cb - o.ca));
  }
}

void cloudioDecodeInto(const cloudioBlocks *b, const void *data, size_t n, int64_t bx, int64_t by,
                       const cloudioWindow *w, void *block, void *row, cloudioErrors *errs) {
  cloudioErrorsBegin(errs);
  decode_into(b, data, n, bx, by, w, block, row, errs);
  cloudioErrorsEnd(errs);
}
