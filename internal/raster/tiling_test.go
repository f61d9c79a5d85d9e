package raster_test

import (
	"math/rand"
	"reflect"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/raster/rastertest"
)

// referenceTiles is the loop of DESIGN.md, written as literally as Go
// allows: validate, step, nested while loops, clip.
func referenceTiles(rows, cols, tileRows, tileCols, overlap int64) ([]raster.Window, string) {
	if !(tileRows > 0 && tileCols > 0) {
		return nil, "tile_rows and tile_cols must be positive"
	}
	if !(overlap >= 0) {
		return nil, "overlap must be >= 0"
	}
	stepR := max(1, tileRows-overlap)
	stepC := max(1, tileCols-overlap)
	out := []raster.Window{}
	for rOff := int64(0); rOff < rows; rOff += stepR {
		nRows := min(tileRows, rows-rOff)
		for cOff := int64(0); cOff < cols; cOff += stepC {
			nCols := min(tileCols, cols-cOff)
			out = append(out, raster.Window{rOff, cOff, nRows, nCols})
		}
	}
	return out, ""
}

// quads flattens windows the way Page writes them.
func quads(ws []raster.Window) []int64 {
	out := make([]int64, 0, 4*len(ws))
	for _, w := range ws {
		out = append(out, w.RowOff, w.ColOff, w.Rows, w.Cols)
	}
	return out
}

// checkTiling compares NewTiling, Len, At, PageLen and Page with the
// reference for one shape; pages start at the given firsts.
func checkTiling(t *testing.T, rows, cols, tr, tc, ov int64, firsts []uint64, capacities []int) {
	t.Helper()
	want, msg := referenceTiles(rows, cols, tr, tc, ov)
	tl, err := raster.NewTiling(rows, cols, tr, tc, ov)
	if msg != "" {
		if err == nil || err.Error() != msg || raster.StatusOf(err) != raster.StatusInvalidArgument {
			t.Fatalf("NewTiling(%d, %d, %d, %d, %d) = %v, want error %q", rows, cols, tr, tc, ov, err, msg)
		}
		return
	}
	if err != nil {
		t.Fatalf("NewTiling(%d, %d, %d, %d, %d): %v", rows, cols, tr, tc, ov, err)
	}
	if tl.Len() != uint64(len(want)) {
		t.Fatalf("(%d, %d, %d, %d, %d): Len %d, want %d", rows, cols, tr, tc, ov, tl.Len(), len(want))
	}
	if got := rastertest.Windows(tl); !reflect.DeepEqual(got, want) {
		t.Fatalf("(%d, %d, %d, %d, %d): windows\n got %v\nwant %v", rows, cols, tr, tc, ov, got, want)
	}
	for _, first := range firsts {
		for _, capacity := range capacities {
			out := make([]int64, 4*capacity)
			for i := range out {
				out[i] = -7 // untouched cells must stay so
			}
			n := tl.Page(first, out)
			var exp []raster.Window
			if first < uint64(len(want)) {
				exp = want[first:min(uint64(len(want)), first+uint64(capacity))]
			}
			if n != uint64(len(exp)) || tl.PageLen(first, uint64(capacity)) != n {
				t.Fatalf("(%d, %d, %d, %d, %d) page at %d cap %d: wrote %d (PageLen %d), want %d",
					rows, cols, tr, tc, ov, first, capacity, n, tl.PageLen(first, uint64(capacity)), len(exp))
			}
			if !reflect.DeepEqual(out[:4*n], quads(exp)) && len(exp) > 0 {
				t.Fatalf("(%d, %d, %d, %d, %d) page at %d cap %d: %v, want %v", rows, cols, tr, tc, ov, first, capacity, out[:4*n], quads(exp))
			}
			for _, v := range out[4*n:] {
				if v != -7 {
					t.Fatalf("page at %d cap %d wrote past its %d windows: %v", first, capacity, n, out)
				}
			}
		}
	}
}

func TestTilingTable(t *testing.T) {
	for _, c := range []struct {
		name                   string
		rows, cols, tr, tc, ov int64
		want                   []raster.Window
	}{
		{"design example", 5, 5, 3, 3, 0, []raster.Window{{0, 0, 3, 3}, {0, 3, 3, 2}, {3, 0, 2, 3}, {3, 3, 2, 2}}},
		{"empty raster", 0, 0, 3, 3, 0, []raster.Window{}},
		{"no rows", 0, 7, 3, 3, 0, []raster.Window{}},
		{"no cols", 7, 0, 3, 3, 0, []raster.Window{}},
		{"one cell", 1, 1, 1, 1, 0, []raster.Window{{0, 0, 1, 1}}},
		{"tile larger than raster", 2, 3, 100, 200, 0, []raster.Window{{0, 0, 2, 3}}},
		{"exact division", 4, 6, 2, 3, 0, []raster.Window{{0, 0, 2, 3}, {0, 3, 2, 3}, {2, 0, 2, 3}, {2, 3, 2, 3}}},
		{"overlap 1", 5, 4, 3, 3, 1, []raster.Window{{0, 0, 3, 3}, {0, 2, 3, 2}, {2, 0, 3, 3}, {2, 2, 3, 2}, {4, 0, 1, 3}, {4, 2, 1, 2}}},
		{"overlap == tile: step 1", 3, 2, 2, 2, 2, []raster.Window{{0, 0, 2, 2}, {0, 1, 2, 1}, {1, 0, 2, 2}, {1, 1, 2, 1}, {2, 0, 1, 2}, {2, 1, 1, 1}}},
		{"overlap > tile: step 1", 2, 2, 2, 2, 9, []raster.Window{{0, 0, 2, 2}, {0, 1, 2, 1}, {1, 0, 1, 2}, {1, 1, 1, 1}}},
		{"single row", 1, 5, 1, 2, 0, []raster.Window{{0, 0, 1, 2}, {0, 2, 1, 2}, {0, 4, 1, 1}}},
		{"single column tiles", 3, 1, 2, 1, 0, []raster.Window{{0, 0, 2, 1}, {2, 0, 1, 1}}},
		{"non-square", 3, 7, 3, 4, 0, []raster.Window{{0, 0, 3, 4}, {0, 4, 3, 3}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tl, err := raster.NewTiling(c.rows, c.cols, c.tr, c.tc, c.ov)
			if err != nil {
				t.Fatal(err)
			}
			if got := rastertest.Windows(tl); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			ref, _ := referenceTiles(c.rows, c.cols, c.tr, c.tc, c.ov)
			if !reflect.DeepEqual(ref, c.want) {
				t.Fatalf("the reference disagrees with the table: %v", ref)
			}
			checkTiling(t, c.rows, c.cols, c.tr, c.tc, c.ov, []uint64{0, 1, 2, 3, 5, 100}, []int{0, 1, 2, 3, 10})
		})
	}
}

func TestTilingErrors(t *testing.T) {
	const tilesMsg, overlapMsg = "tile_rows and tile_cols must be positive", "overlap must be >= 0"
	for _, c := range []struct {
		rows, cols, tr, tc, ov int64
		msg                    string // "" : any message
	}{
		{5, 5, 0, 3, 0, tilesMsg},
		{5, 5, 3, 0, 0, tilesMsg},
		{5, 5, -1, 3, 0, tilesMsg},
		{5, 5, 3, -2, 0, tilesMsg},
		{5, 5, -1 << 63, 3, 0, tilesMsg},
		{5, 5, 3, 3, -1, overlapMsg},
		{5, 5, 3, 3, -1 << 63, overlapMsg},
		{0, 0, 0, 0, -1, tilesMsg}, // tile sizes are checked first, as the original did
		{-1, 5, 0, 3, 0, tilesMsg},
		{-1, 5, 3, 3, -1, overlapMsg},
		{-1, 5, 3, 3, 0, ""},
		{5, -1, 3, 3, 0, ""},
		{-1 << 63, -1 << 63, 3, 3, 0, ""},
		{raster.MaxRasterSide + 1, 5, 3, 3, 0, ""},
		{5, raster.MaxRasterSide + 1, 3, 3, 0, ""},
		{1 << 62, 1 << 62, 1, 1, 0, ""},
		{1<<63 - 1, 1, 1, 1, 0, ""},
	} {
		tl, err := raster.NewTiling(c.rows, c.cols, c.tr, c.tc, c.ov)
		if err == nil || tl != nil || raster.StatusOf(err) != raster.StatusInvalidArgument {
			t.Errorf("NewTiling(%d, %d, %d, %d, %d) = %v, %v; want an INVALID_ARGUMENT error", c.rows, c.cols, c.tr, c.tc, c.ov, tl, err)
			continue
		}
		if c.msg != "" && err.Error() != c.msg {
			t.Errorf("NewTiling(%d, %d, %d, %d, %d): message %q, want %q", c.rows, c.cols, c.tr, c.tc, c.ov, err.Error(), c.msg)
		}
		if c.msg == "" && (err.Error() == tilesMsg || err.Error() == overlapMsg) {
			t.Errorf("NewTiling(%d, %d, %d, %d, %d): a size error reported as %q", c.rows, c.cols, c.tr, c.tc, c.ov, err.Error())
		}
	}
	// the largest side is accepted
	for _, c := range [][2]int64{{raster.MaxRasterSide, 1}, {1, raster.MaxRasterSide}, {raster.MaxRasterSide, raster.MaxRasterSide}} {
		if _, err := raster.NewTiling(c[0], c[1], 1024, 1024, 0); err != nil {
			t.Errorf("%v: %v", c, err)
		}
	}
}

// Counts and windows of huge rasters come from arithmetic alone.
func TestTilingHuge(t *testing.T) {
	tl, err := raster.NewTiling(raster.MaxRasterSide, raster.MaxRasterSide, 1, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tl.Len() != 1<<62 {
		t.Fatalf("Len %d, want 2^62", tl.Len())
	}
	last := tl.Len() - 1
	if w := tl.At(last); w != (raster.Window{raster.MaxRasterSide - 1, raster.MaxRasterSide - 1, 1, 1}) {
		t.Fatalf("At(total-1) = %v, want the last cell", w)
	}
	if w := tl.At(0); w != (raster.Window{0, 0, 1, 1}) {
		t.Fatalf("At(0) = %v", w)
	}
	// window i of a 1x1 tiling is cell (i / cols, i % cols)
	rng := rand.New(rand.NewSource(1))
	for k := 0; k < 1000; k++ {
		i := rng.Uint64() % tl.Len()
		want := raster.Window{int64(i / uint64(raster.MaxRasterSide)), int64(i % uint64(raster.MaxRasterSide)), 1, 1}
		if w := tl.At(i); w != want {
			t.Fatalf("At(%d) = %v, want %v", i, w, want)
		}
	}
	out := make([]int64, 4*3)
	if n := tl.Page(last-1, out); n != 2 || !reflect.DeepEqual(out[:8], []int64{raster.MaxRasterSide - 1, raster.MaxRasterSide - 2, 1, 1, raster.MaxRasterSide - 1, raster.MaxRasterSide - 1, 1, 1}) {
		t.Fatalf("last page: n=%d %v", n, out)
	}
	if n := tl.Page(tl.Len(), out); n != 0 {
		t.Fatalf("page at total wrote %d", n)
	}
	if n := tl.Page(^uint64(0), out); n != 0 {
		t.Fatalf("page at 2^64-1 wrote %d", n)
	}
	if n := tl.PageLen(last, ^uint64(0)); n != 1 {
		t.Fatalf("PageLen(last, 2^64-1) = %d", n)
	}

	// 400k x 400k with overlap near the tile size: step 1
	tl, err = raster.NewTiling(400000, 400000, 1024, 1024, 1023)
	if err != nil {
		t.Fatal(err)
	}
	if tl.Len() != 400000*400000 {
		t.Fatalf("Len %d", tl.Len())
	}
	if w := tl.At(tl.Len() - 1); w != (raster.Window{399999, 399999, 1, 1}) {
		t.Fatalf("last %v", w)
	}
	if w := tl.At(400000*2 + 398976); w != (raster.Window{2, 398976, 1024, 1024}) {
		t.Fatalf("interior %v", w)
	}
	if w := tl.At(400000*398977 + 398977); w != (raster.Window{398977, 398977, 1023, 1023}) {
		t.Fatalf("clipped %v", w)
	}

	// the largest side in tiles of one row: 2^31 windows of a full row
	tl, err = raster.NewTiling(raster.MaxRasterSide, raster.MaxRasterSide, 1, raster.MaxRasterSide, 0)
	if err != nil || tl.Len() != 1<<31 {
		t.Fatalf("%v %v", tl, err)
	}
	if w := tl.At(1<<31 - 1); w != (raster.Window{raster.MaxRasterSide - 1, 0, 1, raster.MaxRasterSide}) {
		t.Fatalf("%v", w)
	}
}

// Page at any first equals the reference's slice, for random shapes.
func TestTilingPagesMatchReference(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for k := 0; k < 400; k++ {
		rows, cols := int64(rng.Intn(60)), int64(rng.Intn(60))
		tr, tc := 1+int64(rng.Intn(25)), 1+int64(rng.Intn(25))
		ov := int64(rng.Intn(30))
		want, _ := referenceTiles(rows, cols, tr, tc, ov)
		firsts := []uint64{0, uint64(len(want)), uint64(len(want)) + 1}
		for j := 0; j < 5 && len(want) > 0; j++ {
			firsts = append(firsts, uint64(rng.Intn(len(want))))
		}
		checkTiling(t, rows, cols, tr, tc, ov, firsts, []int{0, 1, 1 + rng.Intn(7), len(want) + 2})
	}
}

// A page buffer whose length is not a multiple of 4 holds the whole
// quadruples that fit.
func TestTilingPageOddBuffer(t *testing.T) {
	tl, _ := raster.NewTiling(5, 5, 3, 3, 0)
	out := []int64{-1, -1, -1, -1, -1, -1, -1}
	if n := tl.Page(0, out); n != 1 || !reflect.DeepEqual(out, []int64{0, 0, 3, 3, -1, -1, -1}) {
		t.Fatalf("n=%d %v", n, out)
	}
	if n := tl.Page(0, nil); n != 0 {
		t.Fatalf("nil page wrote %d", n)
	}
}

func FuzzTiling(f *testing.F) {
	for _, c := range [][5]int64{
		{5, 5, 3, 3, 0}, {10, 10, 4, 4, 1}, {0, 3, 1, 1, 0}, {300, 299, 7, 300, 299}, {17, 3, 2, 5, 9},
		{1, 1, 1, 1, 0}, {300, 300, 1, 1, 0}, {5, 5, 0, 3, 0}, {5, 5, 3, 3, -1}, {-1, 5, 3, 3, 0},
		{raster.MaxRasterSide, raster.MaxRasterSide, 1, 1, 0}, {raster.MaxRasterSide + 1, 1, 1, 1, 0}, {123, 45, 1 << 40, 7, 1 << 50},
	} {
		f.Add(c[0], c[1], c[2], c[3], c[4], uint64(c[0]*3+c[1]))
	}
	f.Fuzz(func(t *testing.T, rows, cols, tr, tc, ov int64, first uint64) {
		_, msg := referenceTiles(0, 0, tr, tc, ov)
		if msg != "" || rows < 0 || cols < 0 || rows > raster.MaxRasterSide || cols > raster.MaxRasterSide {
			tl, err := raster.NewTiling(rows, cols, tr, tc, ov)
			if err == nil || tl != nil || raster.StatusOf(err) != raster.StatusInvalidArgument || (msg != "" && err.Error() != msg) {
				t.Fatalf("NewTiling(%d, %d, %d, %d, %d) = %v, %v; want INVALID_ARGUMENT %q", rows, cols, tr, tc, ov, tl, err, msg)
			}
			return
		}
		if rows > 300 || cols > 300 {
			// too big for the reference: check the count and the ends
			tl, err := raster.NewTiling(rows, cols, tr, tc, ov)
			if err != nil {
				t.Fatalf("NewTiling(%d, %d, %d, %d, %d): %v", rows, cols, tr, tc, ov, err)
			}
			stepR, stepC := max(1, tr-ov), max(1, tc-ov)
			down, across := uint64(0), uint64(0)
			if rows > 0 {
				down = uint64((rows + stepR - 1) / stepR)
			}
			if cols > 0 {
				across = uint64((cols + stepC - 1) / stepC)
			}
			if tl.Len() != down*across {
				t.Fatalf("Len %d, want %d x %d", tl.Len(), down, across)
			}
			if tl.Len() > 0 {
				lastR, lastC := int64(down-1)*stepR, int64(across-1)*stepC
				if w := tl.At(tl.Len() - 1); w != (raster.Window{lastR, lastC, min(tr, rows-lastR), min(tc, cols-lastC)}) {
					t.Fatalf("last window %v", w)
				}
				if w := tl.At(0); w != (raster.Window{0, 0, min(tr, rows), min(tc, cols)}) {
					t.Fatalf("first window %v", w)
				}
			}
			return
		}
		if tr > 1000 {
			tr = 1000 + tr%1000
		}
		if tc > 1000 {
			tc = 1000 + tc%1000
		}
		ref, _ := referenceTiles(rows, cols, tr, tc, ov)
		firsts := []uint64{0, first}
		if len(ref) > 0 {
			firsts = append(firsts, first%uint64(len(ref)))
		}
		checkTiling(t, rows, cols, tr, tc, ov, firsts, []int{0, 1, 3, int(first % 50)})
	})
}
