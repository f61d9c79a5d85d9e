package core

import (
	"bytes"
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/raster"
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
	n, direct, fallback := 0, 0, 0
	for _, dtype := range []raster.DType{raster.Byte, raster.UInt16, raster.Int16, raster.UInt32, raster.Int32, raster.Float32, raster.Float64} {
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
				for _, spec := range []raster.ReadSpec{{}, {Bands: []int{bands}, DType: dtype}} {
					resolved, _ := spec.Resolve(info)
					raw := ds.raw
					for k := 0; k < 4; k++ {
						w := raster.Window{RowOff: int64(rng.Intn(rows - 1)), ColOff: int64(rng.Intn(cols - 1))}
						w.Rows = 1 + int64(rng.Intn(rows-int(w.RowOff)))
						w.Cols = 1 + int64(rng.Intn(cols-int(w.ColOff)))
						if k == 0 { // every block inside the window
							w = raster.Window{Rows: int64(rows), Cols: int64(cols)}
						}
						want := gdalRead(t, path, w, resolved.Bands, dtype)
						got := make([]byte, len(want))
						var how string
						if raw != nil {
							direct, how = direct+1, "direct decoding"
							err = raw.read(path, w, resolved.Bands, got)
						} else {
							fallback, how = fallback+1, "GDAL's fallback"
							err = ds.ReadWindow(w, resolved, got)
						}
						if err != nil {
							t.Fatalf("%s %v bands=%v window %v: %s: %v", dtype, o, resolved.Bands, w, how, err)
						}
						if !bytes.Equal(got, want) {
							t.Fatalf("%s %v bands=%v window %v: %s differs from GDAL", dtype, o, resolved.Bands, w, how)
						}
					}
				}
				ds.Close()
			}
		}
	}
	if declinedOnly := 2 * 7 * 4 * 2; direct < n*2*4-declinedOnly-2*2*4 || fallback == 0 {
		t.Fatalf("%d of %d reads went through the direct decoder, %d through GDAL's fallback", direct, n*2*4, fallback)
	}
}

func TestDirectDecodeDeclines(t *testing.T) {
	dir := t.TempDir()
	lzw := gtiff(t, filepath.Join(dir, "lzw.tif"), raster.Float32, 1, 40, 40, cells(raster.Float32, 1, 40, 40, 1), "COMPRESS=LZW")
	ds, err := OpenDataset(lzw)
	if err != nil {
		t.Fatal(err)
	}
	if ds.raw != nil {
		t.Fatal("LZW accepted")
	}
	ds.Close()
	// a type conversion goes through GDAL
	plain := gtiff(t, filepath.Join(dir, "plain.tif"), raster.Float32, 1, 40, 40, cells(raster.Float32, 1, 40, 40, 1))
	ds, err = OpenDataset(plain)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	buf := make([]byte, 8*40*40)
	if err := ds.ReadWindow(raster.Window{RowOff: 0, ColOff: 0, Rows: 40, Cols: 40}, raster.ReadSpec{DType: raster.Float64}, buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, gdalRead(t, plain, raster.Window{RowOff: 0, ColOff: 0, Rows: 40, Cols: 40}, []int{1}, raster.Float64)) {
		t.Fatal("converted read differs from GDAL")
	}
}
