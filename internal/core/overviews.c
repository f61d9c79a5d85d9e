#include "overviews.h"

#include <cpl_error.h>
#include <gdal.h>

int cloudioOverviewMethodWorks(const char *method, cloudioErrors *errs) {
  GDALDriverH mem = GDALGetDriverByName("MEM");
  if (mem == NULL) {
    return 0;
  }
  cloudioErrorsBegin(errs);
  GDALDatasetH full = GDALCreate(mem, "", 2, 2, 1, GDT_Float32, NULL);
  GDALDatasetH half = GDALCreate(mem, "", 1, 1, 1, GDT_Float32, NULL);
  int works = 0;
  if (full != NULL && half != NULL) {
    float cells[4] = {1, 2, 3, 4};
    GDALRasterBandH band = GDALGetRasterBand(full, 1);
    GDALRasterBandH overview = GDALGetRasterBand(half, 1);
    works = GDALRasterIO(band, GF_Write, 0, 0, 2, 2, cells, 2, 2, GDT_Float32, 0, 0) == CE_None &&
            GDALRegenerateOverviews(band, 1, &overview, method, NULL, NULL) == CE_None;
  }
  if (half != NULL) {
    GDALClose(half);
  }
  if (full != NULL) {
    GDALClose(full);
  }
  cloudioErrorsEnd(errs);
  return works;
}
