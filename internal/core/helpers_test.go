package core

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/raster/rastertest"
)

// cells makes bands x rows x cols values of dtype, smooth plus noise, as
// native-order bytes.
func cells(dtype raster.DType, bands, rows, cols int, seed int64) []byte {
	rng := rand.New(rand.NewSource(seed))
	var buf bytes.Buffer
	buf.Grow(bands * rows * cols * dtype.Size())
	le := binary.LittleEndian
	var tmp [8]byte
	for b := 0; b < bands; b++ {
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				v := 100 + 60*math.Sin(float64(c)/13+float64(b))*math.Cos(float64(r)/7) + rng.Float64()*4
				switch dtype {
				case raster.Byte:
					buf.WriteByte(byte(v))
				case raster.UInt16:
					le.PutUint16(tmp[:], uint16(v*100))
					buf.Write(tmp[:2])
				case raster.Int16:
					le.PutUint16(tmp[:], uint16(int16(v*10-500)))
					buf.Write(tmp[:2])
				case raster.UInt32:
					le.PutUint32(tmp[:], uint32(v*1e5))
					buf.Write(tmp[:4])
				case raster.Int32:
					le.PutUint32(tmp[:], uint32(int32(v*1e4-2e6)))
					buf.Write(tmp[:4])
				case raster.Float32:
					le.PutUint32(tmp[:], math.Float32bits(float32(v)))
					buf.Write(tmp[:4])
				case raster.Float64:
					le.PutUint64(tmp[:], math.Float64bits(v))
					buf.Write(tmp[:8])
				case raster.Int64, raster.UInt64:
					le.PutUint64(tmp[:], uint64(int64(v*1e6-5e7)))
					buf.Write(tmp[:8])
				}
			}
		}
	}
	return buf.Bytes()
}

// setCell overwrites cell (band, row, col) of a band-sequential buffer.
func setCell(buf []byte, dtype raster.DType, rows, cols, band, row, col int, v float64) {
	i := ((band*rows+row)*cols + col) * dtype.Size()
	cell := rastertest.EncodeRef(dtype, v)
	copy(buf[i:i+len(cell)], cell)
}

// rasterSpec describes a fixture raster made with GDAL's GTiff driver.
type rasterSpec struct {
	dtype             raster.DType
	bands, rows, cols int
	gt                *[6]float64 // nil: none
	crs               string      // "" : none
	nodata            *float64    // nil: none
	options           []string    // GTiff creation options
}

// makeRaster writes a GeoTIFF with godal alone (not with the code under
// test) and returns its path.
func makeRaster(t testing.TB, path string, s rasterSpec, data []byte) string {
	t.Helper()
	ds, err := godal.Create(godal.GTiff, path, s.bands, godal.DataType(s.dtype), s.cols, s.rows, godal.CreationOption(s.options...))
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	if s.gt != nil {
		if err := ds.SetGeoTransform(*s.gt); err != nil {
			t.Fatal(err)
		}
	}
	if s.crs != "" {
		sr, err := godal.NewSpatialRef(s.crs)
		if err != nil {
			t.Fatal(err)
		}
		wkt, _ := sr.WKT()
		sr.Close()
		if err := ds.SetProjection(wkt); err != nil {
			t.Fatal(err)
		}
	}
	if s.nodata != nil {
		if err := ds.SetNoData(*s.nodata); err != nil {
			t.Fatal(err)
		}
	}
	if data != nil {
		if err := ds.Write(0, 0, typedSlice(data, s.dtype), s.cols, s.rows, godal.BandInterleaved(), godal.ErrLogger(quietWarnings)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ds.Close(godal.ErrLogger(quietWarnings)); err != nil {
		t.Fatal(err)
	}
	return path
}

// quietWarnings lets GDAL warnings pass (godal's default fails on them).
func quietWarnings(ec godal.ErrorCategory, code int, msg string) error {
	if ec < godal.CE_Failure {
		return nil
	}
	return fmt.Errorf("%s", msg)
}

// gtiff writes a GeoTIFF with a geotransform and GTiff creation options.
func gtiff(t testing.TB, path string, dtype raster.DType, bands, rows, cols int, data []byte, options ...string) string {
	t.Helper()
	gt := [6]float64{1000, 2, 0, 5000, 0, -2}
	return makeRaster(t, path, rasterSpec{dtype: dtype, bands: bands, rows: rows, cols: cols, gt: &gt, options: options}, data)
}

// gdalRead reads a window of the 1-based bands, converted to dtype, through
// godal alone.
func gdalRead(t testing.TB, path string, w raster.Window, bands []int, dtype raster.DType) []byte {
	t.Helper()
	ds, err := godal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	buf := make([]byte, int64(len(bands))*w.Rows*w.Cols*int64(dtype.Size()))
	zero := make([]int, len(bands))
	for i, b := range bands {
		zero[i] = b - 1
	}
	if err := ds.Read(int(w.ColOff), int(w.RowOff), typedSlice(buf, gdalType(dtype)), int(w.Cols), int(w.Rows), godal.Bands(zero...), godal.BandInterleaved()); err != nil {
		t.Fatal(err)
	}
	return buf
}

// gdalReadAll reads every band of a raster in its own type through godal.
func gdalReadAll(t testing.TB, path string) (data []byte, dtype raster.DType, bands, rows, cols int) {
	t.Helper()
	ds, err := godal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st := ds.Structure()
	ds.Close()
	dtype, bands, rows, cols = raster.DType(st.DataType), st.NBands, st.SizeY, st.SizeX
	all := make([]int, bands)
	for i := range all {
		all[i] = i + 1
	}
	return gdalRead(t, path, raster.Window{RowOff: 0, ColOff: 0, Rows: int64(rows), Cols: int64(cols)}, all, dtype), dtype, bands, rows, cols
}

// subWindow cuts window w of the bands (1-based) out of a full
// band-sequential raster.
func subWindow(full []byte, size, rows, cols int, w raster.Window, bands []int) []byte {
	out := make([]byte, 0, int64(len(bands))*w.Rows*w.Cols*int64(size))
	for _, b := range bands {
		for r := w.RowOff; r < w.RowOff+w.Rows; r++ {
			start := ((int64(b-1)*int64(rows)+r)*int64(cols) + w.ColOff) * int64(size)
			out = append(out, full[start:start+w.Cols*int64(size)]...)
		}
	}
	return out
}

// rasterFacts is what GDAL itself reports about a file.
type rasterFacts struct {
	dtype             raster.DType
	bands, rows, cols int
	gt                [6]float64
	hasGT             bool
	nodata            float64
	hasNoData         bool
	overviews         int
	blockRows         int
	blockCols         int
}

func facts(t testing.TB, path string) rasterFacts {
	t.Helper()
	ds, err := godal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	st := ds.Structure()
	f := rasterFacts{dtype: raster.DType(st.DataType), bands: st.NBands, rows: st.SizeY, cols: st.SizeX, blockRows: st.BlockSizeY, blockCols: st.BlockSizeX}
	if gt, err := ds.GeoTransform(godal.ErrLogger(quietWarnings)); err == nil {
		f.gt, f.hasGT = gt, true
	}
	b := ds.Bands()[0]
	f.nodata, f.hasNoData = b.NoData()
	f.overviews = len(b.Overviews())
	for _, other := range ds.Bands()[1:] {
		nd, ok := other.NoData()
		if ok != f.hasNoData || !sameFloat(nd, f.nodata) {
			t.Fatalf("%s: band nodata differs: %v/%v vs %v/%v", path, nd, ok, f.nodata, f.hasNoData)
		}
	}
	return f
}

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

// sameCRS reports whether the raster at path has the CRS that GDAL makes of
// userInput ("EPSG:32633", WKT, PROJ); an empty userInput means none.
func sameCRS(t testing.TB, path, userInput string) bool {
	t.Helper()
	ds, err := godal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	return sameCRSWKT(t, ds.Projection(), userInput)
}

func sameCRSWKT(t testing.TB, wkt, userInput string) bool {
	t.Helper()
	if userInput == "" || wkt == "" {
		return userInput == "" && wkt == ""
	}
	want, err := godal.NewSpatialRef(userInput)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	got, err := godal.NewSpatialRefFromWKT(wkt)
	if err != nil {
		t.Fatalf("the raster's CRS does not parse: %v", err)
	}
	defer got.Close()
	return got.IsSame(want)
}

func validateCOG(t testing.TB, path string) {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", path).CombinedOutput()
	if err != nil {
		t.Fatalf("%s is not a valid COG: %v\n%s", path, err, out)
	}
}

func listDir(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// wantDir fails unless dir holds exactly the names given.
func wantDir(t testing.TB, dir string, names ...string) {
	t.Helper()
	sort.Strings(names)
	if got := listDir(t, dir); strings.Join(got, "|") != strings.Join(names, "|") {
		t.Fatalf("%s holds %q, want %q", dir, got, names)
	}
}

func tmpPath(t testing.TB, name string) string { return filepath.Join(t.TempDir(), name) }

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantStatus fails unless err carries status.
func wantStatus(t testing.TB, err error, status raster.Status, context string) {
	t.Helper()
	if raster.StatusOf(err) != status {
		t.Errorf("%s: got %v (%v), want %v", context, raster.StatusOf(err), err, status)
	}
}

// progressLog records the calls of a ProgressFunc.
type progressLog struct {
	fractions []float64
}

func (p *progressLog) fn(f float64, _ string) bool {
	p.fractions = append(p.fractions, f)
	return true
}

// check fails unless the fractions are in [0, 1], never decrease and end
// at 1.
func (p *progressLog) check(t testing.TB) {
	t.Helper()
	fr := p.fractions
	if len(fr) == 0 {
		t.Fatal("progress was never called")
	}
	for i, f := range fr {
		if f < 0 || f > 1 || math.IsNaN(f) {
			t.Fatalf("progress fraction %v out of [0, 1] (call %d of %v)", f, i, fr)
		}
		if i > 0 && f < fr[i-1] {
			t.Fatalf("progress went back from %v to %v (call %d of %v)", fr[i-1], f, i, fr)
		}
	}
	if fr[len(fr)-1] != 1 {
		t.Fatalf("progress ended at %v, not 1: %v", fr[len(fr)-1], fr)
	}
}

// isolated runs fn in a child test process, so that a crash (a panic on
// another goroutine, a fatal runtime error) fails only this test. In the
// parent it returns the child's combined output and whether fn returned
// nil in a child that exited normally; in the child it runs fn and exits.
func isolated(t *testing.T, name string, fn func() error) (string, bool) {
	t.Helper()
	const env = "CLOUDIO_CORE_TEST_ISOLATED"
	id := t.Name() + "/" + name
	if child := os.Getenv(env); child != "" {
		if child == id {
			if err := fn(); err != nil {
				fmt.Printf("ISOLATED-FAIL: %v\n", err)
				os.Exit(3)
			}
			fmt.Println("ISOLATED-OK")
			os.Exit(0)
		}
		return "", true // another case's child
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	top, _, _ := strings.Cut(t.Name(), "/")
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+top+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+id)
	out, err := cmd.CombinedOutput()
	ok := err == nil && strings.Contains(string(out), "ISOLATED-OK")
	return string(out), ok
}

// firstLines shortens a child's output for a failure message.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func TestMain(m *testing.M) {
	gdalc.Init()
	// GDAL >= 3.10 refuses "MEM:::" names unless this is YES: the tests
	// must pass there too, so they run with it off (a no-op on 3.6).
	gdalc.SetConfig("GDAL_MEM_ENABLE_OPEN", "NO")
	os.Exit(m.Run())
}

// readToEnd takes every tile and returns the error that stopped it (nil at
// the end); it fails the test if that takes more than 30 s.
func readToEnd(t *testing.T, r *TileReader) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, r.BufferLen())
		for {
			if _, ok, err := r.Next(buf); err != nil || !ok {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("reading hangs")
		return nil
	}
}

// eachTile hands every tile of r to check, and fails the test on an error.
func eachTile(t *testing.T, r *TileReader, check func(Tile, []byte)) {
	t.Helper()
	buf := make([]byte, r.BufferLen())
	for {
		tile, ok, err := r.Next(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		check(tile, buf)
	}
}

// noData is a test's nodata value (nil: none) as a writer takes it.
func noData(v *float64) *raster.NoData {
	if v == nil {
		return nil
	}
	n := raster.NoDataFloat(*v)
	return &n
}
