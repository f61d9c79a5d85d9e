package core

import "math"

// DType is a pixel data type; the values are GDAL's GDALDataType values.
type DType int

const (
	Byte    DType = 1
	UInt16  DType = 2
	Int16   DType = 3
	UInt32  DType = 4
	Int32   DType = 5
	Float32 DType = 6
	Float64 DType = 7
	UInt64  DType = 12
	Int64   DType = 13
)

var dtypeInfo = map[DType]struct {
	name     string
	size     int
	float    bool
	min, max float64 // integer types' range
}{
	Byte: {"Byte", 1, false, 0, math.MaxUint8}, UInt16: {"UInt16", 2, false, 0, math.MaxUint16},
	Int16:  {"Int16", 2, false, math.MinInt16, math.MaxInt16},
	UInt32: {"UInt32", 4, false, 0, math.MaxUint32}, Int32: {"Int32", 4, false, math.MinInt32, math.MaxInt32},
	Float32: {"Float32", 4, true, 0, 0}, Float64: {"Float64", 8, true, 0, 0},
	UInt64: {"UInt64", 8, false, 0, math.MaxUint64}, Int64: {"Int64", 8, false, math.MinInt64, math.MaxInt64},
}

// Valid reports whether the library handles this data type.
func (d DType) Valid() bool { _, ok := dtypeInfo[d]; return ok }

// Size is the number of bytes of one value.
func (d DType) Size() int { return dtypeInfo[d].size }

// IsFloat reports a floating-point type.
func (d DType) IsFloat() bool { return dtypeInfo[d].float }

// String is GDAL's name of the type.
func (d DType) String() string {
	if !d.Valid() {
		return "Unknown"
	}
	return dtypeInfo[d].name
}

func checkDType(d DType) error {
	if !d.Valid() {
		return errorf(StatusInvalidArgument, "unknown data type %d (expected a GDAL data type: 1-7, 12 or 13)", int(d))
	}
	return nil
}

// convert is v as GDAL's GDALCopyWords converts a cell to d: integer types
// round half away from zero and clamp to their range, NaN becomes 0.
func (d DType) convert(v float64) float64 {
	switch {
	case d == Float32:
		return float64(float32(v))
	case d.IsFloat():
		return v
	case math.IsNaN(v):
		return 0
	}
	return math.Min(math.Max(math.Round(v), dtypeInfo[d].min), dtypeInfo[d].max)
}
