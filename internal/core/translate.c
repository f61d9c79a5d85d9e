/* GDALTranslate with a progress callback and errors captured around the
 * close; in-memory sources for it.
 *
 * It exists because godal v0.0.18 has no progress callback on Translate (or
 * anywhere) and does not expose its dataset handles, so this helper opens its
 * own. It also pushes its own error handler: GDAL 3.6 reports some write
 * failures only while closing (GDALClose returns nothing), so a write counts
 * as done only when no failure was raised up to and including the close.
 * Everything happens in one call so that the thread-local handler sees all of
 * it. */
#include "translate.h"

#include <stdio.h>
#include <string.h>

#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>

#include "_cgo_export.h"

static int CPL_STDCALL progress_trampoline(double fraction, const char *message, void *user) {
  return cloudioGoProgress(fraction, (char *)message, user);
}

static void fail(int code, const char *msg) { CPLError(CE_Failure, code, "%s", msg); }

/* A MEM dataset over a caller's buffer, in place. Made through the C API:
 * GDAL 3.10 no longer opens "MEM:::DATAPOINTER=" names by default
 * (OSGeo/gdal#10861), whereas GDALAddBand's DATAPOINTER option is the MEM
 * driver's documented way to wrap memory. */
GDALDatasetH cloudioMemDataset(void *data, int dtype, int signed_byte, int bands, int rows, int cols,
                               const cloudioGeoref *georef, cloudioErrors *errs) {
  cloudioErrorsBegin(errs);
  GDALDriverH mem = GDALGetDriverByName("MEM");
  GDALDatasetH ds = mem ? GDALCreate(mem, "", cols, rows, 0, (GDALDataType)dtype, NULL) : NULL;
  const size_t size = (size_t)GDALGetDataTypeSizeBytes((GDALDataType)dtype);
  for (int b = 0; ds != NULL && b < bands && !errs->failed; b++) {
    char pointer[64], pixel[64], line[64];
    snprintf(pointer, sizeof pointer, "DATAPOINTER=%p", (void *)((char *)data + (size_t)b * size * (size_t)cols * (size_t)rows));
    snprintf(pixel, sizeof pixel, "PIXELOFFSET=%zu", size);
    snprintf(line, sizeof line, "LINEOFFSET=%zu", size * (size_t)cols);
    char *options[] = {pointer, pixel, line, NULL};
    if (GDALAddBand(ds, (GDALDataType)dtype, options) == CE_None && signed_byte) {
      GDALSetMetadataItem(GDALGetRasterBand(ds, b + 1), "PIXELTYPE", "SIGNEDBYTE", "IMAGE_STRUCTURE");
    }
  }
  if (ds != NULL && !errs->failed) {
    if (georef->has_geotransform) {
      GDALSetGeoTransform(ds, (double *)georef->geotransform);
    }
    if (georef->wkt != NULL && georef->wkt[0] != '\0') {
      GDALSetProjection(ds, georef->wkt);
    }
    for (int b = 1; georef->has_nodata && b <= GDALGetRasterCount(ds); b++) {
      GDALRasterBandH band = GDALGetRasterBand(ds, b);
      /* GDAL 3.5+ keeps 64-bit integer nodata apart from the double one. */
      if (GDALGetRasterDataType(band) == GDT_Int64) {
        GDALSetRasterNoDataValueAsInt64(band, (int64_t)georef->nodata_int64);
      } else if (GDALGetRasterDataType(band) == GDT_UInt64) {
        GDALSetRasterNoDataValueAsUInt64(band, (uint64_t)georef->nodata_uint64);
      } else {
        GDALSetRasterNoDataValue(band, georef->nodata);
      }
    }
  }
  if (ds == NULL && !errs->failed) {
    fail(CPLE_AppDefined, "GDAL's MEM driver could not wrap the buffer");
  }
  cloudioErrorsEnd(errs);
  if (errs->failed && ds != NULL) {
    GDALClose(ds);
    ds = NULL;
  }
  return ds;
}

void cloudioCloseDataset(GDALDatasetH ds) {
  if (ds != NULL) {
    GDALClose(ds);
  }
}

/* A source carrying band_md: the source itself when it is cloudio's own
 * (an in-memory MEM dataset), else an in-memory VRT over it, so that
 * nothing is ever written next to a file opened read-only (GDAL would save
 * the items in a .aux.xml); NULL on failure. *wrapper is the VRT to close. */
static GDALDatasetH with_band_metadata(GDALDatasetH in, int own, const cloudioBandMetadata *band_md,
                                       GDALDatasetH *wrapper) {
  *wrapper = NULL;
  if (band_md == NULL || band_md->n_bands == 0) {
    return in;
  }
  GDALDatasetH ds = in;
  if (!own) {
    ds = *wrapper = GDALCreateCopy(GDALGetDriverByName("VRT"), "", in, FALSE, NULL, NULL, NULL);
    if (ds == NULL) {
      return NULL;
    }
  }
  for (int b = 0; b < band_md->n_bands && b < GDALGetRasterCount(ds); b++) {
    for (char **item = band_md->items[b]; item != NULL && *item != NULL; item++) {
      char *key = NULL;
      const char *value = CPLParseNameValue(*item, &key);
      if (key != NULL && value != NULL) {
        GDALSetMetadataItem(GDALGetRasterBand(ds, b + 1), key, value, NULL);
      }
      CPLFree(key);
    }
  }
  return ds;
}

void cloudioTranslate(const char *src, GDALDatasetH src_ds, const cloudioBandMetadata *band_md, const char *dst,
                     char **argv, void *progress, cloudioErrors *errs) {
  cloudioErrorsBegin(errs);

  GDALDatasetH in = src_ds != NULL ? src_ds : GDALOpenEx(src, GDAL_OF_RASTER | GDAL_OF_VERBOSE_ERROR, NULL, NULL, NULL);
  GDALDatasetH wrapper = NULL;
  GDALDatasetH source = in != NULL && !errs->failed ? with_band_metadata(in, src_ds != NULL, band_md, &wrapper) : NULL;
  if (in != NULL && source == NULL && !errs->failed) {
    fail(CPLE_AppDefined, "cannot wrap the source in a VRT to carry its band statistics");
  }
  if (source != NULL && !errs->failed) {
    GDALTranslateOptions *opts = GDALTranslateOptionsNew(argv, NULL);
    if (opts == NULL) {
      fail(CPLE_IllegalArg, "invalid translate options");
    } else {
      if (progress != NULL) {
        GDALTranslateOptionsSetProgress(opts, progress_trampoline, progress);
      }
      int usage_error = 0;
      GDALDatasetH out = GDALTranslate(dst, source, opts, &usage_error);
      GDALTranslateOptionsFree(opts);
      if (out != NULL) {
        GDALClose(out);
      } else if (!errs->failed) {
        fail(CPLE_AppDefined, "GDALTranslate failed without a message");
      }
    }
  }
  if (wrapper != NULL) {
    GDALClose(wrapper);
  }
  if (in != NULL && in != src_ds) {
    GDALClose(in);
  }
  cloudioErrorsEnd(errs);
}

cloudioNoData cloudioBandNoData(GDALRasterBandH band) {
  cloudioNoData nd = {0};
  switch (GDALGetRasterDataType(band)) {
  case GDT_Int64:
    nd.as_int64 = (long long)GDALGetRasterNoDataValueAsInt64(band, &nd.has);
    nd.value = (double)nd.as_int64;
    break;
  case GDT_UInt64:
    nd.as_uint64 = (unsigned long long)GDALGetRasterNoDataValueAsUInt64(band, &nd.has);
    nd.value = (double)nd.as_uint64;
    break;
  default:
    nd.value = GDALGetRasterNoDataValue(band, &nd.has);
  }
  return nd;
}
