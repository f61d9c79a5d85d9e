package core

import "math"

// checkNoData rejects a nodata value that cells of dtype cannot hold, which
// GDAL would otherwise store clamped, rounded or as infinity beside cells
// that never equal it: integer types need an integer in their range,
// Float32 a value that stays finite (or NaN, or an infinity). The message
// says what to pass instead.
//
// Issue 11's exact 64-bit nodata (GDAL's SetNoDataValueAsInt64) will
// replace the 64-bit integer case: a double cannot name 2^63 - 1.
func checkNoData(nodata float64, dtype DType) error {
	switch {
	case dtype == Float32:
		if math.IsInf(nodata, 0) || math.IsNaN(nodata) || math.Abs(nodata) <= math.MaxFloat32 {
			return nil
		}
	case dtype.IsFloat():
		return nil
	case !math.IsNaN(nodata) && nodata == math.Trunc(nodata) && nodata >= dtypeInfo[dtype].min && nodata <= dtypeInfo[dtype].max:
		return nil
	}
	return errorf(StatusInvalidArgument, "nodata %g is not a %s value: pass a nodata value that %s cells can hold", nodata, dtype, dtype)
}
