package core

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/airbusgeo/godal"
)

func TestOpenDatasetInfo(t *testing.T) {
	dir := t.TempDir()
	gt := [6]float64{300000, 10, 0, 5200000, 0, -10}
	nd := -9999.0
	for _, c := range []struct {
		name      string
		spec      rasterSpec
		blockRows int64
		blockCols int64
		viaCOG    bool
	}{
		{"tiled GTiff with everything", rasterSpec{dtype: Int16, bands: 3, rows: 90, cols: 110, gt: &gt, crs: "EPSG:32632", nodata: &nd,
			options: []string{"TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=16"}}, 16, 32, false},
		{"striped GTiff without georeferencing", rasterSpec{dtype: Float64, bands: 1, rows: 70, cols: 50, options: []string{"BLOCKYSIZE=5"}}, 5, 50, false},
		{"COG", rasterSpec{dtype: UInt16, bands: 2, rows: 700, cols: 600, gt: &gt, crs: "EPSG:4326", nodata: ptr(0)}, 512, 512, true},
		{"NaN nodata", rasterSpec{dtype: Float32, bands: 1, rows: 20, cols: 30, nodata: ptr(math.NaN())}, 20, 30, false},
		{"Byte", rasterSpec{dtype: Byte, bands: 4, rows: 33, cols: 17, gt: &gt}, 33, 17, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.spec
			data := cells(s.dtype, s.bands, s.rows, s.cols, 3)
			path := filepath.Join(dir, c.name+".tif")
			if c.viaCOG {
				if err := WriteCOGBuffer(data, s.dtype, int64(s.bands), int64(s.rows), int64(s.cols), Georef{GeoTransform: s.gt, CRS: s.crs, NoData: noData(s.nodata)}, path, COGOptions{}); err != nil {
					t.Fatal(err)
				}
			} else {
				makeRaster(t, path, s, data)
			}
			ds, err := OpenDataset(path)
			if err != nil {
				t.Fatal(err)
			}
			defer ds.Close()
			i := ds.Info()
			if i.Rows != int64(s.rows) || i.Cols != int64(s.cols) || i.Bands != int64(s.bands) || i.DType != s.dtype {
				t.Fatalf("info %+v", i)
			}
			if i.BlockRows != c.blockRows || i.BlockCols != c.blockCols {
				t.Fatalf("blocks %dx%d, want %dx%d", i.BlockRows, i.BlockCols, c.blockRows, c.blockCols)
			}
			if s.gt != nil && (!i.HasGeoTransform || i.GeoTransform != *s.gt) {
				t.Fatalf("geotransform %v %v", i.GeoTransform, i.HasGeoTransform)
			}
			if s.gt == nil && (i.HasGeoTransform || i.GeoTransform != [6]float64{0, 1, 0, 0, 0, 1}) {
				t.Fatalf("no geotransform, but %v %v", i.GeoTransform, i.HasGeoTransform)
			}
			if s.nodata != nil && (!i.HasNoData || !sameFloat(i.NoData, *s.nodata)) {
				t.Fatalf("nodata %v %v", i.NoData, i.HasNoData)
			}
			if s.nodata == nil && i.HasNoData {
				t.Fatalf("nodata %v appeared", i.NoData)
			}
			if !sameCRSWKT(t, ds.CRS(), s.crs) {
				t.Fatalf("CRS %.60q, want %s", ds.CRS(), s.crs)
			}
			if ds.Name() != path {
				t.Fatalf("name %q", ds.Name())
			}
			all := make([]byte, len(data))
			if err := ds.ReadWindow(Window{0, 0, int64(s.rows), int64(s.cols)}, ReadSpec{}, all); err != nil || !bytes.Equal(all, data) {
				t.Fatalf("whole raster: %v, equal %v", err, bytes.Equal(all, data))
			}
		})
	}
}

func TestOpenDatasetErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text.tif")
	os.WriteFile(text, []byte("hello"), 0o644)
	for _, c := range []struct {
		name   string
		status Status
	}{
		{filepath.Join(dir, "missing.tif"), StatusNotFound},
		{filepath.Join(dir, "nodir", "missing.tif"), StatusNotFound},
		{"/vsimem/cloudio-core-test/none.tif", StatusNotFound},
		{text, StatusIO},
		{dir, StatusIO},
		{"", StatusInvalidArgument},
		{"\xff.tif", StatusInvalidArgument},
	} {
		ds, err := OpenDataset(c.name)
		if ds != nil {
			ds.Close()
		}
		wantStatus(t, err, c.status, c.name)
	}
}

// rawAndGDALFixtures makes rasters that the direct decoder reads and ones
// that go through GDAL.
func rawAndGDALFixtures(t *testing.T, dir string, dtype DType, bands, rows, cols int) map[string]string {
	data := cells(dtype, bands, rows, cols, int64(dtype))
	nd := 3.0
	out := map[string]string{}
	for name, opts := range map[string][]string{
		"deflate-tiled": {"TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=48", "COMPRESS=DEFLATE", "PREDICTOR=2"},
		"zstd-pixel":    {"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=ZSTD", "INTERLEAVE=PIXEL"},
		"striped":       {"BLOCKYSIZE=7"},
		"lzw":           {"COMPRESS=LZW", "TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32"},
		"big-endian":    {"ENDIANNESS=BIG", "COMPRESS=DEFLATE"},
		"bigtiff":       {"BIGTIFF=YES", "TILED=YES", "COMPRESS=DEFLATE", "INTERLEAVE=BAND"},
	} {
		out[name] = makeRaster(t, filepath.Join(dir, name+".tif"), rasterSpec{dtype: dtype, bands: bands, rows: rows, cols: cols, nodata: &nd, options: opts}, data)
	}
	return out
}

func randomWindow(rng *rand.Rand, rows, cols int) Window {
	w := Window{RowOff: int64(rng.Intn(rows)), ColOff: int64(rng.Intn(cols))}
	w.Rows = 1 + int64(rng.Intn(rows-int(w.RowOff)))
	w.Cols = 1 + int64(rng.Intn(cols-int(w.ColOff)))
	return w
}

// ReadWindow returns what GDAL's own RasterIO returns, for every layout,
// band subset and conversion.
func TestReadWindowMatchesGDAL(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(3))
	const rows, cols = 130, 150
	for _, dtype := range []DType{Byte, Int16, UInt32, Float32, Float64} {
		for layout, path := range rawAndGDALFixtures(t, dir, dtype, 3, rows, cols) {
			ds, err := OpenDataset(path)
			if err != nil {
				t.Fatal(err)
			}
			specs := []ReadSpec{{}, {Bands: []int{2}}, {Bands: []int{3, 1}}, {Bands: []int{1, 1}}, {DType: Float64}, {Bands: []int{3}, DType: Int16},
				{Bands: []int{2, 3}, DType: Byte}, {DType: dtype}, {DType: Float32, Bands: []int{1, 2, 3}}}
			windows := []Window{{0, 0, rows, cols}, {0, 0, 1, 1}, {rows - 1, cols - 1, 1, 1}, {0, cols - 1, rows, 1}, {rows - 1, 0, 1, cols}}
			for k := 0; k < 6; k++ {
				windows = append(windows, randomWindow(rng, rows, cols))
			}
			for _, spec := range specs {
				resolved, err := spec.resolve(ds.Info())
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range windows {
					buf := make([]byte, resolved.BufferLen(w))
					for i := range buf {
						buf[i] = 0xA5
					}
					if err := ds.ReadWindow(w, spec, buf); err != nil {
						t.Fatalf("%s %s %v %+v: %v", dtype, layout, w, spec, err)
					}
					if want := gdalRead(t, path, w, resolved.Bands, resolved.DType); !bytes.Equal(buf, want) {
						t.Fatalf("%s %s window %v spec %+v: differs from GDAL", dtype, layout, w, spec)
					}
				}
			}
			ds.Close()
		}
	}
}

// Layouts the direct decoder must decline or handle exactly as GDAL does.
func TestReadWindowUnusualLayouts(t *testing.T) {
	dir := t.TempDir()
	nd := -5.0
	for i, c := range []struct {
		dtype             DType
		bands, rows, cols int
		options           []string
		nodata            *float64
		sparse            bool // write a single block only
	}{
		{Byte, 1, 60, 50, []string{"NBITS=1"}, nil, false},
		{Byte, 1, 60, 50, []string{"NBITS=4", "COMPRESS=DEFLATE"}, nil, false},
		{UInt16, 2, 60, 50, []string{"NBITS=12", "COMPRESS=DEFLATE", "TILED=YES"}, nil, false},
		{Float32, 1, 60, 50, []string{"NBITS=16", "COMPRESS=DEFLATE"}, nil, false},
		{Byte, 1, 60, 50, []string{"PIXELTYPE=SIGNEDBYTE", "COMPRESS=DEFLATE"}, nil, false},
		{Byte, 1, 60, 50, []string{"PHOTOMETRIC=MINISWHITE", "COMPRESS=DEFLATE"}, nil, false},
		{Byte, 4, 60, 50, []string{"PHOTOMETRIC=RGB", "ALPHA=YES", "COMPRESS=DEFLATE"}, nil, false},
		{Byte, 3, 60, 50, []string{"COMPRESS=JPEG"}, nil, false},
		{Float32, 1, 60, 50, []string{"COMPRESS=LERC_DEFLATE"}, nil, false},
		{Int16, 1, 60, 50, []string{"COMPRESS=PACKBITS"}, nil, false},
		{Float64, 1, 60, 50, []string{"COMPRESS=DEFLATE", "PREDICTOR=2"}, nil, false},
		{Byte, 1, 2100, 300, []string{"BLOCKYSIZE=2100"}, nil, false}, // GDAL splits the single strip
		{Float32, 2, 200, 190, []string{"SPARSE_OK=YES", "TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE"}, nil, true},
		{Float32, 2, 200, 190, []string{"SPARSE_OK=YES", "TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=ZSTD"}, &nd, true},
		{Int16, 1, 200, 190, []string{"SPARSE_OK=YES", "BLOCKYSIZE=16"}, &nd, true},
	} {
		path := filepath.Join(dir, fmt.Sprintf("u%d.tif", i))
		makeRaster(t, path, rasterSpec{dtype: c.dtype, bands: c.bands, rows: c.rows, cols: c.cols, nodata: c.nodata, options: c.options}, nil)
		full := cells(c.dtype, c.bands, c.rows, c.cols, int64(i))
		ds0, err := godal.Open(path, godal.Update())
		if err != nil {
			t.Fatal(err)
		}
		w := Window{0, 0, int64(c.rows), int64(c.cols)}
		if c.sparse {
			w = Window{64, 64, 64, 64}
		}
		if err := ds0.Write(int(w.ColOff), int(w.RowOff), typedSlice(subWindow(full, c.dtype.Size(), c.rows, c.cols, w, seq(c.bands)), c.dtype), int(w.Cols), int(w.Rows),
			godal.BandInterleaved(), godal.ErrLogger(quietWarnings)); err != nil {
			t.Fatal(err)
		}
		if err := ds0.Close(godal.ErrLogger(quietWarnings)); err != nil {
			t.Fatal(err)
		}
		ds, err := OpenDataset(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, win := range []Window{{0, 0, int64(c.rows), int64(c.cols)}, {3, 5, int64(c.rows) - 10, int64(c.cols) - 7}, {60, 60, 70, 70}} {
			if win.RowOff+win.Rows > int64(c.rows) || win.ColOff+win.Cols > int64(c.cols) {
				continue
			}
			for _, spec := range []ReadSpec{{}, {Bands: []int{c.bands}}} {
				r, _ := spec.resolve(ds.Info())
				got := make([]byte, r.BufferLen(win))
				if err := ds.ReadWindow(win, spec, got); err != nil {
					t.Errorf("%v: %v", c.options, err)
					continue
				}
				if !bytes.Equal(got, gdalRead(t, path, win, r.Bands, r.DType)) {
					t.Errorf("%s %v window %v bands %v: differs from GDAL", c.dtype, c.options, win, r.Bands)
				}
			}
		}
		ds.Close()
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// An overview level opened by its GDAL name reads as GDAL reads it.
func TestReadWindowOverviewLevel(t *testing.T) {
	path := tmpPath(t, "cog.tif")
	if err := WriteCOGBuffer(cells(Int16, 2, 1100, 1000, 1), Int16, 2, 1100, 1000, Georef{}, path, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	name := "GTIFF_DIR:2:" + path
	ds, err := OpenDataset(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	i := ds.Info()
	if i.Rows != 550 || i.Cols != 500 || i.Bands != 2 {
		t.Fatalf("overview info %+v", i)
	}
	for _, w := range []Window{{0, 0, 550, 500}, {100, 200, 300, 250}} {
		buf := make([]byte, 2*w.Rows*w.Cols*2)
		if err := ds.ReadWindow(w, ReadSpec{}, buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, gdalRead(t, name, w, []int{1, 2}, Int16)) {
			t.Fatalf("window %v of the overview differs from GDAL", w)
		}
	}
}

// A raster GDAL reads through another driver (a VRT over a GTiff) reads the
// same as GDAL.
func TestReadWindowVRT(t *testing.T) {
	dir := t.TempDir()
	src := gtiff(t, filepath.Join(dir, "src.tif"), Float32, 1, 80, 90, cells(Float32, 1, 80, 90, 1), "COMPRESS=DEFLATE", "TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16")
	vrt := filepath.Join(dir, "sub.vrt")
	os.WriteFile(vrt, []byte(fmt.Sprintf(`<VRTDataset rasterXSize="40" rasterYSize="30">
  <VRTRasterBand dataType="Float32" band="1">
    <SimpleSource><SourceFilename relativeToVRT="0">%s</SourceFilename><SourceBand>1</SourceBand>
      <SrcRect xOff="10" yOff="20" xSize="40" ySize="30"/><DstRect xOff="0" yOff="0" xSize="40" ySize="30"/></SimpleSource>
  </VRTRasterBand>
</VRTDataset>`, src)), 0o644)
	ds, err := OpenDataset(vrt)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	buf := make([]byte, 30*40*4)
	if err := ds.ReadWindow(Window{0, 0, 30, 40}, ReadSpec{}, buf); err != nil {
		t.Fatal(err)
	}
	if want := gdalRead(t, src, Window{20, 10, 30, 40}, []int{1}, Float32); !bytes.Equal(buf, want) {
		t.Fatal("the VRT's window differs from the source's")
	}
}

func TestReadWindowErrors(t *testing.T) {
	dir := t.TempDir()
	path := gtiff(t, filepath.Join(dir, "d.tif"), Int16, 3, 90, 110, cells(Int16, 3, 90, 110, 1), "TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32")
	ds, err := OpenDataset(path)
	if err != nil {
		t.Fatal(err)
	}
	const big = int64(math.MaxInt64)
	for _, c := range []struct {
		name   string
		w      Window
		spec   ReadSpec
		n      int
		status Status
	}{
		{"past the bottom", Window{85, 0, 10, 10}, ReadSpec{Bands: []int{1}}, 200, StatusInvalidArgument},
		{"past the right", Window{0, 101, 10, 10}, ReadSpec{Bands: []int{1}}, 200, StatusInvalidArgument},
		{"negative row", Window{-1, 0, 10, 10}, ReadSpec{Bands: []int{1}}, 200, StatusInvalidArgument},
		{"negative col", Window{0, -1, 10, 10}, ReadSpec{Bands: []int{1}}, 200, StatusInvalidArgument},
		{"larger than the raster", Window{0, 0, 91, 110}, ReadSpec{Bands: []int{1}}, 91 * 110 * 2, StatusInvalidArgument},
		{"huge offset", Window{big, 0, 10, 10}, ReadSpec{Bands: []int{1}}, 200, StatusInvalidArgument},
		{"offset + size wraps", Window{big - 5, big - 5, 10, 10}, ReadSpec{Bands: []int{1}}, 200, StatusInvalidArgument},
		{"huge size", Window{0, 0, big, big}, ReadSpec{Bands: []int{1}}, 200, StatusInvalidArgument},
		{"negative offset, size reaching in", Window{-5, -5, 10, 10}, ReadSpec{Bands: []int{1}}, 200, StatusInvalidArgument},
		{"zero rows", Window{0, 0, 0, 10}, ReadSpec{Bands: []int{1}}, 0, StatusInvalidArgument},
		{"zero cols", Window{0, 0, 10, 0}, ReadSpec{Bands: []int{1}}, 0, StatusInvalidArgument},
		{"negative size", Window{10, 10, -2, 5}, ReadSpec{Bands: []int{1}}, 20, StatusInvalidArgument},
		{"band 0", Window{0, 0, 10, 10}, ReadSpec{Bands: []int{0}}, 200, StatusInvalidArgument},
		{"band 4 of 3", Window{0, 0, 10, 10}, ReadSpec{Bands: []int{4}}, 200, StatusInvalidArgument},
		{"negative band", Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1, -1}}, 400, StatusInvalidArgument},
		{"buffer one byte short", Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}}, 199, StatusInvalidArgument},
		{"buffer one byte long", Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}}, 201, StatusInvalidArgument},
		{"buffer for one band of three", Window{0, 0, 10, 10}, ReadSpec{}, 200, StatusInvalidArgument},
		{"buffer of the source type, converting", Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}, DType: Float32}, 200, StatusInvalidArgument},
		{"empty buffer", Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}}, 0, StatusInvalidArgument},
		{"Int64", Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}, DType: Int64}, 800, StatusUnsupported},
		{"UInt64", Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}, DType: UInt64}, 800, StatusUnsupported},
		{"unknown type", Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}, DType: 42}, 200, StatusUnsupported},
		{"negative type", Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}, DType: -3}, 200, StatusUnsupported},
	} {
		b := make([]byte, c.n)
		for i := range b {
			b[i] = 0x5A
		}
		err, panicked := catch(func() error { return ds.ReadWindow(c.w, c.spec, b) })
		if panicked != nil {
			t.Errorf("%s: panic %v", c.name, panicked)
			continue
		}
		wantStatus(t, err, c.status, c.name)
		if !bytes.Equal(b, bytes.Repeat([]byte{0x5A}, c.n)) {
			t.Errorf("%s: the buffer was written", c.name)
		}
	}
	// a raster of a type that cannot be read into a buffer
	i64 := makeRaster(t, filepath.Join(dir, "i64.tif"), rasterSpec{dtype: Int64, bands: 1, rows: 10, cols: 10}, nil)
	d64, err := OpenDataset(i64)
	if err != nil {
		t.Fatal(err)
	}
	if d64.Info().DType != Int64 {
		t.Fatalf("dtype %v", d64.Info().DType)
	}
	wantStatus(t, d64.ReadWindow(Window{0, 0, 10, 10}, ReadSpec{}, make([]byte, 800)), StatusUnsupported, "Int64 raster, own type")
	if err := d64.ReadWindow(Window{0, 0, 10, 10}, ReadSpec{DType: Float64}, make([]byte, 800)); err != nil {
		t.Errorf("Int64 raster read as Float64: %v", err)
	}
	d64.Close()

	buf := make([]byte, 200)
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, ds.ReadWindow(Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}}, buf), StatusInvalidArgument, "read after close")
	wantStatus(t, ds.Close(), StatusInvalidArgument, "double close")
	wantStatus(t, ds.Close(), StatusInvalidArgument, "triple close")
	if ds.Info().Rows != 90 {
		t.Error("Info after close")
	}
}

// A window whose buffer size overflows 64 bits must be rejected, not read
// into a buffer that the wrapped size calls big enough. GDAL's VRT makes a
// raster of 2^30 x 2^30 cells that costs nothing.
func TestReadWindowSizeOverflow(t *testing.T) {
	dir := t.TempDir()
	vrt := filepath.Join(dir, "huge.vrt")
	os.WriteFile(vrt, []byte(`<VRTDataset rasterXSize="1073741824" rasterYSize="1073741824"><VRTRasterBand dataType="Byte" band="1"/></VRTDataset>`), 0o644)
	ds, err := OpenDataset(vrt)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	// 2 bands x 2^30 x 2^30 x 8 bytes = 2^64, which wraps to 0
	for _, c := range []struct {
		w    Window
		spec ReadSpec
	}{
		{Window{0, 0, 1 << 30, 1 << 30}, ReadSpec{Bands: []int{1, 1}, DType: Float64}},
		{Window{0, 0, 1 << 30, 1 << 30}, ReadSpec{Bands: []int{1, 1, 1, 1}, DType: Float32}},
	} {
		err, panicked := catch(func() error { return ds.ReadWindow(c.w, c.spec, []byte{}) })
		if panicked != nil {
			t.Errorf("%v %+v with an empty buffer: panic %v (the buffer size overflows and wraps to 0)", c.w, c.spec, panicked)
			continue
		}
		wantStatus(t, err, StatusInvalidArgument, fmt.Sprintf("%v %+v with an empty buffer", c.w, c.spec))
	}
	// a small window of it reads as zeros
	buf := []byte{1, 2, 3, 4}
	if err := ds.ReadWindow(Window{1 << 29, 1 << 29, 2, 2}, ReadSpec{}, buf); err != nil || !bytes.Equal(buf, []byte{0, 0, 0, 0}) {
		t.Fatalf("%v %v", buf, err)
	}
}

// A corrupt block is an IO error, through the direct decoder and through
// GDAL alike.
func TestReadWindowCorrupt(t *testing.T) {
	dir := t.TempDir()
	for _, compress := range []string{"DEFLATE", "ZSTD", "LZW"} {
		path := gtiff(t, filepath.Join(dir, compress+".tif"), Float32, 1, 256, 256, cells(Float32, 1, 256, 256, 1),
			"TILED=YES", "BLOCKXSIZE=128", "BLOCKYSIZE=128", "COMPRESS="+compress)
		b := readFile(t, path)
		// overwrite the middle of the file, where tile data lives
		for i := len(b) / 2; i < len(b)/2+2000 && i < len(b); i++ {
			b[i] = byte(i * 7)
		}
		os.WriteFile(path, b, 0o644)
		ds, err := OpenDataset(path)
		if err != nil {
			t.Fatal(err)
		}
		var failures int
		for _, w := range []Window{{0, 0, 128, 128}, {0, 128, 128, 128}, {128, 0, 128, 128}, {128, 128, 128, 128}} {
			buf := make([]byte, 128*128*4)
			err, panicked := catch(func() error { return ds.ReadWindow(w, ReadSpec{}, buf) })
			if panicked != nil {
				t.Fatalf("%s: panic %v", compress, panicked)
			}
			if err != nil {
				failures++
				wantStatus(t, err, StatusIO, compress+" corrupt block")
			}
		}
		if failures == 0 {
			t.Errorf("%s: no read failed after corrupting the tile data", compress)
		}
		ds.Close()
	}
}

func TestDatasetConcurrentReads(t *testing.T) {
	dir := t.TempDir()
	for name, path := range map[string]string{
		"direct": gtiff(t, filepath.Join(dir, "d.tif"), Float32, 2, 300, 280, cells(Float32, 2, 300, 280, 2), "TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE", "PREDICTOR=3"),
		"gdal":   gtiff(t, filepath.Join(dir, "g.tif"), Float32, 2, 300, 280, cells(Float32, 2, 300, 280, 2), "TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=LZW"),
	} {
		full := cells(Float32, 2, 300, 280, 2)
		ds, err := OpenDataset(path)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(int64(g)))
				for k := 0; k < 40; k++ {
					w := randomWindow(rng, 300, 280)
					bands := [][]int{{1, 2}, {2}, {2, 1}}[k%3]
					buf := make([]byte, int64(len(bands))*w.Rows*w.Cols*4)
					if err := ds.ReadWindow(w, ReadSpec{Bands: bands}, buf); err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(buf, subWindow(full, 4, 300, 280, w, bands)) {
						errs <- fmt.Errorf("%s goroutine %d: window %v bands %v differs", name, g, w, bands)
						return
					}
				}
			}(g)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if err := ds.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Closing while reads run: reads either finish with the right data or fail
// with INVALID_ARGUMENT; nothing crashes.
func TestDatasetCloseWhileReading(t *testing.T) {
	path := gtiff(t, tmpPath(t, "c.tif"), Int16, 1, 200, 200, cells(Int16, 1, 200, 200, 4), "TILED=YES", "COMPRESS=DEFLATE", "BLOCKXSIZE=32", "BLOCKYSIZE=32")
	full := cells(Int16, 1, 200, 200, 4)
	ds, err := OpenDataset(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 64)
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			<-start
			for k := 0; k < 300; k++ {
				w := randomWindow(rng, 200, 200)
				buf := make([]byte, w.Rows*w.Cols*2)
				err := ds.ReadWindow(w, ReadSpec{}, buf)
				if err != nil {
					if StatusOf(err) != StatusInvalidArgument {
						errs <- err
					}
					return
				}
				if !bytes.Equal(buf, subWindow(full, 2, 200, 200, w, []int{1})) {
					errs <- fmt.Errorf("window %v differs", w)
					return
				}
			}
		}(g)
	}
	close(start)
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
