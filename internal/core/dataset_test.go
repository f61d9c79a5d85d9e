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

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/raster/rastertest"
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
		{"tiled GTiff with everything", rasterSpec{dtype: raster.Int16, bands: 3, rows: 90, cols: 110, gt: &gt, crs: "EPSG:32632", nodata: &nd,
			options: []string{"TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=16"}}, 16, 32, false},
		{"striped GTiff without georeferencing", rasterSpec{dtype: raster.Float64, bands: 1, rows: 70, cols: 50, options: []string{"BLOCKYSIZE=5"}}, 5, 50, false},
		{"COG", rasterSpec{dtype: raster.UInt16, bands: 2, rows: 700, cols: 600, gt: &gt, crs: "EPSG:4326", nodata: ptr(0)}, 512, 512, true},
		{"NaN nodata", rasterSpec{dtype: raster.Float32, bands: 1, rows: 20, cols: 30, nodata: ptr(math.NaN())}, 20, 30, false},
		{"Byte", rasterSpec{dtype: raster.Byte, bands: 4, rows: 33, cols: 17, gt: &gt}, 33, 17, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.spec
			data := cells(s.dtype, s.bands, s.rows, s.cols, 3)
			path := filepath.Join(dir, c.name+".tif")
			if c.viaCOG {
				if err := WriteCOGBuffer(data, s.dtype, int64(s.bands), int64(s.rows), int64(s.cols), raster.Georef{GeoTransform: s.gt, CRS: s.crs, NoData: noData(s.nodata)}, path, COGOptions{}); err != nil {
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
			if err := ds.ReadWindow(raster.Window{RowOff: 0, ColOff: 0, Rows: int64(s.rows), Cols: int64(s.cols)}, raster.ReadSpec{}, all); err != nil || !bytes.Equal(all, data) {
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
		status raster.Status
	}{
		{filepath.Join(dir, "missing.tif"), raster.StatusNotFound},
		{filepath.Join(dir, "nodir", "missing.tif"), raster.StatusNotFound},
		{"/vsimem/cloudio-core-test/none.tif", raster.StatusNotFound},
		{text, raster.StatusIO},
		{dir, raster.StatusIO},
		{"", raster.StatusInvalidArgument},
		{"\xff.tif", raster.StatusInvalidArgument},
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
func rawAndGDALFixtures(t *testing.T, dir string, dtype raster.DType, bands, rows, cols int) map[string]string {
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

func randomWindow(rng *rand.Rand, rows, cols int) raster.Window {
	w := raster.Window{RowOff: int64(rng.Intn(rows)), ColOff: int64(rng.Intn(cols))}
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
	for _, dtype := range []raster.DType{raster.Byte, raster.Int16, raster.UInt32, raster.Float32, raster.Float64} {
		for layout, path := range rawAndGDALFixtures(t, dir, dtype, 3, rows, cols) {
			ds, err := OpenDataset(path)
			if err != nil {
				t.Fatal(err)
			}
			specs := []raster.ReadSpec{{}, {Bands: []int{2}}, {Bands: []int{3, 1}}, {Bands: []int{1, 1}}, {DType: raster.Float64}, {Bands: []int{3}, DType: raster.Int16},
				{Bands: []int{2, 3}, DType: raster.Byte}, {DType: dtype}, {DType: raster.Float32, Bands: []int{1, 2, 3}}}
			windows := []raster.Window{{RowOff: 0, ColOff: 0, Rows: rows, Cols: cols}, {RowOff: 0, ColOff: 0, Rows: 1, Cols: 1}, {RowOff: rows - 1, ColOff: cols - 1, Rows: 1, Cols: 1}, {RowOff: 0, ColOff: cols - 1, Rows: rows, Cols: 1}, {RowOff: rows - 1, ColOff: 0, Rows: 1, Cols: cols}}
			for k := 0; k < 6; k++ {
				windows = append(windows, randomWindow(rng, rows, cols))
			}
			for _, spec := range specs {
				resolved, err := spec.Resolve(ds.Info())
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
		dtype             raster.DType
		bands, rows, cols int
		options           []string
		nodata            *float64
		sparse            bool // write a single block only
	}{
		{raster.Byte, 1, 60, 50, []string{"NBITS=1"}, nil, false},
		{raster.Byte, 1, 60, 50, []string{"NBITS=4", "COMPRESS=DEFLATE"}, nil, false},
		{raster.UInt16, 2, 60, 50, []string{"NBITS=12", "COMPRESS=DEFLATE", "TILED=YES"}, nil, false},
		{raster.Float32, 1, 60, 50, []string{"NBITS=16", "COMPRESS=DEFLATE"}, nil, false},
		{raster.Byte, 1, 60, 50, []string{"PIXELTYPE=SIGNEDBYTE", "COMPRESS=DEFLATE"}, nil, false},
		{raster.Byte, 1, 60, 50, []string{"PHOTOMETRIC=MINISWHITE", "COMPRESS=DEFLATE"}, nil, false},
		{raster.Byte, 4, 60, 50, []string{"PHOTOMETRIC=RGB", "ALPHA=YES", "COMPRESS=DEFLATE"}, nil, false},
		{raster.Byte, 3, 60, 50, []string{"COMPRESS=JPEG"}, nil, false},
		{raster.Float32, 1, 60, 50, []string{"COMPRESS=LERC_DEFLATE"}, nil, false},
		{raster.Int16, 1, 60, 50, []string{"COMPRESS=PACKBITS"}, nil, false},
		{raster.Float64, 1, 60, 50, []string{"COMPRESS=DEFLATE", "PREDICTOR=2"}, nil, false},
		{raster.Byte, 1, 2100, 300, []string{"BLOCKYSIZE=2100"}, nil, false}, // GDAL splits the single strip
		{raster.Float32, 2, 200, 190, []string{"SPARSE_OK=YES", "TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE"}, nil, true},
		{raster.Float32, 2, 200, 190, []string{"SPARSE_OK=YES", "TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=ZSTD"}, &nd, true},
		{raster.Int16, 1, 200, 190, []string{"SPARSE_OK=YES", "BLOCKYSIZE=16"}, &nd, true},
	} {
		path := filepath.Join(dir, fmt.Sprintf("u%d.tif", i))
		makeRaster(t, path, rasterSpec{dtype: c.dtype, bands: c.bands, rows: c.rows, cols: c.cols, nodata: c.nodata, options: c.options}, nil)
		full := cells(c.dtype, c.bands, c.rows, c.cols, int64(i))
		ds0, err := godal.Open(path, godal.Update())
		if err != nil {
			t.Fatal(err)
		}
		w := raster.Window{RowOff: 0, ColOff: 0, Rows: int64(c.rows), Cols: int64(c.cols)}
		if c.sparse {
			w = raster.Window{RowOff: 64, ColOff: 64, Rows: 64, Cols: 64}
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
		for _, win := range []raster.Window{{RowOff: 0, ColOff: 0, Rows: int64(c.rows), Cols: int64(c.cols)}, {RowOff: 3, ColOff: 5, Rows: int64(c.rows) - 10, Cols: int64(c.cols) - 7}, {RowOff: 60, ColOff: 60, Rows: 70, Cols: 70}} {
			if win.RowOff+win.Rows > int64(c.rows) || win.ColOff+win.Cols > int64(c.cols) {
				continue
			}
			for _, spec := range []raster.ReadSpec{{}, {Bands: []int{c.bands}}} {
				r, _ := spec.Resolve(ds.Info())
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
	if err := WriteCOGBuffer(cells(raster.Int16, 2, 1100, 1000, 1), raster.Int16, 2, 1100, 1000, raster.Georef{}, path, COGOptions{}); err != nil {
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
	for _, w := range []raster.Window{{RowOff: 0, ColOff: 0, Rows: 550, Cols: 500}, {RowOff: 100, ColOff: 200, Rows: 300, Cols: 250}} {
		buf := make([]byte, 2*w.Rows*w.Cols*2)
		if err := ds.ReadWindow(w, raster.ReadSpec{}, buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, gdalRead(t, name, w, []int{1, 2}, raster.Int16)) {
			t.Fatalf("window %v of the overview differs from GDAL", w)
		}
	}
}

// A raster GDAL reads through another driver (a VRT over a GTiff) reads the
// same as GDAL.
func TestReadWindowVRT(t *testing.T) {
	dir := t.TempDir()
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Float32, 1, 80, 90, cells(raster.Float32, 1, 80, 90, 1), "COMPRESS=DEFLATE", "TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16")
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
	if err := ds.ReadWindow(raster.Window{RowOff: 0, ColOff: 0, Rows: 30, Cols: 40}, raster.ReadSpec{}, buf); err != nil {
		t.Fatal(err)
	}
	if want := gdalRead(t, src, raster.Window{RowOff: 20, ColOff: 10, Rows: 30, Cols: 40}, []int{1}, raster.Float32); !bytes.Equal(buf, want) {
		t.Fatal("the VRT's window differs from the source's")
	}
}

func TestReadWindowErrors(t *testing.T) {
	dir := t.TempDir()
	path := gtiff(t, filepath.Join(dir, "d.tif"), raster.Int16, 3, 90, 110, cells(raster.Int16, 3, 90, 110, 1), "TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32")
	ds, err := OpenDataset(path)
	if err != nil {
		t.Fatal(err)
	}
	const big = int64(math.MaxInt64)
	for _, c := range []struct {
		name   string
		w      raster.Window
		spec   raster.ReadSpec
		n      int
		status raster.Status
	}{
		{"past the bottom", raster.Window{RowOff: 85, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}}, 200, raster.StatusInvalidArgument},
		{"past the right", raster.Window{RowOff: 0, ColOff: 101, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}}, 200, raster.StatusInvalidArgument},
		{"negative row", raster.Window{RowOff: -1, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}}, 200, raster.StatusInvalidArgument},
		{"negative col", raster.Window{RowOff: 0, ColOff: -1, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}}, 200, raster.StatusInvalidArgument},
		{"larger than the raster", raster.Window{RowOff: 0, ColOff: 0, Rows: 91, Cols: 110}, raster.ReadSpec{Bands: []int{1}}, 91 * 110 * 2, raster.StatusInvalidArgument},
		{"huge offset", raster.Window{RowOff: big, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}}, 200, raster.StatusInvalidArgument},
		{"offset + size wraps", raster.Window{RowOff: big - 5, ColOff: big - 5, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}}, 200, raster.StatusInvalidArgument},
		{"huge size", raster.Window{RowOff: 0, ColOff: 0, Rows: big, Cols: big}, raster.ReadSpec{Bands: []int{1}}, 200, raster.StatusInvalidArgument},
		{"negative offset, size reaching in", raster.Window{RowOff: -5, ColOff: -5, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}}, 200, raster.StatusInvalidArgument},
		{"zero rows", raster.Window{RowOff: 0, ColOff: 0, Rows: 0, Cols: 10}, raster.ReadSpec{Bands: []int{1}}, 0, raster.StatusInvalidArgument},
		{"zero cols", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 0}, raster.ReadSpec{Bands: []int{1}}, 0, raster.StatusInvalidArgument},
		{"negative size", raster.Window{RowOff: 10, ColOff: 10, Rows: -2, Cols: 5}, raster.ReadSpec{Bands: []int{1}}, 20, raster.StatusInvalidArgument},
		{"band 0", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{0}}, 200, raster.StatusInvalidArgument},
		{"band 4 of 3", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{4}}, 200, raster.StatusInvalidArgument},
		{"negative band", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1, -1}}, 400, raster.StatusInvalidArgument},
		{"buffer one byte short", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}}, 199, raster.StatusInvalidArgument},
		{"buffer one byte long", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}}, 201, raster.StatusInvalidArgument},
		{"buffer for one band of three", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{}, 200, raster.StatusInvalidArgument},
		{"buffer of the source type, converting", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}, DType: raster.Float32}, 200, raster.StatusInvalidArgument},
		{"empty buffer", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}}, 0, raster.StatusInvalidArgument},
		{"Int64", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}, DType: raster.Int64}, 800, raster.StatusUnsupported},
		{"UInt64", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}, DType: raster.UInt64}, 800, raster.StatusUnsupported},
		{"unknown type", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}, DType: 42}, 200, raster.StatusUnsupported},
		{"negative type", raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}, DType: -3}, 200, raster.StatusUnsupported},
	} {
		b := make([]byte, c.n)
		for i := range b {
			b[i] = 0x5A
		}
		err, panicked := rastertest.Catch(func() error { return ds.ReadWindow(c.w, c.spec, b) })
		if panicked != nil {
			t.Errorf("%s: panic %v", c.name, panicked)
			continue
		}
		wantStatus(t, err, c.status, c.name)
		if !bytes.Equal(b, bytes.Repeat([]byte{0x5A}, c.n)) {
			t.Errorf("%s: the buffer was written", c.name)
		}
	}
	// ReadType answers for a spec as ReadWindow does, with no window nor buffer.
	for _, c := range []struct {
		spec   raster.ReadSpec
		want   raster.DType
		status raster.Status
	}{
		{raster.ReadSpec{}, raster.Int16, raster.StatusOK},
		{raster.ReadSpec{Bands: []int{3, 1}, DType: raster.Float32}, raster.Float32, raster.StatusOK},
		{raster.ReadSpec{Bands: []int{4}}, 0, raster.StatusInvalidArgument},
		{raster.ReadSpec{Bands: []int{1, 0}}, 0, raster.StatusInvalidArgument},
		{raster.ReadSpec{Bands: []int{1}, DType: raster.Int64}, 0, raster.StatusUnsupported},
	} {
		got, err := ds.ReadType(c.spec)
		if raster.StatusOf(err) != c.status || (err == nil && got != c.want) {
			t.Errorf("ReadType(%+v) = %v, %v; want %v, status %v", c.spec, got, err, c.want, c.status)
		}
	}
	// a raster of a type that cannot be read into a buffer
	i64 := makeRaster(t, filepath.Join(dir, "i64.tif"), rasterSpec{dtype: raster.Int64, bands: 1, rows: 10, cols: 10}, nil)
	d64, err := OpenDataset(i64)
	if err != nil {
		t.Fatal(err)
	}
	if d64.Info().DType != raster.Int64 {
		t.Fatalf("dtype %v", d64.Info().DType)
	}
	wantStatus(t, d64.ReadWindow(raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{}, make([]byte, 800)), raster.StatusUnsupported, "Int64 raster, own type")
	if err := d64.ReadWindow(raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{DType: raster.Float64}, make([]byte, 800)); err != nil {
		t.Errorf("Int64 raster read as Float64: %v", err)
	}
	d64.Close()

	buf := make([]byte, 200)
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, ds.ReadWindow(raster.Window{RowOff: 0, ColOff: 0, Rows: 10, Cols: 10}, raster.ReadSpec{Bands: []int{1}}, buf), raster.StatusInvalidArgument, "read after close")
	wantStatus(t, ds.Close(), raster.StatusInvalidArgument, "double close")
	wantStatus(t, ds.Close(), raster.StatusInvalidArgument, "triple close")
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
		w    raster.Window
		spec raster.ReadSpec
	}{
		{raster.Window{RowOff: 0, ColOff: 0, Rows: 1 << 30, Cols: 1 << 30}, raster.ReadSpec{Bands: []int{1, 1}, DType: raster.Float64}},
		{raster.Window{RowOff: 0, ColOff: 0, Rows: 1 << 30, Cols: 1 << 30}, raster.ReadSpec{Bands: []int{1, 1, 1, 1}, DType: raster.Float32}},
	} {
		err, panicked := rastertest.Catch(func() error { return ds.ReadWindow(c.w, c.spec, []byte{}) })
		if panicked != nil {
			t.Errorf("%v %+v with an empty buffer: panic %v (the buffer size overflows and wraps to 0)", c.w, c.spec, panicked)
			continue
		}
		wantStatus(t, err, raster.StatusInvalidArgument, fmt.Sprintf("%v %+v with an empty buffer", c.w, c.spec))
	}
	// a small window of it reads as zeros
	buf := []byte{1, 2, 3, 4}
	if err := ds.ReadWindow(raster.Window{RowOff: 1 << 29, ColOff: 1 << 29, Rows: 2, Cols: 2}, raster.ReadSpec{}, buf); err != nil || !bytes.Equal(buf, []byte{0, 0, 0, 0}) {
		t.Fatalf("%v %v", buf, err)
	}
}

// A corrupt block is an IO error, through the direct decoder and through
// GDAL alike.
func TestReadWindowCorrupt(t *testing.T) {
	dir := t.TempDir()
	for _, compress := range []string{"DEFLATE", "ZSTD", "LZW"} {
		path := gtiff(t, filepath.Join(dir, compress+".tif"), raster.Float32, 1, 256, 256, cells(raster.Float32, 1, 256, 256, 1),
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
		for _, w := range []raster.Window{{RowOff: 0, ColOff: 0, Rows: 128, Cols: 128}, {RowOff: 0, ColOff: 128, Rows: 128, Cols: 128}, {RowOff: 128, ColOff: 0, Rows: 128, Cols: 128}, {RowOff: 128, ColOff: 128, Rows: 128, Cols: 128}} {
			buf := make([]byte, 128*128*4)
			err, panicked := rastertest.Catch(func() error { return ds.ReadWindow(w, raster.ReadSpec{}, buf) })
			if panicked != nil {
				t.Fatalf("%s: panic %v", compress, panicked)
			}
			if err != nil {
				failures++
				wantStatus(t, err, raster.StatusIO, compress+" corrupt block")
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
		"direct": gtiff(t, filepath.Join(dir, "d.tif"), raster.Float32, 2, 300, 280, cells(raster.Float32, 2, 300, 280, 2), "TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE", "PREDICTOR=3"),
		"gdal":   gtiff(t, filepath.Join(dir, "g.tif"), raster.Float32, 2, 300, 280, cells(raster.Float32, 2, 300, 280, 2), "TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=LZW"),
	} {
		full := cells(raster.Float32, 2, 300, 280, 2)
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
					if err := ds.ReadWindow(w, raster.ReadSpec{Bands: bands}, buf); err != nil {
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
	path := gtiff(t, tmpPath(t, "c.tif"), raster.Int16, 1, 200, 200, cells(raster.Int16, 1, 200, 200, 4), "TILED=YES", "COMPRESS=DEFLATE", "BLOCKXSIZE=32", "BLOCKYSIZE=32")
	full := cells(raster.Int16, 1, 200, 200, 4)
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
				err := ds.ReadWindow(w, raster.ReadSpec{}, buf)
				if err != nil {
					if raster.StatusOf(err) != raster.StatusInvalidArgument {
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
