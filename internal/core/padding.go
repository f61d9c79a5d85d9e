package core

// padding places an inner window's data inside a larger outer window,
// band-sequential and row-major, filling the cells outside the raster.
type padding struct {
	size, bands  int
	outer, inner Window
}

// replicate copies inner into outer and repeats the outermost rows and
// columns outwards.
func (p padding) replicate(out, in []byte) {
	ow, iw := int(p.outer.Cols)*p.size, int(p.inner.Cols)*p.size
	left := int(p.inner.ColOff-p.outer.ColOff) * p.size
	top := int(p.inner.RowOff - p.outer.RowOff)
	for b := 0; b < p.bands; b++ {
		ob := out[b*int(p.outer.Rows)*ow : (b+1)*int(p.outer.Rows)*ow]
		ib := in[b*int(p.inner.Rows)*iw : (b+1)*int(p.inner.Rows)*iw]
		for r := 0; r < int(p.outer.Rows); r++ {
			src := ib[clamp(r-top, int(p.inner.Rows))*iw:][:iw]
			row := ob[r*ow : (r+1)*ow]
			copy(row[left:], src)
			for c := 0; c < left; c += p.size {
				copy(row[c:c+p.size], src[:p.size])
			}
			for c := left + iw; c < ow; c += p.size {
				copy(row[c:c+p.size], src[iw-p.size:])
			}
		}
	}
}

func clamp(i, n int) int { return min(max(i, 0), n-1) }

// fillConstant fills each band of outer with that band's cell and copies
// inner into place.
func (p padding) fillConstant(out, in []byte, cells [][]byte) {
	ow, iw := int(p.outer.Cols)*p.size, int(p.inner.Cols)*p.size
	left := int(p.inner.ColOff-p.outer.ColOff) * p.size
	top := int(p.inner.RowOff - p.outer.RowOff)
	for b := 0; b < p.bands; b++ {
		band := out[b*int(p.outer.Rows)*ow : (b+1)*int(p.outer.Rows)*ow]
		for c := 0; c < len(band); c += p.size {
			copy(band[c:], cells[b])
		}
		for r := 0; r < int(p.inner.Rows); r++ {
			dst := band[(top+r)*ow+left:]
			copy(dst[:iw], in[(b*int(p.inner.Rows)+r)*iw:][:iw])
		}
	}
}

// encodeValue is value as one cell of dtype in native (little-endian on
// every platform GDAL's Debian build targets) byte order.
func encodeValue(dtype DType, v float64) ([]byte, error) {
	if !dtype.Valid() || dtype == Int64 || dtype == UInt64 {
		return nil, errorf(StatusUnsupported, "cannot fill %s cells", dtype)
	}
	b := make([]byte, dtype.Size())
	dtype.setCell(b, 0, v)
	return b, nil
}
