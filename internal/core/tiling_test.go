package core

import (
	"reflect"
	"testing"
)

// reference is the algorithm of DESIGN.md, as the original wrote it.
func reference(rows, cols, tileRows, tileCols, overlap int64) []Window {
	stepR, stepC := max(1, tileRows-overlap), max(1, tileCols-overlap)
	var out []Window
	for r := int64(0); r < rows; r += stepR {
		for c := int64(0); c < cols; c += stepC {
			out = append(out, Window{r, c, min(tileRows, rows-r), min(tileCols, cols-c)})
		}
	}
	return out
}

func all(t *Tiling) []Window {
	var out []Window
	for i := uint64(0); i < t.Len(); i++ {
		out = append(out, t.At(i))
	}
	return out
}

func TestTilingExample(t *testing.T) {
	tl, err := NewTiling(5, 5, 3, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Window{{0, 0, 3, 3}, {0, 3, 3, 2}, {3, 0, 2, 3}, {3, 3, 2, 2}}
	if got := all(tl); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	page := make([]int64, 8)
	if n := tl.Page(1, page); n != 2 || !reflect.DeepEqual(page, []int64{0, 3, 3, 2, 3, 0, 2, 3}) {
		t.Fatalf("page from 1: n=%d %v", n, page)
	}
	if n := tl.Page(4, page); n != 0 {
		t.Fatalf("page past the end wrote %d", n)
	}
}

func TestTilingErrors(t *testing.T) {
	for _, c := range []struct {
		rows, cols, tr, tc, ov int64
		msg                    string
	}{
		{5, 5, 0, 3, 0, "tile_rows and tile_cols must be positive"},
		{5, 5, 3, -2, 0, "tile_rows and tile_cols must be positive"},
		{5, 5, 3, 3, -1, "overlap must be >= 0"},
		{-1, 5, 3, 3, 0, "raster size must be >= 0, got rows=-1 cols=5"},
		{MaxRasterSide + 1, 5, 3, 3, 0, "raster size rows=2147483649 cols=5 exceeds the maximum side of 2147483648"},
	} {
		_, err := NewTiling(c.rows, c.cols, c.tr, c.tc, c.ov)
		if err == nil || err.Error() != c.msg || StatusOf(err) != StatusInvalidArgument {
			t.Errorf("NewTiling(%d, %d, %d, %d, %d) = %v, want %q", c.rows, c.cols, c.tr, c.tc, c.ov, err, c.msg)
		}
	}
}

func TestTilingHugeIsConstantTime(t *testing.T) {
	tl, err := NewTiling(MaxRasterSide, MaxRasterSide, 1, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tl.Len() != 1<<62 {
		t.Fatalf("len %d", tl.Len())
	}
	if w := tl.At(tl.Len() - 1); w != (Window{MaxRasterSide - 1, MaxRasterSide - 1, 1, 1}) {
		t.Fatalf("last window %v", w)
	}
}

func checkAgainstReference(t *testing.T, rows, cols, tr, tc, ov int64) {
	tl, err := NewTiling(rows, cols, tr, tc, ov)
	if err != nil {
		t.Fatalf("NewTiling(%d, %d, %d, %d, %d): %v", rows, cols, tr, tc, ov, err)
	}
	want := reference(rows, cols, tr, tc, ov)
	if got := all(tl); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("(%d, %d, %d, %d, %d): got %v, want %v", rows, cols, tr, tc, ov, got, want)
	}
	first := uint64(len(want) / 3)
	page := make([]int64, 4*5)
	n := tl.Page(first, page)
	for k := uint64(0); k < n; k++ {
		w := want[first+k]
		if page[4*k] != w.RowOff || page[4*k+1] != w.ColOff || page[4*k+2] != w.Rows || page[4*k+3] != w.Cols {
			t.Fatalf("page at %d differs at %d", first, k)
		}
	}
}

func TestTilingTable(t *testing.T) {
	for _, c := range [][5]int64{{0, 0, 1, 1, 0}, {0, 7, 3, 3, 0}, {10, 7, 4, 3, 0}, {10, 10, 4, 4, 1}, {3, 2, 2, 2, 5},
		{1, 1, 1, 1, 0}, {33, 17, 32, 16, 31}, {100, 1, 7, 7, 2}} {
		checkAgainstReference(t, c[0], c[1], c[2], c[3], c[4])
	}
}

func FuzzTiling(f *testing.F) {
	for _, c := range [][5]int64{{5, 5, 3, 3, 0}, {10, 10, 4, 4, 1}, {0, 3, 1, 1, 0}, {300, 299, 7, 300, 299}, {17, 3, 2, 5, 9}} {
		f.Add(c[0], c[1], c[2], c[3], c[4])
	}
	f.Fuzz(func(t *testing.T, rows, cols, tr, tc, ov int64) {
		if rows < 0 || cols < 0 || rows > 300 || cols > 300 || tr < 1 || tc < 1 || tr > 400 || tc > 400 || ov < 0 || ov > 500 {
			if _, err := NewTiling(rows, cols, tr, tc, ov); err == nil && (tr < 1 || tc < 1 || ov < 0 || rows < 0 || cols < 0) {
				t.Fatalf("invalid sizes accepted: %d %d %d %d %d", rows, cols, tr, tc, ov)
			}
			return
		}
		checkAgainstReference(t, rows, cols, tr, tc, ov)
	})
}
