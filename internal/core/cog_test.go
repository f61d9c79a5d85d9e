package core

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/airbusgeo/godal"
)

func TestWriteCOGBufferRoundTrip(t *testing.T) {
	gt := [6]float64{500000, 30, 0, 4500000, 0, -30}
	nodata := -9.0
	for _, dtype := range []DType{Byte, UInt16, Int16, Int32, Float32, Float64} {
		for _, bands := range []int{1, 3} {
			dir := t.TempDir()
			data := cells(dtype, bands, 700, 600, 3)
			dst := filepath.Join(dir, "out.tif")
			var fractions []float64
			err := WriteCOGBuffer(data, dtype, int64(bands), 700, 600, Georef{GeoTransform: &gt, CRS: "EPSG:32633", NoData: &nodata}, dst,
				COGOptions{Progress: func(f float64, _ string) bool { fractions = append(fractions, f); return true }})
			if err != nil {
				t.Fatalf("%s x%d: %v", dtype, bands, err)
			}
			validateCOG(t, dst)
			if len(fractions) == 0 || fractions[len(fractions)-1] != 1 {
				t.Fatalf("progress %v", fractions)
			}
			ds, err := OpenDataset(dst)
			if err != nil {
				t.Fatal(err)
			}
			info := ds.Info()
			if info.DType != dtype || info.Bands != int64(bands) || info.GeoTransform != gt || !info.HasNoData || info.NoData != nodata {
				t.Fatalf("%s x%d: info %+v", dtype, bands, info)
			}
			if !strings.Contains(ds.CRS(), "32633") {
				t.Fatalf("crs %s", ds.CRS())
			}
			back := make([]byte, len(data))
			if err := ds.ReadWindow(Window{0, 0, 700, 600}, ReadSpec{}, back); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, data) {
				t.Fatalf("%s x%d: pixels differ", dtype, bands)
			}
			h, _ := godal.Open(dst)
			if len(h.Bands()[0].Overviews()) == 0 {
				t.Fatalf("no overviews")
			}
			h.Close()
			ds.Close()
		}
	}
}

func TestWriteCOGFromFileAndErrors(t *testing.T) {
	dir := t.TempDir()
	src := gtiff(t, filepath.Join(dir, "src.tif"), Float32, 1, 300, 300, cells(Float32, 1, 300, 300, 1))
	dst := filepath.Join(dir, "dst.tif")
	if err := WriteCOG(src, dst, COGOptions{Compress: "zstd", Options: []string{"BLOCKSIZE=256"}}); err != nil {
		t.Fatal(err)
	}
	validateCOG(t, dst)
	before, _ := os.ReadFile(dst)
	text := filepath.Join(dir, "text.tif")
	os.WriteFile(text, []byte("not a raster"), 0o644)
	for _, c := range []struct {
		src, dst string
		o        COGOptions
		status   Status
	}{
		{filepath.Join(dir, "missing.tif"), dst, COGOptions{}, StatusNotFound},
		{text, dst, COGOptions{}, StatusIO},
		{src, filepath.Join(dir, "no", "x.tif"), COGOptions{}, StatusNotFound},
		{src, src, COGOptions{}, StatusInvalidArgument},
		{src, dir, COGOptions{}, StatusInvalidArgument},
		{src, dst, COGOptions{Compress: "brotli"}, StatusInvalidArgument},
		{src, dst, COGOptions{Options: []string{"BAD"}}, StatusInvalidArgument},
		{src, dst, COGOptions{Options: []string{"BLOCKSIZE=x"}}, StatusInvalidArgument},
		{"", dst, COGOptions{}, StatusInvalidArgument},
		{src, "", COGOptions{}, StatusInvalidArgument},
		{src, string([]byte{'/', 't', 'm', 'p', '/', 0xff}), COGOptions{}, StatusInvalidArgument},
		{src, dst, COGOptions{Progress: func(float64, string) bool { return false }}, StatusCancelled},
		{src, dst, COGOptions{Progress: func(float64, string) bool { panic("in progress") }}, StatusInternal},
		{src, "https://example.com/x.tif", COGOptions{}, StatusInvalidArgument},
	} {
		err := WriteCOG(c.src, c.dst, c.o)
		if StatusOf(err) != c.status {
			t.Errorf("WriteCOG(%q, %q, %+v) = %v (%v), want %v", c.src, c.dst, c.o.Compress, StatusOf(err), err, c.status)
		}
	}
	after, _ := os.ReadFile(dst)
	if !bytes.Equal(before, after) {
		t.Fatal("a failed overwrite changed the destination")
	}
	if names := listDir(t, dir); strings.Join(names, ",") != "dst.tif,src.tif,text.tif" {
		t.Fatalf("left behind: %v", names)
	}
}

func TestWriteCOGBufferErrors(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "x.tif")
	data := cells(Float32, 1, 10, 10, 1)
	for _, c := range []struct {
		buf               []byte
		dtype             DType
		bands, rows, cols int64
		g                 Georef
	}{
		{data, 99, 1, 10, 10, Georef{}},
		{data, Float32, 0, 10, 10, Georef{}},
		{data, Float32, 1, -10, 10, Georef{}},
		{data[:8], Float32, 1, 10, 10, Georef{}},
		{data, Float32, 1, 10, 10, Georef{CRS: "NOT_A_CRS"}},
		{data, Float32, 1 << 31, 1 << 31, 1 << 31, Georef{}},
	} {
		if err := WriteCOGBuffer(c.buf, c.dtype, c.bands, c.rows, c.cols, c.g, dst, COGOptions{}); StatusOf(err) != StatusInvalidArgument {
			t.Errorf("%+v: %v", c.g, err)
		}
	}
	if len(listDir(t, dir)) != 0 {
		t.Fatal("files left behind")
	}
	// a bare EPSG code, and /vsimem/ destinations (renamed through GDAL)
	if err := WriteCOGBuffer(data, Float32, 1, 10, 10, Georef{CRS: "4326"}, "/vsimem/cloudio/x.tif", COGOptions{}); err != nil {
		t.Fatal(err)
	}
	if !pathExists("/vsimem/cloudio/x.tif") {
		t.Fatal("no /vsimem/ output")
	}
	unlinkVSI("/vsimem/cloudio/x.tif")
}

func TestWriteCOGConcurrently(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- WriteCOGBuffer(cells(Int16, 1, 200, 200, int64(i)), Int16, 1, 200, 200, Georef{}, filepath.Join(dir, string(rune('a'+i))+".tif"), COGOptions{})
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(listDir(t, dir)) != 8 {
		t.Fatal(listDir(t, dir))
	}
}

func TestGDALName(t *testing.T) {
	for in, want := range map[string]string{
		"s3://bucket/key.tif":      "/vsis3/bucket/key.tif",
		"GS://bucket/key.tif":      "/vsigs/bucket/key.tif",
		"az://container/a/b.tif":   "/vsiaz/container/a/b.tif",
		"https://host/x.tif":       "/vsicurl/https://host/x.tif",
		"file:///tmp/x.tif":        "/tmp/x.tif",
		"/vsimem/x.tif":            "/vsimem/x.tif",
		"relative/x.tif":           "relative/x.tif",
		"NETCDF:file.nc:elevation": "NETCDF:file.nc:elevation",
	} {
		if got := GDALName(in); got != want {
			t.Errorf("GDALName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStatusNames(t *testing.T) {
	if StatusNotFound.String() != "CLOUDIO_ERR_NOT_FOUND" || Status(7).String() != "CLOUDIO_ERR_UNKNOWN" {
		t.Fatal("names")
	}
	if StatusOf(nil) != StatusOK || StatusOf(os.ErrNotExist) != StatusInternal {
		t.Fatal("StatusOf")
	}
}
