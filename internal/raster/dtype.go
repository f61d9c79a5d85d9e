package raster

import (
	"encoding/binary"
	"math"
)

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
	// Int8 is GDAL 3.7's GDT_Int8. GDAL 3.6 has no such type: a signed byte
	// band is a Byte band with PIXELTYPE=SIGNEDBYTE, which cloudio reads and
	// writes as Int8.
	Int8 DType = 14
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
	Int8: {"Int8", 1, false, math.MinInt8, math.MaxInt8},
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

func CheckDType(d DType) error {
	if !d.Valid() {
		return Errorf(StatusInvalidArgument, "unknown data type %d (expected a GDAL data type: 1-7, 12, 13 or 14)", int(d))
	}
	return nil
}

// Convert is v as GDAL's GDALCopyWords converts a cell to d: integer types
// round half away from zero and clamp to their range, NaN becomes 0.
func (d DType) Convert(v float64) float64 {
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

// Holds reports whether every value of type s is a value of type d.
func (d DType) Holds(s DType) bool {
	di, si := dtypeInfo[d], dtypeInfo[s]
	switch {
	case si.float:
		return di.float && di.size >= si.size
	case di.float: // integers up to 2^24 (float) or 2^53 (double) are exact
		limit := math.Ldexp(1, 24)
		if d == Float64 {
			limit = math.Ldexp(1, 53)
		}
		return -si.min <= limit && si.max <= limit
	}
	return di.min <= si.min && di.max >= si.max
}

// CommonType is the narrowest type that holds every value of every type
// given (a raster's bands may differ, a VRT's say); false when none of the
// types cloudio reads into does.
func CommonType(types []DType) (DType, bool) {
	for _, d := range []DType{types[0], Byte, Int8, UInt16, Int16, UInt32, Int32, Float32, Float64} {
		fits := true
		for _, t := range types {
			fits = fits && d.Holds(t)
		}
		if fits {
			return d, true
		}
	}
	return 0, false
}

// Cell is cell i of buf, a buffer of d values, as a float64 (exact for
// every type but 64-bit integers beyond 2^53).
func (d DType) Cell(buf []byte, i int) float64 {
	le := binary.LittleEndian
	p := buf[i*d.Size():]
	switch d {
	case Byte:
		return float64(p[0])
	case Int8:
		return float64(int8(p[0]))
	case UInt16:
		return float64(le.Uint16(p))
	case Int16:
		return float64(int16(le.Uint16(p)))
	case UInt32:
		return float64(le.Uint32(p))
	case Int32:
		return float64(int32(le.Uint32(p)))
	case Float32:
		return float64(math.Float32frombits(le.Uint32(p)))
	case Float64:
		return math.Float64frombits(le.Uint64(p))
	case UInt64:
		return float64(le.Uint64(p))
	case Int64:
		return float64(int64(le.Uint64(p)))
	}
	panic("Cell: " + d.String())
}

// SetCell stores v, which must be a value of d (see Convert), as cell i of
// buf.
func (d DType) SetCell(buf []byte, i int, v float64) {
	le := binary.LittleEndian
	p := buf[i*d.Size():]
	switch d {
	case Byte:
		p[0] = byte(v)
	case Int8:
		p[0] = byte(int8(v))
	case UInt16:
		le.PutUint16(p, uint16(v))
	case Int16:
		le.PutUint16(p, uint16(int16(v)))
	case UInt32:
		le.PutUint32(p, uint32(v))
	case Int32:
		le.PutUint32(p, uint32(int32(v)))
	case Float32:
		le.PutUint32(p, math.Float32bits(float32(v)))
	case Float64:
		le.PutUint64(p, math.Float64bits(v))
	case UInt64:
		le.PutUint64(p, uint64(v))
	case Int64:
		le.PutUint64(p, uint64(int64(v)))
	default:
		panic("SetCell: " + d.String())
	}
}

// ConvertCells converts n cells of type from in src to type to in dst, as
// GDAL's GDALCopyWords does (see Convert).
func ConvertCells(dst []byte, to DType, src []byte, from DType, n int) {
	for i := 0; i < n; i++ {
		to.SetCell(dst, i, to.Convert(from.Cell(src, i)))
	}
}
