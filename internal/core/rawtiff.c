/* Direct block decoding of GeoTIFF tiles for the tile reader.
 *
 * Why it exists: reading a DEFLATE + floating-point-predictor COG through
 * GDAL's RasterIO spends about half its CPU time in libtiff's predictor
 * decoding (a byte-at-a-time loop) and more in block-cache copies. This
 * decoder reads a block's bytes through GDAL's virtual file system, inflates
 * them with GDAL's own decompressors (CPLZLibInflate, which uses libdeflate,
 * and the "zstd" decompressor) and undoes the predictor with SIMD, straight
 * into the caller's window. It handles the layouts cloudio and GDAL's COG
 * driver write (tiled or striped, little-endian, DEFLATE / ZSTD / none,
 * predictor 1, 2 or 3, band or pixel interleaved); for anything else
 * cloudioRawOpen declines and the reader uses GDAL's RasterIO. Tests compare
 * it with GDAL's own reads for every supported combination. */
#include "rawtiff.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_compressor.h>
#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum { RAW_NONE = 0, RAW_DEFLATE = 1, RAW_ZSTD = 2 };

/* The layout is read-only once open, so decoding is thread-safe; only the
 * block offset lookups go through the GDAL dataset. */
struct cloudioRaw {
  GDALDatasetH ds;
  GDALDataType dt;
  int rows, cols, bands;
  int block_rows, block_cols;
  int size;       /* bytes per sample */
  int spp;        /* samples per pixel in a block: bands (pixel interleaved) or 1 */
  int compression;
  int predictor;
  int has_nodata;
  double nodata;
  const CPLCompressor *zstd;
  size_t block_len; /* bytes of one decoded block */
  size_t row_len;   /* bytes of one row of a block */
};

static int streq(const char *a, const char *b) { return a != NULL && EQUAL(a, b); }

void cloudioRawClose(cloudioRaw *r) {
  if (r == NULL) {
    return;
  }
  if (r->ds != NULL) {
    GDALClose(r->ds);
  }
  free(r);
}

/* Returns NULL when the raster is not a layout this decoder handles. */
cloudioRaw *cloudioRawOpen(const char *name) {
  uint16_t one = 1;
  if (*(unsigned char *)&one != 1) {
    return NULL; /* big-endian host */
  }
  CPLPushErrorHandler(CPLQuietErrorHandler);
  cloudioRaw *r = calloc(1, sizeof *r);
  VSILFILE *fp = NULL;
  if (r == NULL) {
    CPLPopErrorHandler();
    return NULL;
  }
  r->ds = GDALOpenEx(name, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
  if (r->ds == NULL || !streq(GDALGetDriverShortName(GDALGetDatasetDriver(r->ds)), "GTiff")) {
    goto decline;
  }
  r->rows = GDALGetRasterYSize(r->ds);
  r->cols = GDALGetRasterXSize(r->ds);
  r->bands = GDALGetRasterCount(r->ds);
  if (r->bands < 1) {
    goto decline;
  }
  GDALRasterBandH b1 = GDALGetRasterBand(r->ds, 1);
  r->dt = GDALGetRasterDataType(b1);
  if (r->dt < GDT_Byte || r->dt > GDT_Float64) {
    goto decline;
  }
  GDALGetBlockSize(b1, &r->block_cols, &r->block_rows);
  for (int b = 2; b <= r->bands; b++) {
    int bx, by;
    GDALRasterBandH h = GDALGetRasterBand(r->ds, b);
    GDALGetBlockSize(h, &bx, &by);
    if (GDALGetRasterDataType(h) != r->dt || bx != r->block_cols || by != r->block_rows) {
      goto decline;
    }
  }
  r->size = GDALGetDataTypeSizeBytes(r->dt);
  r->has_nodata = 0;
  r->nodata = GDALGetRasterNoDataValue(b1, &r->has_nodata);

  const char *compression = GDALGetMetadataItem(r->ds, "COMPRESSION", "IMAGE_STRUCTURE");
  const char *predictor = GDALGetMetadataItem(r->ds, "PREDICTOR", "IMAGE_STRUCTURE");
  const char *interleave = GDALGetMetadataItem(r->ds, "INTERLEAVE", "IMAGE_STRUCTURE");
  if (GDALGetMetadataItem(b1, "NBITS", "IMAGE_STRUCTURE") != NULL) {
    goto decline;
  }
  if (compression == NULL) {
    r->compression = RAW_NONE;
  } else if (streq(compression, "DEFLATE")) {
    r->compression = RAW_DEFLATE;
  } else if (streq(compression, "ZSTD") && (r->zstd = CPLGetDecompressor("zstd")) != NULL) {
    r->compression = RAW_ZSTD;
  } else {
    goto decline;
  }
  r->predictor = predictor == NULL ? 1 : atoi(predictor);
  if (r->predictor < 1 || r->predictor > 3) {
    goto decline;
  }
  if (r->predictor == 3 && r->dt != GDT_Float32 && r->dt != GDT_Float64) {
    goto decline;
  }
  if (r->bands == 1 || streq(interleave, "BAND")) {
    r->spp = 1;
  } else if (streq(interleave, "PIXEL")) {
    r->spp = r->bands;
  } else {
    goto decline;
  }

  fp = VSIFOpenL(name, "rb");
  unsigned char magic[2] = {0, 0};
  if (fp == NULL || VSIFReadL(magic, 1, 2, fp) != 2 || magic[0] != 'I' || magic[1] != 'I') {
    goto decline;
  }
  VSIFCloseL(fp);
  r->row_len = (size_t)r->block_cols * (size_t)r->spp * (size_t)r->size;
  r->block_len = (size_t)r->block_rows * r->row_len;
  CPLPopErrorHandler();
  CPLErrorReset();
  return r;

decline:
  if (fp != NULL) {
    VSIFCloseL(fp);
  }
  cloudioRawClose(r);
  CPLPopErrorHandler();
  CPLErrorReset();
  return NULL;
}

void cloudioRawLayout(const cloudioRaw *r, int *rows, int *cols, int *block_rows, int *block_cols,
                      int *pixel_interleaved, size_t *block_len, size_t *row_len) {
  *rows = r->rows;
  *cols = r->cols;
  *block_rows = r->block_rows;
  *block_cols = r->block_cols;
  *pixel_interleaved = r->spp > 1;
  *block_len = r->block_len;
  *row_len = r->row_len;
}

int cloudioRawBlockRow(cloudioRaw *r, int band, int by, unsigned long long *offsets, unsigned long long *sizes) {
  char key[64];
  GDALRasterBandH h = GDALGetRasterBand(r->ds, band);
  int across = (r->cols + r->block_cols - 1) / r->block_cols;
  for (int bx = 0; bx < across; bx++) {
    snprintf(key, sizeof key, "BLOCK_OFFSET_%d_%d", bx, by);
    const char *off_s = GDALGetMetadataItem(h, key, "TIFF");
    snprintf(key, sizeof key, "BLOCK_SIZE_%d_%d", bx, by);
    const char *size_s = GDALGetMetadataItem(h, key, "TIFF");
    offsets[bx] = off_s ? strtoull(off_s, NULL, 10) : 0;
    sizes[bx] = size_s ? strtoull(size_s, NULL, 10) : 0;
    if (offsets[bx] == 0) {
      sizes[bx] = 0; /* sparse */
    }
  }
  return 0;
}

int cloudioRawFetch(const char *name, unsigned long long off, size_t n, void *buf, char *err, size_t err_len) {
  CPLPushErrorHandler(CPLQuietErrorHandler);
  CPLErrorReset();
  VSILFILE *fp = VSIFOpenL(name, "rb");
  int ok = fp != NULL && VSIFSeekL(fp, off, SEEK_SET) == 0 && VSIFReadL(buf, 1, n, fp) == n;
  if (fp != NULL) {
    VSIFCloseL(fp);
  }
  if (!ok) {
    const char *why = CPLGetLastErrorMsg();
    snprintf(err, err_len, "cannot read %llu bytes at offset %llu%s%s", (unsigned long long)n, off,
             why[0] ? ": " : ": the file is truncated or unreadable", why);
  }
  CPLPopErrorHandler();
  CPLErrorReset();
  return ok ? 0 : 3;
}

static void set_error(char *err, size_t err_len, const char *fmt, long long a, long long b) {
  snprintf(err, err_len, fmt, a, b);
}

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

/* Decode a block's n bytes from raw into block (r->block_len bytes; tmp
 * holds one row), undoing the predictor unless predict is 0. *rows_out
 * receives the rows present (a striped file's last strip is short). */
static int decode_block(const cloudioRaw *r, const unsigned char *raw, size_t n, int by, unsigned char *block,
                        unsigned char *tmp, int predict, int *rows_out, char *err, size_t err_len) {
  size_t got = 0;
  if (r->compression == RAW_NONE) {
    got = n < r->block_len ? n : r->block_len;
    memcpy(block, raw, got);
  } else if (r->compression == RAW_DEFLATE) {
    if (CPLZLibInflate(raw, n, block, r->block_len, &got) == NULL) {
      set_error(err, err_len, "corrupt DEFLATE data in block row %lld (%lld bytes)", by, (long long)n);
      return 3;
    }
  } else {
    void *out = block;
    got = r->block_len;
    if (!r->zstd->pfnFunc(raw, n, &out, &got, NULL, r->zstd->user_data)) {
      set_error(err, err_len, "corrupt ZSTD data in block row %lld (%lld bytes)", by, (long long)n);
      return 3;
    }
  }
  size_t wc = (size_t)r->block_cols * (size_t)r->spp;
  int rows = (int)(got / r->row_len);
  int expect = r->block_rows;
  if (r->rows - by * r->block_rows < expect) {
    expect = r->rows - by * r->block_rows;
  }
  if (rows < expect) {
    set_error(err, err_len, "a block of block row %lld decodes to %lld rows only: the file is corrupt", by, rows);
    return 3;
  }
  for (int i = 0; i < rows && predict && r->predictor > 1; i++) {
    unsigned char *row = block + (size_t)i * r->row_len;
    if (r->predictor == 2) {
      undo_int_predictor(row, wc, r->size, r->spp);
    } else {
      float_prefix(row, wc, r->size, r->spp);
      memcpy(tmp, row, r->row_len);
      unshuffle(row, tmp, wc, r->size, 0, wc);
    }
  }
  *rows_out = rows;
  return 0;
}

static void fill_nodata(const cloudioRaw *r, unsigned char *dst, size_t cells) {
  if (!r->has_nodata || r->nodata == 0) {
    memset(dst, 0, cells * (size_t)r->size);
    return;
  }
  GDALCopyWords(&r->nodata, GDT_Float64, 0, dst, r->dt, r->size, (int)cells);
}

int cloudioRawDecodeBlock(const cloudioRaw *r, const void *data, size_t n, int by, void *block, void *row,
                          int *rows, char *err, size_t err_len) {
  *rows = 0;
  if (n == 0) {
    return 0;
  }
  return decode_block(r, data, n, by, block, row, 1, rows, err, err_len);
}

/* The part of a window (rows ra..rb-1, columns ca..cb-1) in block (bx, by),
 * whose first cell is (r0, c0). */
typedef struct {
  long long r0, c0, ra, rb, ca, cb;
} overlap;

static overlap block_overlap(const cloudioRaw *r, int bx, int by, long long row_off, long long col_off, long long rows,
                             long long cols) {
  overlap o;
  o.r0 = (long long)by * r->block_rows;
  o.c0 = (long long)bx * r->block_cols;
  o.ra = o.r0 > row_off ? o.r0 : row_off;
  o.rb = o.r0 + r->block_rows < row_off + rows ? o.r0 + r->block_rows : row_off + rows;
  o.ca = o.c0 > col_off ? o.c0 : col_off;
  o.cb = o.c0 + r->block_cols < col_off + cols ? o.c0 + r->block_cols : col_off + cols;
  return o;
}

void cloudioRawPlace(const cloudioRaw *r, const void *decoded, int got_rows, int bx, int by, long long row_off,
                     long long col_off, long long rows, long long cols, const int *bands, int n_bands, int band_slot,
                     void *out) {
  const size_t sz = (size_t)r->size;
  const unsigned char *block = decoded;
  unsigned char *dst = out;
  overlap o = block_overlap(r, bx, by, row_off, col_off, rows, cols);
  long long r0 = o.r0, c0 = o.c0, ra = o.ra, rb = o.rb, ca = o.ca;
  size_t width = (size_t)(o.cb - o.ca);
  /* Pixel-interleaved blocks hold every band; a band-interleaved one goes
   * to its band's slot only. */
  int k0 = r->spp > 1 ? 0 : band_slot, k1 = r->spp > 1 ? n_bands : band_slot + 1;
  for (int k = k0; k < k1; k++) {
    int sample = r->spp > 1 ? bands[k] - 1 : 0;
    for (long long y = ra; y < rb; y++) {
      unsigned char *d = dst + (((size_t)k * (size_t)rows + (size_t)(y - row_off)) * (size_t)cols + (size_t)(ca - col_off)) * sz;
      if (got_rows == 0) {
        fill_nodata(r, d, width);
        continue;
      }
      const unsigned char *s = block + (((size_t)(y - r0) * (size_t)r->block_cols + (size_t)(ca - c0)) * (size_t)r->spp + (size_t)sample) * sz;
      if (r->spp == 1) {
        memcpy(d, s, width * sz);
      } else {
        for (size_t c = 0; c < width; c++) {
          memcpy(d + c * sz, s + c * (size_t)r->spp * sz, sz);
        }
      }
    }
  }
}

int cloudioRawDecodeInto(const cloudioRaw *r, const void *data, size_t n, int bx, int by, long long row_off,
                         long long col_off, long long rows, long long cols, const int *bands, int n_bands, int band_slot,
                         void *out, void *block, void *row, char *err, size_t err_len) {
  if (n == 0 || r->predictor != 3 || r->spp != 1) {
    int got_rows;
    int rc = cloudioRawDecodeBlock(r, data, n, by, block, row, &got_rows, err, err_len);
    if (rc == 0) {
      cloudioRawPlace(r, block, got_rows, bx, by, row_off, col_off, rows, cols, bands, n_bands, band_slot, out);
    }
    return rc;
  }
  /* The last step of the floating-point predictor writes straight into the
   * window: one pass over the cells fewer, and only the rows and columns
   * the window needs. */
  int got_rows;
  int rc = decode_block(r, data, n, by, block, row, 0, &got_rows, err, err_len);
  if (rc != 0) {
    return rc;
  }
  const size_t sz = (size_t)r->size, wc = (size_t)r->block_cols;
  overlap o = block_overlap(r, bx, by, row_off, col_off, rows, cols);
  unsigned char *dst = (unsigned char *)out + (size_t)band_slot * (size_t)rows * (size_t)cols * sz;
  for (long long y = o.ra; y < o.rb; y++) {
    unsigned char *src = (unsigned char *)block + (size_t)(y - o.r0) * r->row_len;
    float_prefix(src, wc, r->size, 1);
    unshuffle(dst + ((size_t)(y - row_off) * (size_t)cols + (size_t)(o.ca - col_off)) * sz, src, wc, r->size,
              (size_t)(o.ca - o.c0), (size_t)(o.cb - o.ca));
  }
  return 0;
}
