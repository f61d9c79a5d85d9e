package core

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/raster/rastertest"
)

// describedSource is a tiled GeoTIFF made by GDAL itself (godal and
// GDALTranslate from an in-memory raster, not the code under test) whose
// bands carry everything a writer should copy; bands are Undefined unless
// interps say otherwise.
func describedSource(t *testing.T, path string, dtype raster.DType, bands, rows, cols int, interps []godal.ColorInterp) string {
	t.Helper()
	ds := memRaster(t, dtype, bands, rows, cols, interps)
	defer ds.Close()
	if err := ds.Write(0, 0, typedSlice(cells(dtype, bands, rows, cols, 9), dtype), cols, rows, godal.BandInterleaved()); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"TITLE": "slope of the Alps", "SOURCE": "SRTM", "STATISTICS_MINIMUM": "3"} {
		if err := ds.SetMetadata(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range ds.Bands() {
		if b.ColorInterp() == godal.CIPalette {
			if err := b.SetColorTable(godal.ColorTable{PaletteInterp: godal.RGBPalette, Entries: [][4]int16{{0, 0, 0, 255}, {10, 200, 30, 255}, {255, 255, 0, 255}}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.SetDescription("band " + string(rune('A'+i))); err != nil {
			t.Fatal(err)
		}
		if err := setUnitType(b, "metre"); err != nil {
			t.Fatal(err)
		}
		if err := b.SetScaleOffset(0.5, 10); err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{"SENSOR": "band" + string(rune('1'+i)), "STATISTICS_MEAN": "7"} {
			if err := b.SetMetadata(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := ds.Translate(path, []string{"-of", "GTiff", "-co", "TILED=YES"})
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// memRaster is an in-memory raster whose bands have these roles
// (Undefined for the rest).
func memRaster(t *testing.T, dtype raster.DType, bands, rows, cols int, interps []godal.ColorInterp) *godal.Dataset {
	t.Helper()
	ds, err := godal.Create(godal.Memory, "", bands, godal.DataType(dtype), cols, rows)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range ds.Bands() {
		if i < len(interps) {
			if err := b.SetColorInterp(interps[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ds
}

// gdalRoles are the band roles GDAL's own COG driver writes for a raster
// whose bands have these roles: GeoTIFF cannot say "Undefined" for band 1
// unless a Byte raster has 3 or 4 bands, which it would otherwise read as
// RGB(A).
func gdalRoles(t *testing.T, dtype raster.DType, bands int, interps []godal.ColorInterp) []godal.ColorInterp {
	t.Helper()
	ds := memRaster(t, dtype, bands, 8, 8, interps)
	defer ds.Close()
	p := filepath.Join(t.TempDir(), "roles.tif")
	out, err := ds.Translate(p, []string{"-of", "COG"})
	if err != nil {
		t.Fatal(err)
	}
	out.Close()
	return readBandFacts(t, p).interp
}

// bandFacts is what GDAL reads back of every band of a raster.
type bandFacts struct {
	interp       []godal.ColorInterp
	maskFlags    []int
	desc, unit   []string
	scale, off   []float64
	table        []godal.ColorTable
	meta         []map[string]string
	datasetMeta  map[string]string
	photometrics string
}

func readBandFacts(t *testing.T, path string) bandFacts {
	t.Helper()
	ds, err := godal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	var f bandFacts
	for _, b := range ds.Bands() {
		st := b.Structure()
		f.interp = append(f.interp, b.ColorInterp())
		f.maskFlags = append(f.maskFlags, b.MaskFlags())
		f.desc = append(f.desc, b.Description())
		f.unit = append(f.unit, unitType(b))
		f.scale, f.off = append(f.scale, st.Scale), append(f.off, st.Offset)
		f.table = append(f.table, b.ColorTable())
		f.meta = append(f.meta, b.Metadatas())
	}
	f.datasetMeta = ds.Metadatas()
	return f
}

func writeWhole(t *testing.T, dst string, data []byte, dtype raster.DType, bands, rows, cols int, o COGOptions, src string, bandMap []int, copy CopyFlags) error {
	t.Helper()
	w, err := CreateTileWriter(dst, WriterSpec{Rows: int64(rows), Cols: int64(cols), Bands: int64(bands), DType: dtype}, o)
	if err != nil {
		return err
	}
	if src != "" {
		if err := w.SetSource(src, bandMap, copy); err != nil {
			w.Abort()
			return err
		}
	}
	writeTiles(t, w, data, dtype, bands, rows, cols, mustTiling(t, rows, cols, 200), 1, nil)
	return w.Close(nil)
}

// band1s maps n output bands to source band 1.
func band1s(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

func mustTiling(t *testing.T, rows, cols int, tile int64) *raster.Tiling {
	t.Helper()
	tl, err := raster.NewTiling(int64(rows), int64(cols), tile, tile, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// A 4-band Byte raster of Undefined bands stays that: no RGB, no alpha
// band, no mask (the staging GTiff made it RGBA, and 1,398 cells of a
// sample transparent). Band roles are copied whatever the copy flags.
func TestTileWriterKeepsBandRoles(t *testing.T) {
	dir := t.TempDir()
	const rows, cols = 300, 260
	data := cells(raster.Byte, 4, rows, cols, 3)
	src := describedSource(t, filepath.Join(dir, "src.tif"), raster.Byte, 4, rows, cols, nil)
	undefined := []godal.ColorInterp{godal.CIUndefined, godal.CIUndefined, godal.CIUndefined, godal.CIUndefined}
	if f := readBandFacts(t, src); !reflect.DeepEqual(f.interp, undefined) || !reflect.DeepEqual(gdalRoles(t, raster.Byte, 4, nil), undefined) {
		t.Fatalf("fixture: %v", f.interp)
	}
	for _, c := range []struct {
		name string
		src  string
		copy CopyFlags
	}{{"no source", "", 0}, {"source, no copy", src, 0}, {"source, metadata", src, CopyMetadata}} {
		dst := filepath.Join(dir, "out.tif")
		if err := writeWhole(t, dst, data, raster.Byte, 4, rows, cols, COGOptions{}, c.src, seq(4), c.copy); err != nil {
			t.Fatal(err)
		}
		validateCOG(t, dst)
		f := readBandFacts(t, dst)
		if !reflect.DeepEqual(f.interp, undefined) || !reflect.DeepEqual(f.maskFlags, []int{1, 1, 1, 1}) {
			t.Errorf("%s: colour interpretation %v, mask flags %v", c.name, f.interp, f.maskFlags)
		}
		if got, _, _, _, _ := gdalReadAll(t, dst); !bytes.Equal(got, data) {
			t.Errorf("%s: pixels differ", c.name)
		}
	}
	// an RGBA source stays RGBA, with its alpha band and mask flags
	rgba := describedSource(t, filepath.Join(dir, "rgba.tif"), raster.Byte, 4, rows, cols,
		[]godal.ColorInterp{godal.CIRed, godal.CIGreen, godal.CIBlue, godal.CIAlpha})
	dst := filepath.Join(dir, "rgba_out.tif")
	if err := writeWhole(t, dst, data, raster.Byte, 4, rows, cols, COGOptions{}, rgba, seq(4), 0); err != nil {
		t.Fatal(err)
	}
	got, want := readBandFacts(t, dst), readBandFacts(t, rgba)
	if !reflect.DeepEqual(got.interp, want.interp) || !reflect.DeepEqual(got.maskFlags, want.maskFlags) {
		t.Errorf("RGBA: %v %v, want %v %v", got.interp, got.maskFlags, want.interp, want.maskFlags)
	}
	// bands not matched (a func that makes other bands): no roles
	if err := writeWhole(t, dst, data, raster.Byte, 4, rows, cols, COGOptions{}, rgba, nil, CopyMetadata); err != nil {
		t.Fatal(err)
	}
	if got := readBandFacts(t, dst); !reflect.DeepEqual(got.interp, undefined) || got.datasetMeta["TITLE"] == "" {
		t.Errorf("unmatched bands: %v, dataset metadata %v", got.interp, got.datasetMeta)
	}
}

// Band descriptions, units, scale/offset, band and dataset metadata and the
// colour table are copied with CopyMetadata (not the source's statistics);
// a palette without its table becomes Undefined, and so does one beside
// other bands (GeoTIFF would make them alpha bands that mask cells).
func TestTileWriterCopiesMetadata(t *testing.T) {
	dir := t.TempDir()
	const rows, cols = 200, 150
	src := describedSource(t, filepath.Join(dir, "src.tif"), raster.Int16, 2, rows, cols, []godal.ColorInterp{godal.CIGray, godal.CIUndefined})
	data := cells(raster.Int16, 2, rows, cols, 4)
	want := readBandFacts(t, src)
	dst := filepath.Join(dir, "copied.tif")
	// Without statistics of its own, the output shows none: the source's
	// describe other cells.
	if err := writeWhole(t, dst, data, raster.Int16, 2, rows, cols, COGOptions{Options: []string{"STATISTICS=NO"}}, src, seq(2), CopyMetadata); err != nil {
		t.Fatal(err)
	}
	validateCOG(t, dst)
	got := readBandFacts(t, dst)
	for i := 0; i < 2; i++ {
		if got.interp[i] != want.interp[i] || got.desc[i] != want.desc[i] || got.unit[i] != "metre" || got.scale[i] != 0.5 || got.off[i] != 10 {
			t.Errorf("band %d: %v %q %q %v %v, want %v %q metre 0.5 10", i+1, got.interp[i], got.desc[i], got.unit[i], got.scale[i], got.off[i], want.interp[i], want.desc[i])
		}
		if got.meta[i]["SENSOR"] != want.meta[i]["SENSOR"] || got.meta[i]["STATISTICS_MEAN"] != "" {
			t.Errorf("band %d metadata %v", i+1, got.meta[i])
		}
	}
	if got.datasetMeta["TITLE"] != "slope of the Alps" || got.datasetMeta["SOURCE"] != "SRTM" || got.datasetMeta["STATISTICS_MINIMUM"] != "" ||
		got.datasetMeta["OVERVIEW_RESAMPLING"] != "NEAREST" {
		t.Errorf("dataset metadata %v", got.datasetMeta)
	}
	// a band map: output band 1 is source band 2
	dst = filepath.Join(dir, "mapped.tif")
	if err := writeWhole(t, dst, data[:2*rows*cols], raster.Int16, 1, rows, cols, COGOptions{}, src, []int{2}, CopyMetadata); err != nil {
		t.Fatal(err)
	}
	if f := readBandFacts(t, dst); f.desc[0] != "band B" || f.meta[0]["SENSOR"] != "band2" || f.interp[0] != gdalRoles(t, raster.Int16, 1, nil)[0] {
		t.Errorf("band map: %v %q %v", f.interp[0], f.desc[0], f.meta[0])
	}
	// copying off: band roles only
	dst = filepath.Join(dir, "plain.tif")
	if err := writeWhole(t, dst, data, raster.Int16, 2, rows, cols, COGOptions{}, src, seq(2), 0); err != nil {
		t.Fatal(err)
	}
	f := readBandFacts(t, dst)
	if !reflect.DeepEqual(f.interp, want.interp) || f.desc[0] != "" || f.unit[0] != "" || f.scale[0] != 1 || f.meta[0]["SENSOR"] != "" || f.datasetMeta["TITLE"] != "" {
		t.Errorf("copying off: %+v", f)
	}

	// a palette raster keeps its colour table
	pal := describedSource(t, filepath.Join(dir, "pal.tif"), raster.Byte, 1, rows, cols, []godal.ColorInterp{godal.CIPalette})
	classes := cells(raster.Byte, 1, rows, cols, 2)
	dst = filepath.Join(dir, "pal_out.tif")
	if err := writeWhole(t, dst, classes, raster.Byte, 1, rows, cols, COGOptions{}, pal, seq(1), CopyMetadata); err != nil {
		t.Fatal(err)
	}
	if got, want := readBandFacts(t, dst), readBandFacts(t, pal); got.interp[0] != godal.CIPalette || !reflect.DeepEqual(got.table, want.table) {
		t.Errorf("palette: %v %v, want %v", got.interp, got.table[0].Entries[:3], want.table[0].Entries[:3])
	}
	for _, c := range []struct {
		name  string
		dtype raster.DType
		bands int
		copy  CopyFlags
	}{{"no copy", raster.Byte, 1, 0}, {"Float32", raster.Float32, 1, CopyMetadata}, {"beside another band", raster.Byte, 2, CopyMetadata}} {
		dst := filepath.Join(dir, "pal_"+c.name+".tif")
		if err := writeWhole(t, dst, cells(c.dtype, c.bands, rows, cols, 1), c.dtype, c.bands, rows, cols, COGOptions{}, pal, band1s(c.bands), c.copy); err == nil {
			f, want := readBandFacts(t, dst), gdalRoles(t, c.dtype, c.bands, nil)
			if !reflect.DeepEqual(f.interp, want) || f.maskFlags[len(f.maskFlags)-1] != 1 {
				t.Errorf("palette, %s: %v, mask flags %v; want %v", c.name, f.interp, f.maskFlags, want)
			}
		} else {
			t.Errorf("palette, %s: %v", c.name, err)
		}
	}
}

// maskedSource is src with an internal per-dataset mask: cells where
// (row + col) % 7 == 0 or inside a block are masked.
func maskedSource(t *testing.T, path string, dtype raster.DType, bands, rows, cols int) (string, []byte) {
	t.Helper()
	describedSource(t, path, dtype, bands, rows, cols, nil)
	ds, err := godal.Open(path, godal.Update())
	if err != nil {
		t.Fatal(err)
	}
	m, err := ds.CreateMaskBand(gmfPerDataset, godal.ConfigOption("GDAL_TIFF_INTERNAL_MASK=YES"))
	if err != nil {
		t.Fatal(err)
	}
	mask := make([]byte, rows*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			if (r+c)%7 != 0 && !(r > 40 && r < 90 && c > 10 && c < 130) {
				mask[r*cols+c] = 255
			}
		}
	}
	if err := m.Write(0, 0, mask, cols, rows); err != nil {
		t.Fatal(err)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	return path, mask
}

// readMask is band 1's GDAL mask (0 / 255) and mask flags.
func readMask(t *testing.T, path string) ([]byte, int) {
	t.Helper()
	return gdalMasks(t, path, []int{1}), readBandFacts(t, path).maskFlags[0]
}

// A per-dataset mask of the source travels to the output (masked cells
// stay masked, instead of becoming valid data); explicit masks are written
// as nodata when the output has one, else as the output's mask.
func TestTileWriterMasks(t *testing.T) {
	dir := t.TempDir()
	const rows, cols = 230, 310
	src, srcMask := maskedSource(t, filepath.Join(dir, "src.tif"), raster.Int16, 2, rows, cols)
	data := cells(raster.Int16, 2, rows, cols, 5)
	dst := filepath.Join(dir, "copied.tif")
	if err := writeWhole(t, dst, data, raster.Int16, 2, rows, cols, COGOptions{}, src, nil, CopyMask); err != nil {
		t.Fatal(err)
	}
	validateCOG(t, dst)
	if got, flags := readMask(t, dst); flags != gmfPerDataset || !bytes.Equal(got, srcMask) {
		t.Errorf("copied mask: flags %d, equal %v", flags, bytes.Equal(got, srcMask))
	}
	// no copy: no mask
	dst = filepath.Join(dir, "nocopy.tif")
	if err := writeWhole(t, dst, data, raster.Int16, 2, rows, cols, COGOptions{}, src, nil, CopyMetadata); err != nil {
		t.Fatal(err)
	}
	if _, flags := readMask(t, dst); flags != 1 {
		t.Errorf("mask appeared without CopyMask: flags %d", flags)
	}

	// explicit masks: a window's cells with (r*c) % 5 == 0 masked in both bands
	explicit := func(win raster.Window) []byte {
		m := make([]byte, 2*win.Rows*win.Cols)
		for i := range m {
			cell := int64(i) % (win.Rows * win.Cols)
			r, c := win.RowOff+cell/win.Cols, win.ColOff+cell%win.Cols
			if (r*c)%5 != 0 {
				m[i] = 1
			}
		}
		return m
	}
	for _, nodata := range []*float64{nil, ptr(-32768)} {
		dst := filepath.Join(dir, "explicit.tif")
		w, err := CreateTileWriter(dst, WriterSpec{Rows: rows, Cols: cols, Bands: 2, DType: raster.Int16, Georef: raster.Georef{NoData: noData(nodata)}}, COGOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tiling := mustTiling(t, rows, cols, 100)
		for i := uint64(0); i < tiling.Len(); i++ {
			win := tiling.At(i)
			buf := subWindow(data, 2, rows, cols, win, seq(2))
			before := append([]byte(nil), buf...)
			var mask []byte
			if i%2 == 1 { // every other window without a mask: valid
				mask = explicit(win)
			}
			if err := w.WriteMasked(win, buf, mask); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, before) {
				t.Fatal("the caller's buffer changed")
			}
		}
		if err := w.Close(nil); err != nil {
			t.Fatal(err)
		}
		got, _, _, _, _ := gdalReadAll(t, dst)
		mask, flags := readMask(t, dst)
		for i := uint64(0); i < tiling.Len(); i++ {
			win := tiling.At(i)
			for r := win.RowOff; r < win.RowOff+win.Rows; r++ {
				for c := win.ColOff; c < win.ColOff+win.Cols; c++ {
					masked := i%2 == 1 && (r*c)%5 == 0
					cell := int(r*cols + c)
					v := rastertest.DecodeRef(got, raster.Int16, cell)
					switch {
					case nodata != nil && masked && v != -32768:
						t.Fatalf("nodata: masked cell (%d, %d) holds %v", r, c, v)
					case nodata != nil && !masked && v != rastertest.DecodeRef(data, raster.Int16, cell):
						t.Fatalf("nodata: cell (%d, %d) changed", r, c)
					case nodata == nil && (mask[cell] == 0) != masked:
						t.Fatalf("mask: cell (%d, %d) masked %v, want %v", r, c, mask[cell] == 0, masked)
					}
				}
			}
		}
		if wantFlags := map[bool]int{true: 8, false: gmfPerDataset}[nodata != nil]; flags != wantFlags {
			t.Errorf("nodata %v: mask flags %d, want %d", nodata, flags, wantFlags)
		}
	}

	// without nodata, bands masked differently cannot be told apart
	w, err := CreateTileWriter(filepath.Join(dir, "differ.tif"), WriterSpec{Rows: 4, Cols: 4, Bands: 2, DType: raster.Byte}, COGOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mask := bytes.Repeat([]byte{255}, 32)
	mask[3] = 0
	wantStatus(t, w.WriteMasked(raster.Window{Rows: 4, Cols: 4}, make([]byte, 32), mask), raster.StatusInvalidArgument, "bands masked differently")
	wantStatus(t, w.WriteMasked(raster.Window{Rows: 4, Cols: 4}, make([]byte, 32), mask[:5]), raster.StatusInvalidArgument, "short mask")
	w.Abort()
}

// No writer replaces its own source, however the destination names it.
func TestSameSourceRule(t *testing.T) {
	dir := t.TempDir()
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Byte, 1, 40, 40, cells(raster.Byte, 1, 40, 40, 1))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(src, filepath.Join(dir, "link.tif")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(src, filepath.Join(dir, "hard.tif")); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, src)
	for _, dst := range []string{src, "./src.tif", "sub/../src.tif", "link.tif", "dirlink/src.tif", "hard.tif", "file://" + src, dir + "//src.tif"} {
		wantStatus(t, WriteCOG(src, dst, COGOptions{}), raster.StatusInvalidArgument, "WriteCOG "+dst)
		wantStatus(t, WriteCOG("link.tif", dst, COGOptions{}), raster.StatusInvalidArgument, "WriteCOG from the link "+dst)
		wantStatus(t, WriteZarr(src, dst, ZarrOptions{}), raster.StatusInvalidArgument, "WriteZarr "+dst)
		w, err := CreateTileWriter(dst, WriterSpec{Rows: 40, Cols: 40, Bands: 1, DType: raster.Byte}, COGOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, w.SetSource(src, nil, 0), raster.StatusInvalidArgument, "SetSource "+dst)
		wantStatus(t, w.SetSource("file://"+filepath.Join(dir, "sub", "..", "src.tif"), nil, CopyMetadata), raster.StatusInvalidArgument, "SetSource file:// "+dst)
		w.Abort()
	}
	if !bytes.Equal(readFile(t, src), before) {
		t.Fatal("the source changed")
	}
	wantDir(t, dir, "dirlink", "hard.tif", "link.tif", "src.tif", "sub")
	// a source given after a write, two sources copied from
	w, err := CreateTileWriter(filepath.Join(dir, "o.tif"), WriterSpec{Rows: 40, Cols: 40, Bands: 1, DType: raster.Byte}, COGOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetSource(src, nil, CopyMetadata); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, w.SetSource(src, nil, CopyMask), raster.StatusInvalidArgument, "a second copied source")
	wantStatus(t, w.SetSource(src, []int{1}, 0), raster.StatusOK, "a second source, not copied")
	wantStatus(t, w.SetSource(src, nil, 4), raster.StatusInvalidArgument, "unknown flags")
	wantStatus(t, w.SetSource(filepath.Join(dir, "missing.tif"), nil, 0), raster.StatusNotFound, "missing source")
	if err := w.Write(raster.Window{Rows: 40, Cols: 40}, make([]byte, 1600)); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, w.SetSource(src, nil, 0), raster.StatusInvalidArgument, "after a write")
	w.Abort()
}
