package core

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/raster/rastertest"
)

// bandStats are a band's statistics: as a file records them, or as GDAL
// computes them.
type bandStats struct{ min, max, mean, std, validPercent float64 }

// recorded reads the STATISTICS_* items of every band of path.
func recorded(t *testing.T, path string) []*bandStats {
	t.Helper()
	d, err := Describe(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*bandStats
	for _, b := range d.BandInfo {
		s := b.Statistics
		if s == nil {
			out = append(out, nil)
			continue
		}
		v := func(n *Number) float64 {
			if n == nil {
				return math.NaN()
			}
			return float64(*n)
		}
		out = append(out, &bandStats{v(s.Minimum), v(s.Maximum), v(s.Mean), v(s.StdDev), v(s.ValidPercent)})
	}
	return out
}

// gdalComputes is what GDAL's ComputeStatistics says of a file that records
// none (gdalinfo -stats, on a copy).
func gdalComputes(t *testing.T, path string) []bandStats {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "copy.tif")
	if err := os.WriteFile(cp, readFile(t, path), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("gdalinfo", "-json", "-stats", cp).Output()
	if err != nil {
		t.Fatalf("gdalinfo -stats: %v", err)
	}
	var g struct {
		Bands []struct{ Metadata map[string]map[string]string }
	}
	if err := json.Unmarshal(out, &g); err != nil {
		t.Fatal(err)
	}
	var s []bandStats
	for _, b := range g.Bands {
		var v [5]float64
		for i, key := range []string{"MINIMUM", "MAXIMUM", "MEAN", "STDDEV", "VALID_PERCENT"} {
			if v[i], err = strconv.ParseFloat(b.Metadata[""]["STATISTICS_"+key], 64); err != nil {
				t.Fatalf("gdalinfo -stats: STATISTICS_%s: %v", key, err)
			}
		}
		s = append(s, bandStats{v[0], v[1], v[2], v[3], v[4]})
	}
	return s
}

func closeTo(a, b, rel float64) bool {
	return a == b || math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))
}

// sameStats: min, max and the valid share exact, mean and deviation to
// GDAL's printing precision and its own summation's rounding.
func sameStats(got *bandStats, want bandStats) bool {
	return got != nil && got.min == want.min && got.max == want.max && closeTo(got.mean, want.mean, 1e-10) &&
		closeTo(got.std, want.std, 1e-8) && got.validPercent == want.validPercent
}

// withoutStatistics writes the same pixels with STATISTICS=NO, for GDAL to
// compute.
func withoutStatistics(t *testing.T, write func(dst string, o COGOptions) error) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "plain.tif")
	if err := write(dst, COGOptions{Options: []string{"statistics=no"}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range recorded(t, dst) {
		if s != nil {
			t.Fatalf("STATISTICS=NO wrote statistics %+v", *s)
		}
	}
	return dst
}

func checkAgainstGDAL(t *testing.T, what string, write func(dst string, o COGOptions) error) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "stats.tif")
	if err := write(dst, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	validateCOG(t, dst)
	got, want := recorded(t, dst), gdalComputes(t, withoutStatistics(t, write))
	if len(got) != len(want) {
		t.Fatalf("%s: %d bands, GDAL %d", what, len(got), len(want))
	}
	for b := range want {
		if !sameStats(got[b], want[b]) {
			t.Errorf("%s band %d: recorded %+v, GDAL computes %+v", what, b+1, got[b], want[b])
		}
	}
}

// withNoData marks a block of cells and a scatter of others as nodata.
func withNoData(data []byte, dtype raster.DType, bands, rows, cols int, nodata float64) []byte {
	rng := rand.New(rand.NewSource(7))
	for b := 0; b < bands; b++ {
		for r := 0; r < rows/3; r++ {
			for c := 0; c < cols/4; c++ {
				setCell(data, dtype, rows, cols, b, r, c, nodata)
			}
		}
		for i := 0; i < rows*cols/50; i++ {
			setCell(data, dtype, rows, cols, b, rng.Intn(rows), rng.Intn(cols), nodata)
		}
	}
	return data
}

func TestStatisticsOfEveryWriterAgreeWithGDAL(t *testing.T) {
	const rows, cols = 700, 900
	for _, c := range []struct {
		dtype  raster.DType
		bands  int
		nodata *float64
	}{
		{raster.Float32, 1, ptr(-9999.0)}, {raster.Float64, 2, nil}, {raster.Int16, 3, ptr(-32768.0)}, {raster.Byte, 1, ptr(0.0)}, {raster.UInt16, 2, nil},
	} {
		data := cells(c.dtype, c.bands, rows, cols, 3)
		if c.nodata != nil {
			data = withNoData(data, c.dtype, c.bands, rows, cols, *c.nodata)
		}
		g := raster.Georef{NoData: noData(c.nodata)}
		name := c.dtype.String()
		checkAgainstGDAL(t, name+" buffer", func(dst string, o COGOptions) error {
			return WriteCOGBuffer(data, c.dtype, int64(c.bands), rows, cols, g, dst, o)
		})
		src := filepath.Join(t.TempDir(), "src.tif")
		if err := WriteCOGBuffer(data, c.dtype, int64(c.bands), rows, cols, g, src, COGOptions{Options: []string{"STATISTICS=NO"}}); err != nil {
			t.Fatal(err)
		}
		checkAgainstGDAL(t, name+" file", func(dst string, o COGOptions) error { return WriteCOG(src, dst, o) })
		checkAgainstGDAL(t, name+" tile writer", func(dst string, o COGOptions) error {
			return writeShuffledTiles(dst, data, WriterSpec{Rows: rows, Cols: cols, Bands: int64(c.bands), DType: c.dtype, Georef: g}, o, 128)
		})
	}
}

// writeShuffledTiles writes data through a TileWriter in tiles of side in
// random order.
func writeShuffledTiles(dst string, data []byte, spec WriterSpec, o COGOptions, side int64) error {
	w, err := CreateTileWriter(dst, spec, o)
	if err != nil {
		return err
	}
	tiling, _ := raster.NewTiling(spec.Rows, spec.Cols, side, side, 0)
	order := rand.New(rand.NewSource(3)).Perm(int(tiling.Len()))
	for _, i := range order {
		win := tiling.At(uint64(i))
		bands := make([]int, spec.Bands)
		for b := range bands {
			bands[b] = b + 1
		}
		if err := w.Write(win, subWindow(data, spec.DType.Size(), int(spec.Rows), int(spec.Cols), win, bands)); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close(nil)
}

// Windows that overlap, or that leave cells unwritten, still give the
// statistics of the file: the staging file is read when the windows cannot
// tell, and cells never written count as 0, or as nodata when there is one.
func TestTileWriterStatisticsOfPartialAndOverlappingWrites(t *testing.T) {
	const rows, cols = 300, 400
	data := cells(raster.Float32, 1, rows, cols, 4)
	for name, c := range map[string]struct {
		windows []raster.Window
		nodata  *float64
	}{
		"overlapping":         {[]raster.Window{{RowOff: 0, ColOff: 0, Rows: 300, Cols: 400}, {RowOff: 10, ColOff: 20, Rows: 100, Cols: 100}, {RowOff: 50, ColOff: 50, Rows: 30, Cols: 300}}, nil},
		"gaps, no nodata":     {[]raster.Window{{RowOff: 0, ColOff: 0, Rows: 100, Cols: 400}, {RowOff: 200, ColOff: 0, Rows: 100, Cols: 400}}, nil},
		"gaps with nodata":    {[]raster.Window{{RowOff: 0, ColOff: 0, Rows: 100, Cols: 400}, {RowOff: 200, ColOff: 0, Rows: 100, Cols: 400}, {RowOff: 100, ColOff: 0, Rows: 100, Cols: 100}}, ptr(-1.0)},
		"ragged, no overlaps": {[]raster.Window{{RowOff: 0, ColOff: 0, Rows: 7, Cols: 400}, {RowOff: 7, ColOff: 0, Rows: 293, Cols: 13}, {RowOff: 7, ColOff: 13, Rows: 293, Cols: 387}}, nil},
	} {
		write := func(dst string, o COGOptions) error {
			w, err := CreateTileWriter(dst, WriterSpec{Rows: rows, Cols: cols, Bands: 1, DType: raster.Float32, Georef: raster.Georef{NoData: noData(c.nodata)}}, o)
			if err != nil {
				return err
			}
			for k, win := range c.windows {
				tile := subWindow(data, 4, rows, cols, win, []int{1})
				for i := range tile { // each write its own values: the last one wins
					tile[i] ^= byte(k)
				}
				if err := w.Write(win, tile); err != nil {
					return err
				}
			}
			return w.Close(nil)
		}
		checkAgainstGDAL(t, name, write)
	}
}

// A source's mask excludes cells as nodata does.
func TestWriteCOGStatisticsExcludeMasks(t *testing.T) {
	dir := t.TempDir()
	const rows, cols = 400, 500
	data := cells(raster.Float32, 1, rows, cols, 8)
	masked := filepath.Join(dir, "masked.tif")
	// GDAL's -mask from band 1 marks cells of value 0 invalid: set a block of them.
	zeroed := append([]byte(nil), data...)
	for r := 100; r < 250; r++ {
		for c := 0; c < 300; c++ {
			setCell(zeroed, raster.Float32, rows, cols, 0, r, c, 0)
		}
	}
	src := gtiff(t, filepath.Join(dir, "zeroed.tif"), raster.Float32, 1, rows, cols, zeroed, "TILED=YES")
	runTool(t, "gdal_translate", "-q", "-mask", "1", src, masked)
	dst := filepath.Join(dir, "out.tif")
	if err := WriteCOG(masked, dst, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	got := recorded(t, dst)[0]
	var n int
	var sum, lo, hi float64 = 0, math.Inf(1), math.Inf(-1)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			if r >= 100 && r < 250 && c < 300 {
				continue
			}
			v := rastertest.DecodeRef(data, raster.Float32, r*cols+c)
			n++
			sum += v
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	printed := func(format string, v float64) float64 {
		p, _ := strconv.ParseFloat(fmt.Sprintf(format, v), 64)
		return p
	}
	pct := printed("%.4g", 100*float64(n)/(rows*cols))
	if got == nil || got.min != printed("%.14g", lo) || got.max != printed("%.14g", hi) || !closeTo(got.mean, sum/float64(n), 1e-10) || got.validPercent != pct {
		t.Errorf("masked statistics %+v; want min %v max %v mean %v over %d cells", got, lo, hi, sum/float64(n), n)
	}
}

func TestStatisticsOption(t *testing.T) {
	dir := t.TempDir()
	data := cells(raster.Byte, 1, 20, 20, 1)
	for _, bad := range []string{"STATISTICS=maybe", "statistics=AUTO"} {
		err := WriteCOGBuffer(data, raster.Byte, 1, 20, 20, raster.Georef{}, filepath.Join(dir, "x.tif"), COGOptions{Options: []string{bad}})
		wantStatus(t, err, raster.StatusInvalidArgument, bad)
		_, err = CreateTileWriter(filepath.Join(dir, "x.tif"), WriterSpec{Rows: 20, Cols: 20, Bands: 1, DType: raster.Byte}, COGOptions{Options: []string{bad}})
		wantStatus(t, err, raster.StatusInvalidArgument, bad)
	}
	wantDir(t, dir)
	for _, on := range []string{"STATISTICS=YES", "Statistics=on"} {
		dst := filepath.Join(dir, "on.tif")
		if err := WriteCOGBuffer(data, raster.Byte, 1, 20, 20, raster.Georef{}, dst, COGOptions{Options: []string{on}}); err != nil || recorded(t, dst)[0] == nil {
			t.Errorf("%s: %v", on, err)
		}
	}
}

func TestDisjointArea(t *testing.T) {
	for _, c := range []struct {
		windows [][4]uint32
		area    uint64
		ok      bool
	}{
		{nil, 0, true},
		{[][4]uint32{{0, 0, 2, 3}, {2, 0, 2, 3}, {0, 3, 4, 1}}, 16, true},
		{[][4]uint32{{0, 0, 2, 3}, {1, 2, 2, 3}}, 0, false},
		{[][4]uint32{{0, 0, 2, 2}, {0, 0, 2, 2}}, 0, false},
		{[][4]uint32{{5, 5, 1, 1}, {0, 0, 5, 5}, {6, 6, 1, 1}}, 27, true},
		{[][4]uint32{{1<<31 - 10, 0, 10, 1}, {0, 0, 1<<31 - 10, 1}}, 1 << 31, true},
	} {
		if area, ok := disjointArea(c.windows); area != c.area || ok != c.ok {
			t.Errorf("%v: got %d, %v; want %d, %v", c.windows, area, ok, c.area, c.ok)
		}
	}
}

// Statistics of the types issue 11 added to the core: signed bytes (GDAL
// 3.6's Byte bands marked SIGNEDBYTE) and 64-bit integers whose nodata a
// double cannot hold (2^63 - 1 as a double is 2^63, which no Int64 cell
// equals): those cells are excluded, as GDAL excludes them.
func TestStatisticsOfSignedBytesAndExact64BitNoData(t *testing.T) {
	const rows, cols = 300, 400
	signed := make([]byte, rows*cols)
	for i := range signed {
		signed[i] = byte(int8(i%251 - 125))
	}
	signed = withNoData(signed, raster.Byte, 1, rows, cols, 0x80) // -128
	minus128 := raster.NoDataFloat(-128)
	g := raster.Georef{NoData: &minus128}
	checkAgainstGDAL(t, "Int8 buffer", func(dst string, o COGOptions) error {
		return WriteCOGBuffer(signed, raster.Int8, 1, rows, cols, g, dst, o)
	})
	src := filepath.Join(t.TempDir(), "int8.tif")
	if err := WriteCOGBuffer(signed, raster.Int8, 1, rows, cols, g, src, COGOptions{Options: []string{"STATISTICS=NO"}}); err != nil {
		t.Fatal(err)
	}
	checkAgainstGDAL(t, "Int8 file", func(dst string, o COGOptions) error { return WriteCOG(src, dst, o) })
	checkAgainstGDAL(t, "Int8 tile writer", func(dst string, o COGOptions) error {
		return writeShuffledTiles(dst, signed, WriterSpec{Rows: rows, Cols: cols, Bands: 1, DType: raster.Int8, Georef: g}, o, 128)
	})

	wide := cells(raster.Int64, 1, rows, cols, 4)
	var valid int
	for i := 0; i < rows*cols; i++ {
		if i%7 == 0 {
			binary.LittleEndian.PutUint64(wide[8*i:], math.MaxInt64)
		} else {
			valid++
		}
	}
	exact := COGOptions{Options: []string{"NODATA=9223372036854775807"}}
	buffered := filepath.Join(t.TempDir(), "int64.tif")
	if err := WriteCOGBuffer(wide, raster.Int64, 1, rows, cols, raster.Georef{}, buffered, exact); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), "copy.tif")
	if err := WriteCOG(buffered, copied, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	want := strconv.FormatFloat(100*float64(valid)/(rows*cols), 'g', 4, 64)
	for _, path := range []string{buffered, copied} {
		got := recorded(t, path)[0]
		if pct, _ := strconv.ParseFloat(want, 64); got == nil || got.validPercent != pct || got.max >= 1e18 {
			t.Errorf("%s: %+v, want %s%% valid and no cell of the nodata value", filepath.Base(path), got, want)
		}
	}
}
