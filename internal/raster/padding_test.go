package raster_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/raster/rastertest"
)

// refReplicate: cell (r, c) of outer is cell (clamp(r - top), clamp(c -
// left)) of inner, for every band.
func refReplicate(in []byte, size, bands int, outer, inner raster.Window) []byte {
	out := make([]byte, 0, int64(bands)*outer.Rows*outer.Cols*int64(size))
	for b := 0; b < bands; b++ {
		for r := outer.RowOff; r < outer.RowOff+outer.Rows; r++ {
			for c := outer.ColOff; c < outer.ColOff+outer.Cols; c++ {
				y := min(max(r-inner.RowOff, 0), inner.Rows-1)
				x := min(max(c-inner.ColOff, 0), inner.Cols-1)
				i := ((int64(b)*inner.Rows+y)*inner.Cols + x) * int64(size)
				out = append(out, in[i:i+int64(size)]...)
			}
		}
	}
	return out
}

// refFill: cells of outer inside inner are inner's, the others are cell.
func refFill(in []byte, size, bands int, outer, inner raster.Window, cell []byte) []byte {
	out := make([]byte, 0, int64(bands)*outer.Rows*outer.Cols*int64(size))
	for b := 0; b < bands; b++ {
		for r := outer.RowOff; r < outer.RowOff+outer.Rows; r++ {
			for c := outer.ColOff; c < outer.ColOff+outer.Cols; c++ {
				if !inner.Contains(r, c) {
					out = append(out, cell...)
					continue
				}
				i := ((int64(b)*inner.Rows+(r-inner.RowOff))*inner.Cols + (c - inner.ColOff)) * int64(size)
				out = append(out, in[i:i+int64(size)]...)
			}
		}
	}
	return out
}

// randomPlacement is an outer window with an inner window anywhere inside
// it (touching any of its edges, or equal to it).
func randomPlacement(rng *rand.Rand) (outer, inner raster.Window) {
	outer = raster.Window{RowOff: int64(rng.Intn(21)) - 10, ColOff: int64(rng.Intn(21)) - 10, Rows: 1 + int64(rng.Intn(12)), Cols: 1 + int64(rng.Intn(12))}
	inner.Rows = 1 + int64(rng.Intn(int(outer.Rows)))
	inner.Cols = 1 + int64(rng.Intn(int(outer.Cols)))
	switch rng.Intn(4) {
	case 0: // top-left corner
		inner.RowOff, inner.ColOff = outer.RowOff, outer.ColOff
	case 1: // bottom-right corner
		inner.RowOff, inner.ColOff = outer.RowOff+outer.Rows-inner.Rows, outer.ColOff+outer.Cols-inner.Cols
	default:
		inner.RowOff = outer.RowOff + int64(rng.Intn(int(outer.Rows-inner.Rows)+1))
		inner.ColOff = outer.ColOff + int64(rng.Intn(int(outer.Cols-inner.Cols)+1))
	}
	return outer, inner
}

func TestPaddingReplicate(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	for k := 0; k < 3000; k++ {
		size := []int{1, 2, 4, 8}[k%4]
		bands := 1 + rng.Intn(3)
		outer, inner := randomPlacement(rng)
		in := make([]byte, int64(bands)*inner.Rows*inner.Cols*int64(size))
		rng.Read(in)
		out := make([]byte, int64(bands)*outer.Rows*outer.Cols*int64(size))
		rng.Read(out) // replicate must overwrite every cell
		p := raster.Padding{Size: size, Bands: bands, Outer: outer, Inner: inner}
		p.Replicate(out, in)
		if want := refReplicate(in, size, bands, outer, inner); !bytes.Equal(out, want) {
			t.Fatalf("case %d: size %d bands %d outer %v inner %v:\n got %v\nwant %v", k, size, bands, outer, inner, out, want)
		}
	}
}

func TestPaddingFillConstant(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	// values each type holds exactly, with their bytes written out by hand
	le := binary.LittleEndian
	u16 := func(v uint16) []byte { b := make([]byte, 2); le.PutUint16(b, v); return b }
	u32 := func(v uint32) []byte { b := make([]byte, 4); le.PutUint32(b, v); return b }
	u64 := func(v uint64) []byte { b := make([]byte, 8); le.PutUint64(b, v); return b }
	values := []struct {
		dtype raster.DType
		v     float64
		cell  []byte
	}{
		{raster.Byte, 0, []byte{0}}, {raster.Byte, 255, []byte{255}}, {raster.Byte, 7, []byte{7}},
		{raster.UInt16, 65535, []byte{0xff, 0xff}}, {raster.UInt16, 258, []byte{2, 1}},
		{raster.Int16, -32768, []byte{0x00, 0x80}}, {raster.Int16, -1, []byte{0xff, 0xff}}, {raster.Int16, -9999, u16(0xd8f1)},
		{raster.UInt32, 4294967295, []byte{0xff, 0xff, 0xff, 0xff}}, {raster.UInt32, 16909060, []byte{4, 3, 2, 1}},
		{raster.Int32, -2147483648, []byte{0, 0, 0, 0x80}}, {raster.Int32, -9999, u32(0xffffd8f1)},
		{raster.Float32, -9999, u32(0xc61c3c00)}, {raster.Float32, -3.4028234663852886e+38, u32(0xff7fffff)}, {raster.Float32, math.Inf(1), u32(0x7f800000)},
		{raster.Float64, -9999, u64(0xc0c3878000000000)}, {raster.Float64, -1.7976931348623157e+308, u64(0xffefffffffffffff)}, {raster.Float64, 0.1, u64(0x3fb999999999999a)},
	}
	for k := 0; k < 3000; k++ {
		c := values[k%len(values)]
		size := c.dtype.Size()
		bands := 1 + rng.Intn(3)
		outer, inner := randomPlacement(rng)
		in := make([]byte, int64(bands)*inner.Rows*inner.Cols*int64(size))
		rng.Read(in)
		out := make([]byte, int64(bands)*outer.Rows*outer.Cols*int64(size))
		rng.Read(out)
		p := raster.Padding{Size: size, Bands: bands, Outer: outer, Inner: inner}
		if err := fillWith(p, out, in, c.dtype, c.v); err != nil {
			t.Fatal(err)
		}
		if want := refFill(in, size, bands, outer, inner, c.cell); !bytes.Equal(out, want) {
			t.Fatalf("case %d: %s %v bands %d outer %v inner %v:\n got %v\nwant %v", k, c.dtype, c.v, bands, outer, inner, out, want)
		}
	}
	// NaN: every filled cell is a NaN of the type
	for _, dtype := range []raster.DType{raster.Float32, raster.Float64} {
		outer, inner := raster.Window{-1, -1, 3, 3}, raster.Window{0, 0, 1, 1}
		in := rastertest.EncodeRef(dtype, 5)
		out := make([]byte, 9*dtype.Size())
		p := raster.Padding{Size: dtype.Size(), Bands: 1, Outer: outer, Inner: inner}
		if err := fillWith(p, out, in, dtype, math.NaN()); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 9; i++ {
			if v := rastertest.DecodeRef(out, dtype, i); (i == 4) != (v == 5) || (i != 4 && !math.IsNaN(v)) {
				t.Fatalf("%s cell %d = %v", dtype, i, v)
			}
		}
	}
	// types it cannot fill
	for _, dtype := range []raster.DType{raster.Int64, raster.UInt64, 0, 42} {
		p := raster.Padding{Size: 8, Bands: 1, Outer: raster.Window{-1, -1, 3, 3}, Inner: raster.Window{0, 0, 1, 1}}
		err, panicked := rastertest.Catch(func() error { return fillWith(p, make([]byte, 72), make([]byte, 8), dtype, 1) })
		if panicked != nil || raster.StatusOf(err) != raster.StatusUnsupported {
			t.Errorf("%v: %v %v", dtype, err, panicked)
		}
	}
}

// With the inner window equal to the outer one, both copy the data as is.
func TestPaddingIdentity(t *testing.T) {
	for _, size := range []int{1, 2, 4, 8} {
		w := raster.Window{3, 4, 5, 6}
		in := make([]byte, 2*5*6*size)
		rand.New(rand.NewSource(int64(size))).Read(in)
		p := raster.Padding{Size: size, Bands: 2, Outer: w, Inner: w}
		out := make([]byte, len(in))
		p.Replicate(out, in)
		if !bytes.Equal(out, in) {
			t.Fatalf("replicate, size %d", size)
		}
		out = make([]byte, len(in))
		dtype := map[int]raster.DType{1: raster.Byte, 2: raster.Int16, 4: raster.Float32, 8: raster.Float64}[size]
		if err := fillWith(p, out, in, dtype, 1); err != nil || !bytes.Equal(out, in) {
			t.Fatalf("fill, size %d: %v", size, err)
		}
	}
}

// fillWith fills every band with v, as the reader does with each band's nodata.
func fillWith(p raster.Padding, out, in []byte, dtype raster.DType, v float64) error {
	cell, err := raster.EncodeValue(dtype, v)
	if err != nil {
		return err
	}
	cells := make([][]byte, p.Bands)
	for i := range cells {
		cells[i] = cell
	}
	p.FillConstant(out, in, cells)
	return nil
}
