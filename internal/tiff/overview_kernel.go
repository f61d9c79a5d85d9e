package tiff

import (
	"math"
	"unsafe"
)

// number is a sample type the encoder writes.
type number interface {
	~uint8 | ~uint16 | ~int16 | ~uint32 | ~int32 | ~uint64 | ~int64 | ~float32 | ~float64
}

// cellsOf views b as samples of type T (b's length is a multiple of T's
// size, its start aligned: every buffer the encoder gives it comes from
// make and is cut at multiples of the pixel size).
func cellsOf[T number](b []byte) []T {
	if len(b) == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/int(unsafe.Sizeof(zero)))
}

// chunk is a rectangle of a level's cells, pixel interleaved, with the
// validity of each cell (nil: every cell is valid).
type chunk struct {
	pix        []byte
	valid      []byte // 0 for an invalid cell
	x0, y0     int64  // its top-left cell in the level
	w, h       int64
	bands      int
	sampleSize int
}

// dstBlock is a block of the destination level being filled.
type dstBlock struct {
	pix    []byte
	mask   []byte // nil without a mask
	x0, y0 int64  // its top-left cell
	side   int64
}

// reduction computes destination cells [dx0, dx1) x [dy0, dy1) of one
// overview level from a chunk of the level above that holds their windows.
type reduction struct {
	src        *chunk
	xs, ys     []span
	dx0, dx1   int64
	dy0, dy1   int64
	dst        *dstBlock
	dstWidth   int64 // of the destination level: GDAL's SIMD groups run from its left edge
	xByTwo     bool  // every column window is two cells, side by side
	noData     *noData
	resampling Resampling
	validBands bool // src.valid has one entry per sample (nodata), not per cell (mask)
}

// noData is the nodata value as each step of GDAL's averaging sees it.
type noData struct {
	value       float64
	replacement float64 // what an average equal to the nodata value becomes
	i64         int64   // the value exactly, for 64-bit integer samples
	u64         uint64
}

// replacementFor is GDALGetNoDataReplacementValue: the value next to the
// nodata value in the band's type, so that an average never reads as
// nodata.
func replacementFor(k sampleKind, nd float64) float64 {
	switch k {
	case kindF32:
		f := float32(nd)
		if f == math.MaxFloat32 {
			return float64(math.Nextafter32(f, 0))
		}
		return float64(math.Nextafter32(f, math.MaxFloat32))
	case kindF64:
		if nd == math.MaxFloat64 {
			return math.Nextafter(nd, 0)
		}
		return math.Nextafter(nd, math.MaxFloat64)
	case kindI64, kindU64:
		return 0 // GDAL 3.6 has no replacement for 64-bit integers
	}
	if nd == k.maxValue() {
		return nd - 1
	}
	return nd + 1
}

func runReduction(k sampleKind, r *reduction) {
	if r.resampling == ResampleNearest {
		nearest(r)
		return
	}
	switch k {
	case kindU8:
		average[uint8](r, true)
	case kindU16:
		average[uint16](r, true)
	case kindI16:
		average[int16](r, false)
	case kindU32:
		average[uint32](r, false)
	case kindI32:
		average[int32](r, false)
	case kindU64:
		average[uint64](r, false)
	case kindI64:
		average[int64](r, false)
	case kindF32:
		average[float32](r, false)
	case kindF64:
		average[float64](r, false)
	}
}

// nearest copies the cell at the start of each window, mask included.
// GDAL 3.6.2 copies 32- and 64-bit integers and Float64 through float32
// (its overview work type), which changes values float32 cannot hold; the
// encoder copies them as they are, as nearest means.
func nearest(r *reduction) {
	s, d := r.src, r.dst
	px := int64(s.bands * s.sampleSize)
	for i := r.dy0; i < r.dy1; i++ {
		sy := r.ys[i].s - s.y0
		drow := (i - d.y0) * d.side
		for j := r.dx0; j < r.dx1; j++ {
			at := sy*s.w + r.xs[j].s - s.x0
			to := drow + j - d.x0
			copy(d.pix[to*px:(to+1)*px], s.pix[at*px:(at+1)*px])
			if d.mask != nil {
				d.mask[to] = s.valid[at]
			}
		}
	}
}

// average is GDAL 3.6's AVERAGE (GDALResampleChunk_AverageOrRMS) for
// samples of type T, operation for operation so that the results are
// bit-identical: Byte and UInt16 work in integers (rounded half up), every
// other type in float32 (GDAL 3.6's overview work type), converted back
// as GDALCopyWords converts.
func average[T number](r *reduction, intWork bool) {
	s, d := r.src, r.dst
	src := cellsOf[T](s.pix)
	dst := cellsOf[T](d.pix)
	bands := int64(s.bands)
	var tND, tRepl T
	var fND, fRepl float32
	hasND := r.noData != nil
	if hasND {
		tND, tRepl = T(r.noData.value), T(r.noData.replacement)
		fND, fRepl = float32(r.noData.value), float32(r.noData.replacement)
	}
	simdEnd := r.dstWidth / 4 * 4 // GDAL's SSE2 float path averages 4 cells at a time, then the rest one by one
	for i := r.dy0; i < r.dy1; i++ {
		ys := &r.ys[i]
		fast := r.xByTwo && ys.e == ys.s+2 && s.valid == nil
		drow := (i - d.y0) * d.side
		for j := r.dx0; j < r.dx1; j++ {
			xs := &r.xs[j]
			out := (drow + j - d.x0) * bands
			for b := int64(0); b < bands; b++ {
				if fast {
					at := ((ys.s-s.y0)*s.w+xs.s-s.x0)*bands + b
					p0, p1 := src[at], src[at+bands]
					q0, q1 := src[at+s.w*bands], src[at+s.w*bands+bands]
					if intWork {
						dst[out+b] = T((uint32(p0) + uint32(p1) + uint32(q0) + uint32(q1) + 2) / 4)
						continue
					}
					a, bb, c, dd := float32(p0), float32(p1), float32(q0), float32(q1)
					var v float32
					if j < simdEnd {
						v = ((a + c) + (bb + dd)) * 0.25
					} else {
						v = 0.25 * (((a + bb) + c) + dd)
					}
					dst[out+b] = fromWork[T](v)
					continue
				}
				var total, weight float64
				if s.valid == nil {
					for iy := ys.s; iy < ys.e; iy++ {
						row := ((iy-s.y0)*s.w - s.x0) * bands
						line := float64(work(src[row+xs.s*bands+b], intWork) * xs.first)
						if xs.s+1 < xs.e {
							for ix := xs.s + 1; ix+1 < xs.e; ix++ {
								line += work(src[row+ix*bands+b], intWork)
							}
							line += float64(work(src[row+(xs.e-1)*bands+b], intWork) * xs.last)
						}
						total += float64(line * ys.weightY(iy))
					}
					weight = float64(xs.full * ys.full)
				} else {
					count := 0
					vs, vb := int64(1), int64(0)
					if r.validBands {
						vs, vb = bands, b
					}
					for iy := ys.s; iy < ys.e; iy++ {
						row := (iy-s.y0)*s.w - s.x0
						var line, lineWeight float64
						if s.valid[(row+xs.s)*vs+vb] != 0 {
							count++
							lineWeight = xs.first
							line = float64(work(src[(row+xs.s)*bands+b], intWork) * xs.first)
						}
						if xs.s+1 < xs.e {
							for ix := xs.s + 1; ix+1 < xs.e; ix++ {
								if s.valid[(row+ix)*vs+vb] != 0 {
									count++
									lineWeight++
									line += work(src[(row+ix)*bands+b], intWork)
								}
							}
							if ix := xs.e - 1; s.valid[(row+ix)*vs+vb] != 0 {
								count++
								lineWeight += xs.last
								line += float64(work(src[(row+ix)*bands+b], intWork) * xs.last)
							}
						}
						wy := ys.weightY(iy)
						total += float64(line * wy)
						weight += float64(lineWeight * wy)
					}
					if count == 0 {
						if intWork {
							dst[out+b] = tND
						} else {
							dst[out+b] = fromWork[T](fND)
						}
						continue
					}
				}
				if intWork {
					v := T(total/weight + 0.5)
					if hasND && v == tND {
						v = tRepl
					}
					dst[out+b] = v
					continue
				}
				v := float32(total / weight)
				if hasND && v == fND {
					v = fRepl
				}
				dst[out+b] = fromWork[T](v)
			}
		}
	}
}

// work is a sample as GDAL's averaging reads it: exact for its integer
// work types, through float32 for the others.
func work[T number](v T, intWork bool) float64 {
	if intWork {
		return float64(v)
	}
	return float64(float32(v))
}

// fromWork converts a float32 result to T as GDALCopyWords does: floats
// as they are, integers rounded half away from zero in float32, clamped
// to T's range, NaN as 0.
func fromWork[T number](v float32) T {
	var zero T
	switch any(zero).(type) {
	case float32, float64:
		return T(v)
	}
	if v != v {
		return 0
	}
	if v >= 0 {
		v += 0.5
	} else {
		v -= 0.5
	}
	lo, hi := limits[T]()
	if v <= lo {
		return T(lo)
	}
	if v >= hi {
		return maxOf[T]()
	}
	return T(v)
}

// limits are T's range as float32 (the maximum rounded up, as float32
// rounds it).
func limits[T number]() (lo, hi float32) {
	var zero T
	switch any(zero).(type) {
	case int16:
		return math.MinInt16, math.MaxInt16
	case uint32:
		return 0, math.MaxUint32
	case int32:
		return math.MinInt32, math.MaxInt32
	case uint64:
		return 0, math.MaxUint64
	case int64:
		return math.MinInt64, math.MaxInt64
	}
	return 0, 0
}

func maxOf[T number]() T {
	var zero T
	var m any
	switch any(zero).(type) {
	case int16:
		m = int16(math.MaxInt16)
	case uint32:
		m = uint32(math.MaxUint32)
	case int32:
		m = int32(math.MaxInt32)
	case uint64:
		m = uint64(math.MaxUint64)
	case int64:
		m = int64(math.MaxInt64)
	default:
		return zero
	}
	return m.(T)
}
