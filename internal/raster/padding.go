package raster

// Padding places an inner window's data inside a larger outer window,
// band-sequential and row-major, filling the cells outside the raster.
type Padding struct {
	Size, Bands  int
	Outer, Inner Window
}

// Replicate copies inner into outer and repeats the outermost rows and
// columns outwards.
func (p Padding) Replicate(out, in []byte) {
	ow, iw := int(p.Outer.Cols)*p.Size, int(p.Inner.Cols)*p.Size
	left := int(p.Inner.ColOff-p.Outer.ColOff) * p.Size
	top := int(p.Inner.RowOff - p.Outer.RowOff)
	for b := 0; b < p.Bands; b++ {
		ob := out[b*int(p.Outer.Rows)*ow : (b+1)*int(p.Outer.Rows)*ow]
		ib := in[b*int(p.Inner.Rows)*iw : (b+1)*int(p.Inner.Rows)*iw]
		for r := 0; r < int(p.Outer.Rows); r++ {
			src := ib[clamp(r-top, int(p.Inner.Rows))*iw:][:iw]
			row := ob[r*ow : (r+1)*ow]
			copy(row[left:], src)
			for c := 0; c < left; c += p.Size {
				copy(row[c:c+p.Size], src[:p.Size])
			}
			for c := left + iw; c < ow; c += p.Size {
				copy(row[c:c+p.Size], src[iw-p.Size:])
			}
		}
	}
}

func clamp(i, n int) int { return min(max(i, 0), n-1) }

// FillConstant fills each band of outer with that band's cell and copies
// inner into place.
func (p Padding) FillConstant(out, in []byte, cells [][]byte) {
	ow, iw := int(p.Outer.Cols)*p.Size, int(p.Inner.Cols)*p.Size
	left := int(p.Inner.ColOff-p.Outer.ColOff) * p.Size
	top := int(p.Inner.RowOff - p.Outer.RowOff)
	for b := 0; b < p.Bands; b++ {
		band := out[b*int(p.Outer.Rows)*ow : (b+1)*int(p.Outer.Rows)*ow]
		for c := 0; c < len(band); c += p.Size {
			copy(band[c:], cells[b])
		}
		for r := 0; r < int(p.Inner.Rows); r++ {
			dst := band[(top+r)*ow+left:]
			copy(dst[:iw], in[(b*int(p.Inner.Rows)+r)*iw:][:iw])
		}
	}
}

// EncodeValue is value as one cell of dtype in native (little-endian on
// every platform GDAL's Debian build targets) byte order.
func EncodeValue(dtype DType, v float64) ([]byte, error) {
	if !dtype.Valid() || dtype == Int64 || dtype == UInt64 {
		return nil, Errorf(StatusUnsupported, "cannot fill %s cells", dtype)
	}
	b := make([]byte, dtype.Size())
	dtype.SetCell(b, 0, v)
	return b, nil
}
