// Package rastertest has the test helpers of the packages that handle
// raster cells: reference encoders written independently of raster's own.
package rastertest

import (
	"encoding/binary"
	"math"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// EncodeRef encodes a value that the type represents exactly, independently
// of the code under test.
func EncodeRef(dtype raster.DType, v float64) []byte {
	b := make([]byte, 8)
	le := binary.LittleEndian
	switch dtype {
	case raster.Byte:
		b[0] = uint8(v)
	case raster.UInt16:
		le.PutUint16(b, uint16(v))
	case raster.Int16:
		le.PutUint16(b, uint16(int16(v)))
	case raster.UInt32:
		le.PutUint32(b, uint32(v))
	case raster.Int32:
		le.PutUint32(b, uint32(int32(v)))
	case raster.Float32:
		le.PutUint32(b, math.Float32bits(float32(v)))
	case raster.Float64:
		le.PutUint64(b, math.Float64bits(v))
	default:
		panic("EncodeRef: " + dtype.String())
	}
	return b[:dtype.Size()]
}

// DecodeRef is the value of cell i of a buffer of dtype.
func DecodeRef(buf []byte, dtype raster.DType, i int) float64 {
	le := binary.LittleEndian
	p := buf[i*dtype.Size():]
	switch dtype {
	case raster.Byte:
		return float64(p[0])
	case raster.UInt16:
		return float64(le.Uint16(p))
	case raster.Int16:
		return float64(int16(le.Uint16(p)))
	case raster.UInt32:
		return float64(le.Uint32(p))
	case raster.Int32:
		return float64(int32(le.Uint32(p)))
	case raster.Float32:
		return float64(math.Float32frombits(le.Uint32(p)))
	case raster.Float64:
		return math.Float64frombits(le.Uint64(p))
	}
	panic("DecodeRef: " + dtype.String())
}

// Catch runs fn and turns a panic into a value.
func Catch(fn func() error) (err error, panicked any) {
	defer func() { panicked = recover() }()
	return fn(), nil
}

// Windows lists a tiling through At.
func Windows(t *raster.Tiling) []raster.Window {
	out := []raster.Window{}
	for i := uint64(0); i < t.Len(); i++ {
		out = append(out, t.At(i))
	}
	return out
}
