#ifndef CLOUDIO_CORE_OVERVIEWS_H
#define CLOUDIO_CORE_OVERVIEWS_H

#include "gdalc.h"

/* Whether GDAL's overview builder takes method: non-zero when
 * GDALRegenerateOverviews computes a 2 x 2 Float32 band's 1 x 1 overview
 * with it. GDAL declares no list of its overview methods (the COG driver's
 * OVERVIEW_RESAMPLING is a plain string), and an unknown one fails only
 * after the whole raster was copied. What GDAL raised lands in errs: why
 * the method does not work. */
int cloudioOverviewMethodWorks(const char *method, cloudioErrors *errs);

#endif
