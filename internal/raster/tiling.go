package raster

import "math/bits"

// MaxRasterSide is the largest raster side, in cells, that tiling accepts.
const MaxRasterSide = int64(1) << 31

// Window is a rectangle of cells, row-first: the order tile_windows yields.
type Window struct {
	RowOff, ColOff, Rows, Cols int64
}

// Contains reports whether cell (row, col) is inside w.
func (w Window) Contains(row, col int64) bool {
	return row >= w.RowOff && row < w.RowOff+w.Rows && col >= w.ColOff && col < w.ColOff+w.Cols
}

// DefaultTileSide is the side of the tiles a reader walks when its caller
// names none, the original's default (Python's windows.DEFAULT_TILE, which
// must not load the library to be known, is tested against it).
const DefaultTileSide = 1024

// Tiling is the sequence of tile windows of a raster, computed on demand:
// window i follows from i alone, so any page costs O(page).
type Tiling struct {
	rows, cols             int64
	tileRows, tileCols     int64
	stepRows, stepCols     int64
	tilesDown, tilesAcross uint64
	total                  uint64
}

// NewTiling validates sizes as the original tile_windows did and counts the
// windows, failing when the count does not fit in a uint64.
func NewTiling(rows, cols, tileRows, tileCols, overlap int64) (*Tiling, error) {
	if tileRows <= 0 || tileCols <= 0 {
		return nil, Errorf(StatusInvalidArgument, "tile_rows and tile_cols must be positive")
	}
	if overlap < 0 {
		return nil, Errorf(StatusInvalidArgument, "overlap must be >= 0")
	}
	if rows < 0 || cols < 0 {
		return nil, Errorf(StatusInvalidArgument, "raster size must be >= 0, got rows=%d cols=%d", rows, cols)
	}
	if rows > MaxRasterSide || cols > MaxRasterSide {
		return nil, Errorf(StatusInvalidArgument, "raster size rows=%d cols=%d exceeds the maximum side of %d", rows, cols, MaxRasterSide)
	}
	t := &Tiling{rows: rows, cols: cols, tileRows: tileRows, tileCols: tileCols,
		stepRows: max(1, tileRows-overlap), stepCols: max(1, tileCols-overlap)}
	t.tilesDown = ceilDiv(rows, t.stepRows)
	t.tilesAcross = ceilDiv(cols, t.stepCols)
	hi, lo := bits.Mul64(t.tilesDown, t.tilesAcross)
	if hi != 0 {
		return nil, Errorf(StatusInvalidArgument, "%d x %d tiles overflow a 64-bit count", t.tilesDown, t.tilesAcross)
	}
	t.total = lo
	return t, nil
}

func ceilDiv(n, step int64) uint64 {
	if n <= 0 {
		return 0
	}
	return uint64((n-1)/step + 1)
}

// Len is the number of windows.
func (t *Tiling) Len() uint64 { return t.total }

// At returns window i (0 <= i < Len()).
func (t *Tiling) At(i uint64) Window {
	r := int64(i/t.tilesAcross) * t.stepRows
	c := int64(i%t.tilesAcross) * t.stepCols
	return Window{RowOff: r, ColOff: c, Rows: min(t.tileRows, t.rows-r), Cols: min(t.tileCols, t.cols-c)}
}

// PageLen is how many windows a page of at most capacity windows starting
// at first holds.
func (t *Tiling) PageLen(first, capacity uint64) uint64 {
	if first >= t.total {
		return 0
	}
	return min(capacity, t.total-first)
}

// Page writes windows first, first+1, ... into out as row-first quadruples,
// as many as fit (len(out)/4) and exist, and returns how many it wrote.
func (t *Tiling) Page(first uint64, out []int64) uint64 {
	n := t.PageLen(first, uint64(len(out)/4))
	for k := uint64(0); k < n; k++ {
		w := t.At(first + k)
		out[4*k], out[4*k+1], out[4*k+2], out[4*k+3] = w.RowOff, w.ColOff, w.Rows, w.Cols
	}
	return n
}
