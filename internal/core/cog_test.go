package core

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/raster/rastertest"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

var allWriteTypes = []raster.DType{raster.Byte, raster.Int16, raster.UInt16, raster.Int32, raster.Float32, raster.Float64}

// typicalNoData is a nodata value each type represents exactly, at the
// edge of its range where conversions go wrong.
var typicalNoData = map[raster.DType]float64{
	raster.Byte: 255, raster.UInt16: 65535, raster.Int16: -32768, raster.Int32: -2147483648, raster.UInt32: 4294967295,
	raster.Float32: -3.4028234663852886e+38, raster.Float64: -1.7976931348623157e+308,
}

// checkCOG asserts everything DESIGN.md promises about a written COG.
func checkCOG(t *testing.T, path string, data []byte, dtype raster.DType, bands, rows, cols int, gt *[6]float64, crs string, nodata *float64) {
	t.Helper()
	validateCOG(t, path)
	f := facts(t, path)
	if f.dtype != dtype || f.bands != bands || f.rows != rows || f.cols != cols {
		t.Fatalf("%s: %s x%d %dx%d, want %s x%d %dx%d", path, f.dtype, f.bands, f.rows, f.cols, dtype, bands, rows, cols)
	}
	if gt != nil && (!f.hasGT || f.gt != *gt) {
		t.Fatalf("geotransform %v (%v), want %v", f.gt, f.hasGT, *gt)
	}
	if gt == nil && f.hasGT {
		t.Fatalf("geotransform %v appeared", f.gt)
	}
	if nodata != nil && (!f.hasNoData || !sameFloat(f.nodata, *nodata)) {
		t.Fatalf("nodata %v (%v), want %v", f.nodata, f.hasNoData, *nodata)
	}
	if nodata == nil && f.hasNoData {
		t.Fatalf("nodata %v appeared", f.nodata)
	}
	if !sameCRS(t, path, crs) {
		t.Fatalf("CRS is not %q", crs)
	}
	if rows > 512 || cols > 512 {
		if f.overviews == 0 {
			t.Fatalf("%dx%d COG without overviews", rows, cols)
		}
	}
	if data != nil {
		got, _, _, _, _ := gdalReadAll(t, path)
		if !bytes.Equal(got, data) {
			t.Fatalf("%s x%d: pixels differ from what was written", dtype, bands)
		}
	}
	if side, _ := filepath.Glob(path + ".*"); len(side) != 0 {
		t.Fatalf("side files next to the COG: %v", side)
	}
}

func TestWriteCOGBufferTypesAndBands(t *testing.T) {
	const rows, cols = 560, 610 // larger than one 512 block: overviews
	gt := [6]float64{500000, 30, 0, 4500000, 0, -30}
	for _, dtype := range allWriteTypes {
		for _, bands := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s_x%d", dtype, bands), func(t *testing.T) {
				dir := t.TempDir()
				data := cells(dtype, bands, rows, cols, int64(dtype)*10+int64(bands))
				nodata := typicalNoData[dtype]
				setCell(data, dtype, rows, cols, bands-1, 7, 9, nodata)
				before := append([]byte(nil), data...)
				dst := filepath.Join(dir, "out.tif")
				var progress progressLog
				err := WriteCOGBuffer(data, dtype, int64(bands), rows, cols, raster.Georef{GeoTransform: &gt, CRS: "EPSG:32633", NoData: noData(&nodata)}, dst,
					COGOptions{Progress: progress.fn})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(data, before) {
					t.Fatal("WriteCOGBuffer changed the caller's buffer")
				}
				progress.check(t)
				checkCOG(t, dst, data, dtype, bands, rows, cols, &gt, "EPSG:32633", &nodata)
				wantDir(t, dir, "out.tif")
			})
		}
	}
}

func TestWriteCOGTypesAndBands(t *testing.T) {
	const rows, cols = 300, 260
	gt := [6]float64{10, 0.5, 0, 60, 0, -0.5}
	for _, dtype := range allWriteTypes {
		for _, bands := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s_x%d", dtype, bands), func(t *testing.T) {
				dir := t.TempDir()
				data := cells(dtype, bands, rows, cols, int64(dtype)+int64(bands)*100)
				nodata := -99.0
				if dtype == raster.Byte || dtype == raster.UInt16 {
					nodata = 0
				}
				src := makeRaster(t, filepath.Join(dir, "src.tif"), rasterSpec{dtype: dtype, bands: bands, rows: rows, cols: cols, gt: &gt, crs: "EPSG:3035", nodata: &nodata,
					options: []string{"COMPRESS=LZW"}}, data)
				srcBytes := readFile(t, src)
				dst := filepath.Join(dir, "out.tif")
				var progress progressLog
				if err := WriteCOG(src, dst, COGOptions{Progress: progress.fn}); err != nil {
					t.Fatal(err)
				}
				progress.check(t)
				checkCOG(t, dst, data, dtype, bands, rows, cols, &gt, "EPSG:3035", &nodata)
				if !bytes.Equal(readFile(t, src), srcBytes) {
					t.Fatal("the source changed")
				}
				wantDir(t, dir, "out.tif", "src.tif")
			})
		}
	}
}

// Every method is applied for real (never a silently uncompressed file)
// and every lossless one round-trips the pixels.
func TestWriteCOGCompressMethods(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		compress string
		dtype    raster.DType
		bands    int
		lossless bool
		want     string // GDAL's COMPRESSION metadata
	}{
		{"", raster.Float32, 1, true, "DEFLATE"},
		{"deflate", raster.Int16, 2, true, "DEFLATE"},
		{"ZSTD", raster.Float64, 1, true, "ZSTD"},
		{"lzw", raster.UInt16, 1, true, "LZW"},
		{"Lzma", raster.Int32, 1, true, "LZMA"},
		{"none", raster.Float32, 1, true, ""},
		{"lerc", raster.Float32, 1, true, "LERC"},
		{"lerc_deflate", raster.Int16, 1, true, "LERC_DEFLATE"},
		{"lerc_zstd", raster.Float64, 1, true, "LERC_ZSTD"},
		{"jpeg", raster.Byte, 3, false, "JPEG"},
		{"webp", raster.Byte, 3, false, "WEBP"},
	} {
		data := cells(c.dtype, c.bands, 200, 150, 4)
		dst := filepath.Join(dir, "c_"+c.compress+".tif")
		if err := WriteCOGBuffer(data, c.dtype, int64(c.bands), 200, 150, raster.Georef{}, dst, COGOptions{Compress: c.compress}); err != nil {
			t.Errorf("%q: %v", c.compress, err)
			continue
		}
		validateCOG(t, dst)
		ds, err := godal.Open(dst)
		if err != nil {
			t.Fatal(err)
		}
		got := ds.Metadata("COMPRESSION", godal.Domain("IMAGE_STRUCTURE"))
		ds.Close()
		if got != c.want && !(c.want == "JPEG" && got == "YCbCr JPEG") {
			t.Errorf("%q: COMPRESSION=%q, want %q", c.compress, got, c.want)
		}
		back, _, _, _, _ := gdalReadAll(t, dst)
		if c.lossless && !bytes.Equal(back, data) {
			t.Errorf("%q: pixels differ", c.compress)
		}
		if !c.lossless && len(back) != len(data) {
			t.Errorf("%q: %d bytes back", c.compress, len(back))
		}
	}
}

func TestWriteCOGOverviews(t *testing.T) {
	dir := t.TempDir()
	// a couple of large rasters
	big := cells(raster.Float32, 1, 1500, 1300, 11)
	dst := filepath.Join(dir, "big.tif")
	if err := WriteCOGBuffer(big, raster.Float32, 1, 1500, 1300, raster.Georef{}, dst, COGOptions{Compress: "zstd"}); err != nil {
		t.Fatal(err)
	}
	checkCOG(t, dst, big, raster.Float32, 1, 1500, 1300, nil, "", nil)
	if f := facts(t, dst); f.overviews < 2 || f.blockRows != 512 || f.blockCols != 512 {
		t.Fatalf("%d overviews, %dx%d blocks", f.overviews, f.blockRows, f.blockCols)
	}
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Int16, 1, 1300, 1500, cells(raster.Int16, 1, 1300, 1500, 12), "TILED=YES", "COMPRESS=DEFLATE")
	dst2 := filepath.Join(dir, "big2.tif")
	if err := WriteCOG(src, dst2, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	gt := [6]float64{1000, 2, 0, 5000, 0, -2}
	checkCOG(t, dst2, cells(raster.Int16, 1, 1300, 1500, 12), raster.Int16, 1, 1300, 1500, &gt, "", nil)

	// "larger than one block" along one side only, and with a smaller block
	for _, c := range []struct {
		rows, cols int
		options    []string
	}{{100, 700, nil}, {700, 100, nil}, {300, 300, []string{"BLOCKSIZE=256"}}} {
		p := filepath.Join(dir, fmt.Sprintf("o_%d_%d.tif", c.rows, c.cols))
		if err := WriteCOGBuffer(cells(raster.Byte, 1, c.rows, c.cols, 1), raster.Byte, 1, int64(c.rows), int64(c.cols), raster.Georef{}, p, COGOptions{Options: c.options}); err != nil {
			t.Fatal(err)
		}
		validateCOG(t, p)
		if f := facts(t, p); f.overviews == 0 {
			t.Errorf("%dx%d %v: larger than one %dx%d block but no overviews", c.rows, c.cols, c.options, f.blockRows, f.blockCols)
		}
	}
}

func TestWriteCOGNoData(t *testing.T) {
	dir := t.TempDir()
	for i, c := range []struct {
		dtype  raster.DType
		nodata *float64
		want   *float64
	}{
		{raster.Float32, ptr(math.NaN()), ptr(math.NaN())},
		{raster.Float64, ptr(math.NaN()), ptr(math.NaN())},
		{raster.Float64, ptr(math.Inf(-1)), ptr(math.Inf(-1))},
		{raster.Float64, ptr(0.1), ptr(0.1)},
		{raster.Float64, ptr(-9999.25), ptr(-9999.25)},
		{raster.Float32, ptr(-9999.5), ptr(-9999.5)},
		{raster.Float32, ptr(float64(float32(0.1))), ptr(float64(float32(0.1)))}, // 0.1 itself is no Float32 value: see TestNoDataMustBeExact
		{raster.Int16, ptr(-9999), ptr(-9999)},
		{raster.Byte, ptr(0), ptr(0)},
		{raster.UInt32, ptr(4294967295), ptr(4294967295)},
		{raster.Float32, nil, nil},
		{raster.Byte, nil, nil},
	} {
		p := filepath.Join(dir, fmt.Sprintf("n%d.tif", i))
		if err := WriteCOGBuffer(cells(c.dtype, 2, 40, 30, 1), c.dtype, 2, 40, 30, raster.Georef{NoData: noData(c.nodata)}, p, COGOptions{}); err != nil {
			t.Fatal(err)
		}
		f := facts(t, p) // also checks that both bands agree
		switch {
		case c.want == nil && f.hasNoData:
			t.Errorf("%s: nodata %v appeared", c.dtype, f.nodata)
		case c.want != nil && (!f.hasNoData || !sameFloat(f.nodata, *c.want)):
			t.Errorf("%s nodata %v: read back %v (%v)", c.dtype, *c.nodata, f.nodata, f.hasNoData)
		}
		// the copy from a file keeps it too
		p2 := filepath.Join(dir, fmt.Sprintf("n%d_copy.tif", i))
		if err := WriteCOG(p, p2, COGOptions{}); err != nil {
			t.Fatal(err)
		}
		if f2 := facts(t, p2); f2.hasNoData != f.hasNoData || !sameFloat(f2.nodata, f.nodata) {
			t.Errorf("%s: WriteCOG turned nodata %v into %v", c.dtype, f.nodata, f2.nodata)
		}
	}
}

func ptr(v float64) *float64 { return &v }

func TestWriteCOGCRSForms(t *testing.T) {
	dir := t.TempDir()
	wkt32633 := func() string {
		sr, err := godal.NewSpatialRef("EPSG:32633")
		if err != nil {
			t.Fatal(err)
		}
		defer sr.Close()
		w, _ := sr.WKT()
		return w
	}()
	for i, c := range []struct{ crs, want string }{
		{"EPSG:4326", "EPSG:4326"},
		{"4326", "EPSG:4326"},
		{"epsg:3857", "EPSG:3857"},
		{wkt32633, "EPSG:32633"},
		{"+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs", "EPSG:32633"},
		{"", ""},
	} {
		p := filepath.Join(dir, fmt.Sprintf("c%d.tif", i))
		if err := WriteCOGBuffer(cells(raster.Int16, 1, 20, 20, 1), raster.Int16, 1, 20, 20, raster.Georef{CRS: c.crs}, p, COGOptions{}); err != nil {
			t.Errorf("%.40q: %v", c.crs, err)
			continue
		}
		if !sameCRS(t, p, c.want) {
			t.Errorf("%.40q: the COG's CRS is not %s", c.crs, c.want)
		}
		if f := facts(t, p); f.hasGT {
			t.Errorf("%.40q: a geotransform appeared: %v", c.crs, f.gt)
		}
	}
	// a source without any georeferencing gives a COG without any
	src := makeRaster(t, filepath.Join(dir, "plain.tif"), rasterSpec{dtype: raster.Byte, bands: 1, rows: 30, cols: 20}, cells(raster.Byte, 1, 30, 20, 1))
	dst := filepath.Join(dir, "plain_cog.tif")
	if err := WriteCOG(src, dst, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	checkCOG(t, dst, cells(raster.Byte, 1, 30, 20, 1), raster.Byte, 1, 30, 20, nil, "", nil)
}

// cancelAt returns a progress callback that cancels at the first call
// whose fraction is >= at, and a pointer to the number of calls.
func cancelAt(at float64) (ProgressFunc, *int) {
	calls := 0
	return func(f float64, _ string) bool {
		calls++
		return f < at
	}, &calls
}

func TestWriteCOGCancelAndPanic(t *testing.T) {
	dir := t.TempDir()
	data := cells(raster.Float32, 1, 1500, 1300, 5)
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Float32, 1, 1500, 1300, data, "TILED=YES")
	existing := filepath.Join(dir, "existing.tif")
	if err := WriteCOGBuffer(cells(raster.Byte, 1, 10, 10, 1), raster.Byte, 1, 10, 10, raster.Georef{}, existing, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	existingBytes := readFile(t, existing)
	writers := map[string]func(dst string, p ProgressFunc) error{
		"WriteCOG": func(dst string, p ProgressFunc) error { return WriteCOG(src, dst, COGOptions{Progress: p}) },
		"WriteCOGBuffer": func(dst string, p ProgressFunc) error {
			return WriteCOGBuffer(data, raster.Float32, 1, 1500, 1300, raster.Georef{}, dst, COGOptions{Progress: p})
		},
	}
	for name, write := range writers {
		for _, at := range []float64{0, 0.5, 1} {
			for _, dst := range []string{filepath.Join(dir, "new.tif"), existing} {
				p, calls := cancelAt(at)
				err := write(dst, p)
				if raster.StatusOf(err) != raster.StatusCancelled {
					t.Errorf("%s cancelled at %v: %v (%d calls)", name, at, err, *calls)
				}
				wantDir(t, dir, "existing.tif", "src.tif")
				if !bytes.Equal(readFile(t, existing), existingBytes) {
					t.Fatalf("%s cancelled at %v changed the existing destination", name, at)
				}
			}
		}
		for _, at := range []float64{0, 0.5} {
			calls := 0
			err := write(filepath.Join(dir, "new.tif"), func(f float64, _ string) bool {
				calls++
				if f >= at {
					panic(fmt.Sprintf("boom at %v", at))
				}
				return true
			})
			if raster.StatusOf(err) != raster.StatusInternal || !strings.Contains(fmt.Sprint(err), "boom") {
				t.Errorf("%s, callback panicking at %v: %v", name, at, err)
			}
			wantDir(t, dir, "existing.tif", "src.tif")
		}
	}
	// after all that, the same calls succeed
	var progress progressLog
	if err := WriteCOG(src, filepath.Join(dir, "new.tif"), COGOptions{Progress: progress.fn}); err != nil {
		t.Fatal(err)
	}
	progress.check(t)
	if len(progress.fractions) < 3 {
		t.Errorf("only %d progress calls for a 1500x1300 COG", len(progress.fractions))
	}
}

func TestWriteCOGErrors(t *testing.T) {
	dir := t.TempDir()
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Float32, 1, 60, 50, cells(raster.Float32, 1, 60, 50, 1))
	dst := filepath.Join(dir, "dst.tif")
	if err := WriteCOG(src, dst, COGOptions{Compress: "zstd", Options: []string{"BLOCKSIZE=256"}}); err != nil {
		t.Fatal(err)
	}
	validateCOG(t, dst)
	before := readFile(t, dst)
	text := filepath.Join(dir, "text.tif")
	os.WriteFile(text, []byte("not a raster\n"), 0o644)
	empty := filepath.Join(dir, "empty.tif")
	os.WriteFile(empty, nil, 0o644)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	link := filepath.Join(dir, "link.tif")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	files := []string{"dst.tif", "empty.tif", "link.tif", "src.tif", "sub", "text.tif"}
	for _, c := range []struct {
		name     string
		src, dst string
		o        COGOptions
		status   raster.Status
	}{
		{"missing source", filepath.Join(dir, "missing.tif"), dst, COGOptions{}, raster.StatusNotFound},
		{"missing source directory", filepath.Join(dir, "nodir", "missing.tif"), dst, COGOptions{}, raster.StatusNotFound},
		{"missing /vsimem/ source", "/vsimem/cloudio-test/missing.tif", dst, COGOptions{}, raster.StatusNotFound},
		{"text file named .tif", text, dst, COGOptions{}, raster.StatusIO},
		{"empty file named .tif", empty, dst, COGOptions{}, raster.StatusIO},
		{"source is a directory", sub, dst, COGOptions{}, raster.StatusIO},
		{"missing output directory", src, filepath.Join(dir, "no", "x.tif"), COGOptions{}, raster.StatusNotFound},
		{"output directory is a file", src, filepath.Join(text, "x.tif"), COGOptions{}, raster.StatusNotFound},
		{"dst == src", src, src, COGOptions{}, raster.StatusInvalidArgument},
		{"dst is src spelt differently", src, dir + "/sub/../src.tif", COGOptions{}, raster.StatusInvalidArgument},
		{"dst is src, relative spelling", src, dir + "/./src.tif", COGOptions{}, raster.StatusInvalidArgument},
		{"dst is a symlink to src", src, link, COGOptions{}, raster.StatusInvalidArgument},
		{"src is a symlink to dst", link, src, COGOptions{}, raster.StatusInvalidArgument},
		{"dst is a directory", src, sub, COGOptions{}, raster.StatusInvalidArgument},
		{"unknown compress", src, dst, COGOptions{Compress: "brotli"}, raster.StatusInvalidArgument},
		{"unsuitable compress", src, dst, COGOptions{Compress: "jpeg"}, raster.StatusInvalidArgument},
		{"option without '='", src, dst, COGOptions{Options: []string{"BAD"}}, raster.StatusInvalidArgument},
		{"unknown option", src, dst, COGOptions{Options: []string{"TILED=YES"}}, raster.StatusInvalidArgument},
		{"bad int option", src, dst, COGOptions{Options: []string{"BLOCKSIZE=x"}}, raster.StatusInvalidArgument},
		{"bad select option", src, dst, COGOptions{Options: []string{"PREDICTOR=9"}}, raster.StatusInvalidArgument},
		{"unknown compress via options", src, dst, COGOptions{Options: []string{"COMPRESS=brotli"}}, raster.StatusInvalidArgument},
		{"empty source", "", dst, COGOptions{}, raster.StatusInvalidArgument},
		{"empty destination", src, "", COGOptions{}, raster.StatusInvalidArgument},
		{"source not UTF-8", filepath.Join(dir, "\xff\xfe.tif"), dst, COGOptions{}, raster.StatusInvalidArgument},
		{"destination not UTF-8", src, filepath.Join(dir, "\xff\xfe.tif"), COGOptions{}, raster.StatusInvalidArgument},
		{"HTTP destination", src, "https://example.com/x.tif", COGOptions{}, raster.StatusInvalidArgument},
	} {
		err := WriteCOG(c.src, c.dst, c.o)
		wantStatus(t, err, c.status, c.name)
		if err != nil && err.Error() == "" {
			t.Errorf("%s: empty message", c.name)
		}
		wantDir(t, dir, files...)
		wantDir(t, sub)
		if !bytes.Equal(readFile(t, dst), before) {
			t.Fatalf("%s: the failed overwrite changed the destination", c.name)
		}
	}
	if !bytes.Equal(readFile(t, link), readFile(t, src)) {
		t.Fatal("the symlinked source changed")
	}
	// the message names the path the caller gave, not a temporary name
	err := WriteCOG(src, dst, COGOptions{Progress: func(float64, string) bool { return false }})
	if raster.StatusOf(err) != raster.StatusCancelled || strings.Contains(err.Error(), "cloudio-tmp") {
		t.Errorf("cancelled: %v", err)
	}
}

func TestWriteCOGBufferErrors(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "x.tif")
	data := cells(raster.Float32, 1, 10, 10, 1)
	existing := filepath.Join(dir, "existing.tif")
	if err := WriteCOGBuffer(data, raster.Float32, 1, 10, 10, raster.Georef{}, existing, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	existingBytes := readFile(t, existing)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	for _, c := range []struct {
		name              string
		buf               []byte
		dtype             raster.DType
		bands, rows, cols int64
		g                 raster.Georef
		dst               string
		o                 COGOptions
		status            raster.Status
	}{
		{"buffer too short", data[:len(data)-1], raster.Float32, 1, 10, 10, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"buffer too long", append(append([]byte{}, data...), 0), raster.Float32, 1, 10, 10, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"nil buffer", nil, raster.Float32, 1, 10, 10, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"buffer of another type's size", data, raster.Float64, 1, 10, 10, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"bad dtype 0", data, 0, 1, 10, 10, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"bad dtype 8", data, 8, 1, 10, 10, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"bad dtype 99", data, 99, 1, 10, 10, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"bad dtype -1", data, -1, 1, 10, 10, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"zero bands", data, raster.Float32, 0, 10, 10, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"zero rows", nil, raster.Float32, 1, 0, 10, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"zero cols", nil, raster.Float32, 1, 10, 0, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"negative rows", data, raster.Float32, 1, -10, -10, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"side above 2^31", data, raster.Float32, 1, raster.MaxRasterSide + 1, 1, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"size overflowing 64 bits", data, raster.Float32, 1 << 31, 1 << 31, 1 << 31, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"size wrapping to the buffer's length", data, raster.Float64, 1 << 31, 1 << 31, 1 << 31, raster.Georef{}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"bad CRS", data, raster.Float32, 1, 10, 10, raster.Georef{CRS: "NOT_A_CRS"}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"bad EPSG code", data, raster.Float32, 1, 10, 10, raster.Georef{CRS: "EPSG:999999"}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"bare bad code", data, raster.Float32, 1, 10, 10, raster.Georef{CRS: "0"}, dst, COGOptions{}, raster.StatusInvalidArgument},
		{"missing output directory", data, raster.Float32, 1, 10, 10, raster.Georef{}, filepath.Join(dir, "no", "x.tif"), COGOptions{}, raster.StatusNotFound},
		{"dst is a directory", data, raster.Float32, 1, 10, 10, raster.Georef{}, sub, COGOptions{}, raster.StatusInvalidArgument},
		{"empty dst", data, raster.Float32, 1, 10, 10, raster.Georef{}, "", COGOptions{}, raster.StatusInvalidArgument},
		{"dst not UTF-8", data, raster.Float32, 1, 10, 10, raster.Georef{}, filepath.Join(dir, "\xc3\x28.tif"), COGOptions{}, raster.StatusInvalidArgument},
		{"unknown compress", data, raster.Float32, 1, 10, 10, raster.Georef{}, dst, COGOptions{Compress: "snappy"}, raster.StatusInvalidArgument},
		{"unsuitable compress", data, raster.Float32, 1, 10, 10, raster.Georef{}, dst, COGOptions{Compress: "webp"}, raster.StatusInvalidArgument},
		{"bad option", data, raster.Float32, 1, 10, 10, raster.Georef{}, dst, COGOptions{Options: []string{"LEVEL=max"}}, raster.StatusInvalidArgument},
		{"overwrite, cancelled", data, raster.Float32, 1, 10, 10, raster.Georef{}, existing, COGOptions{Progress: func(float64, string) bool { return false }}, raster.StatusCancelled},
		{"overwrite, bad CRS", data, raster.Float32, 1, 10, 10, raster.Georef{CRS: "nope"}, existing, COGOptions{}, raster.StatusInvalidArgument},
		{"overwrite, bad option", data, raster.Float32, 1, 10, 10, raster.Georef{}, existing, COGOptions{Options: []string{"X=1"}}, raster.StatusInvalidArgument},
	} {
		err, panicked := rastertest.Catch(func() error {
			return WriteCOGBuffer(c.buf, c.dtype, c.bands, c.rows, c.cols, c.g, c.dst, c.o)
		})
		if panicked != nil {
			t.Errorf("%s: panic %v", c.name, panicked)
			continue
		}
		wantStatus(t, err, c.status, c.name)
		wantDir(t, dir, "existing.tif", "sub")
		if !bytes.Equal(readFile(t, existing), existingBytes) {
			t.Fatalf("%s: the existing destination changed", c.name)
		}
	}
}

// setFileSizeLimit makes writes past limit bytes fail with EFBIG (a full
// disk, as far as GDAL can tell) in this process; limit 0 lifts it.
func setFileSizeLimit(limit uint64) error {
	signal.Ignore(syscall.SIGXFSZ)
	if limit == 0 {
		limit = ^uint64(0)
	}
	return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: ^uint64(0)})
}

// A write that fails half-way (the disk fills up) is an IO error and leaves
// nothing behind, whichever phase fails; an existing destination stays.
// Through cloudio's encoder (DEFLATE) and GDAL's COG driver (LZW). The file
// size limit is per process: run in a child. It does not hold back the
// file system's insertion of a range, with which the encoder makes room
// for the head at the end: there the encoder's last limit is within its
// full-resolution blocks (a real full disk fails the insertion itself).
func TestWriteCOGDiskFull(t *testing.T) {
	out, ok := isolated(t, "disk-full", func() error {
		dir, err := os.MkdirTemp("", "cloudio-full-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		data := cells(raster.Float32, 1, 1500, 1300, 1)
		existing := filepath.Join(dir, "existing.tif")
		if err := WriteCOGBuffer(cells(raster.Byte, 1, 10, 10, 1), raster.Byte, 1, 10, 10, raster.Georef{}, existing, COGOptions{}); err != nil {
			return err
		}
		existingBytes, _ := os.ReadFile(existing)
		for _, compress := range []string{"DEFLATE", "LZW"} {
			o := COGOptions{Compress: compress}
			probe := filepath.Join(dir, "probe.tif")
			if err := WriteCOGBuffer(data, raster.Float32, 1, 1500, 1300, raster.Georef{}, probe, o); err != nil {
				return err
			}
			st, _ := os.Stat(probe)
			os.Remove(probe)
			last := st.Size() - 4096
			if compress == "DEFLATE" {
				last = st.Size() * 2 / 3
			}
			for _, limit := range []int64{64 << 10, st.Size() / 2, last} {
				if err := setFileSizeLimit(uint64(limit)); err != nil {
					return err
				}
				for _, dst := range []string{filepath.Join(dir, "new.tif"), existing} {
					err := WriteCOGBuffer(data, raster.Float32, 1, 1500, 1300, raster.Georef{}, dst, o)
					if raster.StatusOf(err) != raster.StatusIO {
						return fmt.Errorf("%s, limit %d of %d, %s: %v, want an IO error", compress, limit, st.Size(), filepath.Base(dst), err)
					}
					if strings.Contains(err.Error(), "cloudio-tmp") {
						return fmt.Errorf("the message names the temporary file: %v", err)
					}
					if names := listDir(t, dir); strings.Join(names, ",") != "existing.tif" {
						return fmt.Errorf("%s, limit %d of %d: left behind %v", compress, limit, st.Size(), names)
					}
					if b, _ := os.ReadFile(existing); !bytes.Equal(b, existingBytes) {
						return fmt.Errorf("%s, limit %d: the existing destination changed", compress, limit)
					}
				}
			}
			if err := setFileSizeLimit(0); err != nil {
				return err
			}
		}
		return WriteCOGBuffer(data, raster.Float32, 1, 1500, 1300, raster.Georef{}, existing, COGOptions{})
	})
	if !ok {
		t.Fatal(firstLines(out, 20))
	}
}

// 64-bit integers keep every bit and their nodata, checked through GDAL's
// Python bindings (godal has no 64-bit integer buffers).
func TestWriteCOGBuffer64BitIntegers(t *testing.T) {
	dir := t.TempDir()
	for _, dtype := range []raster.DType{raster.Int64, raster.UInt64} {
		const rows, cols = 40, 30
		buf := make([]byte, rows*cols*8)
		for i := 0; i < rows*cols; i++ {
			v := uint64(1)<<40 + uint64(i)*1000003
			if dtype == raster.Int64 && i%2 == 1 {
				v = uint64(-int64(v))
			}
			binary.LittleEndian.PutUint64(buf[8*i:], v)
		}
		nodata := -9999.0
		if dtype == raster.UInt64 {
			nodata = 4294967296
		}
		dst := filepath.Join(dir, dtype.String()+".tif")
		if err := WriteCOGBuffer(buf, dtype, 1, rows, cols, raster.Georef{NoData: noData(&nodata)}, dst, COGOptions{}); err != nil {
			t.Fatal(err)
		}
		validateCOG(t, dst)
		script := `
import sys
from osgeo import gdal
ds = gdal.Open(sys.argv[1]); b = ds.GetRasterBand(1)
a = b.ReadAsArray()
nd = b.GetNoDataValueAsInt64() if a.dtype.name == 'int64' else b.GetNoDataValueAsUInt64()
sys.stdout.write('%s %d %s' % (a.dtype.name, nd, a.tobytes().hex()))
`
		out, err := exec.Command("/usr/bin/python3", "-c", script, dst).Output()
		if err != nil {
			t.Fatalf("%s: %v", dtype, err)
		}
		want := fmt.Sprintf("%s %d %x", strings.ToLower(dtype.String()), int64(nodata), buf)
		if string(out) != want {
			t.Fatalf("%s: GDAL reads %.60s..., want %.60s...", dtype, out, want)
		}
	}
}

// A successful overwrite replaces the destination.
func TestWriteCOGOverwrite(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "x.tif")
	for i, dtype := range []raster.DType{raster.Byte, raster.Float64} {
		data := cells(dtype, 1, 30, 40, int64(i))
		if err := WriteCOGBuffer(data, dtype, 1, 30, 40, raster.Georef{}, dst, COGOptions{}); err != nil {
			t.Fatal(err)
		}
		checkCOG(t, dst, data, dtype, 1, 30, 40, nil, "", nil)
	}
	wantDir(t, dir, "x.tif")
}

func TestWriteCOGConcurrently(t *testing.T) {
	dir := t.TempDir()
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Int32, 2, 210, 190, cells(raster.Int32, 2, 210, 190, 99))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	logs := make([]progressLog, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			dst := filepath.Join(dir, fmt.Sprintf("out%d.tif", i))
			if i%2 == 0 {
				errs[i] = WriteCOG(src, dst, COGOptions{Progress: logs[i].fn, Compress: []string{"deflate", "zstd"}[i/2%2]})
				return
			}
			errs[i] = WriteCOGBuffer(cells(raster.Int16, 1, 200+i, 200, int64(i)), raster.Int16, 1, int64(200+i), 200, raster.Georef{CRS: "EPSG:4326"}, dst, COGOptions{Progress: logs[i].fn})
		}(i)
	}
	wg.Wait()
	gt := [6]float64{1000, 2, 0, 5000, 0, -2}
	for i := 0; i < 8; i++ {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
		logs[i].check(t)
		dst := filepath.Join(dir, fmt.Sprintf("out%d.tif", i))
		if i%2 == 0 {
			checkCOG(t, dst, cells(raster.Int32, 2, 210, 190, 99), raster.Int32, 2, 210, 190, &gt, "", nil)
		} else {
			checkCOG(t, dst, cells(raster.Int16, 1, 200+i, 200, int64(i)), raster.Int16, 1, 200+i, 200, nil, "EPSG:4326", nil)
		}
	}
	if n := len(listDir(t, dir)); n != 9 {
		t.Fatalf("%d files: %v", n, listDir(t, dir))
	}
}

// Writers racing to the same destination each publish a whole COG; the
// last rename wins and no temporary file is left.
func TestWriteCOGSameDestinationConcurrently(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "same.tif")
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = WriteCOGBuffer(cells(raster.Int16, 1, 120, 100, int64(i)), raster.Int16, 1, 120, 100, raster.Georef{}, dst, COGOptions{})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	wantDir(t, dir, "same.tif")
	validateCOG(t, dst)
	got, _, _, _, _ := gdalReadAll(t, dst)
	for i := 0; i < 6; i++ {
		if bytes.Equal(got, cells(raster.Int16, 1, 120, 100, int64(i))) {
			return
		}
	}
	t.Fatal("the destination holds none of the rasters written")
}

// GDAL names and URLs work as destinations and sources.
func TestWriteCOGVirtualPaths(t *testing.T) {
	dir := t.TempDir()
	data := cells(raster.UInt16, 1, 50, 40, 3)
	mem := "/vsimem/cloudio-core-test/a.tif"
	defer storage.Unlink(mem)
	if err := WriteCOGBuffer(data, raster.UInt16, 1, 50, 40, raster.Georef{CRS: "EPSG:4326"}, mem, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _, _, _, _ := gdalReadAll(t, mem); !bytes.Equal(got, data) {
		t.Fatal("/vsimem/ pixels differ")
	}
	if names, err := storage.List("/vsimem/cloudio-core-test"); err != nil || strings.Join(names, ",") != "a.tif" {
		t.Fatalf("/vsimem/ holds %v (%v)", names, err)
	}
	// from /vsimem/ to a file:// URL
	dst := filepath.Join(dir, "b.tif")
	if err := WriteCOG(mem, "file://"+dst, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	checkCOG(t, dst, data, raster.UInt16, 1, 50, 40, nil, "EPSG:4326", nil)
	// a cancelled /vsimem/ write leaves nothing there
	err := WriteCOGBuffer(data, raster.UInt16, 1, 50, 40, raster.Georef{}, "/vsimem/cloudio-core-test/c.tif", COGOptions{Progress: func(float64, string) bool { return false }})
	wantStatus(t, err, raster.StatusCancelled, "cancelled /vsimem/ write")
	if names, _ := storage.List("/vsimem/cloudio-core-test"); strings.Join(names, ",") != "a.tif" {
		t.Fatalf("/vsimem/ holds %v after a cancelled write", names)
	}
}

func TestGDALName(t *testing.T) {
	for in, want := range map[string]string{
		"s3://bucket/key.tif":      "/vsis3/bucket/key.tif",
		"S3://bucket/key.tif":      "/vsis3/bucket/key.tif",
		"GS://bucket/key.tif":      "/vsigs/bucket/key.tif",
		"gcs://bucket/key.tif":     "/vsigs/bucket/key.tif",
		"az://container/a/b.tif":   "/vsiaz/container/a/b.tif",
		"azure://container/b.tif":  "/vsiaz/container/b.tif",
		"https://host/x.tif":       "/vsicurl/https://host/x.tif",
		"http://host/x.tif?a=b":    "/vsicurl/http://host/x.tif?a=b",
		"file:///tmp/x.tif":        "/tmp/x.tif",
		"/vsimem/x.tif":            "/vsimem/x.tif",
		"relative/x.tif":           "relative/x.tif",
		"NETCDF:file.nc:elevation": "NETCDF:file.nc:elevation",
		"s3://":                    "s3://",
	} {
		if got := storage.GDALName(in); got != want {
			t.Errorf("GDALName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStatusNames(t *testing.T) {
	for s, name := range map[raster.Status]string{
		raster.StatusOK: "CLOUDIO_OK", raster.StatusInvalidArgument: "CLOUDIO_ERR_INVALID_ARGUMENT", raster.StatusNotFound: "CLOUDIO_ERR_NOT_FOUND",
		raster.StatusIO: "CLOUDIO_ERR_IO", raster.StatusUnsupported: "CLOUDIO_ERR_UNSUPPORTED", raster.StatusCancelled: "CLOUDIO_ERR_CANCELLED",
		raster.StatusInternal: "CLOUDIO_ERR_INTERNAL", raster.Status(7): "CLOUDIO_ERR_UNKNOWN", raster.Status(-1): "CLOUDIO_ERR_UNKNOWN",
	} {
		if s.String() != name {
			t.Errorf("%d: %s, want %s", int(s), s, name)
		}
	}
	if raster.StatusOf(nil) != raster.StatusOK || raster.StatusOf(os.ErrNotExist) != raster.StatusInternal || raster.StatusOf(fmt.Errorf("wrapped: %w", raster.Errorf(raster.StatusIO, "x"))) != raster.StatusIO {
		t.Fatal("StatusOf")
	}
	if v := VersionString(); !strings.HasPrefix(v, raster.Version+" (GDAL 3.") {
		t.Fatalf("version %q", v)
	}
}
