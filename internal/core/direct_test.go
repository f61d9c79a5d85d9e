package core

import (
	"bytes"
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"
)

// The direct block decoder must return exactly what GDAL returns, for every
// layout it accepts; layouts it declines fall back to GDAL.
func TestDirectDecodeMatchesGDAL(t *testing.T) {
	dir := t.TempDir()
	layouts := [][]string{
		{"COMPRESS=NONE"},
		{"COMPRESS=DEFLATE"},
		{"COMPRESS=DEFLATE", "PREDICTOR=2"},
		{"COMPRESS=ZSTD", "PREDICTOR=2"},
		{"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=32", "COMPRESS=DEFLATE", "PREDICTOR=2"},
		{"TILED=YES", "BLOCKXSIZE=48", "BLOCKYSIZE=48", "COMPRESS=ZSTD"},
		{"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE", "INTERLEAVE=BAND", "PREDICTOR=2"},
		{"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE", "INTERLEAVE=PIXEL", "PREDICTOR=2"},
		{"TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32", "COMPRESS=LZW"}, // declined: GDAL decodes
		{"BLOCKYSIZE=7", "COMPRESS=DEFLATE"},
	}
	floatLayouts := [][]string{
		{"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE", "PREDICTOR=3"},
		{"TILED=YES", "BLOCKXSIZE=80", "BLOCKYSIZE=16", "COMPRESS=ZSTD", "PREDICTOR=3", "INTERLEAVE=PIXEL"},
		{"COMPRESS=DEFLATE", "PREDICTOR=3"},
	}
	rng := rand.New(rand.NewSource(1))
	n, direct := 0, 0
	for _, dtype := range []DType{Byte, UInt16, Int16, UInt32, Int32, Float32, Float64} {
		opts := layouts
		if dtype.IsFloat() {
			opts = append(append([][]string{}, layouts...), floatLayouts...)
		}
		for _, o := range opts {
			for _, bands := range []int{1, 3} {
				n++
				rows, cols := 150+rng.Intn(40), 170+rng.Intn(40)
				path := gtiff(t, filepath.Join(dir, fmt.Sprintf("r%d.tif", n)), dtype, bands, rows, cols, cells(dtype, bands, rows, cols, int64(n)), o...)
				ds, err := OpenDataset(path)
				if err != nil {
					t.Fatal(err)
				}
				info := ds.Info()
				for _, spec := range []ReadSpec{{}, {Bands: []int{bands}, DType: dtype}} {
					resolved, _ := spec.resolve(info)
					raw := ds.raw
					for k := 0; k < 4; k++ {
						w := Window{RowOff: int64(rng.Intn(rows - 1)), ColOff: int64(rng.Intn(cols - 1))}
						w.Rows = 1 + int64(rng.Intn(rows-int(w.RowOff)))
						w.Cols = 1 + int64(rng.Intn(cols-int(w.ColOff)))
						if k == 0 { // every block inside the window
							w = Window{Rows: int64(rows), Cols: int64(cols)}
						}
						want := gdalRead(t, path, w, resolved.Bands, dtype)
						got := make([]byte, len(want))
						if raw != nil {
							direct++
							if err := raw.read(path, w, resolved.Bands, got); err != nil {
								t.Fatalf("%s %v: %v", dtype, o, err)
							}
						} else if err := ds.ReadWindow(w, resolved, got); err != nil && StatusOf(err) != StatusInvalidArgument {
							t.Fatal(err)
						}
						if raw != nil && !bytes.Equal(got, want) {
							t.Fatalf("%s %v bands=%v window %v: direct decoding differs from GDAL", dtype, o, resolved.Bands, w)
						}
					}
				}
				ds.Close()
			}
		}
	}
	if declinedOnly := 2 * 7 * 4 * 2; direct < n*2*4-declinedOnly-2*2*4 {
		t.Fatalf("only %d of %d reads went through the direct decoder", direct, n*2*4)
	}
}

func TestDirectDecodeDeclines(t *testing.T) {
	dir := t.TempDir()
	lzw := gtiff(t, filepath.Join(dir, "lzw.tif"), Float32, 1, 40, 40, cells(Float32, 1, 40, 40, 1), "COMPRESS=LZW")
	ds, err := OpenDataset(lzw)
	if err != nil {
		t.Fatal(err)
	}
	if ds.raw != nil {
		t.Fatal("LZW accepted")
	}
	ds.Close()
	// a type conversion goes through GDAL
	plain := gtiff(t, filepath.Join(dir, "plain.tif"), Float32, 1, 40, 40, cells(Float32, 1, 40, 40, 1))
	ds, err = OpenDataset(plain)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	buf := make([]byte, 8*40*40)
	if err := ds.ReadWindow(Window{0, 0, 40, 40}, ReadSpec{DType: Float64}, buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, gdalRead(t, plain, Window{0, 0, 40, 40}, []int{1}, Float64)) {
		t.Fatal("converted read differs from GDAL")
	}
}
