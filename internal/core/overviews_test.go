package core

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/raster/rastertest"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// overview1 reads band 1's first overview of path as float64s, with the
// OVERVIEW_RESAMPLING the file records.
func overview1(t *testing.T, path string) ([]float64, string) {
	t.Helper()
	ds, err := godal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	ovr := ds.Bands()[0].Overviews()
	if len(ovr) == 0 {
		t.Fatalf("%s has no overviews", path)
	}
	st := ovr[0].Structure()
	out := make([]float64, st.SizeX*st.SizeY)
	if err := ovr[0].Read(0, 0, out, st.SizeX, st.SizeY); err != nil {
		t.Fatal(err)
	}
	return out, ds.Metadata("OVERVIEW_RESAMPLING")
}

// Overviews never invent values: integer rasters (a D8 flow-direction
// raster of 8 codes) get NEAREST, floating point gets AVERAGE (the mean of
// each 2 x 2 block: no overshoot); both writers record the method.
func TestOverviewResamplingDefaults(t *testing.T) {
	dir := t.TempDir()
	const rows, cols = 1024, 1536
	codes := []float64{1, 2, 4, 8, 16, 32, 64, 128}
	d8 := make([]byte, rows*cols)
	for i := range d8 {
		d8[i] = byte(codes[(i*7+i/cols*3)%8])
	}
	dem := cells(raster.Float32, 1, rows, cols, 5)
	writeBoth := func(name string, data []byte, dtype raster.DType, o COGOptions) []string {
		a := filepath.Join(dir, name+"_buffer.tif")
		if err := WriteCOGBuffer(data, dtype, 1, rows, cols, raster.Georef{}, a, o); err != nil {
			t.Fatal(err)
		}
		b := filepath.Join(dir, name+"_tiles.tif")
		w, err := CreateTileWriter(b, WriterSpec{Rows: rows, Cols: cols, Bands: 1, DType: dtype}, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(raster.Window{Rows: rows, Cols: cols}, data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(nil); err != nil {
			t.Fatal(err)
		}
		c := filepath.Join(dir, name+"_copy.tif")
		if err := WriteCOG(a, c, o); err != nil {
			t.Fatal(err)
		}
		return []string{a, b, c}
	}
	for _, p := range writeBoth("d8", d8, raster.Byte, COGOptions{}) {
		ovr, method := overview1(t, p)
		if method != "NEAREST" {
			t.Errorf("%s records %q", p, method)
		}
		for _, v := range ovr {
			if !contains([]string{"1", "2", "4", "8", "16", "32", "64", "128"}, fmt.Sprint(v)) {
				t.Fatalf("%s: overview value %v is not a D8 code", p, v)
			}
		}
	}
	for _, p := range writeBoth("dem", dem, raster.Float32, COGOptions{}) {
		ovr, method := overview1(t, p)
		if method != "AVERAGE" {
			t.Errorf("%s records %q", p, method)
		}
		for r := 0; r < rows/2; r++ {
			for c := 0; c < cols/2; c++ {
				var sum float64
				for _, k := range [][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}} {
					sum += rastertest.DecodeRef(dem, raster.Float32, (2*r+k[0])*cols+2*c+k[1])
				}
				if got := ovr[r*cols/2+c]; math.Abs(got-sum/4) > 1e-4 {
					t.Fatalf("%s: overview (%d, %d) = %v, want the mean %v", p, r, c, got, sum/4)
				}
			}
		}
	}
	for _, p := range writeBoth("mode", d8, raster.Byte, COGOptions{Options: []string{"overview_resampling=mode"}}) {
		if _, method := overview1(t, p); method != "MODE" {
			t.Errorf("%s records %q", p, method)
		}
	}
	// a bad method fails before anything is written
	bad := filepath.Join(dir, "bad.tif")
	_, err := CreateTileWriter(bad, WriterSpec{Rows: rows, Cols: cols, Bands: 1, DType: raster.Byte}, COGOptions{Options: []string{"OVERVIEW_RESAMPLING=bogus"}})
	wantStatus(t, err, raster.StatusInvalidArgument, "tile writer, bogus method")
	wantStatus(t, WriteCOGBuffer(d8, raster.Byte, 1, rows, cols, raster.Georef{}, bad, COGOptions{Options: []string{"OVERVIEW_RESAMPLING=bogus"}}), raster.StatusInvalidArgument, "buffer, bogus method")
	if storage.PathExists(bad) {
		t.Fatal("something was written")
	}
}

// BLOCKSIZE outside what GDAL can write is refused up front by every COG
// writer, leaving nothing behind (2^31 used to abort the process after 30 s
// of allocating, leaving a staging file).
func TestBlockSizeRefusedBeforeAnyWork(t *testing.T) {
	dir := t.TempDir()
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Byte, 1, 64, 64, cells(raster.Byte, 1, 64, 64, 1))
	for _, v := range []string{"0", "-256", "2147483648", "100", "200", "1e3"} {
		opts := COGOptions{Options: []string{"BLOCKSIZE=" + v}}
		_, err := CreateTileWriter(filepath.Join(dir, "w.tif"), WriterSpec{Rows: 64, Cols: 64, Bands: 1, DType: raster.Byte}, opts)
		wantStatus(t, err, raster.StatusInvalidArgument, "tile writer BLOCKSIZE="+v)
		wantStatus(t, WriteCOG(src, filepath.Join(dir, "c.tif"), opts), raster.StatusInvalidArgument, "WriteCOG BLOCKSIZE="+v)
		wantDir(t, dir, "src.tif")
	}
}
