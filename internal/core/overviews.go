package core

/*
#include <stdlib.h>
#include "overviews.h"
*/
import "C"

import (
	"strings"
	"sync"
	"unsafe"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
)

// overviewCandidates are the overview resampling methods GDAL has offered
// in some version (gdaladdo -r); OverviewMethods keeps those this GDAL
// takes. NONE (allocate overviews without computing them) is left out: it
// writes overviews of garbage.
var overviewCandidates = []string{"NEAREST", "AVERAGE", "RMS", "BILINEAR", "GAUSS", "CUBIC", "CUBICSPLINE", "LANCZOS",
	"MODE", "AVERAGE_MAGPHASE", "MIN", "MAX", "MED", "Q1", "Q3", "SUM"}

var overviewMethods struct {
	once    sync.Once
	methods []string
}

// OverviewMethods lists the overview resampling methods this GDAL offers,
// upper-cased, asking GDAL once.
func OverviewMethods() []string {
	overviewMethods.once.Do(func() {
		gdalc.Init()
		errs := gdalc.NewErrors()
		defer errs.Free()
		for _, m := range overviewCandidates {
			cm := C.CString(m)
			// A method that fails is one this GDAL does not offer: the
			// failure is the answer, not an error.
			if C.cloudioOverviewMethodWorks(cm, (*C.cloudioErrors)(errs.C())) != 0 {
				overviewMethods.methods = append(overviewMethods.methods, m)
			}
			C.free(unsafe.Pointer(cm))
		}
	})
	return overviewMethods.methods
}

// DefaultOverviewResampling is the overview method for a data type when
// the caller names none: NEAREST for integers, whose values are often
// codes, classes or masks that no interpolation may invent; AVERAGE for
// floating point, which never overshoots the data's range, skips nodata
// and lets no hole grow (CUBIC, GDAL's COG default, does all three).
func DefaultOverviewResampling(d raster.DType) string {
	if d.IsFloat() {
		return "AVERAGE"
	}
	return "NEAREST"
}

// overviewResampling is the method a COG written with opts (validated, with
// cloudio's defaults) computes its overviews with: the COG driver takes
// OVERVIEW_RESAMPLING, else RESAMPLING.
func overviewResampling(opts []raster.Option) string {
	for _, key := range []string{"OVERVIEW_RESAMPLING", "RESAMPLING"} {
		if v, ok := findOption(opts, key); ok {
			return strings.ToUpper(v)
		}
	}
	return ""
}
