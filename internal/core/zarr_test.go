package core

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

var zarrGeoTransform = [6]float64{500000, 30, 0, 4500000, 0, -30}

// readAll reads every band of a raster through OpenDataset, as every
// cloudio reader does.
func readAll(t *testing.T, name string) (raster.Info, string, []byte) {
	t.Helper()
	ds, err := OpenDataset(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	info := ds.Info()
	buf := make([]byte, info.Bands*info.Rows*info.Cols*int64(info.DType.Size()))
	if err := ds.ReadWindow(raster.Window{Rows: info.Rows, Cols: info.Cols}, raster.ReadSpec{}, buf); err != nil {
		t.Fatal(err)
	}
	return info, ds.CRS(), buf
}

func TestWriteZarrRoundTrip(t *testing.T) {
	for _, c := range []struct {
		dtype            raster.DType
		bands            int
		chunkRows, chunk int64
	}{{raster.Float32, 1, 0, 0}, {raster.Int16, 3, 64, 100}, {raster.Float64, 2, 1000, 1000}, {raster.Byte, 1, 32, 32}, {raster.UInt32, 1, 50, 70}} {
		rows, cols := 150, 230
		data := cells(c.dtype, c.bands, rows, cols, 3)
		nodata := -9999.0
		if unsignedMax, ok := map[raster.DType]float64{raster.Byte: math.MaxUint8, raster.UInt32: math.MaxUint32}[c.dtype]; ok {
			nodata = unsignedMax
		}
		dst := tmpPath(t, "dem.zarr")
		err := WriteZarrBuffer(data, c.dtype, int64(c.bands), int64(rows), int64(cols),
			raster.Georef{GeoTransform: &zarrGeoTransform, CRS: "EPSG:32633", NoData: noData(&nodata)}, dst,
			ZarrOptions{ChunkRows: c.chunkRows, ChunkCols: c.chunk})
		if err != nil {
			t.Fatalf("%s x %d: %v", c.dtype, c.bands, err)
		}
		info, crs, got := readAll(t, dst)
		if info.Bands != int64(c.bands) || info.DType != c.dtype || info.Rows != int64(rows) || info.Cols != int64(cols) {
			t.Fatalf("%s x %d: read back %+v", c.dtype, c.bands, info)
		}
		wantRows, wantCols := min(max(c.chunkRows, 0), int64(rows)), min(c.chunk, int64(cols))
		if c.chunkRows == 0 {
			wantRows, wantCols = min(DefaultZarrChunk, int64(rows)), min(DefaultZarrChunk, int64(cols))
		}
		if info.BlockRows != wantRows || info.BlockCols != wantCols {
			t.Errorf("%s x %d: chunks %d x %d, want %d x %d", c.dtype, c.bands, info.BlockRows, info.BlockCols, wantRows, wantCols)
		}
		if !info.HasGeoTransform || info.GeoTransform != zarrGeoTransform || !info.HasNoData || info.NoData != nodata {
			t.Errorf("%s x %d: georeferencing %+v", c.dtype, c.bands, info)
		}
		if !strings.Contains(crs, `AUTHORITY["EPSG","32633"]]`) {
			t.Errorf("%s x %d: crs %q", c.dtype, c.bands, crs)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s x %d: values differ", c.dtype, c.bands)
		}
		// One array per band, named after the store, beside GDAL's X and Y.
		arrays := listDir(t, dst)
		want := []string{".zgroup", ".zmetadata", "X", "Y", "dem"}
		if c.bands > 1 {
			want = []string{".zgroup", ".zmetadata", "X", "Y"}
			for b := 1; b <= c.bands; b++ {
				want = append(want, "dem_band"+string(rune('0'+b)))
			}
		}
		if strings.Join(arrays, " ") != strings.Join(want, " ") {
			t.Errorf("%s x %d: store holds %v, want %v", c.dtype, c.bands, arrays, want)
		}
	}
}

// BLOCKSIZE, the option every writer takes, sets a Zarr store's chunks.
func TestWriteZarrBlockSizeOption(t *testing.T) {
	data := cells(raster.Float32, 1, 100, 90, 3)
	for opt, want := range map[string][2]int64{"BLOCKSIZE=32": {32, 32}, "blocksize=16,40": {16, 40}, "BLOCKSIZE=512": {100, 90}} {
		dst := tmpPath(t, "b.zarr")
		if err := WriteZarrBuffer(data, raster.Float32, 1, 100, 90, raster.Georef{}, dst, ZarrOptions{Options: []string{opt}}); err != nil {
			t.Fatalf("%s: %v", opt, err)
		}
		info, _, got := readAll(t, dst)
		if info.BlockRows != want[0] || info.BlockCols != want[1] || !bytes.Equal(got, data) {
			t.Errorf("%s: chunks %d x %d, want %v", opt, info.BlockRows, info.BlockCols, want)
		}
	}
}

func TestWriteZarrFromRasterAndBackToCOG(t *testing.T) {
	dir := t.TempDir()
	data := cells(raster.Int16, 2, 120, 90, 5)
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Int16, 2, 120, 90, data, "TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32")
	store := filepath.Join(dir, "src.zarr")
	var fractions []float64
	if err := WriteZarr(src, store, ZarrOptions{ChunkRows: 40, ChunkCols: 30, Compress: "zlib",
		Progress: func(f float64, _ string) bool { fractions = append(fractions, f); return true }}); err != nil {
		t.Fatal(err)
	}
	if len(fractions) == 0 || fractions[len(fractions)-1] != 1 {
		t.Errorf("progress %v", fractions)
	}
	if _, _, got := readAll(t, store); !bytes.Equal(got, data) {
		t.Error("values differ")
	}
	// A store is a source like any other: to a COG, and to another store.
	cog := filepath.Join(dir, "back.tif")
	if err := WriteCOG(store, cog, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	validateCOG(t, cog)
	if got := gdalRead(t, cog, raster.Window{Rows: 120, Cols: 90}, []int{1, 2}, raster.Int16); !bytes.Equal(got, data) {
		t.Error("COG from the store differs")
	}
	again := filepath.Join(dir, "again.zarr")
	if err := WriteZarr("file://"+store, again, ZarrOptions{}); err != nil {
		t.Fatal(err)
	}
	if info, _, got := readAll(t, again); !bytes.Equal(got, data) || info.GeoTransform != [6]float64{1000, 2, 0, 5000, 0, -2} {
		t.Errorf("store from a store differs: %+v", info)
	}
}

// GDAL 3.6's own copy (GDALTranslate) fails on chunks that straddle the
// source's blocks once compressed; every chunk is written whole instead.
func TestWriteZarrChunksAcrossSourceBlocks(t *testing.T) {
	dir := t.TempDir()
	data := cells(raster.Float32, 1, 700, 530, 8)
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Float32, 1, 700, 530, data, "TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512")
	for _, compress := range []string{"zlib", "zstd"} {
		store := filepath.Join(dir, compress+".zarr")
		if err := WriteZarr(src, store, ZarrOptions{ChunkRows: 300, ChunkCols: 256, Compress: compress}); err != nil {
			t.Fatalf("%s: %v", compress, err)
		}
		if _, _, got := readAll(t, store); !bytes.Equal(got, data) {
			t.Errorf("%s: values differ", compress)
		}
	}
	int64s := make([]byte, 8*10*10)
	if err := WriteZarrBuffer(int64s, raster.Int64, 1, 10, 10, raster.Georef{}, filepath.Join(dir, "i64.zarr"), ZarrOptions{}); raster.StatusOf(err) != raster.StatusUnsupported {
		t.Errorf("Int64: %v", err)
	}
}

func TestWriteZarrEveryCompressor(t *testing.T) {
	schema, err := driverSchema("Zarr", "")
	if err != nil {
		t.Fatal(err)
	}
	methods := schema.Choices("COMPRESS")
	if len(methods) < 2 {
		t.Fatalf("the Zarr driver declares compressors %v", methods)
	}
	data := make([]byte, 0, 200*200*4) // compressible: plateaus
	for r := 0; r < 200; r++ {
		for c := 0; c < 200; c++ {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32((r/10)*(c/25))))
		}
	}
	var sizes = map[string]int64{}
	for _, m := range methods {
		dst := tmpPath(t, "c.zarr")
		if err := WriteZarrBuffer(data, raster.Float32, 1, 200, 200, raster.Georef{}, dst, ZarrOptions{Compress: strings.ToLower(m), ChunkRows: 100, ChunkCols: 100}); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if _, _, got := readAll(t, dst); !bytes.Equal(got, data) {
			t.Errorf("%s: values differ", m)
		}
		meta, err := os.ReadFile(filepath.Join(dst, "c", ".zarray"))
		if err != nil {
			t.Fatal(err)
		}
		if m == "NONE" && !strings.Contains(string(meta), `"compressor":null`) {
			t.Errorf("NONE: %s", meta)
		}
		if m != "NONE" && !strings.Contains(string(meta), `"id":"`+strings.ToLower(m)+`"`) {
			t.Errorf("%s: the array's metadata names another compressor: %s", m, meta)
		}
		sizes[m] = chunkBytes(t, filepath.Join(dst, "c"))
	}
	for m, n := range sizes {
		if m != "NONE" && n >= sizes["NONE"] {
			t.Errorf("%s chunks hold %d bytes, uncompressed %d", m, n, sizes["NONE"])
		}
	}
}

func chunkBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			info, _ := e.Info()
			n += info.Size()
		}
	}
	return n
}

func TestWriteZarrErrorsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	data := cells(raster.Float32, 1, 100, 100, 1)
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Float32, 1, 100, 100, data, "TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16")
	dst := filepath.Join(dir, "out.zarr")
	for _, c := range []struct {
		what   string
		src    string
		dst    string
		o      ZarrOptions
		status raster.Status
		msg    string
	}{
		{"unknown compressor", src, dst, ZarrOptions{Compress: "brotli"}, raster.StatusInvalidArgument, `unknown compress "BROTLI": this GDAL's Zarr driver offers NONE, BLOSC`},
		{"compressor in options", src, dst, ZarrOptions{Options: []string{"COMPRESS=snappy"}}, raster.StatusInvalidArgument, "COMPRESS"},
		{"negative chunks", src, dst, ZarrOptions{ChunkRows: -1}, raster.StatusInvalidArgument, "chunk_rows and chunk_cols must be positive"},
		{"huge chunks", src, dst, ZarrOptions{ChunkCols: 1 << 40}, raster.StatusInvalidArgument, "chunk_rows and chunk_cols"},
		{"BLOCKSIZE option and chunk sizes", src, dst, ZarrOptions{ChunkRows: 8, Options: []string{"BLOCKSIZE=4,4"}}, raster.StatusInvalidArgument, "give one"},
		{"bad BLOCKSIZE", src, dst, ZarrOptions{Options: []string{"BLOCKSIZE=0"}}, raster.StatusInvalidArgument, "BLOCKSIZE"},
		{"three BLOCKSIZE sides", src, dst, ZarrOptions{Options: []string{"BLOCKSIZE=4,4,4"}}, raster.StatusInvalidArgument, "ROWS,COLS"},
		{"overview resampling", src, dst, ZarrOptions{Options: []string{"OVERVIEW_RESAMPLING=average"}}, raster.StatusInvalidArgument, "no overviews"},
		{"append", src, dst, ZarrOptions{Options: []string{"APPEND_SUBDATASET=YES"}}, raster.StatusInvalidArgument, "append"},
		{"unknown option", src, dst, ZarrOptions{Options: []string{"QUALITY=5"}}, raster.StatusInvalidArgument, `unknown Zarr creation option "QUALITY"`},
		{"bad level", src, dst, ZarrOptions{Options: []string{"ZSTD_LEVEL=high"}}, raster.StatusInvalidArgument, "ZSTD_LEVEL"},
		{"missing source", filepath.Join(dir, "none.tif"), dst, ZarrOptions{}, raster.StatusNotFound, "none.tif"},
		{"missing parent", src, filepath.Join(dir, "no", "out.zarr"), ZarrOptions{}, raster.StatusNotFound, "does not exist"},
		{"destination is the source", src, src, ZarrOptions{}, raster.StatusInvalidArgument, "is the source"},
		{"destination exists", src, src + ".d", ZarrOptions{}, raster.StatusInvalidArgument, "already exists"},
		{"HTTP destination", src, "https://example.com/x.zarr", ZarrOptions{}, raster.StatusInvalidArgument, "read-only"},
		{"vsimem destination", src, "/vsimem/x.zarr", ZarrOptions{}, raster.StatusUnsupported, "local path or an object store"},
		{"empty destination", src, "", ZarrOptions{}, raster.StatusInvalidArgument, "empty"},
		{"cancelled", src, dst, ZarrOptions{Progress: func(float64, string) bool { return false }}, raster.StatusCancelled, "cancelled"},
	} {
		if c.what == "destination exists" {
			os.Mkdir(c.dst, 0o755)
		}
		before := listDir(t, dir)
		err := WriteZarr(c.src, c.dst, c.o)
		if raster.StatusOf(err) != c.status || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v (%v), want %v containing %q", c.what, raster.StatusOf(err), err, c.status, c.msg)
		}
		if after := listDir(t, dir); strings.Join(after, " ") != strings.Join(before, " ") {
			t.Errorf("%s: the directory changed from %v to %v", c.what, before, after)
		}
	}
	if err := WriteZarrBuffer(data[:10], raster.Float32, 1, 100, 100, raster.Georef{}, dst, ZarrOptions{}); raster.StatusOf(err) != raster.StatusInvalidArgument {
		t.Errorf("short buffer: %v", err)
	}
	if err := WriteZarrBuffer(data, raster.Float32, 1, 100, 100, raster.Georef{CRS: "NOT_A_CRS"}, dst, ZarrOptions{}); raster.StatusOf(err) != raster.StatusInvalidArgument {
		t.Errorf("bad crs: %v", err)
	}
	bytes8 := cells(raster.Byte, 1, 10, 10, 1)
	for _, nodata := range []float64{-9999, 256, 0.5, math.NaN()} {
		if err := WriteZarrBuffer(bytes8, raster.Byte, 1, 10, 10, raster.Georef{NoData: noData(&nodata)}, dst, ZarrOptions{}); raster.StatusOf(err) != raster.StatusInvalidArgument || !strings.Contains(err.Error(), "Byte") {
			t.Errorf("Byte nodata %g: %v", nodata, err)
		}
	}
	if names := listDir(t, dir); len(names) != 2 {
		t.Errorf("left behind: %v", names)
	}
}

func TestWriteZarrReadFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	data := cells(raster.Float32, 1, 400, 400, 2)
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Float32, 1, 400, 400, data, "TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64")
	st, _ := os.Stat(src)
	if err := os.Truncate(src, st.Size()/3); err != nil {
		t.Fatal(err)
	}
	err := WriteZarr(src, filepath.Join(dir, "out.zarr"), ZarrOptions{})
	if raster.StatusOf(err) != raster.StatusIO {
		t.Fatalf("truncated source: %v (%v)", raster.StatusOf(err), err)
	}
	if strings.Contains(err.Error(), "cloudio-tmp") {
		t.Errorf("the message names the temporary directory: %v", err)
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("left behind: %v", names)
	}
}

func TestOpenZarrStores(t *testing.T) {
	dir := t.TempDir()
	data := cells(raster.Int16, 3, 60, 80, 4)
	store := filepath.Join(dir, "s.zarr")
	if err := WriteZarrBuffer(data, raster.Int16, 3, 60, 80, raster.Georef{GeoTransform: &zarrGeoTransform}, store, ZarrOptions{}); err != nil {
		t.Fatal(err)
	}
	// One band by GDAL's own name for its array, its store a URL too.
	if got := storage.GDALName(`ZARR:"s3://bucket/s.zarr":/s_band2`); got != `ZARR:"/vsis3/bucket/s.zarr":/s_band2` {
		t.Errorf("GDALName: %s", got)
	}
	info, _, got := readAll(t, `ZARR:"file://`+store+`":/s_band2`)
	if info.Bands != 1 || !bytes.Equal(got, data[60*80*2:2*60*80*2]) {
		t.Errorf("band 2 alone: %+v", info)
	}
	// The slices of one 3-D array are bands too.
	cube := filepath.Join(dir, "cube.zarr")
	writeCube(t, cube, data, 3, 60, 80)
	if info, _, got := readAll(t, cube); info.Bands != 3 || !bytes.Equal(got, data) {
		t.Errorf("3-D array: %+v", info)
	}
	// Arrays that are not bands of one raster are named, not guessed.
	if _, err := zarrBands(store, []string{`ZARR:"x":/elevation`, `ZARR:"x":/slope`}); raster.StatusOf(err) != raster.StatusInvalidArgument || !strings.Contains(err.Error(), "/slope") {
		t.Errorf("unrelated arrays: %v", err)
	}
	if _, err := zarrBands(store, []string{`ZARR:"x":/Band1`, `ZARR:"x":/Band3`}); err == nil {
		t.Error("a band missing in the middle was accepted")
	}
	if _, err := OpenDataset(filepath.Join(dir, "missing.zarr")); raster.StatusOf(err) != raster.StatusNotFound {
		t.Errorf("missing store: %v", err)
	}
}

// writeCube writes a bands x rows x cols Int16 array as one 3-D Zarr array,
// as xarray and zarr-python do, with GDAL's multidimensional API.
func writeCube(t *testing.T, path string, data []byte, bands, rows, cols int) {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "cube.bin")
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
import sys
import numpy as np
from osgeo import gdal
gdal.UseExceptions()
raw, path, bands, rows, cols = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
root = gdal.GetDriverByName("Zarr").CreateMultiDimensional(path).GetRootGroup()
dims = [root.CreateDimension(n, None, None, s) for n, s in (("band", bands), ("y", rows), ("x", cols))]
arr = root.CreateMDArray("cube", dims, gdal.ExtendedDataType.Create(gdal.GDT_Int16), ["BLOCKSIZE=1,32,32"])
arr.Write(np.fromfile(raw, "<i2").reshape(bands, rows, cols))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, raw, path, strconv.Itoa(bands), strconv.Itoa(rows), strconv.Itoa(cols)).CombinedOutput()
	if err != nil {
		t.Fatalf("writing a 3-D Zarr array: %v\n%s", err, out)
	}
}

// Uploads go chunks first, then metadata deepest first, the entry point
// readers open (.zmetadata, zarr.json) last, for Zarr V2 and for GDAL 3.6's
// V3 alike: no metadata reaches the store before every chunk has, even when
// chunks upload slowly.
func TestZarrMetadataUploadsLast(t *testing.T) {
	s3 := newFakeS3(t, "s3://zarr-order")
	s3.delay = func(path string) time.Duration {
		if isZarrChunk(strings.TrimPrefix(path, "/zarr-order/dem.zarr/")) {
			return 30 * time.Millisecond
		}
		return 0
	}
	data := cells(raster.Float32, 2, 70, 90, 1)
	for _, format := range []string{"ZARR_V2", "ZARR_V3"} {
		dst := "s3://zarr-order/" + format + "/dem.zarr"
		if err := WriteZarrBuffer(data, raster.Float32, 2, 70, 90, raster.Georef{}, dst, ZarrOptions{ChunkRows: 30, ChunkCols: 40,
			Options: []string{"FORMAT=" + format}}); err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, p := range s3.uploads() {
			if rel, ok := strings.CutPrefix(p, "/zarr-order/"+format+"/dem.zarr/"); ok {
				files = append(files, rel)
			}
		}
		chunks, metadata := 0, 0
		for i, f := range files {
			if isZarrChunk(f) {
				chunks++
				if metadata > 0 {
					t.Fatalf("%s: chunk %s reached the store after metadata: %v", format, f, files)
				}
				continue
			}
			metadata++
			if i > 0 && !isZarrChunk(files[i-1]) && strings.Count(files[i-1], "/") < strings.Count(f, "/") {
				t.Fatalf("%s: %s before the deeper %s", format, files[i-1], f)
			}
		}
		last := files[len(files)-1]
		if chunks != 2*3*3 || metadata < 3 || (last != ".zmetadata" && last != "zarr.json") {
			t.Fatalf("%s: %d chunks, %d metadata files, %s last: %v", format, chunks, metadata, last, files)
		}
	}
}
