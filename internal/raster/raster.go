package raster

import (
	"math"
	"math/bits"
)

// Info describes a raster.
type Info struct {
	Rows, Cols, Bands int64
	// DType holds every band's values: the bands' type, or for bands of
	// different types (a VRT's, say) the narrowest type that holds them all.
	DType                DType
	BandTypes            []DType // by band, from 0; nil: every band is of DType
	BlockRows, BlockCols int64   // band 1's internal block size
	GeoTransform         [6]float64
	HasGeoTransform      bool
	NoData               float64
	HasNoData            bool
}

// Georef is the georeferencing of an in-memory raster; nil fields are unset.
type Georef struct {
	GeoTransform *[6]float64
	CRS          string // anything OSRSetFromUserInput takes: "EPSG:4326", WKT, ...
	NoData       *NoData
}

// ReadSpec says which bands to read, converted to which type; zero values
// mean every band and the raster's own type.
type ReadSpec struct {
	Bands []int // 1-based
	DType DType
}

// Resolve fills in the defaults and validates against the raster: every
// band, and the type that holds every value of the bands read.
func (s ReadSpec) Resolve(info Info) (ReadSpec, error) {
	out := ReadSpec{DType: s.DType, Bands: append([]int(nil), s.Bands...)}
	if len(out.Bands) == 0 {
		for b := 1; b <= int(info.Bands); b++ {
			out.Bands = append(out.Bands, b)
		}
	}
	for _, b := range out.Bands {
		if b < 1 || int64(b) > info.Bands {
			return out, Errorf(StatusInvalidArgument, "band %d does not exist (the raster has bands 1..%d)", b, info.Bands)
		}
	}
	if out.DType == 0 {
		types := make([]DType, len(out.Bands))
		for i, b := range out.Bands {
			types[i] = info.BandType(b)
		}
		var ok bool
		if out.DType, ok = CommonType(types); !ok {
			return out, Errorf(StatusUnsupported, "bands %v are of types %v, which no one buffer type holds exactly: read them one at a time, or name the type to convert them to", out.Bands, types)
		}
	}
	return out, CheckBufferType(out.DType)
}

// CheckBufferType reports a type that cloudio's buffers (read or written)
// cannot hold.
func CheckBufferType(d DType) error {
	if !d.Valid() {
		return Errorf(StatusUnsupported, "data type %d cannot be read into a buffer (choose one of 1-7 or 14)", int(d))
	}
	if d == Int64 || d == UInt64 {
		return Errorf(StatusUnsupported, "reading %s buffers is not supported yet", d)
	}
	return nil
}

// BufferLen is the size in bytes of a window of the spec's bands; a size
// that overflows is math.MaxInt64, more than any buffer holds.
func (s ReadSpec) BufferLen(w Window) int64 {
	n, ok := BufferSize(s.DType, int64(len(s.Bands)), w.Rows, w.Cols)
	if !ok || n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}

func BufferSize(dtype DType, bands, rows, cols int64) (uint64, bool) {
	hi1, n := bits.Mul64(uint64(bands), uint64(rows))
	hi2, n := bits.Mul64(n, uint64(cols))
	hi3, n := bits.Mul64(n, uint64(dtype.Size()))
	return n, hi1|hi2|hi3 == 0
}

// BandType is the type of band b (1-based).
func (i Info) BandType(b int) DType {
	if i.BandTypes == nil {
		return i.DType
	}
	return i.BandTypes[b-1]
}

// CheckWindow reports a window that is empty or reaches outside the raster.
func (i Info) CheckWindow(w Window) error {
	// Subtractions, not sums, so that huge offsets cannot wrap around.
	if w.Rows <= 0 || w.Cols <= 0 || w.RowOff < 0 || w.ColOff < 0 || w.Rows > i.Rows || w.Cols > i.Cols ||
		w.RowOff > i.Rows-w.Rows || w.ColOff > i.Cols-w.Cols {
		return Errorf(StatusInvalidArgument, "window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) is not inside the %d x %d raster",
			w.RowOff, w.ColOff, w.Rows, w.Cols, i.Rows, i.Cols)
	}
	return nil
}
