package tiff

import (
	"math"
)

// Resampling is how overview cells are computed from the level above.
type Resampling int

const (
	ResampleNearest Resampling = iota + 1
	ResampleAverage
)

func (r Resampling) String() string {
	switch r {
	case ResampleNearest:
		return "NEAREST"
	case ResampleAverage:
		return "AVERAGE"
	}
	return "unknown resampling"
}

// grid is the block grid of one level of the COG.
type grid struct {
	width, height int64
	block         int64
	across, down  int64
}

func newGrid(width, height, block int64) grid {
	return grid{width, height, block, (width + block - 1) / block, (height + block - 1) / block}
}

// tiles is the number of blocks of the level.
func (g grid) tiles() int64 { return g.across * g.down }

// tileSize is the part of block (tx, ty) inside the level.
func (g grid) tileSize(tx, ty int64) (w, h int64) {
	return min(g.block, g.width-tx*g.block), min(g.block, g.height-ty*g.block)
}

// overviewBlock is the block side of GDAL 3.6's overviews for a COG of
// BLOCKSIZE block: its overviews are built with GDAL_TIFF_OVR_BLOCKSIZE,
// which must be a power of two in 64..4096 (128 otherwise).
func overviewBlock(block int64) int64 {
	if block >= 64 && block <= 4096 && block&(block-1) == 0 {
		return block
	}
	return 128
}

// overviewSizes are the overview sizes GDAL's COG driver makes for a
// width x height image of block-sized tiles: halved (rounded down, at
// least 1) until a level fits in one block, or count levels (count >= 0,
// GDAL's OVERVIEW_COUNT), stopping at 1 x 1.
func overviewSizes(width, height, block int64, count int) [][2]int64 {
	if count == 0 || (count < 0 && width <= block && height <= block) {
		return nil
	}
	var sizes [][2]int64
	w, h := width, height
	for {
		if count < 0 {
			if w <= block && h <= block {
				break
			}
		} else if len(sizes) == count || (w == 1 && h == 1) {
			break
		}
		w, h = max(w/2, 1), max(h/2, 1)
		sizes = append(sizes, [2]int64{w, h})
	}
	return sizes
}

// span is the source window of one destination row or column: source
// cells [s, e), the weights of the first and last of them, and the sum of
// the weights of a whole window (GDAL's dfTotalWeightFullLine).
type span struct {
	s, e        int64
	first, last float64
	full        float64
}

// spans are the windows GDAL 3.6's overview code (gcore/overview.cpp)
// gives each of dst destination cells over src source cells: for nearest
// the cell at 0.5 + i*ratio; for average the cells that the destination
// cell covers, the partly covered ones at both ends weighted by how much
// of them it covers, with GDAL's epsilons.
func spans(src, dst int64, r Resampling) []span {
	ratio := float64(src) / float64(dst)
	out := make([]span, dst)
	for i := range out {
		if r == ResampleNearest {
			s := int64(0.5 + float64(i)*ratio)
			out[i] = span{s: s, e: s + 1, first: 1, last: 1, full: 1}
			continue
		}
		x := float64(i) * ratio
		x2 := float64(i+1) * ratio
		s := int64(x + 1e-8)
		e := int64(math.Ceil(x2 - 1e-8))
		if e == s {
			e++
		}
		e = min(e, src)
		sp := span{s: s, e: e, first: 1, last: 1 - (float64(e) - x2)}
		if e != s+1 {
			sp.first = 1 - (x - float64(s))
		}
		sp.full = sp.first
		if s+1 < e {
			sp.full += float64(e - s - 2)
			sp.full += sp.last
		}
		out[i] = sp
	}
	return out
}

// weightY is the weight of source row iy of window sp (the first row, the
// last row, or a middle one), as GDAL gives it.
func (sp *span) weightY(iy int64) float64 {
	switch {
	case iy == sp.s:
		return sp.first
	case iy+1 == sp.e:
		return sp.last
	}
	return 1
}
